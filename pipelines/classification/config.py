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
# "attention": AttentionPooling over all tokens; "cls": the first token's vector (a
# pretrained checkpoint's [CLS]).
POOLINGS = ("attention", "cls")


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
    pooling: str = "attention"
    pooling_heads: int = 8
    # A pretrained encoder (`--init-from`): the checkpoint as given (a directory or
    # a short name), where its weights came from (path, sha256, licence) and its
    # architecture (`EncoderSettings`), which then fixes the width, depth, heads and
    # vocabulary above.
    init_from: str = None
    checkpoint: dict = None
    encoder: dict = None


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
    # Keep a pretrained checkpoint's word-piece embeddings fixed (`--init-from` only).
    freeze_token_embeddings: bool = False
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
    # Train on this many training rows drawn at random (seeded by `training.seed`,
    # the same rows on resume); None: every row.
    train_sample: int = None


# Fine-tuning settings for `--init-from` and for the compile of `TextClassifier.fit`: a
# small peak learning rate after warmup, a batch of 32 and three passes over the data, as
# BERT-family checkpoints are fine-tuned; no label smoothing; 128 tokens (with [CLS] and
# [SEP]), where the from-scratch model keeps 64. Chosen on held-out SST-2 sentences,
# never on test.tsv.
PRETRAINED_DEFAULTS = {
    "tokenizer": {"max_length": 128},
    "training": {
        "epochs": 3,
        "batch_size": 32,
        "learning_rate": 5e-5,
        "warmup_fraction": 0.1,
        "label_smoothing": 0.0,
    },
}


@dataclasses.dataclass
class ClassifierConfig(SectionedConfig):
    TASK = CLASSIFICATION

    tokenizer: TokenizerConfig = dataclasses.field(default_factory=TokenizerConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    training: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)


def default_config(init_from=None, **sections):
    """The default `ClassifierConfig`, with the fine-tuning defaults when `init_from` is set,
    then the given sections' fields replaced.

    Example: `default_config(model={"embedding_dim": 64}, data={"train": "t.csv"})`.
    """
    config = ClassifierConfig()
    overrides = dict(PRETRAINED_DEFAULTS) if init_from is not None else {}
    for section, values in sections.items():
        overrides[section] = {**overrides.get(section, {}), **values}
    for section, values in overrides.items():
        setattr(config, section, dataclasses.replace(getattr(config, section), **values))
    config.model.init_from = init_from if init_from is None else str(init_from)
    return config
