"""The training callbacks on Keras's own: why two of them write atomically, and that they
keep Keras's behaviour otherwise.

Keras writes checkpoints and backups in place (h5py truncates the file it opens
for writing), so an interruption while it saves loses the previous file. The
interruption here is a layer that raises while its weights are being written,
as a kill would stop the process there.
"""

import json
import os

import keras
import numpy as np
import pytest

from pipelines.common.callbacks import BestWeightsCheckpoint
from pipelines.common.callbacks import StepBackupAndRestore
from pipelines.common.callbacks import TimedSnapshots


class Interruptible(keras.layers.Layer):
    """A dense layer that raises while saving its weights once `interrupt` is set."""

    interrupt = False

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], 2), initializer="random_normal")

    def call(self, inputs):
        return keras.ops.matmul(inputs, self.kernel)

    def save_own_variables(self, store):
        if Interruptible.interrupt:
            raise KeyboardInterrupt("killed while saving")
        super().save_own_variables(store)


@pytest.fixture(autouse=True)
def no_interruption():
    Interruptible.interrupt = False
    yield
    Interruptible.interrupt = False


def tiny_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), Interruptible()])
    model.compile(optimizer="sgd", loss="mse")
    return model


def weights_in(path):
    """The weights stored at `path`, or None when the file no longer holds them."""
    model = tiny_model()
    try:
        model.load_weights(path)
    except Exception:  # truncated, half-written or still open: the weights are gone
        return None
    return model.get_weights()


def change(model):
    model.set_weights([weight + 1.0 for weight in model.get_weights()])


def interrupted_second_save(callback, model, first_logs, second_logs):
    """Saves once, changes the weights, then saves again with an interruption."""
    callback.set_model(model)
    callback.on_epoch_end(0, first_logs)
    saved = model.get_weights()
    change(model)
    Interruptible.interrupt = True
    with pytest.raises(KeyboardInterrupt):
        callback.on_epoch_end(1, second_logs)
    return saved


@pytest.mark.parametrize("atomic", [False, True])
def test_an_interrupted_checkpoint_keeps_the_previous_best_only_when_atomic(tmp_path, atomic):
    path = str(tmp_path / "best.weights.h5")
    if atomic:
        callback = BestWeightsCheckpoint(path, "val_accuracy", mode="max")
    else:
        callback = keras.callbacks.ModelCheckpoint(
            path, monitor="val_accuracy", mode="max", save_best_only=True, save_weights_only=True
        )
    saved = interrupted_second_save(callback, tiny_model(), {"val_accuracy": 0.5}, {"val_accuracy": 0.9})
    kept = weights_in(path)
    if atomic:
        for kept_weight, saved_weight in zip(kept, saved):
            np.testing.assert_array_equal(kept_weight, saved_weight)
    else:  # Keras's ModelCheckpoint lost it: the measured reason for the subclass
        assert kept is None or not all(np.array_equal(a, b) for a, b in zip(kept, saved))


@pytest.mark.parametrize("atomic", [False, True])
def test_an_interrupted_backup_keeps_the_previous_one_only_when_atomic(tmp_path, atomic):
    backup_class = StepBackupAndRestore if atomic else keras.callbacks.BackupAndRestore
    callback = backup_class(str(tmp_path / "backup"), save_freq="epoch", delete_checkpoint=False)
    saved = interrupted_second_save(callback, tiny_model(), {}, {})
    kept = weights_in(str(tmp_path / "backup" / "latest.weights.h5"))
    if atomic:
        for kept_weight, saved_weight in zip(kept, saved):
            np.testing.assert_array_equal(kept_weight, saved_weight)
        with open(tmp_path / "backup" / "training_metadata.json") as file:
            assert json.load(file) == {"epoch": 1, "batch": 0}
    else:
        assert kept is None or not all(np.array_equal(a, b) for a, b in zip(kept, saved))


def test_checkpoint_saves_only_improvements_over_a_seeded_best(tmp_path):
    path = str(tmp_path / "checkpoints" / "best.weights.h5")
    os.makedirs(os.path.dirname(path))
    model = tiny_model()
    callback = BestWeightsCheckpoint(path, "val_loss", mode="min", best=0.5)
    callback.set_model(model)
    callback.on_epoch_end(0, {"val_loss": 0.7})  # worse than the interrupted run's best
    assert not os.path.exists(path)
    callback.on_epoch_end(1, {"val_loss": 0.4})
    saved = model.get_weights()
    change(model)
    callback.on_epoch_end(2, {"val_loss": 0.45})  # no better than 0.4: the file stays
    for kept_weight, saved_weight in zip(weights_in(path), saved):
        np.testing.assert_array_equal(kept_weight, saved_weight)
    assert sorted(os.listdir(os.path.dirname(path))) == ["best.weights.h5"]  # nothing partial left


def test_backup_state_is_written_at_steps_and_epoch_ends(tmp_path):
    backup_dir = tmp_path / "backup"
    model = tiny_model()
    callback = StepBackupAndRestore(str(backup_dir), save_freq=2, delete_checkpoint=False)
    callback.set_model(model)

    def metadata():
        with open(backup_dir / "training_metadata.json") as file:
            return json.load(file)

    for batch in range(3):
        callback.on_train_batch_end(batch)
    assert metadata() == {"epoch": 0, "batch": 1}  # after the second step
    callback.on_epoch_end(0)
    assert metadata() == {"epoch": 1, "batch": 0}  # and at the epoch end


def test_the_private_keras_names_the_backup_relies_on_still_exist(tmp_path):
    """StepBackupAndRestore overrides and reads these (Keras 3.15); the Keras pin follows."""
    keras_backup = keras.callbacks.BackupAndRestore(str(tmp_path), save_freq=2)
    assert callable(keras.callbacks.BackupAndRestore._save_model)
    for name in ("_weights_path", "_training_metadata_path", "_current_epoch", "_last_batch_seen"):
        assert hasattr(keras_backup, name), name
    assert os.path.basename(keras_backup._weights_path) == "latest.weights.h5"


def test_snapshots_are_taken_at_each_interval_and_continue_after_a_resume(tmp_path, monkeypatch):
    clock = [0.0]
    monkeypatch.setattr("pipelines.common.callbacks.time.monotonic", lambda: clock[0])
    directory = tmp_path / "snapshots"
    model = tiny_model()
    callback = TimedSnapshots(str(directory), every_minutes=10)
    callback.set_model(model)
    callback.on_train_begin()
    for seconds in (60, 599, 601, 900, 1250):
        clock[0] = seconds
        callback.on_train_batch_end(0)
    index = json.loads((directory / "index.json").read_text())["snapshots"]
    assert [entry["minutes"] for entry in index] == [10, 20]
    assert [entry["file"] for entry in index] == ["minute_10.weights.h5", "minute_20.weights.h5"]
    for weight, saved in zip(model.get_weights(), weights_in(str(directory / "minute_20.weights.h5"))):
        np.testing.assert_array_equal(weight, saved)

    resumed = TimedSnapshots(str(directory), every_minutes=10)  # a new process: its clock restarts
    resumed.set_model(model)
    clock[0] = 5000.0
    resumed.on_train_begin()
    clock[0] += 599
    resumed.on_train_batch_end(0)
    clock[0] += 2
    resumed.on_train_batch_end(0)
    index = json.loads((directory / "index.json").read_text())["snapshots"]
    assert [entry["minutes"] for entry in index] == [10, 20, 30]
    assert sorted(os.listdir(directory)) == [
        "index.json", "minute_10.weights.h5", "minute_20.weights.h5", "minute_30.weights.h5"
    ]


def test_snapshots_need_a_positive_interval(tmp_path):
    with pytest.raises(ValueError, match="every_minutes"):
        TimedSnapshots(str(tmp_path), every_minutes=0)
