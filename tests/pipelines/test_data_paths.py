"""Data paths in a run's config.json resolve from any folder, and a run that
fails to start leaves no run folder behind."""

import json
import os
import types

import pytest

from pipelines.classification.cli import main as classification_main
from pipelines.common.data_paths import resolve_recorded_path
from pipelines.common.data_paths import with_recorded_paths
from pipelines.common.errors import UserInputError
from pipelines.common.preflight import removed_if_start_fails
from pipelines.summarization.cli import main as summarization_main
from synthetic_data import train_command


def data_section(**paths):
    return types.SimpleNamespace(**{"train": None, "valid": None, "test": None, **paths})


def test_local_paths_are_recorded_absolute_and_dataset_names_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = with_recorded_paths(data_section(train="train.tsv", valid="tfds:glue/sst2:validation"))
    assert data.train == str(tmp_path / "train.tsv")
    assert data.valid == "tfds:glue/sst2:validation" and data.test is None


def test_an_older_runs_relative_path_is_found_from_the_working_folder_then_the_run(tmp_path, monkeypatch):
    run_dir = tmp_path / "runs" / "old"
    (run_dir / "data").mkdir(parents=True)
    (run_dir / "data" / "test.tsv").write_text("sentence\tlabel\n")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "data").mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    found = resolve_recorded_path("data/test.tsv", str(run_dir), "data.test", "--parity-texts")
    assert found == os.path.join(str(run_dir), "data/test.tsv")
    (elsewhere / "data" / "test.tsv").write_text("sentence\tlabel\n")
    assert resolve_recorded_path("data/test.tsv", str(run_dir), "data.test", "--parity-texts") == "data/test.tsv"


def test_a_missing_recorded_path_names_config_json_and_the_flag(tmp_path):
    with pytest.raises(UserInputError) as caught:
        resolve_recorded_path(str(tmp_path / "gone.tsv"), str(tmp_path / "run"), "data.test", "--parity-texts")
    message = str(caught.value)
    assert "gone.tsv" in message and "data.test" in message
    assert os.path.join(str(tmp_path / "run"), "config.json") in message
    assert "pass --parity-texts FILE" in message and "\n" not in message


def test_a_run_trained_from_relative_paths_finds_its_data_from_another_folder(tiny_data, tmp_path, monkeypatch):
    from export.exporter import read_parity_texts
    from export.run_loader import load_run

    monkeypatch.chdir(tiny_data["directory"])
    relative = {split: os.path.basename(tiny_data[split]) for split in ("train", "valid", "test")}
    out = tmp_path / "run"
    assert classification_main(train_command(relative, out)) == 0
    recorded = json.loads((out / "config.json").read_text())["data"]
    assert {split: recorded[split] for split in relative} == {
        split: str(tiny_data[split]) for split in relative
    }
    monkeypatch.chdir(tmp_path)
    texts = read_parity_texts(load_run(str(out)), None, "sentence", 5)
    assert len(texts) == 5


def test_a_classifier_run_that_cannot_read_its_data_leaves_no_folder(tiny_data, tmp_path, capsys):
    out = tmp_path / "run"
    assert classification_main(train_command(tiny_data, out, "--train", str(tmp_path / "absent.tsv"))) == 2
    assert "absent.tsv: no such file" in capsys.readouterr().err
    assert not out.exists()


def test_a_summarizer_run_that_cannot_read_its_data_leaves_no_folder(tmp_path, capsys):
    out = tmp_path / "run"
    command = ["train", "--train", str(tmp_path / "absent.csv"), "--valid", str(tmp_path / "absent.csv"),
               "--document-column", "dialogue", "--summary-column", "summary", "--out", str(out)]
    assert summarization_main(command) == 2
    assert "absent.csv: no such file" in capsys.readouterr().err
    assert not out.exists()


def test_a_folder_that_existed_before_a_failed_start_is_kept(tmp_path):
    existing = tmp_path / "mine"
    existing.mkdir()
    with pytest.raises(KeyboardInterrupt):
        with removed_if_start_fails(str(existing)):
            raise KeyboardInterrupt()
    assert existing.is_dir()
    new = tmp_path / "new"
    with pytest.raises(UserInputError):
        with removed_if_start_fails(str(new)):
            new.mkdir()
            (new / "config.json").write_text("{}")
            raise UserInputError("bad data")
    assert not new.exists()
