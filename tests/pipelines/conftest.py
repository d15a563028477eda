"""Shared fixtures of the pipeline tests: tiny data files and a tiny trained run."""

import contextlib
import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from synthetic_data import make_rows  # noqa: E402
from synthetic_data import train_command  # noqa: E402
from synthetic_data import write_tsv  # noqa: E402
from tiny_bert import CLASSIFIER_CHECKPOINT  # noqa: E402
from tiny_bert import write_tiny_bert_checkpoint  # noqa: E402


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
def tiny_bert_dir(tmp_path_factory):
    """A tiny random BERT checkpoint directory (`tiny_bert.CLASSIFIER_CHECKPOINT`), named
    "tiny/bert", licence apache-2.0."""
    directory = tmp_path_factory.mktemp("checkpoints") / "tiny_bert"
    write_tiny_bert_checkpoint(directory, licence="apache-2.0", name="tiny/bert", **CLASSIFIER_CHECKPOINT)
    return str(directory)


@pytest.fixture(scope="session")
def tiny_run(tiny_data, tmp_path_factory):
    """A run directory trained for one epoch through the command line, with the default
    `--progress` and standard output sent to `train.log` beside it (see `tiny_run_log`)."""
    from pipelines.classification.cli import main

    out = tmp_path_factory.mktemp("runs") / "tiny"
    command = [word for word in train_command(tiny_data, out) if word not in ("--progress", "none")]
    with open(out.parent / "train.log", "w", encoding="utf-8") as log, contextlib.redirect_stdout(log):
        status = main(command)
    assert status == 0
    return str(out)


@pytest.fixture(scope="session")
def tiny_run_log(tiny_run):
    """What training `tiny_run` printed, standard output being a file."""
    with open(os.path.join(os.path.dirname(tiny_run), "train.log"), encoding="utf-8") as file:
        return file.read()
