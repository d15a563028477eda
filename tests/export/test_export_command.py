"""`python -m export`: exit codes, messages, atomic publishing and the model card."""

import functools
import glob
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest

import export.exporter
from export import cli
from export.parity import run_parity
from export.staging import remove_abandoned_staging

from export_fixtures import MODEL_NAME

REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def tree_digest(directory):
    digest = hashlib.sha256()
    for path in sorted(glob.glob(os.path.join(directory, "**"), recursive=True)):
        if os.path.isfile(path):
            digest.update(path.encode())
            with open(path, "rb") as file:
                digest.update(file.read())
    return digest.hexdigest()


def test_model_card_describes_the_version(version_dir, classifier_run):
    with open(os.path.join(version_dir, "model_card.json")) as file:
        card = json.load(file)
    assert card["task"] == "classification" and card["labels"] == ["0", "1"]
    assert card["name"] == MODEL_NAME and card["version"] == 1
    assert card["metrics"] == classifier_run.metrics
    with open(classifier_run.vocabulary_path, "rb") as file:
        assert card["tokenizer"]["vocabulary_sha256"] == hashlib.sha256(file.read()).hexdigest()
    assert set(card["versions"]) >= {"tensorflow", "keras", "tf2onnx", "onnxruntime", "tensorflow_text"}
    assert card["onnx_opset"] == 18 and card["parity_passed"] is True
    with open(os.path.join(version_dir, "MODEL_CARD.md")) as file:
        assert card["tokenizer"]["vocabulary_sha256"] in file.read()


@pytest.mark.parametrize("name", ["../escape", "a/b", ".."])
def test_invalid_name_exits_2_and_writes_nothing(classifier_run_dir, tmp_path, capsys, name):
    assert cli.main([classifier_run_dir, "--name", name, "--out", str(tmp_path)]) == 2
    assert "invalid model name" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


def test_existing_version_is_refused(classifier_run_dir, export_base, version_dir, capsys):
    before = tree_digest(version_dir)
    status = cli.main([classifier_run_dir, "--name", MODEL_NAME, "--out", export_base, "--version", "1"])
    assert status == 2
    assert "already exists; choose another --version or pass --overwrite" in capsys.readouterr().err
    assert tree_digest(version_dir) == before


def test_missing_run_directory_exits_2(tmp_path, capsys):
    assert cli.main([str(tmp_path / "nope"), "--name", "x", "--out", str(tmp_path)]) == 2
    assert "no such run directory" in capsys.readouterr().err


def test_failed_parity_exits_1_publishes_nothing_and_keeps_the_old_version(
    classifier_run_dir, export_base, version_dir, capsys, monkeypatch
):
    before = tree_digest(version_dir)
    # A zero tolerance: float32 runtimes never agree to the last bit on every row.
    monkeypatch.setattr(export.exporter, "run_parity", functools.partial(run_parity, tolerance=0.0))
    status = cli.main([classifier_run_dir, "--name", MODEL_NAME, "--out", export_base,
                       "--version", "1", "--overwrite", "--parity-rows", "8"])
    captured = capsys.readouterr()
    assert status == 1
    table = captured.out[captured.out.index("parity vs Keras"):].splitlines()
    assert "FAILED" in table[0] and any(line.endswith("FAIL") for line in table[2:])
    assert "parity failed, nothing published" in captured.err
    assert tree_digest(version_dir) == before
    rejected = os.path.join(export_base, MODEL_NAME, "rejected-1")
    with open(os.path.join(rejected, "parity.json")) as file:
        assert json.load(file)["passed"] is False
    assert sorted(os.listdir(os.path.join(export_base, MODEL_NAME))) == ["1", "rejected-1"]


def test_error_mid_way_leaves_no_version_and_no_staging(classifier_run_dir, tmp_path, monkeypatch):
    def broken_conversion(*args, **kwargs):
        raise RuntimeError("tf2onnx failed")

    monkeypatch.setattr(export.exporter, "convert_classifier", broken_conversion)
    with pytest.raises(RuntimeError, match="tf2onnx failed"):
        export.exporter.export_run(classifier_run_dir, "m", out=str(tmp_path), log=lambda line: None)
    assert os.listdir(tmp_path / "m") == []


def test_export_killed_mid_way_leaves_no_version(classifier_run_dir, tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "export", classifier_run_dir, "--name", "m", "--out", str(tmp_path), "--version", "5"],
        cwd=REPOSITORY, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not glob.glob(str(tmp_path / "m" / ".staging-5-pid*" / "saved_model.pb")):
            assert process.poll() is None, "export ended before it could be killed"
            assert time.monotonic() < deadline, "no staging folder appeared"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    entries = os.listdir(tmp_path / "m")
    assert "5" not in entries and len(entries) == 1 and entries[0].startswith(".staging-5-")
    remove_abandoned_staging(str(tmp_path / "m"))  # what the next export does first
    assert os.listdir(tmp_path / "m") == []


def test_demo_shows_the_same_answer_from_each_runtime(classifier_run_dir, version_dir):
    from export.demo import predictions_from_each_runtime

    answers = predictions_from_each_runtime(classifier_run_dir, version_dir, "a gorgeous, witty, seductive movie.")
    assert len(answers) == 3
    labels = {label for label, _ in answers.values()}
    assert len(labels) == 1 and labels <= {"0", "1"}
    first = next(iter(answers.values()))[1]
    for _, probabilities in answers.values():
        assert max(abs(a - b) for a, b in zip(probabilities, first)) <= 1e-5

