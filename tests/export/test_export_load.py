"""Eight threads on one onnxruntime session and one SavedModel signature: every
answer equals the serial answer for the same text, and memory stays flat.

Small counts here; `benchmarks/load.py` runs the full 8 × 500 and prints throughput.
"""

import importlib.util
import os

import pytest

REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
THREADS = 8
REQUESTS = 20
# Resident memory may grow after warm-up by thread stacks and per-thread
# scratch buffers of the runtimes, not by anything that scales with requests.
RSS_GROWTH_BOUND = 64 * 2**20


def load_benchmark():
    spec = importlib.util.spec_from_file_location("load_benchmark", os.path.join(REPOSITORY, "benchmarks", "load.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def load_results(version_dir, classifier_run):
    benchmark = load_benchmark()
    data = classifier_run.config.data
    texts = benchmark.default_texts(version_dir, data.test, data.text_column)[: THREADS * REQUESTS // 2]  # each text sent twice
    runtimes = benchmark.load_runtimes(version_dir)
    return {name: benchmark.run_load(predict, texts, THREADS, REQUESTS) for name, predict in runtimes.items()}


@pytest.mark.parametrize("runtime", ["onnxruntime", "savedmodel"])
def test_concurrent_answers_equal_the_serial_answers(load_results, runtime):
    figures = load_results[runtime]
    assert figures["answers"] == THREADS * REQUESTS
    # Bit for bit: each request runs the same kernels on the same input; the
    # threads share the session or signature, never its per-call buffers.
    assert figures["differing_answers"] == 0 and figures["max_abs_difference"] == 0.0


@pytest.mark.parametrize("runtime", ["onnxruntime", "savedmodel"])
def test_resident_memory_stays_within_bound_after_warmup(load_results, runtime):
    figures = load_results[runtime]
    print(runtime, figures["rss_after_warmup"] / 2**20, figures["rss_growth"] / 2**20)
    assert figures["rss_after_warmup"] > 0
    assert figures["rss_growth"] <= RSS_GROWTH_BOUND
