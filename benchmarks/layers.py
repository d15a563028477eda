"""Forward+backward throughput of keras_attention layers against Keras built-ins.

Measures, in one process and with interleaved repeats so both sides see the same
machine load:
  * MultiHeadAttention (self-attention) vs keras.layers.MultiHeadAttention;
  * TransformerEncoderBlock vs the same post-norm block assembled from
    keras.layers.MultiHeadAttention, LayerNormalization and Dense,
at batch 32, width 256, 8 heads, sequence 64/128/256/512. A 10%-padded key
mask is applied to both sides. Prints times, tokens/s and the ratio Keras time /
our time (above 1.0 means ours is faster), with the load average. The `cpu`
ratio divides the process CPU time per step instead (all threads): on a machine
others are loading, it moves much less than the wall-clock ratio.

    KERAS_BACKEND=tensorflow python benchmarks/layers.py [--repeats 5] [--steps 5]
    KERAS_BACKEND=jax python benchmarks/layers.py

On TensorFlow each step runs both as a graph (`tf.function`) and compiled with
XLA (`jit_compile=True`); on JAX a step is always compiled (`jax.jit`).
`--attention-path fused|explicit` times our MultiHeadAttention on that path
(`use_fused_attention=True/False`) in the attention rows instead of the
backend's default, which is the path this script measured faster there.
"""

import argparse
import os
import resource
import statistics
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The layers of this checkout, not whichever copy of the package is installed.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_attention  # noqa: E402

WIDTH, HEADS, BATCH = 256, 8, 32
INTERMEDIATE = 4 * WIDTH
BACKEND = keras.backend.backend()
PATHS = {"default": None, "fused": True, "explicit": False}


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


def self_attention_arguments(x, mask):
    return (x, x), {"attention_mask": mask[:, None, :]}


def make_layers(kind, use_fused_attention=None):
    """(ours, theirs), each a layer and a function from (x, mask) to its call arguments."""
    if kind == "attention":
        ours = keras_attention.MultiHeadAttention(
            HEADS, WIDTH // HEADS, use_fused_attention=use_fused_attention
        )
        theirs = keras.layers.MultiHeadAttention(HEADS, WIDTH // HEADS)
        return (ours, self_attention_arguments), (theirs, self_attention_arguments)
    ours = keras_attention.TransformerEncoderBlock(INTERMEDIATE, HEADS)
    theirs = KerasEncoderBlock()
    return (ours, lambda x, mask: ((x,), {"padding_mask": mask})), (
        theirs,
        lambda x, mask: ((x, mask), {}),
    )


def make_step(layer, arguments, compiled):
    """A forward+backward step; `compiled` is XLA on TensorFlow (always on JAX)."""
    if BACKEND == "jax":
        import jax

        non_trainable = [v.value for v in layer.non_trainable_variables]

        def loss(trainable, x, mask):
            args, kwargs = arguments(x, mask)
            output, _ = layer.stateless_call(trainable, non_trainable, *args, **kwargs)
            return keras.ops.mean(keras.ops.square(output))

        gradient = jax.jit(jax.value_and_grad(loss))
        trainable = [v.value for v in layer.trainable_variables]

        def step(x, mask):
            return gradient(trainable, x, mask)

        return step

    import tensorflow as tf

    @tf.function(jit_compile=compiled)
    def step(x, mask):
        with tf.GradientTape() as tape:
            args, kwargs = arguments(x, mask)
            loss = tf.reduce_mean(tf.square(layer(*args, **kwargs)))
        return loss, tape.gradient(loss, layer.trainable_variables)

    return step


def process_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def time_steps(step, x, mask, steps):
    """Wall-clock and process CPU seconds per step."""
    start, start_cpu = time.perf_counter(), process_cpu_seconds()
    for _ in range(steps):
        loss, _ = step(x, mask)
    float(loss)  # wait for the last step
    return (time.perf_counter() - start) / steps, (process_cpu_seconds() - start_cpu) / steps


def measure(kind, seq_len, compiled, repeats, steps, use_fused_attention=None):
    rng = np.random.default_rng(0)
    x = keras.ops.convert_to_tensor(rng.standard_normal((BATCH, seq_len, WIDTH)), "float32")
    lengths = rng.integers(int(seq_len * 0.8), seq_len + 1, size=BATCH)
    mask = keras.ops.convert_to_tensor(np.arange(seq_len)[None, :] < lengths[:, None])
    (ours, ours_arguments), (theirs, theirs_arguments) = make_layers(kind, use_fused_attention)
    for layer, arguments in ((ours, ours_arguments), (theirs, theirs_arguments)):
        args, kwargs = arguments(x, mask)
        layer(*args, **kwargs)  # build
    step_ours = make_step(ours, ours_arguments, compiled)
    step_theirs = make_step(theirs, theirs_arguments, compiled)
    for step in (step_ours, step_theirs):  # trace and warm up
        time_steps(step, x, mask, 2)
    ours_times, theirs_times = [], []
    for _ in range(repeats):
        ours_times.append(time_steps(step_ours, x, mask, steps))
        theirs_times.append(time_steps(step_theirs, x, mask, steps))
    # Medians of (wall, cpu) for each side.
    return [tuple(statistics.median(column) for column in zip(*times))
            for times in (ours_times, theirs_times)]


def default_path():
    layer = keras_attention.MultiHeadAttention(HEADS, WIDTH // HEADS)
    x = np.zeros((1, 2, WIDTH), "float32")
    layer(x, x)
    query = keras.ops.zeros((1, 2, HEADS, WIDTH // HEADS))
    return "fused" if layer._takes_fused_path(query, query, False, False) else "explicit"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--seq-lens", type=int, nargs="+", default=[64, 128, 256, 512])
    parser.add_argument("--kinds", nargs="+", default=["attention", "encoder"],
                        choices=["attention", "encoder"])
    parser.add_argument("--attention-path", choices=list(PATHS), default="default",
                        help="our attention rows: the backend's default path, or this one")
    args = parser.parse_args()
    path = args.attention_path
    if path == "default":
        path = f"default ({default_path()})"
    print(
        f"batch {BATCH}, width {WIDTH}, {HEADS} heads, forward+backward, "
        f"our attention rows on the {path} path, "
        f"median of {args.repeats} x {args.steps} steps; "
        f"backend {BACKEND}, Keras {keras.__version__}, {os.cpu_count()} CPU cores, "
        f"keras_attention from {os.path.dirname(os.path.dirname(keras_attention.__file__))}, "
        f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}"
    )
    header = (
        f"{'layer':<10} {'xla':<5} {'seq':>5} {'ours ms':>9} {'keras ms':>9} "
        f"{'ours tok/s':>11} {'ratio':>6} {'cpu':>6} {'load':>5}"
    )
    print(header)
    print("-" * len(header))
    compiled_modes = (True,) if BACKEND == "jax" else (False, True)
    for kind in args.kinds:
        for compiled in compiled_modes:
            for seq_len in args.seq_lens:
                (ours, ours_cpu), (theirs, theirs_cpu) = measure(
                    kind, seq_len, compiled, args.repeats, args.steps,
                    use_fused_attention=PATHS[args.attention_path] if kind == "attention" else None,
                )
                tokens_per_s = BATCH * seq_len / ours
                print(
                    f"{kind:<10} {str(compiled):<5} {seq_len:>5} {ours * 1e3:>9.1f} "
                    f"{theirs * 1e3:>9.1f} {tokens_per_s:>11.0f} {theirs / ours:>6.2f}x "
                    f"{theirs_cpu / ours_cpu:>5.2f}x {os.getloadavg()[0]:>5.2f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
