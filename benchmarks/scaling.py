"""How time and memory of attention grow with sequence length and batch size.

Each measurement runs in a fresh subprocess so its peak resident memory is its own:
  * sequence scaling: forward+backward of one self-attention layer (width 256,
    8 heads, batch 1) at sequence 64…4096 for our MultiHeadAttention (fused path
    and explicit masked-softmax path) and keras.layers.MultiHeadAttention;
  * batch scaling: training throughput (tokens/s) of one TransformerEncoderBlock
    at sequence 128 against batch size.
Prints a table, the fitted log-log exponent of each curve (overall and between
neighbouring points) and writes PNG plots. Peak memory is the growth of the
process's peak resident memory over a step (weights built beforehand).

    python benchmarks/scaling.py [--max-length 4096] [--steps 10] [--out benchmarks/results]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

WIDTH, HEADS = 256, 8
IMPLEMENTATIONS = ("ours_fused", "ours_explicit", "keras")


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def build_attention(implementation):
    import keras

    import keras_attention

    if implementation == "keras":
        layer = keras.layers.MultiHeadAttention(HEADS, WIDTH // HEADS)
    else:
        layer = keras_attention.MultiHeadAttention(
            HEADS, WIDTH // HEADS, use_fused_attention=implementation == "ours_fused"
        )
    return layer, lambda x: layer(x, x)


def build_encoder():
    import keras_attention

    layer = keras_attention.TransformerEncoderBlock(4 * WIDTH, HEADS)
    return layer, lambda x: layer(x)


def run_worker(kind, implementation, seq_len, batch, steps):
    """Times `steps` forward+backward passes; prints one JSON line."""
    import numpy as np
    import tensorflow as tf

    x = tf.constant(
        np.random.default_rng(0).standard_normal((batch, seq_len, WIDTH)), tf.float32
    )
    layer, forward = build_attention(implementation) if kind == "sequence" else build_encoder()
    # Build the weights on a short slice: a full-length call here would already
    # set the process's peak and hide the step's own memory from the difference.
    forward(x[:, :8])
    baseline_mb = peak_rss_mb()

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(forward(x)))
        return loss, tape.gradient(loss, layer.trainable_variables)

    float(step(x)[0])  # trace and warm up
    start = time.perf_counter()
    for _ in range(steps):
        loss, _ = step(x)
    float(loss)
    seconds = (time.perf_counter() - start) / steps
    print(
        json.dumps(
            {
                "seconds": seconds,
                "tokens_per_s": batch * seq_len / seconds,
                "peak_mb": peak_rss_mb() - baseline_mb,
            }
        )
    )


def measure(kind, implementation, seq_len, batch, steps):
    command = [
        sys.executable, __file__, "--worker", kind, implementation,
        str(seq_len), str(batch), str(steps),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        return None  # typically out of memory at the longest lengths
    return json.loads(result.stdout.strip().splitlines()[-1])


def fitted_exponent(xs, ys):
    import numpy as np

    slope, _ = np.polyfit(np.log(xs), np.log(ys), 1)
    return slope


def local_exponents(xs, ys):
    import math

    return [
        math.log(ys[i + 1] / ys[i]) / math.log(xs[i + 1] / xs[i]) for i in range(len(xs) - 1)
    ]


def plot(path, title, xlabel, ylabel, curves):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for label, (xs, ys) in curves.items():
        axis.loglog(xs, ys, marker="o", label=label, base=2)
    axis.set_title(title)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def sequence_scaling(max_length, out_dir, steps_per_point):
    lengths = [64 * 2**i for i in range(0, 12) if 64 * 2**i <= max_length]
    results = {}
    print(f"\nSequence scaling: one self-attention layer, width {WIDTH}, {HEADS} heads, batch 1")
    print(f"{'implementation':<15} {'seq':>5} {'ms/step':>9} {'peak MB':>9}")
    for implementation in IMPLEMENTATIONS:
        xs, times, memory = [], [], []
        for seq_len in lengths:
            steps = steps_per_point if seq_len <= 1024 else max(1, steps_per_point // 3)
            row = measure("sequence", implementation, seq_len, 1, steps)
            if row is None:
                print(f"{implementation:<15} {seq_len:>5} {'failed (memory?)':>19}")
                break
            xs.append(seq_len)
            times.append(row["seconds"])
            memory.append(max(row["peak_mb"], 1.0))
            print(
                f"{implementation:<15} {seq_len:>5} {row['seconds'] * 1e3:>9.1f} "
                f"{row['peak_mb']:>9.0f}",
                flush=True,
            )
        results[implementation] = (xs, times, memory)
    print("\nFitted exponents (time ∝ L^k, memory ∝ L^k), over L >= 512 and between neighbours:")
    for implementation, (xs, times, memory) in results.items():
        upper = [i for i, x in enumerate(xs) if x >= 512]
        if len(upper) >= 2:
            time_k = fitted_exponent([xs[i] for i in upper], [times[i] for i in upper])
            memory_k = fitted_exponent([xs[i] for i in upper], [memory[i] for i in upper])
            print(f"  {implementation:<15} time k={time_k:.2f}  memory k={memory_k:.2f}")
        steps = " ".join(f"{k:.2f}" for k in local_exponents(xs, times))
        print(f"  {implementation:<15} local time exponents: {steps}")
    plot(
        os.path.join(out_dir, "scaling_sequence_time.png"),
        "Forward+backward time vs sequence length",
        "sequence length",
        "seconds per step",
        {name: (xs, times) for name, (xs, times, _) in results.items()},
    )
    plot(
        os.path.join(out_dir, "scaling_sequence_memory.png"),
        "Peak extra resident memory vs sequence length",
        "sequence length",
        "MB",
        {name: (xs, memory) for name, (xs, _, memory) in results.items()},
    )


def batch_scaling(out_dir, steps_per_point):
    batches = [1, 2, 4, 8, 16, 32, 64]
    print(f"\nBatch scaling: TransformerEncoderBlock training step, width {WIDTH}, sequence 128")
    print(f"{'batch':>5} {'ms/step':>9} {'tokens/s':>10}")
    xs, throughput = [], []
    for batch in batches:
        row = measure("batch", "ours_fused", 128, batch, steps_per_point)
        if row is None:
            break
        xs.append(batch)
        throughput.append(row["tokens_per_s"])
        print(f"{batch:>5} {row['seconds'] * 1e3:>9.1f} {row['tokens_per_s']:>10.0f}", flush=True)
    print(f"  throughput exponent (tokens/s ∝ batch^k): k={fitted_exponent(xs, throughput):.2f}")
    plot(
        os.path.join(out_dir, "scaling_batch_throughput.png"),
        "Encoder block training throughput vs batch size (sequence 128)",
        "batch size",
        "tokens per second",
        {"TransformerEncoderBlock": (xs, throughput)},
    )


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        kind, implementation, seq_len, batch, steps = sys.argv[2:7]
        run_worker(kind, implementation, int(seq_len), int(batch), int(steps))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-length", type=int, default=4096)
    parser.add_argument(
        "--steps", type=int, default=10,
        help="timed steps per point (a third of them above sequence 1024)",
    )
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    print(f"{os.cpu_count()} CPU cores; each point in its own process")
    sequence_scaling(args.max_length, args.out, args.steps)
    batch_scaling(args.out, args.steps)
    print(f"\nplots written to {args.out}")


if __name__ == "__main__":
    main()
