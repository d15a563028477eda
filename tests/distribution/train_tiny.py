"""Trains a tiny attention classifier under a distribution; run as a script.

Used by the distribution tests in subprocesses, because logical devices and
TF_CONFIG must be set before TensorFlow starts.

    python train_tiny.py OUT_DIR --distribute NAME [--logical-cpus N]
        [--epochs N] [--interrupt-at-epoch N] [--initial-weights FILE]
        [--then-cli COMMANDS.json]

`--then-cli` runs pipeline commands (`[["classification", ["train", ...]], ...]`)
through their command lines afterwards, in this process and so on the same
logical devices; their exit statuses go into the report.
"""

import argparse
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir")
    parser.add_argument("--distribute", default="none")
    parser.add_argument("--logical-cpus", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--interrupt-at-epoch", type=int, default=-1)
    parser.add_argument("--initial-weights", default=None)
    parser.add_argument("--then-cli", default=None)
    return parser.parse_args()


def tiny_data():
    import numpy as np

    rng = np.random.default_rng(0)
    ids = rng.integers(1, 50, size=(64, 12)).astype("int32")
    lengths = rng.integers(3, 13, size=64)
    ids[np.arange(12)[None, :] >= lengths[:, None]] = 0
    labels = (ids[:, 0] % 2).astype("int32")
    return ids, labels


def build_model():
    import keras

    import keras_attention

    token_ids = keras.Input((None,), dtype="int32")
    x = keras_attention.TokenAndPositionEmbedding(50, 16)(token_ids)
    x = keras_attention.TransformerEncoderBlock(32, 2)(x)
    x = keras_attention.AttentionPooling()(x)
    outputs = keras.layers.Dense(2, activation="softmax")(x)
    return keras.Model(token_ids, outputs)


class InterruptAt:
    """Raises at the start of an epoch, like a job killed after a backup."""

    def __new__(cls, epoch):
        import keras

        class _Interrupt(keras.callbacks.Callback):
            def on_epoch_begin(self, current, logs=None):
                if current == epoch:
                    raise SystemExit(3)

        return _Interrupt()


def run_commands(path):
    import importlib

    with open(path) as handle:
        commands = json.load(handle)
    return [
        importlib.import_module(f"pipelines.{pipeline}.cli").main(argv)
        for pipeline, argv in commands
    ]


def main():
    args = parse_args()
    import tensorflow as tf

    if args.logical_cpus:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * args.logical_cpus
        )
    import keras

    from pipelines.common.distribution import is_chief
    from pipelines.common.distribution import make_strategy
    from pipelines.common.distribution import prepare_model
    from pipelines.common.distribution import replicas
    from pipelines.common.distribution import strategy_scope

    keras.utils.set_random_seed(0)
    strategy = make_strategy(args.distribute)  # mirrored: over the logical CPUs
    with strategy_scope(strategy):
        model = build_model()
        if args.initial_weights:
            model.load_weights(args.initial_weights)
        model.compile(
            optimizer=keras.optimizers.SGD(0.1),
            loss="sparse_categorical_crossentropy",
        )
    ids, labels = tiny_data()
    dataset = tf.data.Dataset.from_tensor_slices((ids, labels)).batch(16)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    dataset = dataset.with_options(options)

    task = json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {})
    worker_tag = f"{task.get('type', 'single')}-{task.get('index', 0)}"
    first_epochs = []

    class RecordFirstEpoch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            first_epochs.append(epoch)

    callbacks = [
        keras.callbacks.BackupAndRestore(os.path.join(args.out_dir, "backup", worker_tag)),
        RecordFirstEpoch(),
    ]
    if args.interrupt_at_epoch >= 0:
        callbacks.append(InterruptAt(args.interrupt_at_epoch))
    prepare_model(model, strategy, next(iter(dataset)))
    history = model.fit(dataset, epochs=args.epochs, callbacks=callbacks, verbose=0)
    report = {
        "loss": history.history["loss"],
        "first_epoch": first_epochs[0] if first_epochs else None,
        "replicas": replicas(strategy),
        "chief": is_chief(),
    }
    if is_chief():
        model.save(os.path.join(args.out_dir, "model.keras"))
    if args.then_cli:
        report["cli_exit_codes"] = run_commands(args.then_cli)
    with open(os.path.join(args.out_dir, f"report-{worker_tag}.json"), "w") as handle:
        json.dump(report, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
