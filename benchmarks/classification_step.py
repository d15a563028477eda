"""One fixed-shape training step: our classifier against the Keras built-in model of the same size.

    python benchmarks/classification_step.py [--lengths 16 48] [--rounds 3] [--steps 30]

Both models come from `benchmarks/classification.py` with the pipeline's default
configuration and are compiled the same way. Each length gets a batch of 64 random
ids, in which half of the last quarter of positions are padding. The models take turns:
each round times `--steps` `train_on_batch` calls per model after warm-up, and
the best round's median step counts. This separates the layers' cost from the
`fit` loop over length-bucketed batches that `classification.py` measures.
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
from classification import build_keras_builtin_classifier  # noqa: E402

from pipelines.classification import build_classifier  # noqa: E402
from pipelines.classification.config import ClassifierConfig  # noqa: E402
from pipelines.classification.model import compile_classifier  # noqa: E402

BATCH = 64
VOCABULARY = 16000
WARMUP_STEPS = 5


def step_batch(length, rng):
    ids = rng.integers(1, VOCABULARY, (BATCH, length)).astype(np.int32)
    tail = ids[:, length * 3 // 4 :]
    tail[rng.random(tail.shape) < 0.5] = 0
    labels = np.eye(2, dtype=np.float32)[rng.integers(0, 2, BATCH)]
    return ids, labels


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[16, 48])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    config = ClassifierConfig()
    config.model.vocabulary_size = VOCABULARY
    models = {}
    for name, builder in (("keras_attention", build_classifier), ("keras built-in", build_keras_builtin_classifier)):
        keras.utils.set_random_seed(0)
        models[name] = builder(config.model)
        compile_classifier(models[name], config.training, steps_per_epoch=1000)
    print(f"batch {BATCH}, width {config.model.embedding_dim}, {config.model.num_blocks} blocks; "
          f"median of {args.steps} steps, best of {args.rounds} interleaved rounds; {os.cpu_count()} CPU cores, "
          f"load average {os.getloadavg()[0]:.1f} at start\n")
    print(f"{'length':>6} {'ours ms':>8} {'keras ms':>9} {'ratio':>6}")
    rng = np.random.default_rng(0)
    for length in args.lengths:
        ids, labels = step_batch(length, rng)
        for model in models.values():
            for _ in range(WARMUP_STEPS):
                model.train_on_batch(ids, labels)
        rounds = {name: [] for name in models}
        for _ in range(args.rounds):
            for name, model in models.items():
                times = []
                for _ in range(args.steps):
                    start = time.perf_counter()
                    model.train_on_batch(ids, labels)
                    times.append(time.perf_counter() - start)
                rounds[name].append(statistics.median(times) * 1e3)
        ours, theirs = (min(rounds[name]) for name in models)
        print(f"{length:>6} {ours:>8.1f} {theirs:>9.1f} {theirs / ours:>5.2f}x")
    print("\nratio = Keras time / our time; above 1.0 means ours is faster")


if __name__ == "__main__":
    main()
