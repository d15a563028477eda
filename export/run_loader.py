"""Reading a trained run directory: which task it is, and everything export needs from it.

Export only reads the run directory, through the pipelines' public loaders
(`TrainedClassifier.load`, `Summarizer.load`, `RunDirectory`), so the model,
tokenizer, labels and generation settings are exactly the ones `predict`,
`summarize` and `evaluate` use.
"""

import dataclasses
import hashlib
import os

from pipelines.common.errors import UserInputError
from pipelines.common.run_directory import RunDirectory
from pipelines.common.sectioned_config import CLASSIFICATION
from pipelines.common.sectioned_config import SUMMARIZATION
from pipelines.common.sectioned_config import config_task
from pipelines.common.tokenizer import SETTINGS_FILE
from pipelines.common.tokenizer import VOCABULARY_FILE

DEFAULT_BEAMS = 4


class RunFiles:
    """What both kinds of run share: the run directory and its vocabulary file."""

    @property
    def directory(self):
        return RunDirectory(self.path)

    @property
    def vocabulary_path(self):
        return os.path.join(self.directory.tokenizer_dir, VOCABULARY_FILE)

    def vocabulary_sha256(self):
        with open(self.vocabulary_path, "rb") as file:
            return hashlib.sha256(file.read()).hexdigest()


@dataclasses.dataclass
class ClassifierRun(RunFiles):
    """A finished classification run, loaded.

    Attributes:
        path: str. The run directory.
        config: `ClassifierConfig`.
        tokenizer: `WordPieceTokenizer`, or `CheckpointTokenizer` for a run
            fine-tuned from a pretrained checkpoint (both tensorflow-text).
        model: the Keras classifier (token ids → probabilities).
        labels: list of str. Class names by class id, as strings (what the
            SavedModel's `label` output holds).
        metrics: dict. The run's `metrics.json` ({} if absent).
    """

    path: str
    config: object
    tokenizer: object
    model: object
    labels: list
    metrics: dict
    task: str = CLASSIFICATION

    @property
    def tokenizer_settings_path(self):
        return os.path.join(self.directory.tokenizer_dir, SETTINGS_FILE)

    @property
    def max_length(self):
        return self.tokenizer.max_length

    @property
    def longest_token_ids(self):
        """The most token ids the model takes per row: None (any) for sinusoidal or
        rotary positions, `max_length` for a learned position table."""
        if getattr(self.config.model, "position_encoding", None) == "learned":
            return self.config.model.max_length
        return None


@dataclasses.dataclass
class SummarizerRun(RunFiles):
    """A finished summarization run, loaded.

    Attributes:
        path: str. The run directory.
        summarizer: the pipeline's `Summarizer` (model, tokenizer, config);
            its generators are the Keras reference of the parity gate.
        metrics: dict. The run's `metrics.json` ({} if absent).
    """

    path: str
    summarizer: object
    metrics: dict
    task: str = SUMMARIZATION

    @property
    def config(self):
        return self.summarizer.config

    @property
    def model(self):
        return self.summarizer.model

    @property
    def tokenizer(self):
        return self.summarizer.tokenizer

    @property
    def max_document_length(self):
        return self.config.model.max_document_length

    @property
    def beams(self):
        """Beam width of the beam-search signature: the run's, or 4 if it decodes greedily."""
        return self.config.generation.beams if self.config.generation.beams > 1 else DEFAULT_BEAMS

    def search_options(self, beams):
        """The run's generation settings with `beams` (what `summarize --beams` uses)."""
        return self.summarizer.search_options(beams=beams)


def detect_task(config):
    """`classification` or `summarization` from a run's config.json contents."""
    task = config_task(config)
    if task is None:
        raise UserInputError(
            "cannot tell the task of this run from its config.json; "
            "export a run directory written by `python -m pipelines.classification train` "
            "or `python -m pipelines.summarization train`"
        )
    return task


def load_run(run_dir):
    """The loaded run in `run_dir`; raises a user error for anything unusable."""
    directory = RunDirectory(run_dir)
    directory.require_finished()
    config = directory.read_json(directory.config_path)
    if config is None:
        raise UserInputError(f"{directory.config_path} not found; is {run_dir} a run directory?")
    if detect_task(config) == SUMMARIZATION:
        return load_summarizer_run(directory)
    return load_classifier_run(directory)


def load_classifier_run(directory):
    from pipelines.classification.trained import TrainedClassifier

    classifier = TrainedClassifier.load(directory.path)
    metrics = directory.read_json(directory.metrics_path, default={})
    return ClassifierRun(
        path=directory.path,
        config=classifier.config,
        tokenizer=classifier.tokenizer,
        model=classifier.model,
        labels=[str(name) for name in classifier.class_names],
        metrics=metrics,
    )


def load_summarizer_run(directory):
    from pipelines.summarization.trained import Summarizer

    return SummarizerRun(
        path=directory.path,
        summarizer=Summarizer.load(directory.path),
        metrics=directory.read_json(directory.metrics_path, default={}),
    )
