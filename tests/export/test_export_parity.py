"""The parity report and table, on fake runtimes (fast) and on the real export."""

import json
import os

import numpy as np

from export.classifier.parity_cases import ParityCase
from export.classifier.parity_check import format_parity_table
from export.classifier.parity_check import run_parity


class FakeRuntime:
    def __init__(self, probabilities, token_ids=None):
        self._probabilities = np.asarray(probabilities, dtype=np.float32)
        self._token_ids = token_ids

    def token_ids(self, texts):
        return self._token_ids if self._token_ids is not None else np.ones((len(texts), 2), np.int32)

    def probabilities(self, token_ids):
        return self._probabilities[: len(token_ids)]

    text_probabilities = lambda self, texts: self._probabilities[: len(texts)]  # noqa: E731


def report_for(keras, savedmodel, onnx, onnx_ids=None):
    runtimes = {"keras": FakeRuntime(keras), "savedmodel": FakeRuntime(savedmodel), "onnx": FakeRuntime(onnx, onnx_ids)}
    cases = [ParityCase("texts", 2, texts=["good", "bad"])]
    return run_parity(cases, runtimes, labels=["neg", "pos"])


def test_identical_runtimes_pass():
    p = [[0.2, 0.8], [0.9, 0.1]]
    report = report_for(p, p, p)
    assert report["passed"] and report["cases"][0]["max_abs_difference_vs_keras"] == {"savedmodel": 0.0, "onnx": 0.0}
    assert "PASSED" in format_parity_table(report)


def test_difference_over_tolerance_fails():
    report = report_for([[0.2, 0.8], [0.9, 0.1]], [[0.2, 0.8], [0.9, 0.1]], [[0.2, 0.8], [0.89, 0.11]])
    case = report["cases"][0]
    assert not report["passed"] and case["labels_identical"]
    assert abs(case["max_abs_difference_vs_keras"]["onnx"] - 0.01) < 1e-6
    assert "FAIL" in format_parity_table(report)


def test_label_mismatch_is_listed_with_the_text():
    report = report_for([[0.4, 0.6], [0.9, 0.1]], [[0.4, 0.6], [0.9, 0.1]], [[0.6, 0.4], [0.9, 0.1]])
    mismatches = report["cases"][0]["label_mismatches"]
    assert mismatches == [{"row": 0, "text": "good", "keras": "pos", "savedmodel": "pos", "onnx": "neg"}]


def test_nan_fails_and_is_counted():
    report = report_for([[0.5, 0.5], [0.5, 0.5]], [[np.nan, np.nan], [0.5, 0.5]], [[0.5, 0.5], [0.5, 0.5]])
    case = report["cases"][0]
    assert not case["passed"] and case["nan_rows"]["savedmodel"] == 1
    assert "NaN" in format_parity_table(report)


def test_different_token_ids_fail():
    p = [[0.2, 0.8], [0.9, 0.1]]
    report = report_for(p, p, p, onnx_ids=np.array([[1, 2], [1, 1]], np.int32))
    assert not report["passed"] and not report["cases"][0]["token_ids_identical"]


def test_exported_parity_json_covers_every_required_input(version_dir):
    with open(os.path.join(version_dir, "parity.json")) as file:
        report = json.load(file)
    assert report["passed"] and report["tolerance"] == 1e-5 and report["task"] == "classification"
    cases = {case["case"]: case for case in report["cases"]}
    assert set(cases) == {
        "test texts, batches of 32", "test texts, batch 1", "one-token text", "empty texts + a real one",
        "text > 64 tokens + a short one", "token ids of length 96", "fully padded row of ids",
    }
    assert cases["test texts, batches of 32"]["rows"] == 64
    for case in report["cases"]:
        assert case["passed"] and case["labels_identical"] and case["token_ids_identical"]
        assert max(case["max_abs_difference_vs_keras"].values()) <= 1e-5
        assert not any(case["nan_rows"].values())
