"""Shared fixtures: a small trained classifier and a tiny summarizer, each exported once
per test session."""

import os
import sys

import pytest

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TESTS, "pipelines"))  # tiny_bert: tiny pretrained checkpoints

from export_fixtures import MODEL_NAME  # noqa: E402
from export_fixtures import PARITY_ROWS  # noqa: E402
from export_fixtures import SUMMARIZER_NAME  # noqa: E402
from export_fixtures import make_classifier_run  # noqa: E402
from export_fixtures import make_summarizer_run  # noqa: E402


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


@pytest.fixture(scope="session")
def summarizer_run(tmp_path_factory):
    """A tiny summarizer trained on SAMSum rows, loaded (`export.run_loader.load_run`)."""
    from export.run_loader import load_run

    return load_run(make_summarizer_run(str(tmp_path_factory.mktemp("summarizer"))))


@pytest.fixture(scope="session")
def summarizer_parity_file(summarizer_run):
    """The SAMSum test rows the summarizer's parity gate reads."""
    return os.path.join(os.path.dirname(summarizer_run.path), "test.csv")


@pytest.fixture(scope="session")
def summarizer_export(summarizer_run, summarizer_parity_file, tmp_path_factory):
    """The `ExportResult` of `tiny-summarizer` version 1, exported from the already loaded
    run, so its compiled generators serve the export and the tests (the decoder step's
    tf2onnx conversion is the slow part)."""
    import export.exporter

    base = str(tmp_path_factory.mktemp("saved_models"))
    patch = pytest.MonkeyPatch()
    patch.setattr(export.exporter, "load_run", lambda run_dir: summarizer_run)
    try:
        result = export.exporter.export_run(
            summarizer_run.path, SUMMARIZER_NAME, version=1, out=base, parity_texts=summarizer_parity_file,
            log=lambda line: None,
        )
    finally:
        patch.undo()
    assert result.passed, result.parity
    return result


@pytest.fixture(scope="session")
def summarizer_version_dir(summarizer_export):
    return summarizer_export.path
