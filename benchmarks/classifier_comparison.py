"""Exported classifiers side by side: accuracy, size, training time and batch-1 latency.

    python benchmarks/classifier_comparison.py saved_models/sst2/1 saved_models/sst2_minilm/1

For each exported version (its model card names the run): test accuracy from the
run's metrics, parameters of the Keras model, minutes in `fit` (the run's last
session), and the median latency of one text → probabilities, tokenization
included, through the SavedModel's `serving_default` and through onnxruntime
(`OnnxClassifier`, 1 intra-op thread), on the first 64 test texts. All versions are
timed in the same process with interleaved rounds (`benchmarks/inference.py`'s
`measure`), and every figure is also shown as a ratio to the first version.
"""

import argparse
import json
import os
import sys
import types

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from inference import SINGLE_TEXTS  # noqa: E402
from inference import configure_tensorflow  # noqa: E402
from inference import load_runtimes  # noqa: E402
from inference import measure  # noqa: E402
from inference import onnx_name  # noqa: E402


def version_figures(version_dir, threads):
    """The run, its runtimes (texts → probabilities) and its card figures."""
    with open(os.path.join(version_dir, "model_card.json"), encoding="utf-8") as file:
        card = json.load(file)
    if card["task"] != "classification":
        raise SystemExit(f"error: {version_dir} is a {card['task']} export; pass classifier versions")
    from export.model_card import source_run_dir

    run_dir = source_run_dir(card)
    if run_dir is None:
        raise SystemExit(f"error: the run {card['source_run']!r} of {version_dir} is not under runs/")
    arguments = types.SimpleNamespace(version_dir=version_dir, run_dir=run_dir, threads=threads)
    run, runtimes = load_runtimes(arguments)
    training = run.metrics.get("training", {})
    pretrained = card.get("pretrained_from") or {}
    figures = {
        "model": pretrained.get("name", "from scratch"),
        "accuracy": run.metrics.get("test", {}).get("accuracy"),
        "parameters": run.model.count_params(),
        "fit_minutes": training.get("fit_seconds_this_session", float("nan")) / 60,
    }
    chosen = {name: runtimes[name] for name in ("savedmodel", onnx_name(1))}
    return run, chosen, figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("version_dirs", nargs="+", help="exported saved_models/NAME/VERSION folders")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="TensorFlow intra-op threads")
    arguments = parser.parse_args()
    configure_tensorflow(arguments.threads)
    from pipelines.common.tables import read_table

    rows, runtimes = [], {}
    for index, version_dir in enumerate(arguments.version_dirs):
        run, chosen, figures = version_figures(version_dir, arguments.threads)
        texts = read_table(run.config.data.test, run.config.data.text_column).texts[:SINGLE_TEXTS]
        rows.append((version_dir, figures))
        for name, functions in chosen.items():
            runtimes[index, name] = functions
    single_texts = [[text] for text in texts]
    print(f"{len(single_texts)} test texts at batch 1, texts in; {arguments.threads} TensorFlow intra-op threads, "
          f"onnxruntime 1 thread; {arguments.rounds} interleaved rounds, medians; {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f} at start\n")
    latency = measure(runtimes, single_texts, [], arguments.rounds, "texts")
    header = (f"{'version':<28}{'encoder':<40}{'test acc':>9}{'params':>12}{'fit min':>9}"
              f"{'SavedModel ms':>15}{'ONNX ms':>9}")
    print(header)
    first = rows[0][1]
    for index, (version_dir, figures) in enumerate(rows):
        saved_model_ms = latency[index, "savedmodel"]["latency"]
        onnx_ms = latency[index, onnx_name(1)]["latency"]
        accuracy = figures["accuracy"]
        print(f"{version_dir:<28}{figures['model']:<40}{accuracy if accuracy is not None else float('nan'):>9.4f}"
              f"{figures['parameters']:>12,}{figures['fit_minutes']:>9.1f}{saved_model_ms:>15.2f}{onnx_ms:>9.2f}")
        if index:
            first_saved_model_ms = latency[0, "savedmodel"]["latency"]
            print(f"{'  × the first':<68}{figures['parameters'] / first['parameters']:>12.1f}"
                  f"{figures['fit_minutes'] / first['fit_minutes']:>9.1f}"
                  f"{saved_model_ms / first_saved_model_ms:>15.1f}{onnx_ms / latency[0, onnx_name(1)]['latency']:>9.1f}")


if __name__ == "__main__":
    main()
