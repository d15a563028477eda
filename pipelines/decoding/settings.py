"""What every decoder needs besides the model: the decoding settings and the special token ids.

Plain Python (no TensorFlow, NumPy or Keras), so the training config, the
SavedModel export, the onnxruntime runner and the command line share one type.
"""

import dataclasses

# The log-probability of a token no search may pick. Large and finite, never
# -inf: -inf turns into NaN in score arithmetic and in exported graphs. It is
# keras_attention.ops.large_negative("float32"), spelled out so that the NumPy
# side imports no Keras (tests/pipelines/test_decoding.py checks they agree).
FORBIDDEN_SCORE = -1e9


@dataclasses.dataclass
class DecodingSettings:
    """How to decode: greedy or beam search and the rules both obey.

    The `generation` section of a summarization run's config.json holds one
    (with the SAMSum defaults, `GenerationConfig`); `summarize`/`evaluate`
    options override it, and an export writes it to `onnx/config.json`.

    Attributes:
        beams: int. Beam width; 1 is greedy search. Defaults to 1.
        max_length: int. Most tokens generated per sequence, `[EOS]`
            included. Defaults to 80.
        min_length: int. Tokens generated before `[EOS]` may be; below
            `max_length`. Defaults to 0.
        length_penalty: float. Beam search ranks finished hypotheses by
            `sum of log-probabilities / length ** length_penalty`; 0 ranks by
            total log-probability. Defaults to 1.0.
        no_repeat_ngram_size: int. Never generate an n-gram of this size
            twice; 0 turns the rule off. Defaults to 0.
        repeat_previous_token: bool. Whether a token may follow itself. False
            forbids "business business" and a name's piece repeated inside it
            ("dist ##ist ##ist"), which the n-gram rule lets through. Defaults
            to True (allowed), the rule of files written before it existed.
        batch_size: int. Documents per compiled generation batch (the
            pipeline's; the onnxruntime runner decodes what it is given).
            Defaults to 16.
    """

    beams: int = 1
    max_length: int = 80
    min_length: int = 0
    length_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    repeat_previous_token: bool = True
    batch_size: int = 16

    def __post_init__(self):
        for name in ("beams", "max_length", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
        for name in ("min_length", "no_repeat_ngram_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"`{name}` must be an integer >= 0. Received: {name}={value!r}")
        if not isinstance(self.repeat_previous_token, bool):
            raise ValueError(
                "`repeat_previous_token` must be true or false. "
                f"Received: repeat_previous_token={self.repeat_previous_token!r}"
            )
        if not isinstance(self.length_penalty, (int, float)) or isinstance(self.length_penalty, bool):
            raise ValueError(f"`length_penalty` must be a number. Received: length_penalty={self.length_penalty!r}")
        if self.min_length >= self.max_length:
            raise ValueError(
                "`min_length` must be below `max_length`. "
                f"Received: min_length={self.min_length}, max_length={self.max_length}"
            )

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        """Settings from a dict such as config.json's `generation` section.

        Missing keys take the defaults (older files lack `batch_size`);
        unknown keys are an error naming them.
        """
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown decoding settings {unknown}; known ones are {sorted(known)}")
        return cls(**values)

    def with_overrides(self, **overrides):
        """A `DecodingSettings` with the non-None `overrides` (e.g. command-line
        options) applied; `min_length` is lowered below a shorter `max_length`."""
        values = self.to_dict()
        values.update({key: value for key, value in overrides.items() if value is not None})
        values["min_length"] = min(values["min_length"], values["max_length"] - 1)
        return DecodingSettings(**values)

    def key(self):
        """A hashable snapshot (the settings are mutable, as a config section is)."""
        return dataclasses.astuple(self)


@dataclasses.dataclass(frozen=True)
class SpecialIds:
    """Token ids the searches treat specially.

    Attributes:
        pad: int. Written after `[EOS]`; never generated.
        start: int. Position 0 of every hypothesis (`[BOS]`); never generated.
        end: int. Ends a hypothesis (`[EOS]`).
    """

    pad: int
    start: int
    end: int
