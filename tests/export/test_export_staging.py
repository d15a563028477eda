"""Atomic publishing of version folders, without TensorFlow."""

import os
import subprocess
import sys

import pytest

from export.layout import next_version
from export.layout import validate_model_name
from export.staging import VersionStaging
from export.staging import remove_abandoned_staging
from export.staging import staged_version
from pipelines.common.errors import UserInputError


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as file:
        file.write(text)


def read(path):
    with open(path) as file:
        return file.read()


def test_version_appears_only_when_published(tmp_path):
    model_dir = tmp_path / "m"
    with staged_version(model_dir, 1) as staging:
        write(os.path.join(staging.path, "saved_model.pb"), "new")
        assert not (model_dir / "1").exists()
        assert not os.path.basename(staging.path).isdigit()  # TF Serving ignores it
        staging.publish()
    assert read(model_dir / "1" / "saved_model.pb") == "new"
    assert os.listdir(model_dir) == ["1"]


def test_failure_discards_staging_and_keeps_previous_version(tmp_path):
    model_dir = tmp_path / "m"
    write(str(model_dir / "1" / "saved_model.pb"), "old")
    with pytest.raises(RuntimeError):
        with staged_version(model_dir, 1, overwrite=True) as staging:
            write(os.path.join(staging.path, "saved_model.pb"), "half")
            raise RuntimeError("conversion failed")
    assert read(model_dir / "1" / "saved_model.pb") == "old"
    assert os.listdir(model_dir) == ["1"]


def test_refuses_to_overwrite_unless_asked(tmp_path):
    model_dir = tmp_path / "m"
    write(str(model_dir / "1" / "saved_model.pb"), "old")
    with pytest.raises(UserInputError, match="already exists; choose another --version or pass --overwrite"):
        VersionStaging(model_dir, 1).open()
    staging = VersionStaging(model_dir, 1, overwrite=True).open()
    write(os.path.join(staging.path, "saved_model.pb"), "new")
    staging.publish()
    assert read(model_dir / "1" / "saved_model.pb") == "new"
    assert os.listdir(model_dir) == ["1"]


def test_reject_keeps_files_under_a_name_tf_serving_ignores(tmp_path):
    staging = VersionStaging(tmp_path / "m", 3).open()
    write(os.path.join(staging.path, "parity.json"), "{}")
    rejected = staging.reject()
    assert os.path.basename(rejected) == "rejected-3"
    assert os.listdir(tmp_path / "m") == ["rejected-3"]
    assert next_version(tmp_path / "m") == 1


def test_staging_of_a_dead_process_is_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    abandoned = tmp_path / f".staging-2-pid{int(dead.stdout)}"
    write(str(abandoned / "saved_model.pb"), "half")
    alive = tmp_path / f".staging-3-pid{os.getppid()}"
    os.makedirs(alive)
    remove_abandoned_staging(str(tmp_path))
    assert not abandoned.exists() and alive.exists()


def dead_pid():
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(finished.stdout)


def test_version_of_an_overwrite_killed_between_renames_is_put_back(tmp_path):
    pid = dead_pid()
    write(str(tmp_path / f".replaced-1-pid{pid}" / "saved_model.pb"), "old")
    write(str(tmp_path / f".replaced-2-pid{pid}" / "saved_model.pb"), "older")
    write(str(tmp_path / "2" / "saved_model.pb"), "new")  # its replacement was published
    remove_abandoned_staging(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["1", "2"]
    assert read(tmp_path / "1" / "saved_model.pb") == "old"
    assert read(tmp_path / "2" / "saved_model.pb") == "new"


def test_next_version_counts_only_numeric_folders(tmp_path):
    assert next_version(tmp_path / "absent") == 1
    for entry in ("1", "7", "rejected-9", ".staging-8-pid1"):
        os.makedirs(tmp_path / entry)
    assert next_version(tmp_path) == 8


@pytest.mark.parametrize("name", ["a/b", "../x", "..", ".", "", "-x", "a\\b", "a b", "x" * 101, "/abs"])
def test_bad_model_names_are_refused(name):
    with pytest.raises(UserInputError, match="no path separators"):
        validate_model_name(name)


@pytest.mark.parametrize("name", ["sst2", "sst2-small_v1.2", "A"])
def test_good_model_names_pass(name):
    assert validate_model_name(name) == name
