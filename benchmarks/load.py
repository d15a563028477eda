"""Concurrent load on one exported classifier: answers stay right, memory stays flat.

    python benchmarks/load.py saved_models/sst2/1 [--threads 8] [--requests 500]

One process holds one onnxruntime session (`OnnxClassifier`, texts in) and one
loaded SavedModel signature (`serving_default`, texts in). For each runtime:

1. warm-up: a few requests, then resident memory (VmRSS) is read;
2. serial: THREADS × REQUESTS single-text requests one after another, whose
   answers are the reference;
3. concurrent: THREADS threads released together, each sending REQUESTS
   requests for the same texts as in the serial pass; every answer is compared
   with the serial answer for the same text, and VmRSS is read again.

Printed: requests/s serial and concurrent, the largest |Δ probability| against
the serial answers and the count of answers that differ at all, and VmRSS after
warm-up, after the run and the growth. Exit status 1 if an answer differs.
"""

import argparse
import concurrent.futures
import json
import os
import sys
import threading
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

import numpy as np  # noqa: E402

WARMUP_REQUESTS = 16


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("version_dir", help="an exported saved_models/NAME/VERSION folder")
    parser.add_argument("--texts", help="texts file (default: the source run's test file)")
    parser.add_argument("--text-column", help="its text column (default: the run's)")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--requests", type=int, default=500, help="requests per thread")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    return parser.parse_args(argv)


def resident_memory_bytes():
    """VmRSS of this process, from /proc/self/status (Linux)."""
    with open("/proc/self/status", encoding="ascii") as file:
        for line in file:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS line in /proc/self/status")


def load_runtimes(version_dir):
    """{name: texts → probabilities} for one onnxruntime session and one SavedModel signature."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401 (registers the tokenizer ops the SavedModel calls)

    from export.classifier.onnx_runner import OnnxClassifier
    from export.serving import load_saved_model

    onnx = OnnxClassifier.load(os.path.join(version_dir, "onnx"))
    serving = load_saved_model(version_dir).signatures["serving_default"]
    return {
        "onnxruntime": onnx.predict_probabilities,
        "savedmodel": lambda texts: serving(texts=tf.constant(texts))["probabilities"].numpy(),
    }


def default_texts(version_dir, source=None, column=None):
    """The texts of `source` (its `column`), by default those of the run the
    version was exported from (its test file and text column)."""
    from pipelines.common.tables import read_table

    from export.model_card import source_run_dir

    if source is None or column is None:
        with open(os.path.join(version_dir, "model_card.json"), encoding="utf-8") as file:
            card = json.load(file)
        run_dir = source_run_dir(card)
        if run_dir is None:
            raise SystemExit(
                f"error: the run {card['source_run']!r} of {version_dir} is not under runs/; pass --texts and --text-column"
            )
        with open(os.path.join(run_dir, "config.json"), encoding="utf-8") as file:
            data = json.load(file)["data"]
        source, column = source or data["test"], column or data["text_column"]
    return read_table(source, column).texts


def request_texts(texts, threads, requests):
    """texts[i][j]: the text thread i sends as its request j (texts repeat when too few)."""
    return [
        [texts[(thread * requests + index) % len(texts)] for index in range(requests)]
        for thread in range(threads)
    ]


def run_load(predict, texts, threads, requests):
    """Serial then concurrent requests through `predict`; see the module docstring.

    Returns a dict of figures: `serial_per_second`, `concurrent_per_second`,
    `max_abs_difference`, `differing_answers`, `answers`, `rss_after_warmup`,
    `rss_after_run`, `rss_growth` (bytes).
    """
    plan = request_texts(texts, threads, requests)
    for text in plan[0][:WARMUP_REQUESTS]:
        predict([text])
    rss_after_warmup = resident_memory_bytes()

    start = time.perf_counter()
    serial = [[predict([text])[0] for text in thread_texts] for thread_texts in plan]
    serial_seconds = time.perf_counter() - start

    barrier = threading.Barrier(threads)

    def send(thread_texts):
        barrier.wait()
        return [predict([text])[0] for text in thread_texts]

    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        start = time.perf_counter()
        futures = [pool.submit(send, thread_texts) for thread_texts in plan]
        concurrent_answers = [future.result() for future in futures]
        concurrent_seconds = time.perf_counter() - start
    rss_after_run = resident_memory_bytes()

    expected = np.array(serial)
    received = np.array(concurrent_answers)
    differences = np.abs(received - expected)
    return {
        "threads": threads,
        "requests_per_thread": requests,
        "serial_per_second": threads * requests / serial_seconds,
        "concurrent_per_second": threads * requests / concurrent_seconds,
        "answers": int(expected.shape[0] * expected.shape[1]),
        "max_abs_difference": float(differences.max()),
        "differing_answers": int(np.any(received != expected, axis=-1).sum()),
        "rss_after_warmup": rss_after_warmup,
        "rss_after_run": rss_after_run,
        "rss_growth": rss_after_run - rss_after_warmup,
    }


def format_table(results):
    mib = 2**20
    lines = [
        f"{'runtime':<14}{'serial req/s':>14}{'8-thread req/s':>16}{'×':>7}{'answers':>9}"
        f"{'differ':>8}{'max |Δ|':>10}{'RSS warm MiB':>14}{'RSS after MiB':>15}{'growth MiB':>12}"
    ]
    for name, figures in results.items():
        lines.append(
            f"{name:<14}{figures['serial_per_second']:>14.0f}{figures['concurrent_per_second']:>16.0f}"
            f"{figures['concurrent_per_second'] / figures['serial_per_second']:>7.2f}"
            f"{figures['answers']:>9}{figures['differing_answers']:>8}{figures['max_abs_difference']:>10.1e}"
            f"{figures['rss_after_warmup'] / mib:>14.1f}{figures['rss_after_run'] / mib:>15.1f}"
            f"{figures['rss_growth'] / mib:>12.1f}"
        )
    return "\n".join(lines).replace("8-thread", f"{next(iter(results.values()))['threads']}-thread")


def main(argv=None):
    arguments = parse_arguments(argv)
    texts = default_texts(arguments.version_dir, arguments.texts, arguments.text_column)
    runtimes = load_runtimes(arguments.version_dir)
    print(
        f"{arguments.version_dir}: {arguments.threads} threads × {arguments.requests} single-text "
        f"requests per runtime ({len(texts)} distinct texts); {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f} at start"
    )
    results = {}
    for name, predict in runtimes.items():
        results[name] = run_load(predict, texts, arguments.threads, arguments.requests)
    print(format_table(results))
    if arguments.json:
        with open(arguments.json, "w", encoding="utf-8") as file:
            json.dump(results, file, indent=2)
    return 0 if all(figures["differing_answers"] == 0 for figures in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
