"""A BERT checkpoint's tokenizer as a Keras preprocessing layer: strings in, padded ids out.

`CheckpointTokenizer` does the work (the same ids, id for id); this layer makes it a
Keras object: callable on a batch of strings, usable in `tf.data`
(`dataset.map(tokenizer)`, the only place on JAX, where string tensors do not exist)
and inside a model on TensorFlow, with its vocabulary saved in the `.keras` file as
an asset, so `keras.saving.load_model(path, safe_mode=True)` needs no checkpoint.
"""

import os

import keras
import tensorflow as tf

from pipelines.common.atomic import write_text_atomic
from pipelines.pretrained.tokenizer import CLS_TOKEN
from pipelines.pretrained.tokenizer import LONGEST_WORD
from pipelines.pretrained.tokenizer import SEP_TOKEN
from pipelines.pretrained.tokenizer import SUFFIX_INDICATOR
from pipelines.pretrained.tokenizer import UNKNOWN_TOKEN
from pipelines.pretrained.tokenizer import CheckpointTokenizer
from pipelines.pretrained.tokenizer import read_vocabulary_file

VOCABULARY_ASSET = "vocabulary.txt"
# The constructor settings saved in the layer's config (the vocabulary is an asset).
TOKENIZER_SETTINGS = (
    "lower_case", "strip_accents", "unknown_token", "suffix_indicator",
    "cls_token", "sep_token", "special_tokens", "longest_word",
)


@keras.saving.register_keras_serializable(package="pipelines.pretrained")
class CheckpointTokenizerLayer(keras.layers.Layer):
    """Texts → int32 token ids `[CLS] word pieces… [SEP]`, 0-padded, as the checkpoint's
    Hugging Face tokenizer gives them.

    Args:
        vocabulary: list of str, or None until `load_assets` (a reloaded model)
            sets it. Tokens by id; `vocabulary[0]` must be `[PAD]`.
        max_length: int. The most ids per text, `[CLS]` and `[SEP]` included.
        sequence_length: int or None. Pad every row to exactly this many ids
            (fixed shapes); None pads to the longest text of the batch.
        lower_case, strip_accents, unknown_token, suffix_indicator, cls_token,
        sep_token, special_tokens, longest_word: as `CheckpointTokenizer`.
        **kwargs: base layer keyword arguments (`name`, ...).

    Call arguments:
        texts: a 1-D string tensor, list or array (a batch), or one string (a
            scalar in `tf.data` before batching).

    Returns:
        int32 ids `(batch, length)`, or `(length,)` for one string.

    Example:

    >>> tokenizer = CheckpointTokenizerLayer.from_checkpoint("minilm", max_length=8)
    >>> np.asarray(tokenizer(["Café NAÏVE", "a film"]))
    array([[  101,  7668, 15743,   102],
           [  101,  1037,  2143,   102]], dtype=int32)
    """

    def __init__(
        self,
        vocabulary=None,
        max_length=128,
        sequence_length=None,
        lower_case=True,
        strip_accents=None,
        unknown_token=UNKNOWN_TOKEN,
        suffix_indicator=SUFFIX_INDICATOR,
        cls_token=CLS_TOKEN,
        sep_token=SEP_TOKEN,
        special_tokens=None,
        longest_word=LONGEST_WORD,
        **kwargs,
    ):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        # Strings are not converted to backend tensors (JAX has none); Keras's own
        # text layers set the same two flags.
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        if sequence_length is not None and (not isinstance(sequence_length, int) or sequence_length < 1):
            raise ValueError(
                f"`sequence_length` must be a positive integer or None. Received: sequence_length={sequence_length}"
            )
        self.max_length = max_length
        self.sequence_length = sequence_length
        self._tokenizer_settings = dict(
            lower_case=lower_case, strip_accents=strip_accents, unknown_token=unknown_token,
            suffix_indicator=suffix_indicator, cls_token=cls_token, sep_token=sep_token,
            special_tokens=None if special_tokens is None else list(special_tokens),
            longest_word=longest_word,
        )
        self.tokenizer = None
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)
        self.built = True

    @classmethod
    def from_checkpoint(cls, name_or_path, max_length=128, sequence_length=None, **kwargs):
        """The tokenizer of a Hugging Face BERT checkpoint directory or a known short name
        (`"minilm"`), with every check `CheckpointTokenizer.from_checkpoint` makes."""
        return cls.from_tokenizer(
            CheckpointTokenizer.from_checkpoint(name_or_path, max_length, log=lambda _: None),
            sequence_length=sequence_length, **kwargs,
        )

    @classmethod
    def from_tokenizer(cls, tokenizer, sequence_length=None, **kwargs):
        """The layer of an existing `CheckpointTokenizer` (a run directory's, say)."""
        settings = {key: getattr(tokenizer, key) for key in TOKENIZER_SETTINGS}
        return cls(tokenizer.vocabulary, tokenizer.max_length, sequence_length, **settings, **kwargs)

    def set_vocabulary(self, vocabulary):
        self.tokenizer = CheckpointTokenizer(list(vocabulary), self.max_length, **self._tokenizer_settings)

    @property
    def vocabulary(self):
        return self._checked_tokenizer().vocabulary

    @property
    def vocabulary_size(self):
        return self._checked_tokenizer().vocabulary_size

    def _checked_tokenizer(self):
        if self.tokenizer is None:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} has no vocabulary; build it with "
                "`from_checkpoint(...)` or pass `vocabulary=`"
            )
        return self.tokenizer

    def call(self, texts):
        tokenizer = self._checked_tokenizer()
        texts = tf.convert_to_tensor(texts, dtype=tf.string)
        one_text = texts.shape.rank == 0
        ids = tokenizer.tokenize(tf.reshape(texts, [-1]), self.sequence_length)
        ids = ids[0] if one_text else ids
        if keras.backend.backend() != "tensorflow" and not tf.inside_function():
            return keras.ops.convert_to_tensor(ids.numpy())  # a JAX array outside tf.data
        return ids

    def compute_output_spec(self, texts):
        shape = tuple(getattr(texts, "shape", ())) + (self.sequence_length,)
        return keras.KerasTensor(shape, dtype="int32")

    def get_config(self):
        config = super().get_config()
        config.update(max_length=self.max_length, sequence_length=self.sequence_length, **self._tokenizer_settings)
        return config

    def save_assets(self, dir_path):
        write_text_atomic(os.path.join(dir_path, VOCABULARY_ASSET), "\n".join(self.vocabulary) + "\n")

    def load_assets(self, dir_path):
        self.set_vocabulary(read_vocabulary_file(os.path.join(dir_path, VOCABULARY_ASSET)))
