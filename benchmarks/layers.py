"""Forward+backward throughput of keras_attention layers against Keras built-ins.

Measures, in one process and with interleaved repeats so both sides see the same
machine load:
  * MultiHeadAttention (self-attention) vs keras.layers.MultiHeadAttention;
  * TransformerEncoderBlock vs the same post-norm block assembled from
    keras.layers.MultiHeadAttention, LayerNormalization and Dense,
at batch 32, width 256, 8 heads, sequence 64/128/256/512, with and without XLA.
A 10%-padded key mask is applied to both sides. Prints examples/s, tokens/s and
the ratio ours / Keras (above 1.0 means ours is faster).

    KERAS_BACKEND=tensorflow python benchmarks/layers.py [--repeats 5] [--steps 5]

`--explicit-attention` times our MultiHeadAttention with
`use_fused_attention=False` (the explicit einsum-softmax-einsum path) in the
attention rows; the encoder block keeps its default.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_attention  # noqa: E402

WIDTH, HEADS, BATCH = 256, 8, 32
INTERMEDIATE = 4 * WIDTH


class KerasEncoderBlock(keras.layers.Layer):
    """Post-norm encoder block from Keras built-ins, shaped like ours."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.attention = keras.layers.MultiHeadAttention(HEADS, WIDTH // HEADS)
        self.attention_norm = keras.layers.LayerNormalization(epsilon=1e-5)
        self.intermediate = keras.layers.Dense(INTERMEDIATE)
        self.output_dense = keras.layers.Dense(WIDTH)
        self.feed_forward_norm = keras.layers.LayerNormalization(epsilon=1e-5)

    def call(self, x, padding_mask):
        mask = padding_mask[:, None, :]
        x = self.attention_norm(x + self.attention(x, x, attention_mask=mask))
        hidden = keras.ops.gelu(self.intermediate(x), approximate=True)
        return self.feed_forward_norm(x + self.output_dense(hidden))


def make_layers(kind, fused_attention=True):
    if kind == "attention":
        ours = keras_attention.MultiHeadAttention(
            HEADS, WIDTH // HEADS, use_fused_attention=fused_attention
        )
        theirs = keras.layers.MultiHeadAttention(HEADS, WIDTH // HEADS)

        def run_ours(x, mask):
            return ours(x, x, attention_mask=mask[:, None, :])

        def run_theirs(x, mask):
            return theirs(x, x, attention_mask=mask[:, None, :])

        return (ours, run_ours), (theirs, run_theirs)
    ours = keras_attention.TransformerEncoderBlock(INTERMEDIATE, HEADS)
    theirs = KerasEncoderBlock()
    return (ours, lambda x, mask: ours(x, padding_mask=mask)), (
        theirs,
        lambda x, mask: theirs(x, mask),
    )


def make_step(layer, forward, jit_compile):
    @tf.function(jit_compile=jit_compile)
    def step(x, mask):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(forward(x, mask)))
        grads = tape.gradient(loss, layer.trainable_variables)
        return loss, grads

    return step


def time_steps(step, x, mask, steps):
    start = time.perf_counter()
    for _ in range(steps):
        loss, grads = step(x, mask)
    float(loss)  # wait for the last step
    return (time.perf_counter() - start) / steps


def measure(kind, seq_len, jit_compile, repeats, steps, fused_attention=True):
    rng = np.random.default_rng(0)
    x = tf.constant(rng.standard_normal((BATCH, seq_len, WIDTH)), tf.float32)
    lengths = rng.integers(int(seq_len * 0.8), seq_len + 1, size=BATCH)
    mask = tf.constant(np.arange(seq_len)[None, :] < lengths[:, None])
    (ours, run_ours), (theirs, run_theirs) = make_layers(kind, fused_attention)
    run_ours(x, mask), run_theirs(x, mask)  # build
    step_ours = make_step(ours, run_ours, jit_compile)
    step_theirs = make_step(theirs, run_theirs, jit_compile)
    for step in (step_ours, step_theirs):  # trace and warm up
        time_steps(step, x, mask, 2)
    ours_times, theirs_times = [], []
    for _ in range(repeats):
        ours_times.append(time_steps(step_ours, x, mask, steps))
        theirs_times.append(time_steps(step_theirs, x, mask, steps))
    return statistics.median(ours_times), statistics.median(theirs_times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--seq-lens", type=int, nargs="+", default=[64, 128, 256, 512])
    parser.add_argument("--explicit-attention", action="store_true",
                        help="attention rows: our explicit path instead of the fused one")
    args = parser.parse_args()
    path = "explicit" if args.explicit_attention else "fused"
    print(
        f"batch {BATCH}, width {WIDTH}, {HEADS} heads, forward+backward, "
        f"our attention rows on the {path} path, "
        f"median of {args.repeats} x {args.steps} steps; "
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}, "
        f"{os.cpu_count()} CPU cores"
    )
    header = f"{'layer':<10} {'xla':<5} {'seq':>5} {'ours ms':>9} {'keras ms':>9} {'ours tok/s':>11} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    for kind in ("attention", "encoder"):
        for jit_compile in (False, True):
            for seq_len in args.seq_lens:
                ours, theirs = measure(
                    kind, seq_len, jit_compile, args.repeats, args.steps,
                    fused_attention=not args.explicit_attention,
                )
                tokens_per_s = BATCH * seq_len / ours
                print(
                    f"{kind:<10} {str(jit_compile):<5} {seq_len:>5} {ours * 1e3:>9.1f} "
                    f"{theirs * 1e3:>9.1f} {tokens_per_s:>11.0f} {theirs / ours:>6.2f}x",
                    flush=True,
                )


if __name__ == "__main__":
    main()
