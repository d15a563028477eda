"""Shared fixtures of the bad-input and security tests: one tiny classifier run and its
export (made with the export tests' helpers), a small untrained summarizer, and copies
of a run directory with one file broken.

The classifier has a learned position table (tests/export covers sinusoidal positions):
the one position encoding that limits how many token ids a model takes.
"""

import os
import shutil
import sys

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TESTS, "export"))

from export_fixtures import TINY_MODEL  # noqa: E402
from export_fixtures import make_classifier_run  # noqa: E402

SUMMARIZER_DOCUMENTS = [
    "Tom: lunch at 5?\nMark: yes! see you at the cafe",
    "Betty: a movie at 3?\nLarry: sure, the cinema :)",
    "Amanda: I baked cookies.\nJerry: Sure!",
]


@pytest.fixture(scope="session")
def classifier_run_dir(tmp_path_factory):
    return make_classifier_run(
        str(tmp_path_factory.mktemp("reliability_run")), architecture={**TINY_MODEL, "position_encoding": "learned"}
    )


@pytest.fixture(scope="session")
def exported_version(classifier_run_dir, tmp_path_factory):
    """The version folder of the tiny run, exported through the parity gate."""
    from export.exporter import export_run

    result = export_run(
        classifier_run_dir, "tiny", version=1, out=str(tmp_path_factory.mktemp("saved_models")),
        parity_rows=8, log=lambda line: None,
    )
    assert result.passed, result.parity
    return result.path


@pytest.fixture(scope="session")
def trained_classifier(classifier_run_dir):
    from pipelines.classification.trained import TrainedClassifier

    return TrainedClassifier.load(classifier_run_dir)


@pytest.fixture(scope="session")
def summarizer():
    """An untrained summarizer: generation is deterministic, which is all these tests need."""
    import keras

    from pipelines.summarization.config import ModelConfig
    from pipelines.summarization.config import SummarizerConfig
    from pipelines.summarization.model import build_summarizer
    from pipelines.summarization.trained import Summarizer
    from pipelines.summarization.tokenizer import SummarizationTokenizer
    from pipelines.summarization.tokenizer import learn_vocabulary

    class GraphModeSummarizer(Summarizer):
        """Generators without XLA: seconds of compiling these input tests do not need."""

        def generator(self, options, batch_size=None, use_cache=True, jit_compile=False):
            return super().generator(options, batch_size, use_cache, jit_compile)

    keras.utils.set_random_seed(3)
    tokenizer = SummarizationTokenizer(learn_vocabulary(SUMMARIZER_DOCUMENTS, 200))
    config = SummarizerConfig()
    config.model = ModelConfig(
        vocabulary_size=tokenizer.vocabulary_size, max_document_length=32, max_summary_length=8,
        hidden_dim=16, intermediate_dim=32, num_heads=2, encoder_layers=1, decoder_layers=1,
    )
    config.generation.beams = 1
    config.generation.max_length = 6
    config.generation.min_length = 0
    config.generation.batch_size = 4
    return GraphModeSummarizer(build_summarizer(config.model), tokenizer, config)


@pytest.fixture(scope="session")
def summarization_run_dir(summarizer, tmp_path_factory):
    """A finished-looking summarization run directory (config, tokenizer, model.keras)."""
    from pipelines.common.run_directory import RunDirectory

    run = RunDirectory(tmp_path_factory.mktemp("summarization_run"))
    summarizer.config.save(run.config_path)
    os.makedirs(run.tokenizer_dir)
    summarizer.tokenizer.save(run.tokenizer_dir)
    summarizer.model.save(run.model_path)
    return run.path


@pytest.fixture
def run_copy(classifier_run_dir, tmp_path):
    """`run_copy()` → a fresh copy of the classifier run directory to break."""

    def copy(source=classifier_run_dir):
        destination = tmp_path / f"run{len(os.listdir(tmp_path))}"
        shutil.copytree(source, destination, ignore=shutil.ignore_patterns("logs", "checkpoints"))
        return str(destination)

    return copy

