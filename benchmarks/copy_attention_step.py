"""One fixed-shape training step of the summarizer for each copy attention.

    python benchmarks/copy_attention_step.py [--jit-compile] [--rounds 3] [--steps 10]

`copy_attention="head"` (the copy head's own query and key projections and
attention) against `"cross_attention"` (the last decoder block returns its
cross-attention weights, which the copy head averages over heads), with the
plain decoder (`--no-copy`) beside them. Every model has the default
architecture (`ModelConfig()`) and is compiled as `train` compiles it; the batch
is `--batch` random documents of `--document-length` ids (the last tenth
padding) and summaries of `--summary-length`. The models take turns: each round
times `--steps` `train_on_batch` calls per model after warm-up, and the best
round's median step counts, which tames other jobs' load on a shared CPU. Each
step is timed twice: wall clock, and the CPU time of this process (all its
threads), which other jobs on the machine inflate far less.
"""

import argparse
import dataclasses
import os
import statistics
import sys
import time

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402

from pipelines.summarization.config import ModelConfig  # noqa: E402
from pipelines.summarization.config import TrainingConfig  # noqa: E402
from pipelines.summarization.fitting import compile_summarizer  # noqa: E402
from pipelines.summarization.model import build_summarizer  # noqa: E402

WARMUP_STEPS = 3
MODELS = {
    "head": dict(copy_attention="head"),
    "cross_attention": dict(copy_attention="cross_attention"),
    "no copy": dict(copy=False),
}


def step_batch(args, vocabulary_size, rng):
    encoder_ids = rng.integers(5, vocabulary_size, (args.batch, args.document_length)).astype(np.int32)
    encoder_ids[:, args.document_length * 9 // 10 :] = 0
    decoder_ids = rng.integers(5, vocabulary_size, (args.batch, args.summary_length)).astype(np.int32)
    labels = rng.integers(5, vocabulary_size, (args.batch, args.summary_length)).astype(np.int32)
    return {"encoder_ids": encoder_ids, "decoder_ids": decoder_ids}, labels


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--document-length", type=int, default=128)
    parser.add_argument("--summary-length", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--jit-compile", action="store_true", help="XLA-compile the training step")
    args = parser.parse_args()
    training = TrainingConfig(jit_compile=args.jit_compile)
    models = {}
    for name, settings in MODELS.items():
        keras.utils.set_random_seed(0)
        models[name] = build_summarizer(dataclasses.replace(ModelConfig(), **settings))
        compile_summarizer(models[name], training)
    config = ModelConfig()
    print(f"width {config.hidden_dim}, {config.encoder_layers}+{config.decoder_layers} blocks, "
          f"{config.num_heads} heads, vocabulary {config.vocabulary_size}; batch {args.batch}, documents "
          f"{args.document_length}, summaries {args.summary_length}; XLA {'on' if args.jit_compile else 'off'}; "
          f"median of {args.steps} steps, best of {args.rounds} interleaved rounds; {os.cpu_count()} CPU cores, "
          f"load average {os.getloadavg()[0]:.1f} at start\n")
    inputs, labels = step_batch(args, config.vocabulary_size, np.random.default_rng(0))
    for model in models.values():
        for _ in range(WARMUP_STEPS):
            model.train_on_batch(inputs, labels)
    clocks = {"wall": time.perf_counter, "cpu": time.process_time}
    rounds = {(name, clock): [] for name in models for clock in clocks}
    for _ in range(args.rounds):
        for name, model in models.items():
            times = {clock: [] for clock in clocks}
            for _ in range(args.steps):
                starts = {clock: read() for clock, read in clocks.items()}
                model.train_on_batch(inputs, labels)
                for clock, read in clocks.items():
                    times[clock].append(read() - starts[clock])
            for clock in clocks:
                rounds[name, clock].append(statistics.median(times[clock]) * 1e3)
    best = {key: min(times) for key, times in rounds.items()}
    print(f"{'copy attention':<16} {'wall ms':>8} {'/ head':>7} {'CPU ms':>8} {'/ head':>7}  CPU ms of each round")
    for name in models:
        wall, cpu = best[name, "wall"], best[name, "cpu"]
        print(f"{name:<16} {wall:>8.1f} {wall / best['head', 'wall']:>6.3f}x {cpu:>8.1f} "
              f"{cpu / best['head', 'cpu']:>6.3f}x  {' '.join(f'{t:.0f}' for t in rounds[name, 'cpu'])}")
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
