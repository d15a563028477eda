import glob
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from pipelines.classification.cli import build_parser
from pipelines.classification.cli import config_from_arguments
from pipelines.classification.cli import main
from pipelines.classification.config import ClassifierConfig
from pipelines.classification.model import build_classifier
from pipelines.classification.trained import TrainedClassifier
from pipelines.classification.training import train_classifier
from pipelines.common.errors import UserInputError
from pipelines.common.run_directory import RunDirectory
from pipelines.common.tokenizer import WordPieceTokenizer
from synthetic_data import train_command
from synthetic_data import write_jsonl

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def is_png(path):
    with open(path, "rb") as file:
        return file.read(8) == PNG_SIGNATURE


def test_run_directory_holds_every_artifact(tiny_run):
    run = RunDirectory(tiny_run)
    for path in (run.config_path, run.model_path, run.metrics_path, run.history_path):
        assert os.path.getsize(path) > 0, path
    assert is_png(run.training_curves_path) and is_png(run.confusion_matrix_path)
    assert not os.path.exists(run.backup_dir)  # removed once the run finished
    metrics = json.load(open(run.metrics_path))
    assert 0.0 <= metrics["test"]["accuracy"] <= 1.0
    assert 0.0 <= metrics["test"]["macro_f1"] <= 1.0
    assert metrics["test"]["examples"] == 60
    history = json.load(open(run.history_path))["epochs"]
    assert [record["epoch"] for record in history] == [1]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"} <= set(history[0])


def test_bad_rows_are_counted_and_reported(tiny_run):
    bad_rows = json.load(open(RunDirectory(tiny_run).metrics_path))["bad_rows"]
    assert bad_rows["train"]["counts"]["empty_text"] == 1
    assert bad_rows["train"]["counts"]["missing_label"] == 1
    assert bad_rows["train"]["example_lines"] == {"empty_text": [302], "missing_label": [303]}
    assert bad_rows["valid"]["counts"]["unknown_label"] == 1
    assert bad_rows["test"]["total"] == 0


def test_config_rebuilds_the_model_and_safe_mode_loads_it(tiny_run):
    run = RunDirectory(tiny_run)
    config = ClassifierConfig.load(run.config_path)
    assert config.data.class_names == ["neg", "pos"]
    loaded = keras.saving.load_model(run.model_path, safe_mode=True)
    rebuilt = build_classifier(config.model)
    rebuilt.set_weights(loaded.get_weights())
    tokenizer = WordPieceTokenizer.load(run.tokenizer_dir)
    ids = tokenizer.tokenize(["a good film", "dull and flat"]).numpy()
    np.testing.assert_allclose(rebuilt.predict(ids, verbose=0), loaded.predict(ids, verbose=0), atol=1e-6)


def test_tensorboard_logs_hold_epoch_scalars(tiny_run):
    def tags(split):
        found = set()
        for path in glob.glob(os.path.join(RunDirectory(tiny_run).logs_dir, split, "events.*")):
            for event in tf.compat.v1.train.summary_iterator(path):
                found.update(value.tag for value in event.summary.value)
        return found

    assert {"epoch_accuracy", "epoch_loss"} <= tags("validation")
    assert {"epoch_accuracy", "epoch_loss", "epoch_learning_rate"} <= tags("train")


def test_predict_json_prints_one_object_per_text_with_the_label_contract(tiny_run, capsys):
    assert main(["predict", tiny_run, "a good film", "dull and flat", "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    records = [json.loads(line) for line in lines]
    assert [record["text"] for record in records] == ["a good film", "dull and flat"]
    for record in records:
        assert set(record["probabilities"]) == {"neg", "pos"}
        assert sum(record["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
        # `label` is the class name (a string, as in every exported runtime), `label_id` its index.
        assert record["label"] == max(record["probabilities"], key=record["probabilities"].get)
        assert record["label_id"] == ["neg", "pos"].index(record["label"])


def test_predict_takes_its_options_between_or_after_the_texts(tiny_run, capsys):
    assert main(["predict", tiny_run, "a good film", "dull and flat", "--json"]) == 0
    expected = capsys.readouterr().out
    # Every placement parses alike (test_command_lines.py); this one failed before.
    assert main(["predict", tiny_run, "--json", "a good film", "dull and flat"]) == 0
    assert capsys.readouterr().out == expected


def test_texts_that_begin_with_a_dash_follow_two_dashes(tiny_run, capsys):
    assert main(["predict", tiny_run, "--json", "--", "-5 stars, a dull film", "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [record["text"] for record in records] == ["-5 stars, a dull film", "--json"]


def test_evaluate_json_prints_one_object_with_the_metrics(tiny_run, tiny_data, tmp_path, capsys):
    out = tmp_path / "report.json"
    assert main(["evaluate", tiny_run, "--json", "--data", tiny_data["test"], "--out", str(out)]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)  # the whole of standard output: one JSON object
    with open(out, encoding="utf-8") as file:
        assert report == json.load(file)
    assert report["examples"] == 60 and 0 <= report["accuracy"] <= 1 and "macro_f1" in report
    assert f"report written to {out}" in captured.err
    assert main(["evaluate", tiny_run, "--data", tiny_data["test"], "--out", str(out)]) == 0
    assert f"accuracy {report['accuracy']:.4f}" in capsys.readouterr().out  # the table, without --json


def test_predict_prints_a_readable_line_per_text(tiny_run, capsys):
    assert main(["predict", tiny_run, "a good film", "dull and flat"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    expected = TrainedClassifier.load(tiny_run).predict(["a good film", "dull and flat"])
    assert lines == [
        f"{prediction['label']} ({prediction['probabilities'][prediction['label']]:.3f})  {text}"
        for text, prediction in zip(["a good film", "dull and flat"], expected)
    ]


def test_predict_from_a_file_reports_bad_rows(tiny_run, tmp_path, capsys):
    path = write_jsonl(tmp_path / "texts.jsonl", [{"sentence": "a good film"}, {"sentence": ""}])
    assert main(["predict", tiny_run, "--file", path, "--json"]) == 0
    captured = capsys.readouterr()
    records = [json.loads(line) for line in captured.out.strip().splitlines()]
    assert [record["line"] for record in records] == [1]
    assert "1 empty text (line 2)" in captured.err


def test_predictions_agree_with_the_python_api(tiny_run, capsys):
    main(["predict", tiny_run, "it is charming .", "--json"])
    printed = json.loads(capsys.readouterr().out)
    expected = TrainedClassifier.load(tiny_run).predict(["it is charming ."])[0]
    assert printed["probabilities"] == pytest.approx(expected["probabilities"], abs=1e-5)
    assert (printed["label"], printed["label_id"]) == (expected["label"], expected["label_id"])


def test_explain_writes_a_heatmap_and_a_line(tiny_run, tmp_path, capsys):
    out = tmp_path / "why.png"
    assert main(["explain", tiny_run, "A good film.", "--out", str(out)]) == 0
    assert is_png(out)
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith("a[") and "good[" in line and "film[" in line
    explanation = TrainedClassifier.load(tiny_run).explain("A good film.")
    assert explanation.tokens == ["a", "good", "film", "."]
    np.testing.assert_allclose(explanation.weights.sum(axis=-1), 1.0, atol=1e-5)


def test_finished_run_is_not_overwritten_without_the_flag(tiny_run, tiny_data, capsys):
    assert main(train_command(tiny_data, tiny_run)) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and "--overwrite" in error and "\n" not in error


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--text-column", "review"], "no column 'review'"),
        (["--train", "missing.csv"], "missing.csv: no such file"),
    ],
)
def test_user_mistakes_end_in_one_line_errors(tiny_data, tmp_path, capsys, arguments, message):
    assert main(train_command(tiny_data, tmp_path / "run", *arguments)) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and "Traceback" not in error and len(error.splitlines()) == 1


def test_help_runs_as_a_module():
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.classification", "train", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0
    assert "--mixed-precision" in result.stdout and "--jit-compile" in result.stdout


class SimulatedKill(Exception):
    pass


class KillAfterFirstEpoch(keras.callbacks.Callback):
    """Stops training after epoch 1's backup is written, keeping its weights."""

    def on_epoch_end(self, epoch, logs=None):
        self.weights = [np.array(w) for w in self.model.get_weights()]
        raise SimulatedKill()


class EpochRecorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []
        self.starting_weights = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.starting_weights is None:
            self.starting_weights = [np.array(w) for w in self.model.get_weights()]
        self.epochs.append(epoch)

    def on_train_end(self, logs=None):
        self.iterations = int(self.model.optimizer.iterations.numpy())


def test_an_interrupted_run_resumes_where_it_stopped(tiny_data, tmp_path, capsys):
    out = tmp_path / "run"
    command = train_command(tiny_data, out, "--epochs", "2", "--patience", "5")
    config = config_from_arguments(build_parser().parse_args(command))
    killer = KillAfterFirstEpoch()
    with pytest.raises(SimulatedKill):
        train_classifier(config, str(out), callbacks=[killer], verbose=0, log=lambda _: None)
    run = RunDirectory(out)
    assert run.is_interrupted() and os.path.isdir(run.backup_dir)
    assert main(["predict", str(out), "a good film"]) == 2
    assert "rerun the same `train` command to resume" in capsys.readouterr().err

    recorder = EpochRecorder()
    config = config_from_arguments(build_parser().parse_args(command))
    messages = []
    train_classifier(config, str(out), callbacks=[recorder], verbose=0, log=messages.append)
    assert any(message.startswith("resuming") for message in messages)
    assert recorder.epochs == [1]  # epoch 0 was not run again
    for restored, saved in zip(recorder.starting_weights, killer.weights):
        np.testing.assert_array_equal(restored, saved)
    steps_per_epoch = recorder.iterations // 2
    assert steps_per_epoch > 0 and recorder.iterations == 2 * steps_per_epoch  # optimizer restored
    history = json.load(open(run.history_path))["epochs"]
    assert [record["epoch"] for record in history] == [1, 2]
    assert run.is_finished() and not os.path.exists(run.backup_dir)


def test_resuming_with_other_settings_is_refused(tiny_data, tmp_path):
    out = tmp_path / "run"
    command = train_command(tiny_data, out)
    # An interrupted run is a run directory with config.json and no model.keras.
    RunDirectory(out).create()
    config_from_arguments(build_parser().parse_args(command)).save(RunDirectory(out).config_path)
    changed = config_from_arguments(build_parser().parse_args(command + ["--hidden-dim", "32"]))
    with pytest.raises(UserInputError, match=r"model.embedding_dim: 16 → 32"):
        train_classifier(changed, str(out), verbose=0, log=lambda _: None)


def test_overwrite_never_deletes_a_folder_that_is_not_a_run(tiny_data, tmp_path, capsys):
    keep = tmp_path / "notes" / "keep.txt"
    keep.parent.mkdir()
    keep.write_text("mine")
    assert main(train_command(tiny_data, keep.parent, "--overwrite")) == 2
    assert "refusing to delete" in capsys.readouterr().err
    assert keep.read_text() == "mine"


def saved_config(run_dir):
    with open(RunDirectory(run_dir).config_path, encoding="utf-8") as file:
        saved = json.load(file)
    saved.pop("task", None)  # recorded by newer versions; not a section
    return saved


def test_train_config_file_reproduces_a_run_and_flags_override_it(tiny_run, tmp_path, capsys):
    config_path = RunDirectory(tiny_run).config_path
    out = tmp_path / "again"
    assert main(["train", "--config", config_path, "--out", str(out), "--progress", "none", "--epochs", "2"]) == 0
    again, before = saved_config(out), saved_config(tiny_run)
    assert (before["training"]["epochs"], again["training"]["epochs"]) == (1, 2)
    again["training"]["epochs"] = 1
    assert again == before  # every other setting came from the earlier run's config.json
    assert json.load(open(RunDirectory(out).metrics_path))["test"]["examples"] == 60  # its data too


def test_train_config_file_may_hold_part_of_a_config(tiny_data, tmp_path):
    part = tmp_path / "part.json"
    part.write_text(json.dumps({"model": {"dropout": 0.3, "pooling_heads": 2}, "task": "classification"}))
    command = train_command(tiny_data, tmp_path / "run", "--config", str(part), "--pooling-heads", "4")
    config = config_from_arguments(build_parser().parse_args(command))
    assert (config.model.dropout, config.model.pooling_heads) == (0.3, 4)  # the file's, then the flag's
    assert config.model.embedding_dim == 16 and config.training.epochs == 1  # from the flags
    assert config.model.attention_dropout == ClassifierConfig().model.attention_dropout  # neither


@pytest.mark.parametrize(
    "contents, message",
    [
        ({"model": {"num_head": 2}}, "unknown keys ['num_head']"),
        ({"modle": {}}, "unknown sections ['modle']"),
        ({"model": 3}, "section 'model' is not a JSON object"),
        ({"task": "summarization", "model": {}}, "belongs to a summarization run"),
        ({"generation": {"beams": 2}}, "belongs to a summarization run"),
        ([1, 2], "not a JSON object"),
    ],
)
def test_bad_config_files_end_in_one_line_errors(tiny_data, tmp_path, capsys, contents, message):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(contents))
    out = tmp_path / "run"
    assert main(train_command(tiny_data, out, "--config", str(path))) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and error.startswith("error: --config") and len(error.splitlines()) == 1
    assert not out.exists()


def test_required_options_may_come_from_a_config_file_only(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err.strip()
    assert error == (
        "error: --train, --valid, --text-column, --label-column are required; "
        "give them on the command line or in a --config file"
    )
