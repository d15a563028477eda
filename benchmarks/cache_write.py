"""The key/value cache write of one decoding step, three ways, in a TensorFlow graph.

`MultiHeadAttention` writes each step's keys and values into the cache with
`keras_attention.key_value_cache.write_cache`: a `TensorScatterUpdate`
on TensorFlow, because `ops.slice_update`'s `XlaDynamicUpdateSlice` is missing
from TF Serving model server builds. This prints the time per write inside a
`tf.while_loop` of 80 writes (one summary's worth) for that scatter, for
`ops.slice_update` (the baseline), and for a gather-and-select blend (the
other serving-safe form), at the summarizer's cache shape, after checking all
three write the same values.

    python benchmarks/cache_write.py [--batches 1 4 64] [--repeats 7]
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402

from keras_attention.key_value_cache import write_cache  # noqa: E402

STEPS, MAX_LENGTH, HEADS, HEAD_DIM = 80, 80, 4, 64


def slice_update(cache, update, index):
    return ops.slice_update(cache, (0, 0, index, 0, 0), update)


def gather_blend(cache, update, index):
    positions = ops.arange(ops.shape(cache)[2])
    update_length = ops.shape(update)[2]
    placed = ops.take(update, ops.clip(positions - index, 0, update_length - 1), axis=2)
    in_window = ops.logical_and(positions >= index, positions < index + update_length)
    return ops.where(ops.reshape(in_window, (1, 1, -1, 1, 1)), placed, cache)


WRITES = {"slice_update (baseline)": slice_update, "scatter (ours)": write_cache, "gather blend": gather_blend}


def loop_of_writes(write):
    @tf.function
    def run(cache, update):
        def body(step, cache):
            return step + 1, write(cache, update, step)

        return tf.while_loop(lambda step, _: step < STEPS, body, (tf.constant(0), cache))[1]

    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4, 64])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    print(f"cache (batch, 2, {MAX_LENGTH}, {HEADS}, {HEAD_DIM}), {STEPS} writes of one position; "
          f"best of {args.repeats}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'batch':>5}  {'write':<24}{'us/write':>9}{'ratio':>8}")
    for batch in args.batches:
        cache = tf.random.normal((batch, 2, MAX_LENGTH, HEADS, HEAD_DIM))
        update = tf.random.normal((batch, 2, 1, HEADS, HEAD_DIM))
        loops = {name: loop_of_writes(write) for name, write in WRITES.items()}
        results = {name: loop(cache, update).numpy() for name, loop in loops.items()}
        reference = results["slice_update (baseline)"]
        for name, result in results.items():
            if not np.array_equal(result, reference):
                raise SystemExit(f"{name} wrote other values than ops.slice_update")
        best = {name: float("inf") for name in loops}
        for _ in range(args.repeats):  # interleaved, so load hits every form alike
            for name, loop in loops.items():
                start = time.perf_counter()
                loop(cache, update).numpy()
                best[name] = min(best[name], time.perf_counter() - start)
        baseline = best["slice_update (baseline)"]
        for name, seconds in best.items():
            print(f"{batch:>5}  {name:<24}{seconds / STEPS * 1e6:>9.1f}{baseline / seconds:>7.2f}x")


if __name__ == "__main__":
    main()
