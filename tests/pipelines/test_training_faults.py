"""Faults around training: a run killed with SIGKILL mid-epoch resumes from its
last backup, and an output folder that cannot hold the run is refused before
training starts.

The kill test covers the backup mechanism both pipelines share
(`training_callbacks` → `StepBackupAndRestore`, resumed by rerunning `train`).
"""

import collections
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from pipelines.classification.cli import main
from pipelines.classification.trained import TrainedClassifier
from pipelines.common import preflight
from pipelines.common.errors import UserInputError
from pipelines.common.run_directory import RunDirectory
from pipelines.common.tables import read_table
from synthetic_data import train_command

DiskUsage = collections.namedtuple("DiskUsage", "total used free")  # what shutil.disk_usage returns
REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EPOCHS = 3
# A learning rate at which three tiny epochs learn the task part-way (about 0.9
# accuracy, not 1.0), so a difference between two runs can show.
RESUMABLE_OPTIONS = (
    "--epochs", str(EPOCHS), "--patience", str(EPOCHS), "--backup-steps", "2", "--learning-rate", "0.003"
)


def start_training(tiny_data, out):
    command = train_command(tiny_data, out, *RESUMABLE_OPTIONS)
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.classification", *command],
        cwd=REPOSITORY,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(process, timeout=240):
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output
    return output


def read_backup_metadata(run):
    """The backup's {"epoch", "batch"}, or None before the first backup."""
    path = os.path.join(run.backup_dir, "training_metadata.json")
    if not os.path.exists(path):
        return None
    with open(path) as file:
        return json.load(file)  # written atomically: never half a file


def kill_after_a_mid_epoch_backup(process, run, timeout=240):
    """SIGKILLs `process` once a backup taken inside epoch 2 or later exists."""
    deadline = time.monotonic() + timeout
    while True:
        metadata = read_backup_metadata(run)
        if metadata and metadata["epoch"] >= 1 and metadata["batch"] > 0:
            break
        assert process.poll() is None, "training ended before a mid-epoch backup:\n" + process.stdout.read()
        assert time.monotonic() < deadline, "no mid-epoch backup appeared"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stdout.close()


def backup_state(run):
    """(optimizer steps, weights) of the backup, loaded the way the resumed run loads it."""
    from pipelines.classification.config import ClassifierConfig
    from pipelines.classification.model import build_classifier
    from pipelines.classification.training import compile_classifier

    config = ClassifierConfig.load(run.config_path)
    model = compile_classifier(build_classifier(config.model), config.training, steps_per_epoch=10)
    model.optimizer.build(model.trainable_variables)
    model.load_weights(os.path.join(run.backup_dir, "latest.weights.h5"))
    return int(model.optimizer.iterations), [np.array(weight) for weight in model.get_weights()]


def read_metrics(out):
    with open(RunDirectory(out).metrics_path) as file:
        return json.load(file)


def test_run_killed_mid_epoch_resumes_from_its_last_backup(tiny_data, tmp_path):
    reference_out, killed_out = tmp_path / "uninterrupted", tmp_path / "killed"
    reference = start_training(tiny_data, reference_out)  # alongside, same seed
    killed = start_training(tiny_data, killed_out)
    run = RunDirectory(killed_out)
    try:
        kill_after_a_mid_epoch_backup(killed, run)
    finally:
        if killed.poll() is None:
            killed.kill()
            killed.wait()
    assert run.is_interrupted()
    metadata = read_backup_metadata(run)
    backup_steps, backup_weights = backup_state(run)
    history_before = json.load(open(run.history_path))["epochs"]
    assert [record["epoch"] for record in history_before][: metadata["epoch"]] == list(
        range(1, metadata["epoch"] + 1)
    )

    output = finish(start_training(tiny_data, killed_out))  # the same command again
    assert f"resuming the interrupted run in {killed_out}" in output
    finish(reference)
    reference_metrics = read_metrics(reference_out)
    resumed_metrics = read_metrics(killed_out)
    assert run.is_finished() and not os.path.exists(run.backup_dir)
    history = json.load(open(run.history_path))["epochs"]
    assert [record["epoch"] for record in history] == list(range(1, EPOCHS + 1))

    # Nothing before the backup was lost: the resumed run started from the
    # backup's optimizer step and ran the interrupted epoch and the rest in full.
    steps_per_epoch = reference_metrics["training"]["optimizer_steps"] // EPOCHS
    assert reference_metrics["training"]["optimizer_steps"] == EPOCHS * steps_per_epoch
    assert metadata["epoch"] * steps_per_epoch < backup_steps < (metadata["epoch"] + 1) * steps_per_epoch
    resumed_steps = resumed_metrics["training"]["optimizer_steps"]
    assert resumed_steps == backup_steps + (EPOCHS - metadata["epoch"]) * steps_per_epoch

    # Final figures match the uninterrupted run of the same seed within a
    # tolerance, not exactly: the resumed run repeats the backup's in-epoch
    # steps, draws the interrupted epoch's shuffle order and dropout masks
    # afresh (Keras restores neither), so it follows a different but equally
    # trained path. Measured on this data: Δ test accuracy 1/60, Δ validation
    # accuracy 0, Δ final val_loss 0.0014, max |Δ probability| 0.023.
    for split in ("valid", "test"):
        assert abs(resumed_metrics[split]["accuracy"] - reference_metrics[split]["accuracy"]) <= 0.05
    reference_history = json.load(open(RunDirectory(reference_out).history_path))["epochs"]
    assert history[-1]["val_loss"] == pytest.approx(reference_history[-1]["val_loss"], abs=0.02)
    texts = read_table(tiny_data["test"], "sentence", "label").texts
    reference_probabilities = TrainedClassifier.load(str(reference_out)).predict_probabilities(texts)
    resumed_probabilities = TrainedClassifier.load(str(killed_out)).predict_probabilities(texts)
    assert np.max(np.abs(resumed_probabilities - reference_probabilities)) <= 0.1
    # And the resumed run did move on from the backup's weights.
    final_weights = TrainedClassifier.load(str(killed_out)).model.get_weights()
    assert max(np.max(np.abs(a - b)) for a, b in zip(final_weights, backup_weights)) > 1e-3


def test_output_under_a_regular_file_is_refused_before_reading_data(tiny_data, tmp_path, capsys):
    # A path below a file cannot be created even by root (chmod would not stop root).
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    out = blocker / "out"
    assert main(train_command(tiny_data, out, "--train", str(tmp_path / "absent.tsv"))) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"error: {out}: cannot write the output folder")
    assert "choose another --out" in error and len(error.splitlines()) == 1
    assert "absent.tsv" not in error  # refused before the data was read


def test_a_folder_that_fails_to_store_data_is_refused(tmp_path, monkeypatch):
    def disk_full(descriptor):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(UserInputError, match=r"cannot write the output folder \(No space left on device\)"):
        preflight.check_writable(tmp_path / "run")
    assert os.listdir(tmp_path / "run") == []  # the probe file is gone


def test_checked_folder_is_created_and_left_empty(tmp_path):
    preflight.check_writable(tmp_path / "a" / "b")
    assert os.listdir(tmp_path / "a" / "b") == []


def test_a_full_disk_stops_training_before_fit(tiny_data, tmp_path, monkeypatch, capsys):
    def almost_full(path):
        return DiskUsage(total=10 * 2**30, used=10 * 2**30 - 2**20, free=2**20)

    monkeypatch.setattr(preflight.shutil, "disk_usage", almost_full)
    out = tmp_path / "run"
    assert main(train_command(tiny_data, out)) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"error: {out}: 1.0 MiB free, but a model of ")
    assert "free some space or choose another --out" in error and len(error.splitlines()) == 1
    run = RunDirectory(out)
    assert not os.path.exists(run.history_path) and not os.path.exists(run.backup_dir)


def test_required_space_grows_with_the_model():
    small, large = preflight.required_bytes(10**5, 11), preflight.required_bytes(10**7, 11)
    assert large - small == (10**7 - 10**5) * 4 * 11
    assert small > preflight.MARGIN_BYTES
