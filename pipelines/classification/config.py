"""The classifier's settings: everything needed to rebuild a run, saved as config.json.

The defaults are the settings that reach the SST-2 target (see the README);
they were chosen on dev.tsv only.
"""

import dataclasses
import json

from pipelines.common.atomic import write_json_atomic
from pipelines.common.errors import UserInputError


@dataclasses.dataclass
class TokenizerConfig:
    """WordPiece settings. `vocabulary_size` is the target; the learned one may be smaller."""

    vocabulary_size: int = 16000
    max_length: int = 64
    lower_case: bool = True


@dataclasses.dataclass
class ModelConfig:
    """Architecture of the attention classifier (see `build_classifier`)."""

    vocabulary_size: int = 16000
    num_classes: int = 2
    max_length: int = 64
    embedding_dim: int = 128
    num_blocks: int = 2
    num_heads: int = 4
    intermediate_dim: int = 256
    dropout: float = 0.1
    attention_dropout: float = 0.1
    position_encoding: str = "sinusoidal"
    normalize_first: bool = False
    pooling_heads: int = 1


@dataclasses.dataclass
class TrainingConfig:
    """Optimization settings for `model.fit`."""

    epochs: int = 6
    batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.05
    label_smoothing: float = 0.1
    patience: int = 3
    seed: int = 1337
    mixed_precision: bool = False
    jit_compile: object = "auto"  # True, False or "auto" (XLA on accelerators only)


@dataclasses.dataclass
class DataConfig:
    """Where the data came from and how to read it."""

    train: str = None
    valid: str = None
    test: str = None
    text_column: str = "text"
    label_column: str = "label"
    class_names: list = None


@dataclasses.dataclass
class ClassifierConfig:
    tokenizer: TokenizerConfig = dataclasses.field(default_factory=TokenizerConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    training: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        sections = {}
        for field in dataclasses.fields(cls):
            section_type = field.default_factory
            values = data.get(field.name, {})
            known = {f.name for f in dataclasses.fields(section_type)}
            unknown = sorted(set(values) - known)
            if unknown:
                raise UserInputError(
                    f"config section {field.name!r} has unknown keys {unknown}; "
                    "was it written by a newer version?"
                )
            sections[field.name] = section_type(**values)
        return cls(**sections)

    def save(self, path):
        write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as file:
            return cls.from_dict(json.load(file))
