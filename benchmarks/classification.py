"""SST-2 classifier: accuracy and training speed of ours against Keras built-ins.

Trains, on the same tokenizer, batches, optimizer and schedule:
  * the default attention classifier (keras_attention TokenAndPositionEmbedding,
    TransformerEncoderBlock, AttentionPooling);
  * a model of the same width and depth built from Keras's built-in layers
    (Embedding + learned positions, keras.layers.MultiHeadAttention blocks,
    masked mean pooling);
and prints for each: test accuracy, training wall time, examples/s, tokens/s
(real, non-padding tokens), and model FLOPs utilization (MFU): analytic training
FLOPs (3 × forward, padded shapes as executed) per second over the float32
matrix-product peak measured in this process. Then the ratios ours / Keras.

Throughput is measured on the epochs after the first (the first includes tracing).

    KERAS_BACKEND=tensorflow python benchmarks/classification.py [--epochs 3] [--jit-compile]
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
from keras import ops  # noqa: E402

from pipelines.classification.config import ClassifierConfig  # noqa: E402
from pipelines.classification.data import make_dataset  # noqa: E402
from pipelines.classification.labels import LabelEncoder  # noqa: E402
from pipelines.classification.model import build_classifier  # noqa: E402
from pipelines.classification.model import compile_classifier  # noqa: E402
from pipelines.common.tables import read_table  # noqa: E402
from pipelines.common.tokenizer import build_tokenizer  # noqa: E402

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA = os.path.join(REPOSITORY, "..", "shared", "data")


class LearnedPositions(keras.layers.Layer):
    """Adds a learned position vector; the Keras mask passes through."""

    def __init__(self, max_length, **kwargs):
        super().__init__(**kwargs)
        self.max_length = max_length
        self.supports_masking = True

    def build(self, input_shape):
        self.positions = self.add_weight(
            shape=(self.max_length, input_shape[-1]), initializer="uniform", name="positions"
        )

    def call(self, x):
        return x + ops.expand_dims(self.positions[: ops.shape(x)[1]], 0)


def build_keras_builtin_classifier(config):
    """The same width/depth/heads as `build_classifier`, from Keras built-in layers."""
    token_ids = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(config.vocabulary_size, config.embedding_dim, mask_zero=True)(token_ids)
    x = LearnedPositions(config.max_length)(x)
    x = keras.layers.Dropout(config.dropout)(x)
    for _ in range(config.num_blocks):
        attention = keras.layers.MultiHeadAttention(
            config.num_heads, config.embedding_dim // config.num_heads, dropout=config.attention_dropout
        )(x, x)  # query/value masks come from the Keras mask
        attention = keras.layers.Dropout(config.dropout)(attention)
        x = keras.layers.LayerNormalization(epsilon=1e-5)(keras.layers.Add()([x, attention]))
        hidden = keras.layers.Dense(config.intermediate_dim, activation="gelu")(x)
        hidden = keras.layers.Dropout(config.dropout)(keras.layers.Dense(config.embedding_dim)(hidden))
        x = keras.layers.LayerNormalization(epsilon=1e-5)(keras.layers.Add()([x, hidden]))
    pooled = keras.layers.GlobalAveragePooling1D()(x)  # masked mean
    pooled = keras.layers.Dropout(config.dropout)(pooled)
    probabilities = keras.layers.Dense(config.num_classes, activation="softmax", dtype="float32")(pooled)
    return keras.Model(token_ids, probabilities, name="keras_builtin_classifier")


def forward_flops(config, batch, length, attention_pooling):
    """Multiply-adds × 2 of one forward pass on a padded `(batch, length)` batch."""
    tokens = batch * length
    width, inner = config.embedding_dim, config.intermediate_dim
    per_block = (
        4 * 2 * tokens * width * width  # query, key, value, output projections
        + 2 * 2 * batch * length * length * width  # scores and weighted values
        + 2 * 2 * tokens * width * inner  # feed-forward
    )
    if attention_pooling:
        pooling = 2 * tokens * width * width + 2 * tokens * width * config.pooling_heads + 2 * tokens * width
    else:
        pooling = tokens * width
    return config.num_blocks * per_block + pooling + 2 * batch * width * config.num_classes


def matmul_peak_flops(size=2048, repeats=10):
    """Best float32 matrix-product FLOP/s of `repeats` runs in this process."""
    a = tf.random.normal((size, size))
    b = tf.random.normal((size, size))
    product = tf.function(lambda x, y: tf.linalg.matmul(x, y))
    product(a, b).numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        product(a, b).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


class EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


def epoch_shapes(dataset):
    """(batch, padded length, real tokens) of every batch of one epoch."""
    return [
        (int(ids.shape[0]), int(ids.shape[1]), int(np.count_nonzero(ids.numpy())))
        for ids, _ in dataset
    ]


def measure(name, model, config, datasets, shapes, peak, attention_pooling):
    train, test_ids, test_labels = datasets
    compile_classifier(model, config.training, steps_per_epoch=len(shapes))
    timer = EpochTimer()
    start = time.perf_counter()
    model.fit(train, epochs=config.training.epochs, callbacks=[timer], verbose=2, shuffle=False)
    wall = time.perf_counter() - start
    predicted = model.predict(test_ids, verbose=0).argmax(axis=-1)
    steady = timer.seconds[1:] or timer.seconds
    epoch_seconds = statistics.mean(steady)
    examples = sum(batch for batch, _, _ in shapes)
    real_tokens = sum(tokens for _, _, tokens in shapes)
    flops = 3 * sum(forward_flops(config.model, b, length, attention_pooling) for b, length, _ in shapes)
    return {
        "name": name,
        "params": model.count_params(),
        "accuracy": float((predicted == test_labels).mean()),
        "wall": wall,
        "examples_per_s": examples / epoch_seconds,
        "tokens_per_s": real_tokens / epoch_seconds,
        "flops_per_s": flops / epoch_seconds,
        "mfu": flops / epoch_seconds / peak,
    }


def load_split(sst2, split, tokenizer, labels):
    table = read_table(os.path.join(sst2, f"{split}.tsv"), "sentence", "label")
    return labels.encode_table(table)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--jit-compile", action="store_true")
    parser.add_argument("--data", default=os.environ.get("KERAS_ATTENTION_DATA", DEFAULT_DATA))
    args = parser.parse_args()
    sst2 = os.path.join(args.data, "sst2")
    config = ClassifierConfig()
    config.training.epochs = args.epochs
    config.training.jit_compile = args.jit_compile

    train_table = read_table(os.path.join(sst2, "train.tsv"), "sentence", "label")
    labels = LabelEncoder.fit(train_table.labels)
    train_texts, train_ids = labels.encode_table(train_table)
    tokenizer = build_tokenizer(train_texts, config.tokenizer.vocabulary_size, config.tokenizer.max_length)
    config.model.vocabulary_size = tokenizer.vocabulary_size
    test_texts, test_labels = load_split(sst2, "test", tokenizer, labels)
    test_ids = tokenizer.tokenize(test_texts, sequence_length=config.tokenizer.max_length).numpy()

    peak = matmul_peak_flops()
    print(
        f"SST-2, {len(train_texts)} training rows, {args.epochs} epochs, batch "
        f"{config.training.batch_size}, width {config.model.embedding_dim}, "
        f"{config.model.num_blocks} blocks, XLA {args.jit_compile}; {os.cpu_count()} CPU cores; "
        f"float32 matmul peak {peak / 1e9:.1f} GFLOP/s; TensorFlow {tf.__version__}, Keras {keras.__version__}",
        flush=True,
    )
    results = []
    for name, builder, attention_pooling in (
        ("keras_attention", build_classifier, True),
        ("keras built-in", build_keras_builtin_classifier, False),
    ):
        keras.utils.set_random_seed(config.training.seed)
        train = make_dataset(
            train_texts, train_ids, tokenizer=tokenizer, num_classes=labels.num_classes,
            batch_size=config.training.batch_size, shuffle=True, seed=config.training.seed,
        )
        shapes = epoch_shapes(train)
        model = builder(config.model)
        print(f"\n{name}:", flush=True)
        results.append(
            measure(name, model, config, (train, test_ids, test_labels), shapes, peak, attention_pooling)
        )

    header = f"{'model':<16} {'params':>9} {'test acc':>8} {'train s':>8} {'examples/s':>10} {'tokens/s':>9} {'GFLOP/s':>8} {'MFU':>6}"
    print("\n" + header + "\n" + "-" * len(header))
    for r in results:
        print(
            f"{r['name']:<16} {r['params']:>9,d} {r['accuracy']:>8.4f} {r['wall']:>8.1f} "
            f"{r['examples_per_s']:>10.0f} {r['tokens_per_s']:>9.0f} {r['flops_per_s'] / 1e9:>8.2f} {r['mfu']:>6.1%}"
        )
    ours, theirs = results
    print(
        f"{'ratio ours/keras':<16} {ours['params'] / theirs['params']:>9.2f} "
        f"{ours['accuracy'] / theirs['accuracy']:>8.3f} {ours['wall'] / theirs['wall']:>8.2f} "
        f"{ours['examples_per_s'] / theirs['examples_per_s']:>10.2f} "
        f"{ours['tokens_per_s'] / theirs['tokens_per_s']:>9.2f} "
        f"{ours['flops_per_s'] / theirs['flops_per_s']:>8.2f} {ours['mfu'] / theirs['mfu']:>6.2f}"
    )


if __name__ == "__main__":
    main()
