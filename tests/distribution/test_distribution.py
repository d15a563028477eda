"""Data-parallel training: MirroredStrategy over two logical CPUs, two
MultiWorkerMirroredStrategy workers on 127.0.0.1, BackupAndRestore under both."""

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
TF_ONLY = keras.backend.backend() == "tensorflow"


def run_script(out_dir, *args, env=None, check=True):
    full_env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="2")
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


def test_mirrored_two_cpus_matches_one_device(tmp_path):
    single, mirrored = tmp_path / "single", tmp_path / "mirrored"
    single.mkdir(), mirrored.mkdir()
    run_script(single, "--epochs", "3", "--logical-cpus", "2")
    # Start the mirrored run from exactly the single run's initial weights.
    initial = tmp_path / "initial.weights.h5"
    sys.path.insert(0, os.path.dirname(__file__))
    try:
        import train_tiny
    finally:
        sys.path.pop(0)
    keras.utils.set_random_seed(0)
    train_tiny.build_model().save_weights(initial)
    run_script(single, "--epochs", "3", "--initial-weights", str(initial))
    run_script(
        mirrored, "--epochs", "3", "--distribute", "mirrored", "--logical-cpus", "2",
        "--initial-weights", str(initial),
    )
    single_report, mirrored_report = read_report(single), read_report(mirrored)
    assert mirrored_report["replicas"] == 2
    # Same global batch and weights: only the order of the gradient sums differs.
    np.testing.assert_allclose(mirrored_report["loss"], single_report["loss"], rtol=1e-5)


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
        env = dict(
            os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="2",
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
