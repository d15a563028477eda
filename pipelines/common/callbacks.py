"""Keras callbacks for resumable training runs.

`training_callbacks` assembles the standard set: a step-level BackupAndRestore
(a killed run resumes from its last backup, optimizer state included), a
best-weights checkpoint that also survives interruptions, early stopping,
TensorBoard and a history file written after every epoch.

TensorFlow is imported only by the TensorBoard stand-in, so the other
callbacks also serve training on the JAX backend (`pipelines.jax_training`).
"""

import importlib.util
import json
import os

import keras
import numpy as np

from pipelines.common.atomic import atomic_path
from pipelines.common.atomic import write_json_atomic
from pipelines.common.run_directory import DEFAULT_BACKUP_STEPS


def read_history(path):
    """Per-epoch records `[{"epoch": 1, "loss": ..., ...}, ...]` written so far."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as file:
        return json.load(file)["epochs"]


def best_record(records, monitor, mode="max"):
    """The record with the best `monitor` value, or None."""
    scored = [record for record in records if monitor in record]
    if not scored:
        return None
    pick = max if mode == "max" else min
    return pick(scored, key=lambda record: record[monitor])


class HistoryRecorder(keras.callbacks.Callback):
    """Appends each epoch's logs (and learning rate) to a JSON file, atomically.

    Records of epochs at or after the one just finished are replaced, so a run
    resumed from a backup never duplicates an epoch.
    """

    def __init__(self, path):
        super().__init__()
        self.path = path

    def on_epoch_end(self, epoch, logs=None):
        number = epoch + 1
        records = [record for record in read_history(self.path) if record["epoch"] < number]
        record = {"epoch": number}
        record.update({key: float(value) for key, value in (logs or {}).items()})
        record["learning_rate"] = current_learning_rate(self.model.optimizer)
        records.append(record)
        write_json_atomic(self.path, {"epochs": records})


def current_learning_rate(optimizer):
    rate = optimizer.learning_rate
    return float(np.asarray(keras.ops.convert_to_numpy(rate)))


class BestWeightsCheckpoint(keras.callbacks.Callback):
    """Saves the weights whenever `monitor` improves, written atomically.

    Unlike `ModelCheckpoint`, a file is never half-written, and `best` can be
    seeded from the history of an interrupted run so a resumed run only
    overwrites the checkpoint with something better.
    """

    def __init__(self, path, monitor, mode="max", best=None):
        super().__init__()
        self.path = path
        self.monitor = monitor
        self.mode = mode
        self.best = best

    def improved(self, value):
        if self.best is None:
            return True
        return value > self.best if self.mode == "max" else value < self.best

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not self.improved(float(value)):
            return
        self.best = float(value)
        with atomic_path(self.path) as temporary:
            self.model.save_weights(temporary)


def scalar_metadata():
    """What tf.summary.scalar attaches: TensorBoard shows the value under "Scalars"."""
    from tensorflow.core.framework import summary_pb2

    return summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")
    )


class EpochScalarSummaries(keras.callbacks.Callback):
    """Per-epoch TensorBoard scalars written with core TensorFlow ops only.

    The stand-in for `keras.callbacks.TensorBoard` when the `tensorboard`
    package (which that callback needs) is not installed. Same layout:
    `LOG_DIR/train` and `LOG_DIR/validation`, tags `epoch_loss`,
    `epoch_accuracy`, ..., plus `epoch_learning_rate`.
    """

    def __init__(self, log_dir):
        super().__init__()
        self.log_dir = log_dir
        self._writers = {}

    def writer(self, split):
        import tensorflow as tf

        if split not in self._writers:
            path = os.path.join(self.log_dir, split)
            self._writers[split] = tf.summary.create_file_writer(path)
        return self._writers[split]

    def on_epoch_end(self, epoch, logs=None):
        import tensorflow as tf

        values = dict(logs or {})
        values["learning_rate"] = current_learning_rate(self.model.optimizer)
        for key, value in values.items():
            split, name = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
            with self.writer(split).as_default():
                tf.summary.write(
                    "epoch_" + name,
                    tf.constant(float(value), tf.float32),
                    step=epoch,
                    metadata=scalar_metadata(),
                )
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}


def tensorboard_callback(log_dir):
    """Keras's TensorBoard callback if `tensorboard` is installed, else `EpochScalarSummaries`."""
    if importlib.util.find_spec("tensorboard") is not None:
        return keras.callbacks.TensorBoard(log_dir, write_graph=False)
    return EpochScalarSummaries(log_dir)


class StepBackupAndRestore(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` that backs up every `save_freq` steps and at every epoch end,
    writing each file atomically.

    Keras backs up either at epoch ends or every N steps; with both, a run
    killed mid-epoch loses at most N steps, and one killed during validation
    does not run its epoch again. Each file is written beside its final name and
    renamed over it, so a kill never leaves a half-written backup (Keras writes
    in place). The weights are renamed first: if the process dies between the
    two renames, the metadata names an earlier point than the weights, so the
    resumed run repeats steps rather than skipping any.

    What Keras restores: the weights, the optimizer state (its step counter
    included, so learning-rate schedules continue) and the epoch. A backup taken
    mid-epoch N resumes at the start of epoch N with the weights of that step:
    the steps before the backup are kept, and epoch N then runs in full on a
    newly shuffled order, so the resumed run takes the backup's in-epoch steps
    once more than an uninterrupted run.
    """

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        if self.save_freq != "epoch":
            self._save_model()

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        with atomic_path(self._weights_path) as temporary:
            self.model.save_weights(temporary, overwrite=True)
        write_json_atomic(
            self._training_metadata_path,
            {"epoch": self._current_epoch, "batch": self._last_batch_seen},
        )


def training_callbacks(
    run_directory,
    monitor="val_accuracy",
    mode="max",
    patience=3,
    backup_steps=DEFAULT_BACKUP_STEPS,
    tensorboard=True,
):
    """Best-weights checkpoint, early stopping, TensorBoard, history, and the backup.

    `run_directory` needs `history_path`, `best_weights_path`, `backup_dir`
    and, with `tensorboard`, `logs_dir`. TensorBoard logs need TensorFlow, so
    training on a machine without it passes `tensorboard=False`.

    The backup comes last, so an epoch's history record and best weights are
    on disk before a backup says the epoch is done. It is kept when training
    ends (`delete_checkpoint=False`): the caller removes it once the final model
    is saved, so a run killed after `fit` but before saving still resumes
    instead of starting over.
    """
    best = best_record(read_history(run_directory.history_path), monitor, mode)
    callbacks = [
        BestWeightsCheckpoint(
            run_directory.best_weights_path,
            monitor,
            mode=mode,
            best=best[monitor] if best else None,
        ),
        keras.callbacks.EarlyStopping(
            monitor=monitor, mode=mode, patience=patience, restore_best_weights=True
        ),
    ]
    if tensorboard:
        callbacks.append(tensorboard_callback(run_directory.logs_dir))
    return callbacks + [
        HistoryRecorder(run_directory.history_path),
        StepBackupAndRestore(
            run_directory.backup_dir, save_freq=backup_steps, delete_checkpoint=False
        ),
    ]
