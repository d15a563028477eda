"""The classifier's settings: everything needed to rebuild a run, saved as config.json.

The defaults were chosen without test.tsv, on whole SST-2 sentences held out
from the training data (`benchmarks/classification_heldout.py`); see the README
for what they reach on SST-2.
"""

import dataclasses

from pipelines.common.sectioned_config import CLASSIFICATION
from pipelines.common.sectioned_config import SectionedConfig

# "rope": no absolute positions; the attention blocks rotate queries and keys.
POSITION_ENCODINGS = ("sinusoidal", "learned", "rope")


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
    pooling_heads: int = 8


@dataclasses.dataclass
class TrainingConfig:
    """Optimization settings for `model.fit`."""

    epochs: int = 3
    batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.05
    label_smoothing: float = 0.1
    patience: int = 3
    seed: int = 1337
    mixed_precision: bool = False
    jit_compile: object = "auto"  # True, False or "auto" (XLA on accelerators only)
    distribute: str = "none"  # none, mirrored or multiworker (pipelines.common.distribution)


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
class ClassifierConfig(SectionedConfig):
    TASK = CLASSIFICATION

    tokenizer: TokenizerConfig = dataclasses.field(default_factory=TokenizerConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    training: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
