"""Training the summarizer where only JAX is installed: tokenize here
(`prepare-arrays`), train on the Keras JAX backend in a process that cannot
import TensorFlow, and build the run directory here (`import-weights`)."""

import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
from test_summarization import TINY_MODEL_OPTIONS
from test_summarization import make_dialogues
from test_summarization import write_pairs

from pipelines.common import array_bundle
from pipelines.summarization.cli import main
from pipelines.summarization.model import DECODER_IDS
from pipelines.summarization.model import ENCODER_IDS

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The training side, as on a machine without TensorFlow: importing it fails.
JAX_SIDE = """
import sys
sys.modules["tensorflow"] = None
from pipelines.summarization.jax_training import main
status = main(sys.argv[1:])
assert [name for name in sys.modules if name.startswith("tensorflow")] == ["tensorflow"]
assert sys.modules["tensorflow"] is None
import keras
assert keras.backend.backend() == "jax"
sys.exit(status)
"""


def train_on_jax(bundle, weights, *args):
    path = os.pathsep.join(filter(None, [REPOSITORY, os.environ.get("PYTHONPATH")]))
    env = dict(
        os.environ, KERAS_BACKEND="jax", PYTHONPATH=path, TF_CPP_MIN_LOG_LEVEL="2",
        # Two CPU devices, so `--distribute mirrored` shards each batch; less
        # LLVM optimization compiles the steps in half the time.
        XLA_FLAGS="--xla_force_host_platform_device_count=2 --xla_backend_optimization_level=0",
    )
    return subprocess.run(
        [sys.executable, "-c", JAX_SIDE, bundle, "--out", weights, *args],
        env=env, capture_output=True, text=True, timeout=600,
    )


@pytest.fixture(scope="module")
def route(tmp_path_factory):
    root = tmp_path_factory.mktemp("jax_route")
    # Odd counts: DataParallel needs rows padded to a multiple of the devices
    # (here to whole batches of 8, so each step is compiled once).
    train = write_pairs(root / "train.csv", make_dialogues(39, seed=1))
    valid = write_pairs(root / "valid.csv", make_dialogues(7, seed=2))
    bundle, weights, run = str(root / "bundle"), str(root / "weights"), str(root / "run")
    options = list(TINY_MODEL_OPTIONS)
    options[options.index("--epochs") + 1] = "1"
    options[options.index("--beams") + 1] = "1"  # greedy sample predictions compile faster
    status = main([
        "prepare-arrays", "--train", train, "--valid", valid, "--document-column", "dialogue",
        "--summary-column", "summary", "--out", bundle, *options,
    ])
    assert status == 0
    result = train_on_jax(bundle, weights, "--distribute", "mirrored")
    assert result.returncode == 0, result.stderr[-3000:]
    assert main(["import-weights", bundle, weights, "--out", run]) == 0
    return {"bundle": bundle, "weights": weights, "run": run, "train": train}


def test_bundle_holds_teacher_forcing_arrays(route):
    manifest = array_bundle.read_manifest(route["bundle"], "summarization")
    assert manifest["examples"] == {"train": 39, "valid": 7}
    train = array_bundle.read_arrays(route["bundle"], "train")
    assert set(train) == {ENCODER_IDS, DECODER_IDS, "labels"}
    assert all(array.dtype == np.int32 and len(array) == 39 for array in train.values())
    assert train[ENCODER_IDS].shape[1] <= 64 and train[DECODER_IDS].shape == train["labels"].shape
    # Teacher forcing: the decoder reads [BOS] then the labels shifted by one.
    np.testing.assert_array_equal(train[DECODER_IDS][:, 1:], np.where(
        train["labels"][:, 1:] > 0, train["labels"][:, :-1], 0
    ))


def test_run_from_jax_weights_gives_the_jax_models_outputs(route):
    training = json.load(open(os.path.join(route["weights"], array_bundle.TRAINING_FILE)))
    assert training["fit"]["backend"] == "jax"
    assert len(training["fit"]["devices"]) == 2  # DataParallel over both
    assert training["settings"]["epochs"] == 1
    with np.load(os.path.join(route["weights"], array_bundle.REFERENCE_FILE)) as reference:
        inputs = {ENCODER_IDS: reference[ENCODER_IDS], DECODER_IDS: reference[DECODER_IDS]}
        jax_logits = reference["logits"]
    model = keras.saving.load_model(
        os.path.join(route["run"], "model.keras"), safe_mode=True, compile=False
    )
    logits = np.asarray(model(inputs, training=False))
    assert logits.shape == jax_logits.shape and np.all(np.isfinite(logits))
    assert np.max(np.abs(logits - jax_logits)) <= 1e-5


def test_imported_run_is_a_complete_run_directory(route):
    run = route["run"]
    for name in ("config.json", "tokenizer/vocabulary.txt", "history.json", "metrics.json",
                 "training_curves.png", "sample_predictions.jsonl"):
        assert os.path.exists(os.path.join(run, name)), name
    config = json.load(open(os.path.join(run, "config.json")))
    assert config["training"]["epochs"] == 1 and config["training"]["distribute"] == "mirrored"
    metrics = json.load(open(os.path.join(run, "metrics.json")))
    assert metrics["training"]["parity_with_training_machine"]["max_abs_logit_difference"] <= 1e-5
    assert np.isfinite(metrics["validation"]["loss"])
    with open(os.path.join(run, "sample_predictions.jsonl"), encoding="utf-8") as file:
        assert len(file.readlines()) == 7


def test_weights_that_do_not_reproduce_the_outputs_are_refused(route, tmp_path, capsys):
    weights = tmp_path / "weights"
    shutil.copytree(route["weights"], weights)
    reference_path = weights / array_bundle.REFERENCE_FILE
    with np.load(reference_path) as reference:
        arrays = dict(reference)
    arrays["logits"] = arrays["logits"] + 0.01
    np.savez(reference_path, **arrays)
    out = tmp_path / "run"
    assert main(["import-weights", route["bundle"], str(weights), "--out", str(out)]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: the weights in")
    assert not out.exists()


def test_bundle_is_not_overwritten_without_the_flag(route, capsys):
    status = main([
        "prepare-arrays", "--train", route["train"], "--valid", route["train"],
        "--document-column", "dialogue", "--summary-column", "summary", "--out", route["bundle"],
    ])
    assert status == 2
    assert "--overwrite" in capsys.readouterr().err
