"""README's "From Python" block, run as written: fine-tune, predict, save and reload, write
a run, export it through the parity gate (`export_run`, what `python -m export` runs, with
the parity texts the run recorded); only the checkpoint ("minilm" → a tiny one) and the
data (a few hundred SST-2-like rows in train.tsv and test.tsv) are replaced."""

import ast
import contextlib
import io
import json
import os
import re

import numpy as np
import pytest

from pipelines.classification.cli import main as classification_main
from synthetic_data import make_rows
from synthetic_data import write_tsv
from tiny_bert import CLASSIFIER_CHECKPOINT
from tiny_bert import write_tiny_bert_checkpoint

README = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "README.md")
MOST_STATEMENTS = 6
LONGEST_LINE = 100
RUN_DIR, MODEL_NAME = "runs/sst2_minilm", "sst2_minilm"


def readme_block():
    with open(README, encoding="utf-8") as file:
        blocks = re.findall(r"```python\n(.*?)```", file.read(), re.S)
    [block] = [block for block in blocks if "TextClassifier.from_checkpoint" in block]
    return block


def sst2_rows(count, seed):
    """Rows labelled as SST-2's are: 1 positive, 0 negative."""
    return [(text, "1" if label == "pos" else "0") for text, label in make_rows(count, seed)]


@pytest.fixture(scope="module")
def readme_job(tmp_path_factory):
    """(the folder it ran in, its variables, what it printed)."""
    folder = tmp_path_factory.mktemp("readme")
    checkpoint = folder / "tiny_bert"
    # 128 positions: the block keeps `from_checkpoint`'s default max_length.
    write_tiny_bert_checkpoint(checkpoint, **{**CLASSIFIER_CHECKPOINT, "max_positions": 128})
    write_tsv(folder / "train.tsv", sst2_rows(200, seed=21))
    write_tsv(folder / "test.tsv", sst2_rows(40, seed=22))
    code = readme_block()
    assert code.count('"minilm"') == 1
    code = code.replace('"minilm"', repr(str(checkpoint)))
    namespace, printed = {}, io.StringIO()
    previous = os.getcwd()
    os.chdir(folder)  # the block reads train.tsv and test.tsv from the working folder
    try:
        with contextlib.redirect_stdout(printed):
            exec(compile(code, README, "exec"), namespace)
    finally:
        os.chdir(previous)
    return folder, namespace, printed.getvalue()


def test_the_job_is_six_statements_of_at_most_100_characters():
    code = readme_block()
    statements = [node for node in ast.parse(code).body if not isinstance(node, (ast.Import, ast.ImportFrom))]
    assert len(statements) <= MOST_STATEMENTS
    assert all(not isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Lambda)) for node in statements)
    assert max(len(line) for line in code.splitlines()) <= LONGEST_LINE


def test_the_export_passed_the_parity_gate_and_was_published(readme_job):
    folder, _, printed = readme_job
    version = folder / "saved_models" / MODEL_NAME / "1"
    assert printed.strip().splitlines()[-1] == os.path.join("saved_models", MODEL_NAME, "1")
    parity = json.loads((version / "parity.json").read_text())
    assert parity["passed"] and all(case["token_ids_identical"] for case in parity["cases"])
    assert (version / "onnx" / "classifier.onnx").exists() and (version / "saved_model.pb").exists()


def test_the_reloaded_model_printed_the_fine_tuned_prediction(readme_job):
    _, namespace, printed = readme_job
    [row] = re.findall(r"\[\[([0-9.e\- ]+)\]\]", printed)
    expected = namespace["classifier"].predict(["a gorgeous, witty film"], verbose=0)[0]
    np.testing.assert_allclose(np.array(row.split(), dtype=float), expected, atol=1e-6)


def test_evaluate_takes_the_written_run(readme_job, capsys):
    folder, _, _ = readme_job
    run = str(folder / RUN_DIR)
    assert classification_main(["evaluate", run, "--data", str(folder / "test.tsv"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    metrics = json.loads((folder / RUN_DIR / "metrics.json").read_text())
    assert report["accuracy"] == metrics["test"]["accuracy"] and report["examples"] == 40
