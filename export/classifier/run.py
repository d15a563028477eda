"""A finished classification run, loaded: everything export needs from it."""

import dataclasses
import os

from export.run_loader import RunFiles
from pipelines.common.sectioned_config import CLASSIFICATION
from pipelines.common.tokenizer import SETTINGS_FILE


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
