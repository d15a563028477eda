"""Shared fixtures of the pipeline tests: tiny data files and a tiny trained run."""

import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from synthetic_data import make_rows  # noqa: E402
from synthetic_data import train_command  # noqa: E402
from synthetic_data import write_tsv  # noqa: E402


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """train/valid/test TSVs with string labels; train and valid hold bad rows.

    train.tsv: 300 good rows, then one empty text (line 302) and one missing
    label (line 303). valid.tsv: 80 good rows, then one row labelled "meh", a
    label training never saw (line 82).
    """
    directory = tmp_path_factory.mktemp("tiny_data")
    train_rows = make_rows(300, seed=1) + [("   ", "pos"), ("a film", "")]
    valid_rows = make_rows(80, seed=2) + [("an odd film", "meh")]
    return {
        "train": write_tsv(directory / "train.tsv", train_rows),
        "valid": write_tsv(directory / "valid.tsv", valid_rows),
        "test": write_tsv(directory / "test.tsv", make_rows(60, seed=3)),
        "directory": directory,
    }


@pytest.fixture(scope="session")
def tiny_run(tiny_data, tmp_path_factory):
    """A run directory trained for one epoch through the command line."""
    from pipelines.classification.cli import main

    out = tmp_path_factory.mktemp("runs") / "tiny"
    status = main(train_command(tiny_data, out))
    assert status == 0
    return str(out)
