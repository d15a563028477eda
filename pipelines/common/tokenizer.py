"""WordPiece tokenization with tensorflow-text, identical in training and serving.

The vocabulary is learned from the training split with tensorflow-text's own
tool (`bert_vocab_from_dataset`) and applied with `FastWordpieceTokenizer`.
Everything the tokenizer does is a TensorFlow op, so the same object runs inside
`tf.data` during training and inside an exported SavedModel, and both tokenize
identically.

Lower-casing uses `tf.strings.lower(encoding="utf-8")` (Unicode-aware, no accent
stripping) rather than tensorflow-text's `CaseFoldUTF8`/`NormalizeUTF8`, which
have no ONNX mapping. The vocabulary learner therefore runs on text lower-cased
by that same op, with its own case folding switched off.

Token id 0 is always `[PAD]`, the padding id the models mask out.

`pipelines.common.run_tokenizer.load_tokenizer` reads back whichever tokenizer a run holds.
"""

import os

import tensorflow as tf
import tensorflow_text as tf_text
from tensorflow_text.tools.wordpiece_vocab import bert_vocab_from_dataset

from pipelines.common.atomic import write_json_atomic
from pipelines.common.atomic import write_text_atomic
from pipelines.common.errors import UserInputError
from pipelines.common.run_files import read_json_file
from pipelines.common.run_files import read_lines_file

PAD_TOKEN = "[PAD]"
UNKNOWN_TOKEN = "[UNK]"
# Reserved tokens come first, so [PAD] is id 0. [BOS]/[EOS] serve generation.
RESERVED_TOKENS = (PAD_TOKEN, UNKNOWN_TOKEN, "[CLS]", "[SEP]", "[MASK]", "[BOS]", "[EOS]")
SUFFIX_INDICATOR = "##"
VOCABULARY_FILE = "vocabulary.txt"
SETTINGS_FILE = "tokenizer.json"


def lower_case(texts):
    """Unicode lower-casing that exports to SavedModel and has an ONNX mapping."""
    return tf.strings.lower(texts, encoding="utf-8")


def learn_wordpiece_vocabulary(
    texts, vocabulary_size, reserved_tokens=RESERVED_TOKENS, lower=True
):
    """Learns a WordPiece vocabulary of at most `vocabulary_size` tokens.

    Args:
        texts: iterable of str. The training texts.
        vocabulary_size: int. The maximum number of tokens, reserved ones
            included.
        reserved_tokens: sequence of str. Tokens placed first, in this order.
        lower: bool. Lower-case the texts first, as the tokenizer will.

    Returns:
        A list of tokens; index = token id; `[PAD]` is 0.
    """
    texts = list(texts)
    if not texts:
        raise UserInputError("cannot learn a vocabulary from no texts; check the training file")
    dataset = tf.data.Dataset.from_tensor_slices(tf.constant(texts, tf.string))
    dataset = dataset.batch(4096)
    if lower:
        dataset = dataset.map(lower_case)
    vocabulary = bert_vocab_from_dataset.bert_vocab_from_dataset(
        dataset,
        vocab_size=vocabulary_size,
        reserved_tokens=list(reserved_tokens),
        bert_tokenizer_params={"lower_case": False},
        # Keep rare words learnable on small corpora (the default floor is 10).
        learn_params={"lower_thresh": 2},
    )
    return vocabulary


def build_tokenizer(texts, vocabulary_size=16000, max_length=64, lower_case=True):
    """A `WordPieceTokenizer` whose vocabulary is learned from `texts`."""
    vocabulary = learn_wordpiece_vocabulary(texts, vocabulary_size, lower=lower_case)
    return WordPieceTokenizer(vocabulary, max_length, lower_case=lower_case)


class WordPieceTokenizer(tf.Module):
    """Lower-case, split on whitespace and punctuation, WordPiece, truncate.

    Args:
        vocabulary: list of str. Tokens by id; `vocabulary[0]` must be `[PAD]`
            and `[UNK]` must be present.
        max_length: int. Sequences are truncated to this many tokens.
        lower_case: bool. Lower-case before splitting. Defaults to True.

    Example:

    >>> tokenizer = WordPieceTokenizer(["[PAD]", "[UNK]", "good", "film"], 8)
    >>> tokenizer.tokenize(["Good film", "film"]).numpy()
    array([[2, 3], [3, 0]], dtype=int32)
    """

    TYPE = "wordpiece"  # the settings file's "type"

    def __init__(self, vocabulary, max_length, lower_case=True, name=None):
        super().__init__(name=name)
        vocabulary = list(vocabulary)
        validate_vocabulary(vocabulary, required_tokens=(UNKNOWN_TOKEN,))
        if not isinstance(max_length, int) or max_length <= 0:
            raise ValueError(
                f"`max_length` must be a positive integer. Received: max_length={max_length}"
            )
        self.vocabulary = vocabulary
        self.max_length = max_length
        self.lower_case = lower_case
        self._wordpiece = tf_text.FastWordpieceTokenizer(
            vocab=vocabulary,
            suffix_indicator=SUFFIX_INDICATOR,
            unknown_token=UNKNOWN_TOKEN,
            token_out_type=tf.int32,
            no_pretokenization=False,  # split on whitespace and punctuation, as BERT
            support_detokenization=False,
        )

    @property
    def vocabulary_size(self):
        return len(self.vocabulary)

    def tokenize_ragged(self, texts):
        """Token ids of a 1-D string tensor as a ragged int32 `(batch, None)`."""
        texts = tf.convert_to_tensor(texts, dtype=tf.string)
        # FastWordpieceTokenizer crashes the process on a scalar; fail cleanly instead.
        texts = tf.ensure_shape(texts, [None], name="texts_must_be_1d")
        if self.lower_case:
            texts = lower_case(texts)
        return self._wordpiece.tokenize(texts)[:, : self.max_length]

    def tokenize(self, texts, sequence_length=None):
        """Token ids of a 1-D string tensor, padded with 0.

        Args:
            texts: 1-D string tensor or list of str.
            sequence_length: int. Pad (and truncate) to exactly this length, for
                fixed shapes; defaults to the longest sequence in the batch (at
                least 1, so an empty text still gives a valid, fully masked row).

        Returns:
            An int32 tensor `(batch, length)`.
        """
        return padded_token_ids(self.tokenize_ragged(texts), sequence_length)

    def id_to_token(self, ids):
        """The token strings of an int tensor of ids."""
        return tf.gather(tf.constant(self.vocabulary), ids)

    def save(self, directory):
        """Writes `vocabulary.txt` (one token per line) and `tokenizer.json`."""
        write_text_atomic(
            os.path.join(directory, VOCABULARY_FILE), "\n".join(self.vocabulary) + "\n"
        )
        write_json_atomic(
            os.path.join(directory, SETTINGS_FILE),
            {
                "type": self.TYPE,
                "vocabulary_file": VOCABULARY_FILE,
                "max_length": self.max_length,
                "lower_case": self.lower_case,
                "suffix_indicator": SUFFIX_INDICATOR,
                "unknown_token": UNKNOWN_TOKEN,
            },
        )

    @classmethod
    def load(cls, directory):
        """Rebuilds the tokenizer that `save(directory)` wrote."""
        settings_path = os.path.join(directory, SETTINGS_FILE)
        settings = read_json_file(settings_path)
        vocabulary = read_vocabulary(os.path.join(directory, settings["vocabulary_file"]))
        return cls(vocabulary, settings["max_length"], lower_case=settings["lower_case"])


def padded_token_ids(ragged, sequence_length=None):
    """Ragged ids `(batch, None)` as a 0-padded int tensor: `sequence_length` wide, or as
    wide as the longest row and at least 1 (an empty text is a valid, fully masked row)."""
    if sequence_length is not None:
        return ragged.to_tensor(default_value=0, shape=[None, sequence_length])
    dense = ragged.to_tensor(default_value=0)
    return dense_to_width(dense, tf.maximum(tf.shape(dense)[1], 1))


def dense_to_width(dense, width):
    """Right-pads (with 0) or cuts a `(batch, length)` tensor to `width` columns."""
    dense = dense[:, :width]
    return tf.pad(dense, [[0, 0], [0, width - tf.shape(dense)[1]]])


def read_vocabulary(path):
    return read_lines_file(path)


def validate_vocabulary(vocabulary, leading_tokens=(PAD_TOKEN,), required_tokens=()):
    """Raises `ValueError` (one line that names the fix) if a WordPiece vocabulary is unusable.

    Every vocabulary of the pipelines starts with `leading_tokens`, `[PAD]` first
    (the models mask id 0), holds `required_tokens`, and has no duplicate or
    empty token.
    """
    vocabulary = list(vocabulary)
    leading = ", ".join(map(repr, leading_tokens))
    if vocabulary[:1] != [PAD_TOKEN]:
        first = vocabulary[0] if vocabulary else None
        problem = f"the vocabulary's id 0 is {first!r}, not {PAD_TOKEN!r} (the models mask id 0); it must start with {leading}"
    elif vocabulary[: len(leading_tokens)] != list(leading_tokens):
        found = ", ".join(map(repr, vocabulary[: len(leading_tokens)]))
        problem = f"the vocabulary must start with {leading}; it starts with {found}"
    elif missing := sorted(set(required_tokens) - set(vocabulary)):
        problem = f"the vocabulary lacks {', '.join(map(repr, missing))}; use the vocabulary these tokens come from"
    elif len(set(vocabulary)) != len(vocabulary) or "" in vocabulary:
        problem = "the vocabulary has duplicate or empty tokens; use the vocabulary file as written, one token per line"
    else:
        return
    raise ValueError(f"{problem}.")
