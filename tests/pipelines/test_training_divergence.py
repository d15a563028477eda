"""A run that diverges never becomes a model, in every pipeline: a NaN loss ends
training with one line (the step, the last finite loss, the hint), backups never
hold non-finite weights, the best earlier epoch stays the model if there is one,
and `predict`, `evaluate` and `export` refuse a model whose weights are not finite.

The NaN is injected by a test hook: a callback, added to the run's callbacks by
wrapping `training_callbacks`, that writes NaN into one weight at a chosen step
(a large learning rate may stay finite under clipping). A run that fails before
its first backup leaves `--out` as it found it.
"""

import os
import shutil

import h5py
import keras
import numpy as np
import pytest

from export.cli import main as export_main
from pipelines.classification import training as classification_training
from pipelines.classification.cli import main as classification_main
from pipelines.common import callbacks as callbacks_module
from pipelines.common.callbacks import StepBackupAndRestore
from pipelines.common.callbacks import TrainingDiverged
from pipelines.common.run_directory import RunDirectory
from pipelines.summarization import jax_training
from pipelines.summarization import training as summarization_training
from pipelines.summarization.cli import main as summarization_main
from synthetic_data import train_command
from test_summarization import make_dialogues
from test_summarization import write_pairs
from tiny_bert import write_tiny_bert_checkpoint

# tiny_data's 300 training rows in batches of 32: 10 steps per epoch.
STEPS_PER_EPOCH = 10


class PoisonWeights(keras.callbacks.Callback):
    """Writes NaN into the model's first trainable weight once `step` optimizer steps are
    done: at the start of the next step (`when="begin"`: that step's loss is NaN) or at
    the end of step `step` (`when="end"`: the loss was finite, the weights are not)."""

    def __init__(self, step, when="begin"):
        super().__init__()
        self.step, self.when = step, when

    def _poison(self):
        if int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)) == self.step:
            variable = self.model.trainable_variables[0]
            variable.assign(np.full(variable.shape, np.nan, dtype=variable.dtype))

    def on_train_batch_begin(self, batch, logs=None):
        if self.when == "begin":
            self._poison()

    def on_train_batch_end(self, batch, logs=None):
        if self.when == "end":
            self._poison()


def inject(monkeypatch, module, step, when="begin"):
    """Adds `PoisonWeights(step, when)` to the callbacks `module`'s training builds, right
    after the stop-on-NaN callback (so it acts before the backup at a step's end)."""
    original = callbacks_module.training_callbacks

    def with_poison(*arguments, **keywords):
        callbacks = original(*arguments, **keywords)
        return callbacks[:1] + [PoisonWeights(step, when)] + callbacks[1:]

    monkeypatch.setattr(module, "training_callbacks", with_poison)


def all_finite(weights_path):
    with h5py.File(weights_path, "r") as file:
        arrays = []
        file.visititems(lambda name, item: arrays.append(item[()]) if isinstance(item, h5py.Dataset) else None)
    assert arrays
    return all(np.all(np.isfinite(array)) for array in arrays if np.issubdtype(np.asarray(array).dtype, np.floating))


def one_line_error(capsys):
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and "\n" not in error and "Traceback" not in error, error
    return error


def test_a_nan_loss_stops_training_with_one_line_and_no_model(tiny_data, tmp_path, monkeypatch, capsys):
    inject(monkeypatch, classification_training, step=5)
    out = tmp_path / "run"
    assert classification_main(train_command(tiny_data, out, "--backup-steps", "2")) == 2
    error = one_line_error(capsys)
    assert "error: training diverged: the loss is nan at step 6 (last finite loss " in error
    assert "at step 5); lower --learning-rate" in error and "no model was written" in error
    run = RunDirectory(out)
    assert not run.is_finished()
    # The backups taken before the NaN (steps 2 and 4) are kept and finite: a rerun resumes from one.
    assert all_finite(os.path.join(run.backup_dir, "latest.weights.h5"))


def test_the_best_earlier_epoch_stays_the_model(tiny_data, tmp_path, monkeypatch, capsys):
    inject(monkeypatch, classification_training, step=STEPS_PER_EPOCH + 3)  # in epoch 2
    out = tmp_path / "run"
    assert classification_main(train_command(tiny_data, out, "--epochs", "3")) == 0
    output = capsys.readouterr()
    assert f"training diverged: the loss is nan at step {STEPS_PER_EPOCH + 4}" in output.out
    assert "the run keeps the best earlier epoch's weights as its model" in output.out
    run = RunDirectory(out)
    assert run.is_finished() and not os.path.exists(run.backup_dir)
    model = keras.saving.load_model(run.model_path, compile=False)
    assert all(np.all(np.isfinite(weight)) for weight in model.get_weights())
    best = keras.saving.load_model(run.model_path, compile=False)
    best.load_weights(run.best_weights_path)
    for saved, kept in zip(model.get_weights(), best.get_weights()):
        np.testing.assert_array_equal(saved, kept)

    # A model.keras whose weights are not finite is refused by predict, evaluate and export.
    poisoned = tmp_path / "poisoned"
    shutil.copytree(out, poisoned)
    weights = model.get_weights()
    weights[0] = np.full_like(weights[0], np.inf)
    model.set_weights(weights)
    os.remove(RunDirectory(poisoned).model_path)
    model.save(RunDirectory(poisoned).model_path)
    capsys.readouterr()
    for command in (
        lambda: classification_main(["predict", str(poisoned), "a good film"]),
        lambda: classification_main(["evaluate", str(poisoned), "--data", tiny_data["test"],
                                     "--text-column", "sentence", "--label-column", "label"]),
        lambda: export_main([str(poisoned), "--name", "poisoned", "--out", str(tmp_path / "saved_models")]),
    ):
        assert command() == 2
        error = one_line_error(capsys)
        assert "NaN or infinite values" in error and "train it again with a lower --learning-rate" in error
    assert not os.path.exists(tmp_path / "saved_models" / "poisoned")


def test_a_fine_tune_that_diverges_before_its_first_backup_leaves_an_empty_out_empty(
    tiny_data, tmp_path, monkeypatch, capsys
):
    # (A missing --out stays missing: the summarizer and JAX tests below.)
    checkpoint = tmp_path / "tiny_bert"
    write_tiny_bert_checkpoint(checkpoint, vocabulary_size=100, max_positions=64, hidden_dim=16, intermediate_dim=32)
    inject(monkeypatch, classification_training, step=1)
    out = tmp_path / "run"
    out.mkdir()
    command = [
        "train", "--init-from", str(checkpoint), "--train", tiny_data["train"], "--valid", tiny_data["valid"],
        "--text-column", "sentence", "--label-column", "label", "--out", str(out),
        "--epochs", "1", "--max-length", "32", "--progress", "none",
    ]
    assert classification_main(command) == 2
    output = capsys.readouterr()
    error = output.err.strip()
    assert error.startswith("error: training diverged: the loss is nan at step 2 (last finite loss ")
    assert "\n" not in error and "Traceback" not in error
    assert "the run failed before its first backup; its files were removed, so rerunning starts afresh" in output.out
    assert os.listdir(out) == []


@pytest.fixture(scope="module")
def dialogues(tmp_path_factory):
    directory = tmp_path_factory.mktemp("dialogues")
    return {
        "train": write_pairs(directory / "train.csv", make_dialogues(24, seed=1)),
        "valid": write_pairs(directory / "valid.csv", make_dialogues(8, seed=2)),
    }


SUMMARIZER_OPTIONS = [
    "--document-column", "dialogue", "--summary-column", "summary",
    "--hidden-dim", "16", "--num-heads", "2", "--intermediate-dim", "32", "--encoder-layers", "1",
    "--decoder-layers", "1", "--vocabulary-size", "200", "--max-document-length", "32",
    "--max-summary-length", "12", "--batch-size", "8", "--epochs", "1", "--no-jit-compile",
]


def test_a_summarizer_that_diverges_ends_with_one_line_and_no_model(dialogues, tmp_path, monkeypatch, capsys):
    inject(monkeypatch, summarization_training, step=1)
    out = tmp_path / "run"
    command = ["train", "--train", dialogues["train"], "--valid", dialogues["valid"], "--out", str(out)]
    assert summarization_main(command + SUMMARIZER_OPTIONS + ["--progress", "none"]) == 2
    error = one_line_error(capsys)
    assert "training diverged: the loss is nan at step 2 (last finite loss" in error
    assert not out.exists()


def test_the_jax_route_stops_on_a_nan_loss_too(dialogues, tmp_path, monkeypatch, capsys):
    # train_from_bundle's code path, here on the TensorFlow backend (the hook
    # assigns a variable, which a JAX training loop would not see).
    bundle = str(tmp_path / "bundle")
    command = ["prepare-arrays", "--train", dialogues["train"], "--valid", dialogues["valid"], "--out", bundle]
    assert summarization_main(command + SUMMARIZER_OPTIONS) == 0
    inject(monkeypatch, jax_training, step=1)
    weights = tmp_path / "weights"
    capsys.readouterr()
    assert jax_training.main([bundle, "--out", str(weights)]) == 2
    assert "training diverged: the loss is nan at step 2" in one_line_error(capsys)
    assert not weights.exists()


def test_stop_on_non_finite_loss_names_the_step_and_the_last_finite_loss():
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    stop = callbacks_module.StopOnNonFiniteLoss()
    stop.set_model(model)
    stop.on_train_begin()
    stop.on_train_batch_end(0, {"loss": 0.25})
    model.optimizer.iterations.assign(7)
    expected = r"the loss is inf at step 7 \(last finite loss 0.25 at step 0\)"
    with pytest.raises(TrainingDiverged, match=expected) as raised:
        stop.on_train_batch_end(1, {"loss": float("inf")})
    assert raised.value.step == 7 and raised.value.last_finite == (0, 0.25)


def test_the_backup_checks_weights_before_writing(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    backup = StepBackupAndRestore(str(tmp_path / "backup"), save_freq=1, delete_checkpoint=False)
    backup.set_model(model)
    model.layers[0].kernel.assign(np.full((2, 1), np.nan, np.float32))
    with pytest.raises(TrainingDiverged, match="a backup was not written"):
        backup._save_model()
    assert not os.path.exists(tmp_path / "backup" / "latest.weights.h5")
