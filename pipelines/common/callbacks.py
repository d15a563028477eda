"""Keras callbacks for resumable training runs.

`training_callbacks` assembles the standard set: a stop at the first non-finite
loss, a step-level BackupAndRestore (a killed run resumes from its last backup,
optimizer state included), a best-weights checkpoint that also survives
interruptions, early stopping, TensorBoard and a history file written after
every epoch. Neither the backup nor the best weights are ever written with a
NaN or an infinity in them. `fit_reporting` chooses how `fit` shows its
progress: Keras's bar on a terminal, the plain lines of `ProgressLogger` when
output goes to a file.

Keras's own callbacks do the work; the two subclasses below add only atomic
writes (and, for the backup, a backup at every epoch end), because Keras
writes its files in place: an interruption while it writes destroys the
previous file (tests/pipelines/test_callbacks.py measures it). Only
TensorBoard needs TensorFlow, so the others also serve training on the JAX
backend (`pipelines.jax_training`).
"""

import contextlib
import json
import math
import os
import time

import keras
import numpy as np

from pipelines.common.atomic import atomic_path
from pipelines.common.atomic import write_json_atomic
from pipelines.common.errors import UserInputError
from pipelines.common.finite import model_non_finite
from pipelines.common.optimizers import optimizer_step
from pipelines.common.progress import PROGRESS_LINE_SECONDS
from pipelines.common.progress import Heartbeat
from pipelines.common.progress import ProgressLines
from pipelines.common.progress import format_duration
from pipelines.common.progress import format_values
from pipelines.common.progress import writes_to_terminal
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


class BestWeightsCheckpoint(keras.callbacks.ModelCheckpoint):
    """`ModelCheckpoint(save_best_only=True, save_weights_only=True)` that writes
    beside `path` and renames the file over it, so a kill while saving keeps
    the previous best weights (Keras truncates the file it saves to first).

    `best`, from the history of an interrupted run, is Keras's
    `initial_value_threshold`: a resumed run only overwrites the checkpoint
    with something better.
    """

    def __init__(self, path, monitor, mode="max", best=None):
        folder, name = os.path.split(path)
        self.path = path
        super().__init__(
            os.path.join(folder, ".partial-" + name),  # keeps the `.weights.h5` Keras requires
            monitor=monitor,
            mode=mode,
            save_best_only=True,
            save_weights_only=True,
            initial_value_threshold=best,
        )

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is not None and not math.isfinite(float(current)):
            return  # never "better" (Keras compares NaN as neither better nor worse)
        super().on_epoch_end(epoch, logs)
        if os.path.exists(self.filepath):  # written this epoch: the monitor improved
            try:
                check_finite_weights(self.model, "the best weights")
            except TrainingDiverged:
                os.remove(self.filepath)
                raise
            os.replace(self.filepath, self.path)


class TimedSnapshots(keras.callbacks.Callback):
    """Saves the weights every `every_minutes` of training, for learning curves.

    `snapshots/minute_{M}.weights.h5` holds the weights after the first step
    that ends M minutes or more after `fit` began (validation passes count);
    `snapshots/index.json` lists each file with its minute and optimizer step.
    The clock restarts with a resumed run's `fit`, so its snapshots are named
    from the time already recorded in the index.
    """

    INDEX_FILE = "index.json"

    def __init__(self, directory, every_minutes):
        super().__init__()
        if not every_minutes or every_minutes <= 0:
            raise ValueError(f"`every_minutes` must be a positive number. Received: {every_minutes}")
        self.directory = directory
        self.every_minutes = every_minutes

    @property
    def index_path(self):
        return os.path.join(self.directory, self.INDEX_FILE)

    def read_index(self):
        if not os.path.exists(self.index_path):
            return []
        with open(self.index_path, encoding="utf-8") as file:
            return json.load(file)["snapshots"]

    def on_train_begin(self, logs=None):
        self.snapshots = self.read_index()
        # A resumed run goes on from its last snapshot's minute.
        self.offset_minutes = self.snapshots[-1]["minutes"] if self.snapshots else 0.0
        self.start = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        minutes = self.offset_minutes + (time.monotonic() - self.start) / 60
        due = (self.snapshots[-1]["minutes"] if self.snapshots else 0.0) + self.every_minutes
        if minutes < due:
            return
        mark = round(due, 2)
        name = f"minute_{mark:g}.weights.h5"
        os.makedirs(self.directory, exist_ok=True)
        with atomic_path(os.path.join(self.directory, name)) as temporary:
            self.model.save_weights(temporary)
        self.snapshots.append(
            {"minutes": mark, "step": optimizer_step(self.model.optimizer), "file": name}
        )
        write_json_atomic(self.index_path, {"snapshots": self.snapshots})


class StepBackupAndRestore(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` that backs up every `save_freq` steps and at every epoch end,
    writing each file atomically.

    Keras's `BackupAndRestore(save_freq=N)` resumes mid-epoch as this does, but
    (Keras 3.15) backs up either at epoch ends or every N steps, not both, and
    writes its two files in place. With both, a run killed during validation
    does not run its epoch again; with atomic writes, a kill while writing
    never leaves a truncated backup that stops the rerun (Keras falls back only
    for weights, with `double_checkpoint`, and not for a truncated metadata
    file). Each file is written beside its final name and renamed over it; the
    weights first: if the process dies between the two renames, the metadata
    names an earlier point than the weights, so the resumed run repeats steps
    rather than skipping any.

    This overrides Keras's private `_save_model` and reads the private
    `_weights_path`, `_training_metadata_path`, `_current_epoch` and
    `_last_batch_seen`: the reason pyproject.toml pins `keras<3.16`. Check these
    (tests/pipelines/test_callbacks.py does) before moving the pin.

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
        check_finite_weights(self.model, "a backup")  # resuming must never start from poison
        os.makedirs(self.backup_dir, exist_ok=True)
        with atomic_path(self._weights_path) as temporary:
            self.model.save_weights(temporary, overwrite=True)
        write_json_atomic(
            self._training_metadata_path,
            {"epoch": self._current_epoch, "batch": self._last_batch_seen},
        )


class TrainingDiverged(UserInputError):
    """Training reached a NaN or infinite loss (or weights): the run must not become a model.

    A `UserInputError`, so the command lines print it as one line: the fix is
    the user's (a lower learning rate).

    Attributes:
        step: int. The optimizer step at which it was seen.
        last_finite: (step, loss) of the last finite loss seen, or None.
    """

    def __init__(self, message, step, last_finite=None):
        super().__init__(message)
        self.step = step
        self.last_finite = last_finite


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Ends `fit` at the first step whose loss is NaN or infinite, raising `TrainingDiverged`.

    Keras's `TerminateOnNaN` only sets `stop_training`: Keras then still runs
    the epoch's validation pass and every epoch-end callback (history, best
    weights, and our backup) on the poisoned weights, and its message names
    neither the step nor the last finite loss. Raising from the batch end, as
    the first callback, ends `fit` before any later callback sees that step;
    the training function then keeps the best earlier epoch, if any
    (`best_weights_if_diverged`).
    """

    def on_train_begin(self, logs=None):
        self.last_finite = None

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(np.asarray(loss))
        step = optimizer_step(self.model.optimizer)
        if math.isfinite(loss):
            self.last_finite = (step, loss)
            return
        raise TrainingDiverged(
            f"training diverged: the loss is {loss} at step {step} "
            f"({describe_last_finite(self.last_finite)}); lower --learning-rate",
            step,
            self.last_finite,
        )


def describe_last_finite(last_finite):
    if last_finite is None:
        return "no finite loss before it"
    step, loss = last_finite
    return f"last finite loss {loss:.4g} at step {step}"


def check_finite_weights(model, what):
    """Raises `TrainingDiverged` if any weight of `model` is NaN or infinite; `what`
    names what was about to be written ("a backup", "model.keras")."""
    found = model_non_finite(model)
    if found is None:
        return
    name, count, size = found
    step = optimizer_step(model.optimizer) if getattr(model, "optimizer", None) is not None else None
    at = f" at step {step}" if step is not None else ""
    raise TrainingDiverged(
        f"training diverged: weight {name} holds {count:,} NaN or infinite values (of {size:,}){at}, "
        f"so {what} was not written; lower --learning-rate",
        step,
    )


@contextlib.contextmanager
def best_weights_if_diverged(best_weights_path, log):
    """Wraps `fit`: if training diverges, the best earlier epoch's weights (already at
    `best_weights_path`, which the training function then loads) stay the run's model,
    said in one line; without them the `TrainingDiverged` error goes on, and no model
    is written."""
    try:
        yield
    except TrainingDiverged as diverged:
        if not os.path.exists(best_weights_path):
            raise TrainingDiverged(
                f"{diverged} (and pass --overwrite if --out keeps a backup); no model was written: "
                "no epoch finished with finite weights",
                diverged.step,
                diverged.last_finite,
            ) from None
        log(f"{diverged}; the run keeps the best earlier epoch's weights as its model")


class ProgressLogger(keras.callbacks.Callback):
    """Reports `fit` in plain lines, for output that goes to a file rather than a terminal.

    A line when training begins; during each epoch's steps and its validation
    pass, a line at most every `interval` seconds (the step, the running loss
    and metrics, the time since the epoch or the validation pass began, and
    an estimate of the time left in it); and a line at each epoch's end with
    the epoch's loss, metrics and validation figures. Given to `predict`, a
    line at most every `interval` seconds. No carriage returns and no colour
    codes, unlike Keras's bar (`fit(verbose=1)`), and unlike `verbose=2` a
    long epoch is not silent until its end.

    A step can outlast the interval (the first one traces and compiles the
    model; a busy machine slows any), and so can the saving at an epoch's
    end: with `heartbeat`, a background thread writes a line saying what is
    running whenever `interval` seconds pass without one, so the log never
    falls silent for longer. The thread stops when `fit` or `predict` ends;
    use `fit_reporting`, which also stops it when they raise.

    Args:
        interval: float. Least seconds between two progress lines, and most
            seconds without a line while `heartbeat` runs. Defaults to
            `PROGRESS_LINE_SECONDS`.
        stream: file object. Defaults to standard output at each write.
        clock: callable returning seconds (for tests). Defaults to
            `time.monotonic`.
        heartbeat: bool. Run the background thread. Defaults to True.
    """

    def __init__(self, interval=PROGRESS_LINE_SECONDS, stream=None, clock=time.monotonic, heartbeat=True):
        super().__init__()
        self.interval = interval
        self.stream = stream
        self.clock = clock
        self.phase = None
        self.last_line = None
        self.what = "fit"
        self.started = None
        self.output = Heartbeat(interval, self.heartbeat_line, stream, clock, enabled=heartbeat)

    def write(self, line):
        self.output.write(line)

    def start_phase(self, target, label, unit_name):
        previous = self.phase.last_line if self.phase is not None else self.last_line
        self.phase = ProgressLines(
            target, unit_name=unit_name, label=label, interval=self.interval, clock=self.clock,
            write=self.write,
        )
        self.phase.last_line = previous  # the interval runs on across phases

    def start_heartbeat(self):
        self.output.interval = self.interval
        self.output.start()

    def stop_heartbeat(self):
        self.output.stop()

    def heartbeat_line(self, now):
        """What is running: the phase's position and the step under way, or the time since `fit` began."""
        phase = self.phase
        if phase is None:
            return f"{self.what}: {format_duration(now - self.started)} since it began; saving or preparing between steps"
        if phase.target is not None and phase.seen >= phase.target:
            return phase.line(phase.seen, None, now, False) + " - finishing"
        return phase.line(phase.seen, None, now, False) + f" - {phase.unit_name} {phase.seen + 1} running"

    def on_train_begin(self, logs=None):
        self.epochs = self.params.get("epochs")
        self.steps = self.params.get("steps")
        self.what = "fit"
        self.started = self.clock()
        self.last_line = self.started
        self.phase = None
        steps = f" of {self.steps} steps" if self.steps else ""
        self.write(f"fit: {self.epochs} epoch(s){steps}; a line every {self.interval:g}s and at each epoch's end")
        self.start_heartbeat()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1
        self.epoch_start = self.clock()
        self.start_phase(self.steps, f"epoch {self.epoch}/{self.epochs} step", "step")

    def on_train_batch_end(self, batch, logs=None):
        self.phase.update(batch + 1, logs, finalize=False)

    def on_test_begin(self, logs=None):
        if self.phase is not None:  # validation within `fit`
            self.start_phase(None, f"epoch {self.epoch}/{self.epochs} validation batch", "batch")

    def on_test_batch_end(self, batch, logs=None):
        if self.phase is not None:
            self.phase.update(batch + 1, logs, finalize=False)

    def on_test_end(self, logs=None):
        if self.phase is not None:  # the epoch-end callbacks (checkpoints, backups) run next
            self.last_line = self.phase.last_line
            self.phase = None

    def on_epoch_end(self, epoch, logs=None):
        now = self.clock()
        line = (
            f"epoch {epoch + 1}/{self.epochs} done in {format_duration(now - self.epoch_start)}"
            f" ({format_duration(now - self.started)} since fit began)"
        )
        if logs:
            line += " - " + format_values(logs)
        self.phase = None
        self.write(line)
        self.last_line = now

    def on_train_end(self, logs=None):
        self.stop_heartbeat()
        self.phase = None

    def on_predict_begin(self, logs=None):
        self.what = "predict"
        self.started = self.last_line = self.clock()
        self.start_phase(self.params.get("steps"), "predict batch", "batch")
        self.start_heartbeat()

    def on_predict_batch_end(self, batch, logs=None):
        self.phase.update(batch + 1, finalize=False)

    def on_predict_end(self, logs=None):
        self.stop_heartbeat()
        self.phase = None


@contextlib.contextmanager
def fit_reporting(verbose="auto", stream=None):
    """How `fit` (or `predict`) reports progress: its `verbose` argument and the callbacks to add.

    A context manager, so that `ProgressLogger`'s heartbeat stops when the
    block ends, even when `fit` raises:

        with fit_reporting(verbose) as (fit_verbose, reporters):
            model.fit(..., verbose=fit_verbose, callbacks=callbacks + reporters)

    Args:
        verbose: `"auto"`: Keras's progress bar when standard output is a
            terminal, `"lines"` otherwise; `"lines"`: `ProgressLogger`'s plain
            lines; or Keras's own 0 (nothing), 1 (the bar), 2 (a line per
            epoch).
        stream: where `"auto"` looks and `ProgressLogger` writes. Defaults
            to standard output.

    Yields:
        `(verbose for fit, list of callbacks)`.
    """
    if verbose == "auto":
        verbose = 1 if writes_to_terminal(stream) else "lines"
    if verbose not in ("lines", 0, 1, 2):
        raise ValueError(f"`verbose` must be 'auto', 'lines', 0, 1 or 2. Received: verbose={verbose!r}")
    reporters = [ProgressLogger(stream=stream)] if verbose == "lines" else []
    try:
        yield (0 if verbose == "lines" else verbose), reporters
    finally:
        for reporter in reporters:
            reporter.stop_heartbeat()


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
        StopOnNonFiniteLoss(),  # first: it ends `fit` before the others see a diverged step
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
    if tensorboard:  # per-epoch scalars, learning rate included (`tensorboard --logdir`)
        callbacks.append(keras.callbacks.TensorBoard(run_directory.logs_dir, write_graph=False))
    return callbacks + [
        HistoryRecorder(run_directory.history_path),
        StepBackupAndRestore(
            run_directory.backup_dir, save_freq=backup_steps, delete_checkpoint=False
        ),
    ]
