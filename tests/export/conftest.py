"""Shared fixtures: one small trained run, exported once per test session."""

import os
import sys

import pytest

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TESTS, "pipelines"))  # tiny_bert: tiny pretrained checkpoints

from export_fixtures import MODEL_NAME  # noqa: E402
from export_fixtures import PARITY_ROWS  # noqa: E402
from export_fixtures import make_classifier_run  # noqa: E402


@pytest.fixture(scope="session")
def classifier_run_dir(tmp_path_factory):
    return make_classifier_run(str(tmp_path_factory.mktemp("run")))


@pytest.fixture(scope="session")
def export_base(tmp_path_factory):
    return str(tmp_path_factory.mktemp("saved_models"))


@pytest.fixture(scope="session")
def exported(classifier_run_dir, export_base):
    """The `ExportResult` of `tiny` version 1."""
    from export.exporter import export_run

    result = export_run(
        classifier_run_dir, MODEL_NAME, version=1, out=export_base, parity_rows=PARITY_ROWS,
        log=lambda line: None,
    )
    assert result.passed, result.parity
    return result


@pytest.fixture(scope="session")
def version_dir(exported):
    return exported.path


@pytest.fixture(scope="session")
def saved_model(version_dir):
    from export.serving import load_saved_model

    return load_saved_model(version_dir)


@pytest.fixture(scope="session")
def onnx_classifier(version_dir):
    from export.classifier.onnx_runner import OnnxClassifier

    return OnnxClassifier.load(os.path.join(version_dir, "onnx"))


@pytest.fixture(scope="session")
def classifier_run(classifier_run_dir):
    from export.run_loader import load_run

    return load_run(classifier_run_dir)
