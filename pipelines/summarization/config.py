"""The summarizer's settings: everything needed to rebuild a run, saved as config.json.

The defaults are meant for SAMSum on 2 CPU cores within the 60-minute training
budget (see the README). They were set from the compute budget and measured
throughput, not tuned by full runs; test.csv was never used to choose them.
"""

import dataclasses

from pipelines.common.sectioned_config import SUMMARIZATION
from pipelines.common.sectioned_config import SectionedConfig
from pipelines.decoding.settings import DecodingSettings


@dataclasses.dataclass
class TokenizerConfig:
    """WordPiece settings. `vocabulary_size` is the target; the learned one may be smaller."""

    vocabulary_size: int = 8000


@dataclasses.dataclass
class ModelConfig:
    """Architecture of the encoder-decoder Transformer (see `build_summarizer`)."""

    vocabulary_size: int = 8000
    max_document_length: int = 512
    max_summary_length: int = 80
    hidden_dim: int = 256
    intermediate_dim: int = 1024
    num_heads: int = 4
    encoder_layers: int = 3
    decoder_layers: int = 3
    dropout: float = 0.1
    attention_dropout: float = 0.0
    normalize_first: bool = True


@dataclasses.dataclass
class TrainingConfig:
    """Optimization settings for `model.fit`."""

    epochs: int = 8
    batch_size: int = 32
    learning_rate: float = 1e-3
    min_learning_rate_ratio: float = 0.05
    warmup_steps: int = 300
    weight_decay: float = 0.01
    label_smoothing: float = 0.1
    gradient_clip_norm: float = 1.0
    max_minutes: float = 60.0  # the SAMSum target's budget; 0 or None: no limit
    patience: int = 3
    seed: int = 1337
    jit_compile: bool = False
    distribute: str = "none"  # none, mirrored or multiworker (pipelines.common.distribution)


@dataclasses.dataclass
class GenerationConfig(DecodingSettings):
    """The run's `DecodingSettings` (see `generate`), with the SAMSum defaults."""

    beams: int = 4
    min_length: int = 5
    no_repeat_ngram_size: int = 3


@dataclasses.dataclass
class DataConfig:
    """Where the data came from and how to read it."""

    train: str = None
    valid: str = None
    test: str = None
    document_column: str = "document"
    summary_column: str = "summary"
    max_train_rows: int = None


@dataclasses.dataclass
class SummarizerConfig(SectionedConfig):
    TASK = SUMMARIZATION

    tokenizer: TokenizerConfig = dataclasses.field(default_factory=TokenizerConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    training: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)
    generation: GenerationConfig = dataclasses.field(default_factory=GenerationConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
