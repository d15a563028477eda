"""Training from an array bundle on the Keras JAX backend, without TensorFlow.

    KERAS_BACKEND=jax python -m pipelines.summarization.jax_training BUNDLE --out WEIGHTS
        [--epochs N] [--batch-size N] [--max-minutes M] [--distribute mirrored]

`BUNDLE` comes from `python -m pipelines.summarization prepare-arrays` on a
machine with TensorFlow; `WEIGHTS` goes back there to
`python -m pipelines.summarization import-weights` (the folders are described
in `pipelines.common.array_bundle`). This module and everything it imports
need Keras, NumPy and a backend only. It trains what `train` trains: the same
model, loss, optimizer, learning-rate schedule and time budget, with
best-weights checkpoints, early stopping and BackupAndRestore (rerun the same
command to resume). `--distribute mirrored` shards each batch over all local
devices with `keras.distribution.DataParallel`.
"""

import argparse
import contextlib
import dataclasses
import math
import os
import shutil
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from pipelines.common import array_bundle  # noqa: E402
from pipelines.common.argument_types import non_negative_float  # noqa: E402
from pipelines.common.argument_types import positive_int  # noqa: E402
from pipelines.common.atomic import atomic_path  # noqa: E402
from pipelines.common.atomic import write_json_atomic  # noqa: E402
from pipelines.common.callbacks import best_weights_if_diverged  # noqa: E402
from pipelines.common.callbacks import check_finite_weights  # noqa: E402
from pipelines.common.callbacks import training_callbacks  # noqa: E402
from pipelines.common.errors import UserInputError  # noqa: E402
from pipelines.common.errors import run_command  # noqa: E402
from pipelines.common.preflight import undone_if_failed_before_backup  # noqa: E402

REFERENCE_EXAMPLES = 4  # validation examples whose outputs are recorded for the import check
TRAINED_SETTINGS = ("epochs", "batch_size", "max_minutes", "distribute")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.summarization.jax_training",
        description="Train from an array bundle on the Keras JAX backend (no TensorFlow).",
    )
    parser.add_argument("bundle", metavar="BUNDLE", help="folder written by prepare-arrays")
    parser.add_argument("--out", required=True, help="weights folder to write")
    parser.add_argument("--overwrite", action="store_true", help="replace what --out holds")
    parser.add_argument("--epochs", type=positive_int, help="default: the bundle's config")
    parser.add_argument("--batch-size", type=positive_int, help="global batch; default: the bundle's config")
    parser.add_argument(
        "--max-minutes", type=non_negative_float, help="time budget; 0: none; default: the bundle's config"
    )
    parser.add_argument(
        "--distribute", choices=("none", "mirrored"), default="none",
        help="mirrored: keras.distribution.DataParallel over all local devices",
    )
    return parser


class WeightsFolder:
    """Paths inside a weights folder; the parts of a run directory `fit` writes."""

    def __init__(self, path):
        self.path = os.fspath(path)

    def _join(self, *parts):
        return os.path.join(self.path, *parts)

    weights_path = property(lambda self: self._join(array_bundle.WEIGHTS_FILE))
    training_path = property(lambda self: self._join(array_bundle.TRAINING_FILE))
    history_path = property(lambda self: self._join(array_bundle.HISTORY_FILE))
    reference_path = property(lambda self: self._join(array_bundle.REFERENCE_FILE))
    best_weights_path = property(lambda self: self._join("checkpoints", "best.weights.h5"))
    backup_dir = property(lambda self: self._join("backup"))

    def prepare(self, overwrite):
        """Creates, clears or resumes the folder; returns True when resuming."""
        markers = (array_bundle.HISTORY_FILE, array_bundle.TRAINING_FILE, "backup")
        if not overwrite:
            if os.path.exists(self.weights_path):
                raise UserInputError(
                    f"{self.path} holds finished weights; pass --overwrite or choose another --out"
                )
            if os.path.isdir(self.backup_dir):
                return True  # rerunning the same command resumes it
        array_bundle.prepare_output_directory(self.path, overwrite, markers)
        return False


def summarization_task(bundle, training):
    """What training a summarizer needs: model, data, monitor and token count."""
    from pipelines.summarization.config import SummarizerConfig
    from pipelines.summarization.fitting import compile_summarizer
    from pipelines.summarization.model import DECODER_IDS
    from pipelines.summarization.model import ENCODER_IDS
    from pipelines.summarization.model import build_summarizer

    config = SummarizerConfig.load(os.path.join(bundle, array_bundle.CONFIG_FILE))
    config.training = dataclasses.replace(
        config.training, **{key: value for key, value in training.items() if value is not None}
    )

    def split(name):
        arrays = array_bundle.read_arrays(bundle, name)
        inputs = {ENCODER_IDS: arrays[ENCODER_IDS], DECODER_IDS: arrays[DECODER_IDS]}
        return inputs, arrays["labels"], (arrays["labels"] != 0).astype("float32")

    def build(compiled=True):
        model = build_summarizer(config.model)
        if not compiled:
            return model
        # XLA is how JAX runs a step; TensorFlow keeps the config's choice.
        jit_compile = True if keras.backend.backend() == "jax" else None
        return compile_summarizer(model, config.training, jit_compile)

    return config, build, split("train"), split("valid"), "val_loss", "min"


TASKS = {"summarization": summarization_task}


def pad_rows(split, multiple):
    """Adds rows of weight 0 until the row count is a multiple of `multiple`.

    DataParallel splits every batch evenly over the devices, the last one too.
    A padding row holds one token (fully masked rows are avoided) and weighs
    nothing in the loss and metrics.
    """
    inputs, labels, weights = split
    missing = -len(labels) % multiple
    if not missing:
        return split

    def padded(array, first_token=0):
        extra = np.zeros((missing,) + array.shape[1:], array.dtype)
        extra[:, 0] = first_token
        return np.concatenate([array, extra])

    inputs = {key: padded(value, first_token=1) for key, value in inputs.items()}
    return inputs, padded(labels), padded(weights)


def record_reference_outputs(model, valid, path):
    """Saves inputs and the model's outputs for the import-side parity check.

    On JAX the reference is computed at full float32 matrix precision, not the
    faster TF32 that GPUs may use by default.
    """
    inputs = {key: value[:REFERENCE_EXAMPLES] for key, value in valid[0].items()}
    predict = lambda: model.predict(inputs, batch_size=REFERENCE_EXAMPLES, verbose=0)
    if keras.backend.backend() == "jax":
        import jax

        with jax.default_matmul_precision("float32"):
            outputs = predict()
    else:
        outputs = predict()
    with atomic_path(path) as temporary:
        np.savez(temporary, logits=np.asarray(outputs), **inputs)


def train_from_bundle(bundle, out, *, training=None, distribute="none", overwrite=False, log=print):
    """Trains the bundle's model and writes the weights folder `out`.

    Args:
        bundle: str. A folder written by `prepare-arrays`.
        out: str. The weights folder.
        training: dict of training settings to override (None values are
            ignored): epochs, batch_size, max_minutes.
        distribute: "none" or "mirrored".
        overwrite: bool. Replace what `out` holds.
        log: callable taking one line of progress text.

    Returns:
        The report written to training.json.
    """
    from pipelines.common.distribution import make_strategy

    manifest = array_bundle.read_manifest(bundle)
    if manifest["pipeline"] not in TASKS:
        raise UserInputError(f"{bundle}: no JAX training for a {manifest['pipeline']!r} bundle")
    if distribute not in ("none", "mirrored"):
        raise UserInputError(f"--distribute {distribute}: use none or mirrored here")
    settings = dict(training or {}, distribute=distribute)
    config, build, train, valid, monitor, mode = TASKS[manifest["pipeline"]](bundle, settings)
    for key in ("epochs", "batch_size"):
        if getattr(config.training, key) < 1:
            raise UserInputError(f"--{key.replace('_', '-')} must be a positive integer")
    devices = keras.distribution.list_devices()
    batch_size = config.training.batch_size
    if distribute == "mirrored":
        if batch_size % len(devices):
            raise UserInputError(
                f"--batch-size {batch_size} does not split evenly over {len(devices)} devices; "
                f"use a multiple of {len(devices)}"
            )
        train, valid = pad_rows(train, len(devices)), pad_rows(valid, len(devices))
    folder = WeightsFolder(out)
    existed = os.path.lexists(folder.path)
    resuming = folder.prepare(overwrite)
    make_strategy(distribute)
    undone = (
        contextlib.nullcontext() if resuming
        else undone_if_failed_before_backup(folder.path, folder.backup_dir, existed, log)
    )
    with undone:
        return train_into_folder(
            folder, config, build, train, valid, monitor, mode, manifest, devices, resuming, log
        )


def train_into_folder(folder, config, build, train, valid, monitor, mode, manifest, devices, resuming, log):
    """`fit` and the weights folder's files (the rest of `train_from_bundle`)."""
    from pipelines.summarization.fitting import StepClock
    from pipelines.summarization.learning_rate import WarmupCosineSchedule
    from pipelines.summarization.learning_rate import optimizer_step

    batch_size = config.training.batch_size
    keras.utils.set_random_seed(config.training.seed)
    model = build()
    examples = manifest["examples"]["train"]
    steps_per_epoch = math.ceil(len(train[1]) / batch_size)
    training_config = config.training
    schedule = WarmupCosineSchedule(
        peak=training_config.learning_rate,
        warmup_steps=training_config.warmup_steps,
        total_steps=training_config.epochs * steps_per_epoch,
        min_ratio=training_config.min_learning_rate_ratio,
        max_seconds=training_config.max_minutes * 60 if training_config.max_minutes else None,
        validation_steps=math.ceil(len(valid[1]) / batch_size),
    )
    clock = StepClock()
    os.makedirs(os.path.dirname(folder.best_weights_path), exist_ok=True)
    callbacks = [schedule, clock] + training_callbacks(
        folder, monitor, mode, patience=training_config.patience, tensorboard=False
    )
    log(
        f"{'resuming: ' if resuming else ''}{model.count_params():,} parameters on "
        f"{keras.backend.backend()} ({len(devices)} device(s): {', '.join(devices)}); "
        f"{steps_per_epoch} steps per epoch, at most {training_config.epochs} epochs"
        + (f" or {training_config.max_minutes:g} minutes" if training_config.max_minutes else "")
    )
    start = time.perf_counter()
    with best_weights_if_diverged(folder.best_weights_path, log):  # a NaN loss ends fit
        model.fit(
            train[0], train[1], sample_weight=train[2], batch_size=batch_size,
            validation_data=valid, epochs=training_config.epochs, callbacks=callbacks,
            shuffle=True, verbose=2,
        )
    seconds = time.perf_counter() - start
    # Counted before loading the best weights, which bring back that epoch's optimizer state.
    steps = optimizer_step(model.optimizer)
    if os.path.exists(folder.best_weights_path):
        model.load_weights(folder.best_weights_path)
    check_finite_weights(model, "the weights")
    tokens_per_step = manifest["tokens_per_epoch"] / math.ceil(examples / batch_size)
    report = {
        "settings": {key: getattr(training_config, key) for key in TRAINED_SETTINGS},
        "fit": {
            "seconds": round(seconds, 1),
            "steps": steps,
            "epochs": round(steps / steps_per_epoch, 2),
            "stopped_on_time_budget": schedule.stopped_on_budget,
            "tokens_per_second": round(tokens_per_step * clock.steps / max(clock.seconds, 1e-9), 1),
            "parameters": model.count_params(),
            "backend": keras.backend.backend(),
            "devices": devices,
            "keras": keras.__version__,
        },
    }
    # The model's variables alone (no optimizer state), as the importing side builds it.
    trained = build(compiled=False)
    trained.set_weights(model.get_weights())
    record_reference_outputs(trained, valid, folder.reference_path)
    with atomic_path(folder.weights_path) as temporary:
        trained.save_weights(temporary)
    write_json_atomic(folder.training_path, report)
    shutil.rmtree(folder.backup_dir, ignore_errors=True)  # kept until the weights are safe
    log(
        f"trained {report['fit']['epochs']} epochs ({steps} steps) in {seconds / 60:.1f} min, "
        f"{report['fit']['tokens_per_second']:.0f} tokens/s; weights: {folder.weights_path}"
    )
    return report


def main(argv=None):
    if keras.backend.backend() == "jax":
        # Nothing here uses TensorFlow; where it is installed, Keras would still
        # import it to seed it (`set_random_seed`). Make it unimportable instead.
        sys.modules.setdefault("tensorflow", None)
    args = build_parser().parse_args(argv)
    training = {
        "epochs": args.epochs, "batch_size": args.batch_size, "max_minutes": args.max_minutes,
    }
    return run_command(
        lambda args: train_from_bundle(
            args.bundle, args.out, training=training, distribute=args.distribute,
            overwrite=args.overwrite,
        ),
        args,
    )


if __name__ == "__main__":
    sys.exit(main())
