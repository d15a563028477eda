"""`python -m export`: exit codes, messages, atomic publishing and the model card."""

import collections
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import onnxruntime
import pytest
import tensorflow as tf

import export.classifier.onnx_graph
import export.classifier.parity_check
import export.exporter
from export import cli
from export.layout import next_version
from export.model_card import card_metrics
from export.serving import load_saved_model

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
    assert card["metrics"] == card_metrics(classifier_run.metrics)
    assert card["metrics"]["test"]["accuracy"] == round(classifier_run.metrics["test"]["accuracy"], 4)
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


def strings_in(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def test_model_card_holds_no_machine_path_and_rounded_figures(version_dir, classifier_run_dir, classifier_run):
    with open(os.path.join(version_dir, "model_card.json")) as file:
        text = file.read()
    card = json.loads(text)
    run_parent = os.path.dirname(os.path.abspath(classifier_run_dir))
    assert run_parent not in text and not any(value.startswith("/") for value in strings_in(card))
    assert card["source_run"] == os.path.basename(classifier_run_dir)
    assert not re.search(r"\d\.\d{5,}", text)  # no unrounded figure
    accuracy = classifier_run.metrics["test"]["accuracy"]
    assert card["metrics"]["test"]["accuracy"] == round(accuracy, 4)
    data = card["training_data"]
    assert data["train"]["rows"] == classifier_run.metrics["training"]["train_examples"]
    assert data["test"]["rows"] == classifier_run.metrics["test"]["examples"]
    with open(os.path.join(version_dir, "MODEL_CARD.md")) as file:
        markdown = file.read()
    assert run_parent not in markdown
    header = markdown.split("---\n")[1]
    assert header.splitlines()[:4] == [
        "license: unknown", "language: en", "library_name: keras", "pipeline_tag: text-classification"
    ]
    for section in ("## Intended use", "## Training data", "## Evaluation", "## Limitations"):
        assert section in markdown
    assert f"| test | accuracy | {round(accuracy, 4)} |" in markdown
    assert "trained from scratch" in markdown


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
    monkeypatch.setattr(export.classifier.parity_check, "TOLERANCE", 0.0)
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

    monkeypatch.setattr(export.classifier.onnx_graph, "convert_classifier", broken_conversion)
    with pytest.raises(RuntimeError, match="tf2onnx failed"):
        export.exporter.export_run(classifier_run_dir, "m", out=str(tmp_path), log=lambda line: None)
    assert os.listdir(tmp_path / "m") == []


def test_export_killed_mid_way_keeps_the_previous_version_and_the_next_export_succeeds(
    classifier_run_dir, version_dir, tmp_path
):
    model_dir = tmp_path / "m"
    shutil.copytree(version_dir, model_dir / "1")  # the previous version
    before = tree_digest(model_dir / "1")
    process = subprocess.Popen(
        [sys.executable, "-m", "export", classifier_run_dir, "--name", "m", "--out", str(tmp_path)],
        cwd=REPOSITORY, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:  # killed once the SavedModel of version 2 is being written
        deadline = time.monotonic() + 120
        while not glob.glob(str(model_dir / ".staging-2-pid*" / "saved_model.pb")):
            assert process.poll() is None, "export ended before it could be killed"
            assert time.monotonic() < deadline, "no staging folder appeared"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    leftovers = [entry for entry in os.listdir(model_dir) if entry != "1"]
    assert len(leftovers) == 1 and leftovers[0].startswith(".staging-2-pid")
    assert next_version(str(model_dir)) == 2  # the leftover is not a version

    # The previous version is intact and loads in both runtimes.
    assert tree_digest(model_dir / "1") == before
    saved_model = load_saved_model(str(model_dir / "1"))
    answer = saved_model.signatures["serving_default"](texts=tf.constant(["a gorgeous movie"]))
    assert answer["probabilities"].shape == (1, 2)
    session = onnxruntime.InferenceSession(str(model_dir / "1" / "onnx" / "classifier.onnx"))
    probabilities = session.run(None, {
        "token_ids": np.array([[2, 3, 0]], np.int32), "attention_mask": np.array([[1, 1, 0]], np.int32)
    })[0]
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, atol=1e-5)

    # The next export removes the dead process's staging folder and publishes version 2,
    # telling as it goes how far the parity gate is.
    lines = []
    result = export.exporter.export_run(classifier_run_dir, "m", out=str(tmp_path), parity_rows=8, log=lines.append)
    assert result.passed and result.path == str(model_dir / "2")
    assert sorted(os.listdir(model_dir)) == ["1", "2"]
    cases = result.parity["cases"]
    progress = [line.strip() for line in lines if line.strip().startswith("case ")]
    assert len(progress) == len(cases) > 1
    assert progress[-1].startswith(f"case {len(cases)}/{len(cases)} {cases[-1]['case']}: ok (")


def test_demo_shows_the_same_answer_from_each_runtime(classifier_run, version_dir):
    from export.classifier.task import TASK
    from export.classifier.task import predictions_from_each_runtime

    answers = predictions_from_each_runtime(classifier_run, version_dir, TASK.example)
    assert len(answers) == 3
    labels = {label for label, _ in answers.values()}
    assert len(labels) == 1 and labels <= {"0", "1"}
    first = next(iter(answers.values()))[1]
    for _, probabilities in answers.values():
        assert max(abs(a - b) for a, b in zip(probabilities, first)) <= 1e-5
    lines = TASK.demo_answers(classifier_run, version_dir, TASK.example)
    (label,) = labels
    assert list(lines) == list(answers)
    assert all(line.startswith(f"label {label}  probabilities [") for line in lines.values())


def test_full_disk_is_refused_before_writing(classifier_run_dir, tmp_path, capsys, monkeypatch):
    from pipelines.common import preflight

    usage = collections.namedtuple("DiskUsage", "total used free")
    monkeypatch.setattr(preflight.shutil, "disk_usage", lambda path: usage(2**30, 2**30 - 2**20, 2**20))
    assert cli.main([classifier_run_dir, "--name", "m", "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"error: {tmp_path / 'm'}: 1.0 MiB free, but a model of ")
    assert "free some space or choose another --out" in error and len(error.splitlines()) == 1
    assert os.listdir(tmp_path / "m") == []


def test_output_under_a_regular_file_is_refused(classifier_run_dir, tmp_path, capsys):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    assert cli.main([classifier_run_dir, "--name", "m", "--out", str(blocker)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"error: {blocker / 'm'}: cannot write the output folder")
    assert len(error.splitlines()) == 1


def test_demo_ends_with_the_run_test_figures():
    from export.demo import describe_test_figures

    assert describe_test_figures({"test": {"accuracy": 0.89908, "examples": 872}}) == "accuracy 0.8991 on 872 texts"
    rouge = {"rouge1": 36.861, "rouge2": 12.3, "rougeLsum": 33.07, "examples": 819}
    assert describe_test_figures({"test": rouge}) == "ROUGE-1/2/Lsum 36.86 / 12.30 / 33.07 on 819 documents"
    assert describe_test_figures({}) is None
