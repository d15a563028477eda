"""Inference speed of one exported classifier in Keras, the SavedModel and onnxruntime.

    python benchmarks/inference.py saved_models/sst2/1 [--threads 2] [--rounds 5]

Same texts (SST-2 test sentences), one process, interleaved rounds (each
round times every runtime once, so drift hits them alike); medians reported.

- batch 1: latency of one text → probabilities, tokenization included.
- batch 32: throughput in texts/s, tokenization included.
- model only: the same with token ids in (SavedModel `predict_token_ids`
  against onnxruntime's session), to separate tokenizer and graph costs.

Keras is `tokenizer.tokenize` + `model.predict_on_batch` (its compiled predict
step); the SavedModel is its `serving_default` signature; onnxruntime is
`OnnxClassifier` (Hugging Face tokenizer + session). TensorFlow gets
`--threads` intra-op threads and 1 inter-op thread; onnxruntime runs with 1
intra-op thread (`OnnxClassifier`'s default) and with `--threads`, sequential
execution, ORT_ENABLE_ALL graph optimization, no spinning. Ratios are against the SavedModel.
Summarizer generation speed is not measured yet: there is no summarizer export.
"""

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

BATCH = 32
SINGLE_TEXTS = 64


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("version_dir", help="an exported saved_models/NAME/VERSION folder")
    parser.add_argument("--run-dir", help="the trained run (default: the model card's source_run)")
    parser.add_argument("--texts", help="texts file (default: the run's test file)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", help="also write the figures to this JSON file")
    return parser.parse_args()


def configure_tensorflow(threads):
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def load_runtimes(arguments):
    """{name: (texts → probabilities, token ids → probabilities)} for every runtime."""
    import tensorflow as tf

    from export.onnx_runtime import OnnxClassifier
    from export.run_loader import load_run
    from export.saved_model import load_saved_model

    run = load_run(arguments.run_dir)
    saved_model = load_saved_model(arguments.version_dir)
    onnx_dir = os.path.join(arguments.version_dir, "onnx")
    sessions = {
        threads: OnnxClassifier.load(onnx_dir, intra_op_threads=threads)
        for threads in sorted({1, arguments.threads})
    }
    serving = saved_model.signatures["serving_default"]
    by_ids = saved_model.signatures["predict_token_ids"]

    def keras_texts(texts):
        return run.model.predict_on_batch(run.tokenizer.tokenize(texts))

    runtimes = {
        "keras": (keras_texts, lambda ids: run.model.predict_on_batch(ids)),
        "savedmodel": (
            lambda texts: serving(texts=tf.constant(texts))["probabilities"].numpy(),
            lambda ids: by_ids(token_ids=tf.constant(ids))["probabilities"].numpy(),
        ),
    }
    for threads, classifier in sessions.items():
        runtimes[onnx_name(threads)] = (classifier.predict_probabilities, classifier.predict_token_ids)
    return run, runtimes


def onnx_name(threads):
    return f"onnxruntime ({threads} thread{'s' if threads > 1 else ''})"


def seconds(function, inputs):
    start = time.perf_counter()
    for item in inputs:
        function(item)
    return time.perf_counter() - start


def measure(runtimes, single_inputs, batch_inputs, rounds, mode):
    """Median batch-1 latency (ms) and batch-32 throughput (texts/s) per runtime."""
    index = 0 if mode == "texts" else 1
    samples = {name: {"latency": [], "throughput": []} for name in runtimes}
    for name, functions in runtimes.items():  # warm up: trace, allocate, cache
        seconds(functions[index], single_inputs[:8] + batch_inputs[:2])
    for _ in range(rounds):
        for name, functions in runtimes.items():
            elapsed = seconds(functions[index], single_inputs)
            samples[name]["latency"].append(1000 * elapsed / len(single_inputs))
            elapsed = seconds(functions[index], batch_inputs)
            samples[name]["throughput"].append(BATCH * len(batch_inputs) / elapsed)
    return {
        name: {key: statistics.median(values) for key, values in figures.items()}
        for name, figures in samples.items()
    }


def format_table(title, figures):
    reference = figures["savedmodel"]
    lines = [title, f"{'runtime':<26}{'batch 1 ms':>12}{'× SavedModel':>14}{'batch 32 texts/s':>18}{'× SavedModel':>14}"]
    for name, values in figures.items():
        lines.append(
            f"{name:<26}{values['latency']:>12.3f}{reference['latency'] / values['latency']:>13.2f}×"
            f"{values['throughput']:>18.0f}{values['throughput'] / reference['throughput']:>13.2f}×"
        )
    return "\n".join(lines)


def main():
    arguments = parse_arguments()
    configure_tensorflow(arguments.threads)
    if arguments.run_dir is None:
        with open(os.path.join(arguments.version_dir, "model_card.json"), encoding="utf-8") as file:
            arguments.run_dir = json.load(file)["source_run"]
    run, runtimes = load_runtimes(arguments)
    from pipelines.common.tables import read_table

    source = arguments.texts or run.config.data.test
    texts = read_table(source, run.config.data.text_column).texts
    single_texts = [[text] for text in texts[:SINGLE_TEXTS]]
    batch_texts = [texts[start : start + BATCH] for start in range(0, len(texts) - BATCH + 1, BATCH)][:8]
    single_ids = [run.tokenizer.tokenize(batch).numpy() for batch in single_texts]
    batch_ids = [run.tokenizer.tokenize(batch).numpy() for batch in batch_texts]
    print(f"{len(texts)} texts from {source}; {arguments.threads} TensorFlow intra-op threads "
          f"(1 inter-op), {arguments.rounds} interleaved rounds, medians; "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    results = {
        "texts in (tokenization included)": measure(runtimes, single_texts, batch_texts, arguments.rounds, "texts"),
        "token ids in (model only)": measure(runtimes, single_ids, batch_ids, arguments.rounds, "ids"),
    }
    for title, figures in results.items():
        print()
        print(format_table(title, figures))
    texts_in = results["texts in (tokenization included)"]
    ratio = texts_in["savedmodel"]["latency"] / texts_in[onnx_name(1)]["latency"]
    print(f"\nonnxruntime (default session, 1 thread) vs SavedModel at batch 1, texts in: "
          f"{ratio:.2f}× (target ≥ 1.5×)")
    print("summarizer generation: not measured (no summarizer export yet)")
    if arguments.json:
        with open(arguments.json, "w", encoding="utf-8") as file:
            json.dump({"threads": arguments.threads, "results": results}, file, indent=2)


if __name__ == "__main__":
    main()
