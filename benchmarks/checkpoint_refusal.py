"""What refusing a checkpoint whose config.json claims too many layers costs:
time and peak memory for a claim of 10**3 layers against 10**7, on the same
2-layer tiny checkpoint. The refusal is checked against the layers the weights
hold before the expected tensors are listed, so the two should cost the same.

    python benchmarks/checkpoint_refusal.py [--repeats 5]

Each measurement runs in a fresh subprocess (`read_checkpoint` only, no
TensorFlow): the median wall time of 50 refusals, Python's peak allocation
during the first (tracemalloc) and the process's peak resident memory
(ru_maxrss); the figures are medians over `--repeats` processes per claim,
alternated so that a busy machine slows both alike.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPOSITORY)
sys.path.insert(0, os.path.join(REPOSITORY, "tests", "pipelines"))

MEASURE = """
import json, resource, statistics, sys, time, tracemalloc
from pipelines.common.errors import UserInputError
from pipelines.pretrained.checkpoint import read_checkpoint

def refuse():
    try:
        read_checkpoint(sys.argv[1])
    except UserInputError as error:
        return str(error)

tracemalloc.start()
refused = refuse()
_, peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
times = []
for _ in range(int(sys.argv[2])):
    start = time.perf_counter()
    refuse()
    times.append(time.perf_counter() - start)
print(json.dumps({"seconds": statistics.median(times), "peak_bytes": peak,
                  "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "refused": refused}))
"""
# Refusals timed in each subprocess (their median is its figure).
READS_PER_PROCESS = 50


def measure(directory):
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, directory, str(READS_PER_PROCESS)],
        capture_output=True, text=True, check=True, cwd=REPOSITORY,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None):
    from tiny_bert import write_tiny_bert_checkpoint

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    results = {}
    claims = (10**3, 10**7)
    with tempfile.TemporaryDirectory() as root:
        directories = {layers: os.path.join(root, f"claims_{layers}") for layers in claims}
        for layers, directory in directories.items():
            write_tiny_bert_checkpoint(directory, config_overrides={"num_hidden_layers": layers})
        measured = {layers: [] for layers in claims}
        for _ in range(args.repeats):  # alternated, so a busy machine slows both alike
            for layers in claims:
                measured[layers].append(measure(directories[layers]))
        for layers, runs in measured.items():
            assert all(run["refused"] and "num_hidden_layers" in run["refused"] for run in runs), runs
            results[layers] = {
                "seconds": statistics.median(run["seconds"] for run in runs),
                "peak_bytes": statistics.median(run["peak_bytes"] for run in runs),
                "max_rss_kib": statistics.median(run["max_rss_kib"] for run in runs),
            }
            print(
                f"claims {layers:>10,} layers: refused in {results[layers]['seconds'] * 1000:.1f} ms "
                f"(median of {args.repeats} processes), "
                f"peak Python allocation {results[layers]['peak_bytes'] / 1024:.0f} KiB, "
                f"peak RSS {results[layers]['max_rss_kib'] / 1024:.1f} MiB"
            )
    small, large = results[10**3], results[10**7]
    print(
        f"ratio 10**7 / 10**3: time {large['seconds'] / small['seconds']:.2f}, "
        f"peak allocation {large['peak_bytes'] / small['peak_bytes']:.2f}, "
        f"peak RSS {large['max_rss_kib'] / small['max_rss_kib']:.2f}"
    )


if __name__ == "__main__":
    main()
