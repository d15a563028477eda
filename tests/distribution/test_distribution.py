"""Data-parallel training: MirroredStrategy over two logical CPUs, two
MultiWorkerMirroredStrategy workers on 127.0.0.1, BackupAndRestore under both,
and the pipelines' `train --distribute`."""

import json
import os
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest

from pipelines.common.distribution import is_chief
from pipelines.common.distribution import make_strategy
from pipelines.common.errors import UserInputError

SCRIPT = os.path.join(os.path.dirname(__file__), "train_tiny.py")
REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TF_ONLY = keras.backend.backend() == "tensorflow"


def script_env(**variables):
    """The environment of a script run: TensorFlow backend, this checkout's packages."""
    path = os.pathsep.join(filter(None, [REPOSITORY, os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=path)
    env.update(variables)
    return env


def run_script(out_dir, *args, env=None, check=True):
    full_env = script_env()
    full_env.pop("TF_CONFIG", None)
    full_env.update(env or {})
    result = subprocess.run(
        [sys.executable, SCRIPT, str(out_dir), *args],
        env=full_env, capture_output=True, text=True, timeout=300,
    )
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def read_report(out_dir, tag="single-0"):
    with open(os.path.join(out_dir, f"report-{tag}.json")) as handle:
        return json.load(handle)


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def test_unknown_distribution_is_a_clear_error():
    with pytest.raises(UserInputError, match="unknown distribution 'ring'"):
        make_strategy("ring")


def test_multiworker_without_tf_config_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    if TF_ONLY:
        with pytest.raises(UserInputError, match="TF_CONFIG"):
            make_strategy("multiworker")
    else:
        with pytest.raises(UserInputError, match="jax.distributed"):
            make_strategy("multiworker")


def test_chief_is_worker_zero_without_a_chief_task(monkeypatch):
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}}))
    assert is_chief()
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 1}}))
    assert not is_chief()
    monkeypatch.delenv("TF_CONFIG")
    assert is_chief()


def write_reviews(path, count, seed):
    """A tiny labelled TSV for the classification command line."""
    rng = np.random.default_rng(seed)
    words = {"pos": ["great", "witty", "warm", "moving"], "neg": ["dull", "flat", "tired", "bland"]}
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("sentence\tlabel\n")
        for _ in range(count):
            label = rng.choice(["pos", "neg"])
            handle.write(f"a {' and '.join(rng.choice(words[label], 2))} film\t{label}\n")
    return str(path)


@pytest.fixture(scope="module")
def mirrored_runs(tmp_path_factory):
    """One tiny model trained on one device and under MirroredStrategy from the
    same initial weights; the mirrored process then trains a classifier with
    `train --distribute mirrored` on the same two logical CPUs."""
    root = tmp_path_factory.mktemp("mirrored")
    single, mirrored = root / "single", root / "mirrored"
    single.mkdir(), mirrored.mkdir()
    initial = root / "initial.weights.h5"
    sys.path.insert(0, os.path.dirname(__file__))
    try:
        import train_tiny
    finally:
        sys.path.pop(0)
    keras.utils.set_random_seed(0)
    train_tiny.build_model().save_weights(initial)
    classifier_run = root / "classifier"
    train = [
        "train", "--train", write_reviews(root / "train.tsv", 96, seed=1),
        "--valid", write_reviews(root / "valid.tsv", 32, seed=2),
        "--text-column", "sentence", "--label-column", "label", "--out", str(classifier_run),
        "--distribute", "mirrored", "--epochs", "2", "--batch-size", "16", "--verbose", "0",
        "--embedding-dim", "16", "--num-blocks", "1", "--num-heads", "2",
        "--intermediate-dim", "32", "--vocabulary-size", "100", "--max-length", "16",
    ]
    commands = root / "commands.json"
    commands.write_text(json.dumps([["classification", train]]))
    run_script(single, "--epochs", "3", "--initial-weights", str(initial))
    run_script(
        mirrored, "--epochs", "3", "--distribute", "mirrored", "--logical-cpus", "2",
        "--initial-weights", str(initial), "--then-cli", str(commands),
    )
    return {
        "single": read_report(single), "mirrored": read_report(mirrored),
        "classifier_run": str(classifier_run),
    }


def test_mirrored_two_cpus_matches_one_device(mirrored_runs):
    single_report, mirrored_report = mirrored_runs["single"], mirrored_runs["mirrored"]
    assert mirrored_report["replicas"] == 2
    # Same global batch and weights: only the order of the gradient sums differs.
    np.testing.assert_allclose(mirrored_report["loss"], single_report["loss"], rtol=1e-5)


def test_train_distribute_mirrored_writes_a_run_that_predicts(mirrored_runs):
    from pipelines.classification.trained import TrainedClassifier
    from pipelines.common.run_directory import RunDirectory

    assert mirrored_runs["mirrored"]["cli_exit_codes"] == [0]
    run = RunDirectory(mirrored_runs["classifier_run"])
    metrics = run.read_json(run.metrics_path)
    assert metrics["training"]["replicas"] == 2
    assert metrics["training"]["epochs_run"] == 2
    assert run.read_json(run.config_path)["training"]["distribute"] == "mirrored"
    assert not os.path.exists(run.backup_dir)
    # Loaded here, on one device, without the strategy.
    classifier = TrainedClassifier.load(run.path)
    predictions = classifier.predict(["a great and witty film", "a dull and flat film"])
    assert [set(p["probabilities"]) for p in predictions] == [{"neg", "pos"}] * 2
    assert all(abs(sum(p["probabilities"].values()) - 1.0) < 1e-4 for p in predictions)
    report = classifier.evaluate(["a warm film"], np.array([classifier.class_names.index("pos")]))
    assert report["examples"] == 1


@pytest.mark.parametrize("pipeline", ["classification", "summarization"])
def test_train_multiworker_without_tf_config_is_one_line(pipeline, tmp_path, monkeypatch, capsys):
    import importlib

    monkeypatch.delenv("TF_CONFIG", raising=False)
    main = importlib.import_module(f"pipelines.{pipeline}.cli").main
    columns = (
        ["--text-column", "t", "--label-column", "l"] if pipeline == "classification"
        else ["--document-column", "d", "--summary-column", "s", "--max-minutes", "0"]
    )
    out = tmp_path / "run"
    status = main([
        "train", "--train", "absent.csv", "--valid", "absent.csv", *columns,
        "--out", str(out), "--distribute", "multiworker",
    ])
    error = capsys.readouterr().err.strip()
    assert status == 2
    assert error.count("\n") == 0
    expected = "TF_CONFIG" if TF_ONLY else "jax.distributed"
    assert error.startswith("error: ") and expected in error, error
    assert not out.exists()  # refused before anything was written


def test_summarizer_refuses_a_time_budget_across_workers(tmp_path, capsys):
    from pipelines.summarization.cli import main

    status = main([
        "train", "--train", "a.csv", "--valid", "a.csv", "--document-column", "d",
        "--summary-column", "s", "--out", str(tmp_path / "run"), "--distribute", "multiworker",
    ])
    assert status == 2
    assert "--max-minutes 0" in capsys.readouterr().err


def test_backup_and_restore_resumes_under_mirrored(tmp_path):
    args = ("--epochs", "3", "--distribute", "mirrored", "--logical-cpus", "2")
    interrupted = run_script(tmp_path, *args, "--interrupt-at-epoch", "2", check=False)
    assert interrupted.returncode == 3
    assert not (tmp_path / "model.keras").exists()
    run_script(tmp_path, *args)
    report = read_report(tmp_path)
    assert report["first_epoch"] == 2  # epochs 0 and 1 came from the backup
    assert (tmp_path / "model.keras").exists()


def test_two_workers_on_localhost_train_and_only_chief_writes(tmp_path):
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}

    def launch(index, *extra):
        env = script_env(
            TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
        )
        out_dir = tmp_path / f"worker{index}"
        out_dir.mkdir(exist_ok=True)
        return subprocess.Popen(
            [sys.executable, SCRIPT, str(out_dir), "--distribute", "multiworker", "--epochs", "2", *extra],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )

    def run_both(*extra):
        workers = [launch(0, *extra), launch(1, *extra)]
        codes = []
        for worker in workers:
            _, stderr = worker.communicate(timeout=300)
            codes.append((worker.returncode, stderr[-2000:]))
        return codes

    codes = run_both("--interrupt-at-epoch", "1")
    assert [code for code, _ in codes] == [3, 3], codes
    codes = run_both()
    assert [code for code, _ in codes] == [0, 0], codes
    chief = read_report(tmp_path / "worker0", "worker-0")
    other = read_report(tmp_path / "worker1", "worker-1")
    assert chief["replicas"] == other["replicas"] == 2
    assert chief["first_epoch"] == other["first_epoch"] == 1  # resumed from the backup
    assert chief["chief"] and not other["chief"]
    assert (tmp_path / "worker0" / "model.keras").exists()
    assert not (tmp_path / "worker1" / "model.keras").exists()
    np.testing.assert_allclose(chief["loss"], other["loss"], rtol=1e-6)
