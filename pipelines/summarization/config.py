"""The summarizer's settings: everything needed to rebuild a run, saved as config.json.

The defaults are meant for SAMSum on 2 CPU cores within the 60-minute training
budget (see the README). They were set from the compute budget and measured
throughput, not tuned by full runs; test.csv was never used to choose them.
"""

import dataclasses

from pipelines.common.errors import UserInputError
from pipelines.common.sectioned_config import SUMMARIZATION
from pipelines.common.sectioned_config import SectionedConfig
from pipelines.decoding.settings import DecodingSettings

# What the copy head points with (`PointerGenerator`): "head", a dedicated
# single-head attention from the decoder's final state over the encoder outputs;
# "cross_attention", the last decoder block's cross-attention averaged over its heads.
COPY_ATTENTIONS = ("head", "cross_attention")


@dataclasses.dataclass
class TokenizerConfig:
    """WordPiece settings. `vocabulary_size` is the target; the learned one may be smaller."""

    vocabulary_size: int = 8000


@dataclasses.dataclass
class ModelConfig:
    """Architecture of the encoder-decoder Transformer (see `build_summarizer`)."""

    vocabulary_size: int = 8000
    # Long enough that dialogues twice SAMSum's length are rarely cut (measured on
    # SAMSum dialogues joined two by two, benchmarks/long_dialogues.py, BENCHMARKS.md);
    # `train` logs how many training texts the limits cut.
    max_document_length: int = 1024
    max_summary_length: int = 128
    hidden_dim: int = 256
    intermediate_dim: int = 1024
    num_heads: int = 4
    encoder_layers: int = 3
    decoder_layers: int = 3
    dropout: float = 0.1
    attention_dropout: float = 0.0
    normalize_first: bool = True
    # The copy mechanism (`PointerGenerator`): the output mixes the vocabulary
    # distribution with copies of source tokens. On for new runs; a config.json
    # written without this key is a plain decoder (`SummarizerConfig.from_run_file`).
    copy: bool = True
    # Which attention the copy head copies with (`COPY_ATTENTIONS`): the last
    # block's cross-attention for new runs (level with the dedicated head in
    # validation screening, with fewer parameters; BENCHMARKS.md). A config.json
    # without this key is "head", the only kind before the setting existed.
    copy_attention: str = "cross_attention"
    # See et al.'s coverage loss on the copy attention (`PointerGenerator`), added in
    # training with this weight: it discourages pointing at a source position twice.
    # Training only; generation and exports are the same with or without it.
    coverage_weight: float = 0.0
    # A warm start (`--init-from`, see warm_start.py): the checkpoint as given (a
    # directory or a short name), where its weights came from (path, sha256,
    # licence), its architecture (`EncoderSettings`), which then fixes the width,
    # heads, feed-forward size and encoder depth above, and the checkpoint layer
    # each decoder block started from.
    init_from: str = None
    checkpoint: dict = None
    encoder: dict = None
    decoder_source_layers: list = None

    def __post_init__(self):
        if self.copy_attention not in COPY_ATTENTIONS:
            raise UserInputError(
                f"model.copy_attention {self.copy_attention!r} is unknown; use "
                f"{' or '.join(COPY_ATTENTIONS)} (--copy-attention)"
            )


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
    snapshot_minutes: float = 0.0  # weights saved every N minutes (learning curves); 0: none
    patience: int = 3
    seed: int = 1337
    jit_compile: bool = False
    distribute: str = "none"  # none, mirrored or multiworker (pipelines.common.distribution)


@dataclasses.dataclass
class GenerationConfig(DecodingSettings):
    """The run's `DecodingSettings` (see `generate`), with the SAMSum defaults."""

    beams: int = 4
    max_length: int = 128  # the model's `max_summary_length`
    min_length: int = 5
    no_repeat_ngram_size: int = 3
    repeat_previous_token: bool = False


@dataclasses.dataclass
class DataConfig:
    """Where the data came from and how to read it."""

    train: str = None
    valid: str = None
    test: str = None
    document_column: str = "document"
    summary_column: str = "summary"
    max_train_rows: int = None


# What `--init-from` changes in the defaults. The encoder is the checkpoint's
# (all its layers); the decoder takes 3 of them, half of MiniLM's depth, for the
# cost of each step (benchmarks/warm_start_choices.py times the alternatives);
# documents are cut at 512 tokens (the checkpoint's positions); the checkpoint's dropout rates.
# The peak learning rate is a fine-tuning one; batches of 16 give twice the updates
# of 32 in the same minutes, which matters when the budget holds a few epochs.
# Set from the compute budget and throughput, not tuned by full runs; on SAMSum in
# 60 CPU minutes they lose to the from-scratch defaults (README).
WARM_START_DEFAULTS = {
    "model": {
        "decoder_layers": 3, "dropout": 0.1, "attention_dropout": 0.1,
        # Within the checkpoint's positions (MiniLM: 512), as before the longer defaults.
        "max_document_length": 512, "max_summary_length": 80,
    },
    "training": {"batch_size": 16, "learning_rate": 1e-4, "warmup_steps": 200},
    "generation": {"max_length": 80},
}


@dataclasses.dataclass
class SummarizerConfig(SectionedConfig):
    TASK = SUMMARIZATION

    tokenizer: TokenizerConfig = dataclasses.field(default_factory=TokenizerConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    training: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)
    generation: GenerationConfig = dataclasses.field(default_factory=GenerationConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)

    @classmethod
    def from_run_file(cls, data):
        """A run's config.json. A file written before a setting existed keeps the
        behaviour it was trained and exported with: no `copy` key is a plain
        decoder, no `copy_attention` key copies with the dedicated head, no
        `repeat_previous_token` key allows repeats. (`from_dict` gives
        missing keys today's defaults, as a partial `--config` file wants.)"""
        config = cls.from_dict(data)
        if "copy" not in section_of(data, "model"):
            config.model.copy = False
        if "copy_attention" not in section_of(data, "model"):
            config.model.copy_attention = "head"
        if "repeat_previous_token" not in section_of(data, "generation"):
            config.generation.repeat_previous_token = True
        return config


def section_of(data, name):
    section = data.get(name)
    return section if isinstance(section, dict) else {}


def default_config(init_from=None):
    """The default `SummarizerConfig`, with `WARM_START_DEFAULTS` when `init_from` is set."""
    config = SummarizerConfig()
    if init_from is not None:
        for section, values in WARM_START_DEFAULTS.items():
            setattr(config, section, dataclasses.replace(getattr(config, section), **values))
        config.model.init_from = str(init_from)
    return config
