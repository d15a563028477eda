"""Subword tokenization for summarization: WordPiece that keeps line breaks.

Dialogue turns are separated by newlines, and where a turn starts matters to a
summary ("Amanda: ...\\nJerry: ..."). A BERT-style tokenizer treats a newline as
any other space, so here each text is split into lines, each line is
WordPiece-tokenized, and the lines are joined with the `[NL]` token;
detokenization turns `[NL]` back into a newline.

One vocabulary serves documents and summaries (the model shares one embedding
between its encoder and decoder). It is learned from the training documents
and summaries with tensorflow-text's learner (`pipelines.common.tokenizer`) on
lower-cased text, and starts with the special tokens: `[PAD]` (id 0, the
padding the models mask out), `[UNK]`, `[BOS]` (the first decoder input),
`[EOS]` (end of a summary) and `[NL]`.

Every step is a TensorFlow op, so the same object runs inside `tf.data`, inside
generation and in an exported SavedModel.
"""

import os

import tensorflow as tf
import tensorflow_text as tf_text

from pipelines.common.atomic import write_json_atomic
from pipelines.common.atomic import write_text_atomic
from pipelines.common.errors import UserInputError
from pipelines.common.run_files import read_json_file
from pipelines.common.tokenizer import SUFFIX_INDICATOR
from pipelines.common.tokenizer import learn_wordpiece_vocabulary
from pipelines.common.tokenizer import lower_case
from pipelines.common.tokenizer import read_vocabulary
from pipelines.common.tokenizer import validate_vocabulary
from pipelines.summarization.postprocessing import graph_text
from pipelines.summarization.special_tokens import END_ID  # noqa: F401 (re-exported)
from pipelines.summarization.special_tokens import NEWLINE_ID
from pipelines.summarization.special_tokens import PAD_ID  # noqa: F401 (re-exported)
from pipelines.summarization.special_tokens import SPECIAL_TOKENS
from pipelines.summarization.special_tokens import START_ID  # noqa: F401 (re-exported)
from pipelines.summarization.special_tokens import UNKNOWN_TOKEN

VOCABULARY_FILE = "vocabulary.txt"
SETTINGS_FILE = "tokenizer.json"
TOKENIZER_TYPE = "wordpiece_lines"


def learn_vocabulary(texts, vocabulary_size):
    """A WordPiece vocabulary of at most `vocabulary_size` tokens, specials first.

    Args:
        texts: iterable of str. Training documents and summaries.
        vocabulary_size: int. Maximum number of tokens, special ones included.

    Returns:
        A list of tokens; index = token id.
    """
    if not isinstance(vocabulary_size, int) or vocabulary_size <= len(SPECIAL_TOKENS):
        raise UserInputError(
            f"--vocabulary-size must be an integer above {len(SPECIAL_TOKENS)}; "
            f"received {vocabulary_size}"
        )
    # Newlines are whitespace to the learner; lines need no special handling.
    return learn_wordpiece_vocabulary(texts, vocabulary_size, reserved_tokens=SPECIAL_TOKENS)


class SummarizationTokenizer(tf.Module):
    """Lower-cased WordPiece over lines, joined by `[NL]`; and back to text.

    Args:
        vocabulary: list of str. Tokens by id, starting with `SPECIAL_TOKENS`.

    Example:

    >>> tokenizer = SummarizationTokenizer(list(SPECIAL_TOKENS) + ["hi", "bob", ":"])
    >>> tokenizer.tokenize(["Bob: hi\\nhi"]).to_list()
    [[6, 7, 5, 4, 5]]
    >>> tokenizer.detokenize([[6, 7, 5, 4, 5, 3]]).numpy()
    array([b'bob: hi\\nhi'], dtype=object)
    """

    def __init__(self, vocabulary, name=None):
        super().__init__(name=name)
        vocabulary = list(vocabulary)
        validate_vocabulary(vocabulary, leading_tokens=SPECIAL_TOKENS)
        self.vocabulary = vocabulary
        self._wordpiece = tf_text.FastWordpieceTokenizer(
            vocab=vocabulary,
            suffix_indicator=SUFFIX_INDICATOR,
            unknown_token=UNKNOWN_TOKEN,
            token_out_type=tf.int32,
            no_pretokenization=False,  # split on whitespace and punctuation, as BERT
            support_detokenization=True,
        )

    @property
    def vocabulary_size(self):
        return len(self.vocabulary)

    def tokenize(self, texts):
        """Token ids of a 1-D string tensor: ragged int32 `(batch, None)`.

        Whitespace around line breaks and blank lines are dropped, so "a \\n\\n b"
        gives the ids of "a", `[NL]`, "b". No start or end token is added.
        """
        texts = tf.convert_to_tensor(texts, dtype=tf.string)
        texts = tf.strings.regex_replace(texts, r"\s*[\r\n]\s*", "\n")
        texts = lower_case(tf.strings.strip(texts))
        lines = tf.strings.split(texts, "\n")  # (batch, lines)
        line_ids = self._wordpiece.tokenize(lines.flat_values)  # (lines, tokens)
        # Put [NL] before every line, then drop the one before each first line.
        newline = tf.RaggedTensor.from_tensor(
            tf.fill([line_ids.nrows(), 1], tf.constant(NEWLINE_ID, tf.int32))
        )
        line_ids = tf.concat([newline, line_ids], axis=1)
        document_ids = tf.RaggedTensor.from_row_splits(line_ids, lines.row_splits)
        return document_ids.merge_dims(1, 2)[:, 1:]

    def tokenize_summaries(self, texts):
        """Summary ids: one vocabulary and the same steps as documents."""
        return self.tokenize(texts)

    def detokenize(self, token_ids):
        """Texts of int ids `(batch, length)` (dense or ragged).

        Reading stops at the first `[EOS]`; `[PAD]` and `[BOS]` are dropped and
        `[NL]` becomes a newline.
        """
        return graph_text.detokenize(self._wordpiece, token_ids)

    def save(self, directory):
        """Writes `vocabulary.txt` (one token per line) and `tokenizer.json`."""
        write_text_atomic(
            os.path.join(directory, VOCABULARY_FILE), "\n".join(self.vocabulary) + "\n"
        )
        write_json_atomic(
            os.path.join(directory, SETTINGS_FILE),
            {
                "type": TOKENIZER_TYPE,
                "vocabulary_file": VOCABULARY_FILE,
                "lower_case": True,
                "suffix_indicator": SUFFIX_INDICATOR,
                "special_tokens": list(SPECIAL_TOKENS),
            },
        )

    @classmethod
    def load(cls, directory):
        """Rebuilds the tokenizer that `save(directory)` wrote."""
        settings_path = os.path.join(directory, SETTINGS_FILE)
        settings = read_json_file(settings_path)
        if settings.get("type") != TOKENIZER_TYPE:
            raise UserInputError(
                f"{settings_path}: a {settings.get('type')!r} tokenizer, not a summarization "
                "one; point at a run directory written by `pipelines.summarization train`"
            )
        return cls(read_vocabulary(os.path.join(directory, settings["vocabulary_file"])))

