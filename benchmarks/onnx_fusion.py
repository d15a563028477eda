"""Node counts and onnxruntime speed of a classifier's ONNX graph before and after fusion.

    python benchmarks/onnx_fusion.py runs/demo_minilm [--calls 60] [--threads 1]

Converts the run's classifier with tf2onnx three ways in a temporary folder:
as tf2onnx writes it, with `fuse_standard_ops` (what `classifier.onnx` holds)
and with `fuse_onnxruntime_ops` (`classifier.onnxruntime.onnx`); prints each
file's nodes, the nodes left after onnxruntime's own ORT_ENABLE_ALL
optimization at load (`optimized_model_filepath`), and the time of one
session call on token ids (batch 1 and batch 32, 25 ids a row, the SST-2 test
mean), the files interleaved call by call, medians. With one intra-op thread
(the runner's default) the time is the calling thread's CPU time, which a
shared machine's other jobs disturb less than the wall clock.
"""

import argparse
import collections
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

ROW_LENGTH = 25


def loaded_node_count(path, threads):
    """Nodes of `path` after onnxruntime's load-time optimization (the runner's settings)."""
    import onnx
    import onnxruntime

    from export.onnx_session import session_options

    options = session_options(threads)
    options.optimized_model_filepath = path + ".loaded"
    onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return len(onnx.load(options.optimized_model_filepath).graph.node)


def write_files(run_dir, folder):
    import onnx

    from export.classifier.onnx_graph import classifier_function
    from export.classifier.onnx_graph import name_dynamic_axes
    from export.onnx_conversion import convert_function
    from export.onnx_fusion import fuse_onnxruntime_ops
    from export.onnx_fusion import fuse_standard_ops
    from export.run_loader import load_run

    run = load_run(run_dir)
    paths = {name: os.path.join(folder, f"{name}.onnx") for name in ("tf2onnx", "standard ops", "contrib ops")}
    convert_function(classifier_function(run.model), paths["tf2onnx"], edit=name_dynamic_axes)
    for name, fuse in (("standard ops", fuse_standard_ops), ("contrib ops", fuse_onnxruntime_ops)):
        model = onnx.load(paths["tf2onnx"])
        fuse(model)
        onnx.save(model, paths[name])
    return paths, run.tokenizer.vocabulary_size


def call_times(paths, vocabulary_size, batch, calls, threads):
    import numpy as np

    from export.onnx_session import create_session

    sessions = {name: create_session(path, threads) for name, path in paths.items()}
    token_ids = np.random.default_rng(0).integers(5, vocabulary_size, size=(batch, ROW_LENGTH)).astype(np.int32)
    feeds = {"token_ids": token_ids, "attention_mask": np.ones_like(token_ids)}
    clock = time.thread_time if threads == 1 else time.perf_counter
    times = collections.defaultdict(list)
    for session in sessions.values():
        session.run(None, feeds)
    for _ in range(calls):
        for name, session in sessions.items():
            started = clock()
            session.run(None, feeds)
            times[name].append(clock() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", help="a trained classification run")
    parser.add_argument("--calls", type=int, default=60, help="batch-1 calls per file (batch 32: a tenth)")
    parser.add_argument("--threads", type=int, default=1)
    arguments = parser.parse_args()
    import onnx

    with tempfile.TemporaryDirectory() as folder:
        paths, vocabulary_size = write_files(arguments.run_dir, folder)
        print(f"load average at the start: {os.getloadavg()[0]:.1f}; {arguments.threads} intra-op thread(s)")
        print(f"{'graph':<14}{'nodes':>7}{'after load':>12}{'batch 1 ms':>12}{'batch 32 rows/s':>17}")
        single = call_times(paths, vocabulary_size, 1, arguments.calls, arguments.threads)
        batched = call_times(paths, vocabulary_size, 32, max(arguments.calls // 10, 3), arguments.threads)
        for name, path in paths.items():
            nodes = len(onnx.load(path).graph.node)
            print(f"{name:<14}{nodes:>7}{loaded_node_count(path, arguments.threads):>12}"
                  f"{single[name] * 1e3:>12.2f}{32 / batched[name]:>17.0f}")
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
