"""The tokenizer of a Hugging Face BERT-family checkpoint, written in TensorFlow ops.

    tokenizer = CheckpointTokenizer.from_checkpoint("minilm", max_length=128)
    tokenizer.tokenize(["A gorgeous, witty film"])   # [[101, 1037, 9882, 1010, ..., 102]]

It gives the ids of the checkpoint's own `tokenizer.json` run by Hugging Face
`tokenizers` (the file the ONNX export ships): `[CLS] pieces… [SEP]`, the pieces cut
so that a row holds at most `max_length` ids, as `tokenizers` truncates with its
post-processor. Every step is a TensorFlow op, so the same object tokenizes inside
`tf.data` and inside an exported SavedModel:

1. special tokens written in the text (`[SEP]`, `[MASK]`, ...) stay whole: `tokenizers`
   matches its added tokens in the raw text, before normalizing;
2. normalization as `BertNormalizer`: drop control, format and private-use characters
   and U+FFFD, `\\t\\n\\r` becoming spaces (`clean_text`); NFD, then drop non-spacing
   marks (`strip_accents`); Unicode lower-casing (`lowercase`);
3. pre-tokenization as `BertPreTokenizer`: split on whitespace; punctuation (ASCII
   symbols included) and CJK ideographs are one-character words;
4. WordPiece (tensorflow-text `FastWordpieceTokenizer`) with the checkpoint's
   vocabulary; a word of more than 100 characters is one `[UNK]`.

Why not tensorflow-text's `FastBertTokenizer` (or `BertTokenizer`) as a whole: their
normalizers also fold compatibility characters (`…` → `...`, `ﬁ` → `fi`, fullwidth
`（` → `(`, `ß` → `ss`), which `tokenizers` does not; with either, 31 of the 2,510
SST-2 and SAMSum test texts got other ids. So normalization is `tf.strings` ops plus
tensorflow-text's `normalize_utf8`, and only FastBertTokenizer's WordPiece half is
kept. Its built-in pre-tokenization is replaced by a `regex_split` because it limits
words by UTF-8 bytes (100) where `tokenizers` counts characters (a 60-letter Cyrillic
word is `[UNK]` there, word pieces here), and because `tokenizers`' CJK ranges skip
U+2B820–U+2B91F (a typo it keeps from the original BERT code), which must not split.

Known differences, measured on `a{c}b` and `{c}` for every Unicode code point c:
568 of the 1,112,064 code points (149 without accent stripping) still tokenize
differently, all of them characters added to Unicode, or moved between categories,
after the version of the tables inside `tokenizers` (e.g. the U+2E55 brackets, the
U+0898 Arabic marks); none occurs in SST-2 or SAMSum.
tests/pipelines/test_pretrained_tokenizer.py checks every text of both test sets and
every character of the common blocks.

`save` writes the run's `vocabulary.txt`, the settings `tokenizer.json` (`"type":
"checkpoint_wordpiece"`) and the checkpoint's Hugging Face tokenizer file as
`checkpoint_tokenizer.json`, which the ONNX export ships (export/text_tokenizer.py).
"""

import json
import os

import tensorflow as tf
import tensorflow_text as tf_text
import tokenizers
from tokenizers import decoders
from tokenizers import models
from tokenizers import normalizers
from tokenizers import pre_tokenizers
from tokenizers import processors

from pipelines.common.atomic import write_json_atomic
from pipelines.common.atomic import write_text_atomic
from pipelines.common.command_line import stderr_discarded
from pipelines.common.errors import UserInputError
from pipelines.common.run_files import read_json_file
from pipelines.common.tokenizer import PAD_TOKEN
from pipelines.common.tokenizer import SETTINGS_FILE
from pipelines.common.tokenizer import VOCABULARY_FILE
from pipelines.common.tokenizer import padded_token_ids
from pipelines.common.tokenizer import validate_vocabulary
from pipelines.pretrained.known_checkpoints import resolve_checkpoint_dir
from pipelines.pretrained.schema import MAX_JSON_BYTES
from pipelines.pretrained.schema import SPECIAL_TOKENS_MAP_SCHEMA
from pipelines.pretrained.schema import TOKENIZER_CONFIG_SCHEMA
from pipelines.pretrained.schema import TOKENIZER_SCHEMA
from pipelines.pretrained.schema import read_checkpoint_json

CHECKPOINT_TYPE = "checkpoint_wordpiece"
CHECKPOINT_TOKENIZER_FILE = "checkpoint_tokenizer.json"

# The files of a Hugging Face checkpoint directory that tokenization reads.
HF_VOCABULARY_FILE = "vocab.txt"
HF_TOKENIZER_FILE = "tokenizer.json"
HF_TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
HF_SPECIAL_TOKENS_FILE = "special_tokens_map.json"

UNKNOWN_TOKEN = "[UNK]"
CLS_TOKEN = "[CLS]"
SEP_TOKEN = "[SEP]"
MASK_TOKEN = "[MASK]"
SUFFIX_INDICATOR = "##"
# `tokenizers`' WordPiece `max_input_chars_per_word`: a longer word is one [UNK].
LONGEST_WORD = 100
UTF8_BYTES_PER_CHARACTER = 4

# clean_text: \t\n\r count as whitespace; other controls (NUL included), format and
# private-use characters and U+FFFD are dropped.
WHITESPACE_CONTROLS = r"[\t\n\r]"
DROPPED_CHARACTERS = r"[\x{FFFD}\p{Cc}\p{Cf}\p{Co}]"
NONSPACING_MARKS = r"\p{Mn}"
# tensorflow-text's regex_split stops at a NUL; U+FFFD is dropped by clean_text just
# the same and, like NUL, keeps a special token it sits inside from matching.
NUL = r"\x00"
NUL_STAND_IN = "\ufffd"
# `tokenizers` lower-cases character by character, so Σ is always σ; ICU (in
# tf.strings.lower) writes ς at the end of a word (Unicode's Final_Sigma).
CAPITAL_SIGMA = "\u03a3"
SMALL_SIGMA = "\u03c3"
# BertPreTokenizer: Unicode whitespace separates words; punctuation (ASCII symbols
# count) and, as BertNormalizer spaces them, CJK ideographs are words of their own.
WHITESPACE = r"(?:\s|\p{Z})+"
PUNCTUATION = r"[!-/:-@\[-`{-~]|\p{P}"
# tokenizers' `is_chinese_char` ranges, U+2B920 (not U+2B820) included.
CJK_IDEOGRAPHS = (
    r"[\x{4E00}-\x{9FFF}\x{3400}-\x{4DBF}\x{20000}-\x{2A6DF}\x{2A700}-\x{2B73F}"
    r"\x{2B740}-\x{2B81F}\x{2B920}-\x{2CEAF}\x{F900}-\x{FAFF}\x{2F800}-\x{2FA1F}]"
)
WORD_DELIMITERS = f"{WHITESPACE}|{PUNCTUATION}|{CJK_IDEOGRAPHS}"
KEPT_DELIMITERS = f"{PUNCTUATION}|{CJK_IDEOGRAPHS}"

SUPPORTED_PARTS = {
    "model": "WordPiece",
    "normalizer": "BertNormalizer",
    "pre_tokenizer": "BertPreTokenizer",
}


class CheckpointTokenizer(tf.Module):
    """A BERT checkpoint's tokenizer: `[CLS] word pieces… [SEP]`, as Hugging Face's.

    The interface of `WordPieceTokenizer` (pipelines/common/tokenizer.py), so the
    pipelines and the export use either; every row starts with `[CLS]` and ends
    with `[SEP]`.

    Args:
        vocabulary: list of str. Tokens by id; `vocabulary[0]` must be `[PAD]`
            (the models mask id 0).
        max_length: int. The most ids per row, `[CLS]` and `[SEP]` included; at
            least 2.
        lower_case: bool. Unicode lower-casing. Defaults to True.
        strip_accents: bool. NFD, then drop non-spacing marks. Defaults to None:
            as `lower_case`.
        unknown_token: str. Defaults to `[UNK]`.
        suffix_indicator: str. Prefix of word-continuing pieces. Defaults to `##`.
        cls_token: str. Defaults to `[CLS]`.
        sep_token: str. Defaults to `[SEP]`.
        special_tokens: sequence of str. Tokens recognised whole where the text
            spells them out (Hugging Face's added tokens). Defaults to `[PAD]`,
            the unknown, CLS and SEP tokens, and `[MASK]` if in the vocabulary.
        longest_word: int. A word of more characters is one unknown token.
            Defaults to 100.
        huggingface_json: str. The Hugging Face tokenizer file that gives the same
            ids, which `save` copies; defaults to one built with `tokenizers`.

    Example:

    >>> tokenizer = CheckpointTokenizer.from_checkpoint("minilm", max_length=8)
    >>> tokenizer.tokenize(["Café NAÏVE"]).numpy()
    array([[ 101, 7668, 15743,  102]], dtype=int32)
    """

    TYPE = CHECKPOINT_TYPE  # the settings file's "type"

    def __init__(
        self,
        vocabulary,
        max_length,
        lower_case=True,
        strip_accents=None,
        unknown_token=UNKNOWN_TOKEN,
        suffix_indicator=SUFFIX_INDICATOR,
        cls_token=CLS_TOKEN,
        sep_token=SEP_TOKEN,
        special_tokens=None,
        longest_word=LONGEST_WORD,
        huggingface_json=None,
        name=None,
    ):
        super().__init__(name=name)
        vocabulary = list(vocabulary)
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 2:
            raise ValueError(
                "`max_length` must be an integer of at least 2 ([CLS] and [SEP]). "
                f"Received: max_length={max_length}"
            )
        if special_tokens is None:
            special_tokens = default_special_tokens(vocabulary, unknown_token, cls_token, sep_token)
        validate_vocabulary(vocabulary, required_tokens=[unknown_token, cls_token, sep_token, *special_tokens])
        self.vocabulary = vocabulary
        self.max_length = max_length
        self.lower_case = bool(lower_case)
        self.strip_accents = self.lower_case if strip_accents is None else bool(strip_accents)
        self.unknown_token = unknown_token
        self.suffix_indicator = suffix_indicator
        self.cls_token = cls_token
        self.sep_token = sep_token
        self.special_tokens = list(special_tokens)
        self.longest_word = longest_word
        self.huggingface_json = huggingface_json
        ids_by_token = {token: index for index, token in enumerate(vocabulary)}
        self.cls_id = ids_by_token[cls_token]
        self.sep_id = ids_by_token[sep_token]
        self.unknown_id = ids_by_token[unknown_token]
        self._special_ids = tuple((token, ids_by_token[token]) for token in self.special_tokens)
        self._wordpiece = tf_text.FastWordpieceTokenizer(
            vocab=vocabulary,
            suffix_indicator=suffix_indicator,
            unknown_token=unknown_token,
            token_out_type=tf.int32,
            no_pretokenization=True,  # words come from `_segment_pieces`
            # Never [UNK] for bytes: the character limit (`longest_word`) is applied before.
            max_bytes_per_word=UTF8_BYTES_PER_CHARACTER * longest_word,
            support_detokenization=False,
        )

    @property
    def vocabulary_size(self):
        return len(self.vocabulary)

    @classmethod
    def from_checkpoint(cls, checkpoint_dir, max_length, embedding_rows=None, log=print):
        """The tokenizer of a Hugging Face checkpoint directory (or a known short name).

        Reads `vocab.txt` (else the vocabulary in `tokenizer.json`), the
        lower-casing and accent settings of `tokenizer_config.json` (else of
        `tokenizer.json`'s normalizer) and the added tokens; a checkpoint that
        tokenizes otherwise than BERT is a one-line `UserInputError`. With
        `embedding_rows` (the checkpoint's word-embedding rows), the vocabulary
        is checked against them before the tokenizer is built (`vocabulary_fit`;
        a note goes to `log`).
        """
        directory = resolve_checkpoint_dir(checkpoint_dir)
        if not os.path.isdir(directory):
            raise UserInputError(f"{directory} is not a directory; pass a Hugging Face checkpoint directory")
        settings = read_checkpoint_settings(directory)
        if embedding_rows is not None:
            note = vocabulary_fit(len(settings["vocabulary"]), embedding_rows, directory)
            if note:
                log(note)
        try:
            tokenizer = cls(max_length=max_length, **settings)
        except (ValueError, tf.errors.OpError) as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise UserInputError(f"{directory}: {reason}") from None
        check_adds_cls_and_sep(tokenizer, directory)
        return tokenizer

    def tokenize_ragged(self, texts):
        """Token ids of a 1-D string tensor as a ragged int32 `(batch, None)`."""
        texts = tf.convert_to_tensor(texts, dtype=tf.string)
        # Fail cleanly on a scalar, as WordPieceTokenizer does.
        texts = tf.ensure_shape(texts, [None], name="texts_must_be_1d")
        pieces = self._pieces(texts)[:, : self.max_length - 2]
        return wrap_rows(pieces, self.cls_id, self.sep_id)

    def tokenize(self, texts, sequence_length=None):
        """Token ids of a 1-D string tensor, padded with 0.

        Args:
            texts: 1-D string tensor or list of str.
            sequence_length: int. Pad (and truncate) to exactly this length, for
                fixed shapes; defaults to the longest sequence in the batch.

        Returns:
            An int32 tensor `(batch, length)`.
        """
        return padded_token_ids(self.tokenize_ragged(texts), sequence_length)

    def id_to_token(self, ids):
        """The token strings of an int tensor of ids."""
        return tf.gather(tf.constant(self.vocabulary), ids)

    def _pieces(self, texts):
        """Ragged ids `(batch, None)` of the texts' word pieces and spelled-out special tokens."""
        segments = self._split_special_tokens(texts)  # (batch, segments)
        raw = segments.flat_values
        special_ids = self._special_token_ids(raw)
        is_special = special_ids >= 0
        pieces = self._segment_pieces(self._normalize(tf.where(is_special, "", raw)))
        # A special segment has no pieces: its one id goes in their place.
        pieces = tf.concat([pieces, ids_where(special_ids, is_special)], axis=1)
        return tf.RaggedTensor.from_row_splits(pieces, segments.row_splits).merge_dims(1, 2)

    def _split_special_tokens(self, texts):
        texts = tf.strings.regex_replace(texts, NUL, NUL_STAND_IN)
        if not self.special_tokens:
            return tf.RaggedTensor.from_row_lengths(texts, tf.ones_like(texts, dtype=tf.int64))
        pattern = special_tokens_pattern(self.special_tokens)
        return tf_text.regex_split(texts, pattern, pattern)

    def _special_token_ids(self, segments):
        """The id of each segment that is a special token, else -1."""
        ids = tf.fill(tf.shape(segments), -1)
        for token, token_id in self._special_ids:
            ids = tf.where(tf.equal(segments, token), token_id, ids)
        return ids

    def _normalize(self, texts):
        """`BertNormalizer(clean_text=True, handle_chinese_chars=True, ...)` in TF ops
        (CJK ideographs are split off by `_segment_pieces`)."""
        texts = tf.strings.regex_replace(texts, WHITESPACE_CONTROLS, " ")
        texts = tf.strings.regex_replace(texts, DROPPED_CHARACTERS, "")
        if self.strip_accents:
            texts = tf_text.normalize_utf8(texts, "NFD")
            texts = tf.strings.regex_replace(texts, NONSPACING_MARKS, "")
        if self.lower_case:
            texts = tf.strings.regex_replace(texts, CAPITAL_SIGMA, SMALL_SIGMA)
            texts = tf.strings.lower(texts, encoding="utf-8")
        return texts

    def _segment_pieces(self, texts):
        """Ragged ids `(segments, None)`: words split as BertPreTokenizer, then WordPiece."""
        words = tf_text.regex_split(texts, WORD_DELIMITERS, KEPT_DELIMITERS)  # (segments, words)
        flat_words = words.flat_values
        too_long = tf.strings.length(flat_words, unit="UTF8_CHAR") > self.longest_word
        pieces = self._wordpiece.tokenize(tf.where(too_long, "", flat_words))
        unknown_ids = tf.fill(tf.shape(flat_words), self.unknown_id)
        pieces = tf.concat([pieces, ids_where(unknown_ids, too_long)], axis=1)
        return tf.RaggedTensor.from_row_splits(pieces, words.row_splits).merge_dims(1, 2)

    def settings(self):
        """Every constructor setting but the vocabulary, as saved in `tokenizer.json`."""
        return {
            "type": self.TYPE,
            "vocabulary_file": VOCABULARY_FILE,
            "max_length": self.max_length,
            "lower_case": self.lower_case,
            "strip_accents": self.strip_accents,
            "unknown_token": self.unknown_token,
            "suffix_indicator": self.suffix_indicator,
            "cls_token": self.cls_token,
            "sep_token": self.sep_token,
            "special_tokens": list(self.special_tokens),
            "longest_word": self.longest_word,
            "huggingface_file": CHECKPOINT_TOKENIZER_FILE,
        }

    def save(self, directory):
        """Writes `vocabulary.txt`, the settings `tokenizer.json` and `checkpoint_tokenizer.json`."""
        write_text_atomic(
            os.path.join(directory, VOCABULARY_FILE), "\n".join(self.vocabulary) + "\n"
        )
        huggingface_json = self.huggingface_json or self.build_huggingface_tokenizer().to_str()
        write_text_atomic(os.path.join(directory, CHECKPOINT_TOKENIZER_FILE), huggingface_json)
        write_json_atomic(os.path.join(directory, SETTINGS_FILE), self.settings())

    @classmethod
    def load(cls, directory):
        """Rebuilds the tokenizer that `save(directory)` wrote."""
        settings = read_json_file(os.path.join(directory, SETTINGS_FILE))
        if settings.get("type") != CHECKPOINT_TYPE:
            raise UserInputError(
                f"{os.path.join(directory, SETTINGS_FILE)} is not a checkpoint tokenizer "
                f"(type {settings.get('type')!r}); load it with pipelines.common.tokenizer.load_tokenizer"
            )
        vocabulary = read_vocabulary_file(os.path.join(directory, settings["vocabulary_file"]))
        huggingface_json = read_text_file(os.path.join(directory, settings["huggingface_file"]))
        arguments = {
            key: settings[key]
            for key in (
                "lower_case", "strip_accents", "unknown_token", "suffix_indicator",
                "cls_token", "sep_token", "special_tokens", "longest_word",
            )
        }
        return cls(vocabulary, settings["max_length"], huggingface_json=huggingface_json, **arguments)

    def build_huggingface_tokenizer(self):
        """A `tokenizers.Tokenizer` with these settings: what `transformers` builds
        from a `vocab.txt` for a BERT checkpoint (no padding, no truncation)."""
        tokenizer = tokenizers.Tokenizer(
            models.WordPiece(
                {token: index for index, token in enumerate(self.vocabulary)},
                unk_token=self.unknown_token,
                continuing_subword_prefix=self.suffix_indicator,
                max_input_chars_per_word=self.longest_word,
            )
        )
        tokenizer.normalizer = normalizers.BertNormalizer(
            clean_text=True,
            handle_chinese_chars=True,
            strip_accents=self.strip_accents,
            lowercase=self.lower_case,
        )
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        cls, sep = self.cls_token, self.sep_token
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{cls} $A {sep}",
            pair=f"{cls} $A {sep} $B:1 {sep}:1",
            special_tokens=[(cls, self.cls_id), (sep, self.sep_id)],
        )
        tokenizer.decoder = decoders.WordPiece(prefix=self.suffix_indicator)
        tokenizer.add_special_tokens(
            [tokenizers.AddedToken(token, special=True, normalized=False) for token in self.special_tokens]
        )
        return tokenizer


def wrap_rows(pieces, cls_id, sep_id):
    """`[CLS] row [SEP]` for every row of a ragged int32 `(batch, None)`."""
    column = tf.fill([pieces.nrows(), 1], tf.constant(0, tf.int32))
    column = tf.RaggedTensor.from_tensor(column, row_splits_dtype=pieces.row_splits.dtype)
    return tf.concat([column + cls_id, pieces, column + sep_id], axis=1)


def ids_where(ids, mask):
    """Ragged `(len(ids), None)`: `[ids[i]]` where `mask[i]`, else an empty row."""
    return tf.RaggedTensor.from_row_lengths(
        tf.boolean_mask(ids, mask), tf.cast(mask, tf.int64)
    )


def special_tokens_pattern(tokens):
    """An RE2 pattern matching any of `tokens` literally, longest first."""
    longest_first = sorted(tokens, key=len, reverse=True)
    return "|".join("".join(regex_literal(character) for character in token) for token in longest_first)


def regex_literal(character):
    return character if character.isascii() and character.isalnum() else f"\\x{{{ord(character):X}}}"


def default_special_tokens(vocabulary, unknown_token, cls_token, sep_token):
    tokens = [PAD_TOKEN, unknown_token, cls_token, sep_token]
    return tokens + [MASK_TOKEN] if MASK_TOKEN in vocabulary else tokens


def checkpoint_tokenizer(checkpoint, max_length, log=print):
    """The tokenizer of a read `Checkpoint`, its vocabulary checked against the embedding rows.

    More vocabulary entries than embedding rows is a `UserInputError` (their ids
    would index past the table); fewer is accepted (checkpoints often pad the
    table with unused rows) and said in one line through `log`.
    """
    return CheckpointTokenizer.from_checkpoint(
        checkpoint.path, max_length, embedding_rows=checkpoint.settings.vocabulary_size, log=log
    )


def vocabulary_fit(vocabulary_size, embedding_rows, directory):
    """None if the vocabulary has one entry per embedding row; a note if it has fewer.

    Raises:
        UserInputError: more entries than rows.
    """
    if vocabulary_size > embedding_rows:
        raise UserInputError(
            f"{directory}: the vocabulary has {vocabulary_size:,} entries but the word embeddings "
            f"{embedding_rows:,} rows (config.json vocab_size); ids past {embedding_rows - 1:,} have no "
            "embedding — use the vocabulary saved with these weights"
        )
    if vocabulary_size < embedding_rows:
        return (
            f"note: the vocabulary has {vocabulary_size:,} entries for {embedding_rows:,} embedding rows; "
            f"the last {embedding_rows - vocabulary_size:,} rows are never used"
        )
    return None


def read_vocabulary_file(path):
    """Tokens by id, one per line, as Hugging Face reads `vocab.txt` (empty lines count)."""
    text = read_text_file(path)
    lines = text.split("\n")
    return lines[:-1] if lines[-1] == "" else lines


def read_text_file(path, max_bytes=MAX_JSON_BYTES):
    try:
        if not os.path.isfile(path):
            raise FileNotFoundError(path) if not os.path.lexists(path) else IsADirectoryError(path)
        size = os.path.getsize(path)
        if size > max_bytes:
            raise UserInputError(
                f"{path}: {size:,} bytes, more than the {max_bytes:,} a tokenizer file can need; restore the file"
            )
        with open(path, encoding="utf-8") as file:
            return file.read()
    except FileNotFoundError:
        raise UserInputError(
            f"{path} not found; the tokenizer files are incomplete, save the tokenizer again"
        ) from None
    except UnicodeDecodeError as error:
        raise UserInputError(f"{path}: not UTF-8 text ({error.reason}); restore the file") from None
    except OSError:
        raise UserInputError(f"{path} is not a readable regular file; restore the file") from None


def read_optional_json(path, schema):
    """The parsed JSON of `path`, checked against its `schema`, or None if there is no such file."""
    return read_checkpoint_json(path, schema, f"restore the checkpoint's {os.path.basename(path)}")


def read_checkpoint_settings(directory):
    """`CheckpointTokenizer` arguments (all but `max_length`) from a checkpoint directory.

    Each JSON file is checked against its schema (pipelines/pretrained/schema.py)
    before any of it is used.
    """
    tokenizer_path = os.path.join(directory, HF_TOKENIZER_FILE)
    huggingface = read_optional_json(tokenizer_path, TOKENIZER_SCHEMA)
    config = read_optional_json(os.path.join(directory, HF_TOKENIZER_CONFIG_FILE), TOKENIZER_CONFIG_SCHEMA) or {}
    special_tokens_map = read_optional_json(
        os.path.join(directory, HF_SPECIAL_TOKENS_FILE), SPECIAL_TOKENS_MAP_SCHEMA
    ) or {}
    named = {**special_tokens_map, **config}  # tokenizer_config.json wins, as in transformers
    if huggingface is not None:
        check_supported_parts(huggingface, tokenizer_path)
    vocabulary = checkpoint_vocabulary(directory, huggingface)
    normalizer = (huggingface or {}).get("normalizer") or {}
    lower_case, strip_accents = normalization_settings(config, normalizer, directory)
    model = (huggingface or {}).get("model") or {}
    settings = {
        "vocabulary": vocabulary,
        "lower_case": lower_case,
        "strip_accents": strip_accents,
        "unknown_token": model.get("unk_token") or token_name(named.get("unk_token")) or UNKNOWN_TOKEN,
        "suffix_indicator": model.get("continuing_subword_prefix") or SUFFIX_INDICATOR,
        "longest_word": model.get("max_input_chars_per_word") or LONGEST_WORD,
        "cls_token": token_name(named.get("cls_token")) or CLS_TOKEN,
        "sep_token": token_name(named.get("sep_token")) or SEP_TOKEN,
    }
    if huggingface is None:
        return settings
    settings["special_tokens"] = added_tokens(huggingface, vocabulary, tokenizer_path)
    settings["huggingface_json"] = huggingface_json_with(
        huggingface, read_text_file(tokenizer_path), lower_case, strip_accents
    )
    return settings


def check_supported_parts(huggingface, path):
    for part, supported in SUPPORTED_PARTS.items():
        found = (huggingface.get(part) or {}).get("type")
        if found != supported:
            raise UserInputError(
                f"{path}: the {part} is {found!r}, not {supported!r}; "
                "only BERT-family WordPiece checkpoints can be tokenized in TensorFlow"
            )
    normalizer = huggingface["normalizer"]
    if not normalizer.get("clean_text", True) or not normalizer.get("handle_chinese_chars", True):
        raise UserInputError(
            f"{path}: BertNormalizer with clean_text or handle_chinese_chars off is not supported; "
            "use a checkpoint that tokenizes as BERT"
        )


def checkpoint_vocabulary(directory, huggingface):
    """Tokens by id from `vocab.txt`, else from `tokenizer.json`'s WordPiece model."""
    vocabulary_path = os.path.join(directory, HF_VOCABULARY_FILE)
    from_json = None if huggingface is None else json_vocabulary(huggingface, directory)
    if not os.path.exists(vocabulary_path):
        if from_json is None:
            raise UserInputError(
                f"{directory} has neither {HF_VOCABULARY_FILE} nor {HF_TOKENIZER_FILE}; "
                "pass a Hugging Face BERT checkpoint directory"
            )
        return from_json
    vocabulary = read_vocabulary_file(vocabulary_path)
    if from_json is not None and from_json != vocabulary:
        raise UserInputError(
            f"{directory}: {HF_VOCABULARY_FILE} and {HF_TOKENIZER_FILE} hold different vocabularies; "
            "restore the checkpoint's files"
        )
    return vocabulary


def json_vocabulary(huggingface, directory):
    ids_by_token = huggingface["model"].get("vocab") or {}
    vocabulary = sorted(ids_by_token, key=ids_by_token.get)
    if [ids_by_token[token] for token in vocabulary] != list(range(len(vocabulary))):
        raise UserInputError(
            f"{directory}/{HF_TOKENIZER_FILE}: the WordPiece ids are not 0..{len(vocabulary) - 1} "
            "without gaps; restore the checkpoint's file"
        )
    return vocabulary


def normalization_settings(config, normalizer, directory):
    """(lower_case, strip_accents): tokenizer_config.json's, else the normalizer's.

    A `strip_accents` of None follows lower-casing, as in Hugging Face.
    """
    lower_case = config.get("do_lower_case", normalizer.get("lowercase", True))
    strip_accents = config["strip_accents"] if "strip_accents" in config else normalizer.get("strip_accents")
    if not config.get("tokenize_chinese_chars", True):
        raise UserInputError(
            f"{directory}/{HF_TOKENIZER_CONFIG_FILE}: tokenize_chinese_chars=false is not supported; "
            "use a checkpoint that tokenizes as BERT"
        )
    return bool(lower_case), bool(lower_case if strip_accents is None else strip_accents)


def token_name(value):
    """A special token's text from a tokenizer_config value (a str or an AddedToken dict)."""
    return value.get("content") if isinstance(value, dict) else value


def added_tokens(huggingface, vocabulary, path):
    """The added tokens' texts; each must be matched as BERT's are (raw text, whole)."""
    tokens = []
    for entry in huggingface.get("added_tokens") or []:
        content = entry["content"]
        unusual = [flag for flag in ("single_word", "lstrip", "rstrip", "normalized") if entry.get(flag)]
        if unusual:
            raise UserInputError(
                f"{path}: added token {content!r} sets {', '.join(unusual)}, which is not supported; "
                "use a checkpoint whose added tokens are BERT's plain special tokens"
            )
        if entry["id"] >= len(vocabulary) or vocabulary[entry["id"]] != content:
            raise UserInputError(
                f"{path}: added token {content!r} (id {entry['id']}) is not that id's vocabulary entry; "
                "restore the checkpoint's file"
            )
        tokens.append(content)
    return tokens


def check_template_tokens(post_processor, path):
    """A `TemplateProcessing` post-processor must define every special token its
    templates name (`tokenizers` panics on one it lacks); the types are already
    checked (`TOKENIZER_SCHEMA`)."""
    if post_processor is None or post_processor.get("type") != "TemplateProcessing":
        return
    defined = post_processor.get("special_tokens") or {}
    for template in ("single", "pair"):
        for piece in post_processor.get(template) or []:
            name = (piece.get("SpecialToken") or {}).get("id")
            if "SpecialToken" in piece and name not in defined:
                raise UserInputError(
                    f"{path}: post_processor.{template} names the special token {name!r}, which "
                    "post_processor.special_tokens does not define; restore the checkpoint's file"
                )


def huggingface_json_with(huggingface, text, lower_case, strip_accents):
    """The checkpoint's tokenizer.json text; its normalizer set to the settings
    tokenizer_config.json chose where they differ (as transformers does at load)."""
    normalizer = huggingface["normalizer"]
    json_strip_accents = normalizer.get("strip_accents")
    json_lower_case = normalizer.get("lowercase", True)
    if json_strip_accents is None:
        json_strip_accents = json_lower_case
    if (json_lower_case, json_strip_accents) == (lower_case, strip_accents):
        return text
    normalizer = dict(normalizer, lowercase=lower_case, strip_accents=strip_accents)
    huggingface = dict(huggingface, normalizer=normalizer)
    return json.dumps(huggingface, ensure_ascii=False)


def check_adds_cls_and_sep(tokenizer, directory):
    """The Hugging Face file must wrap a text in the same [CLS] … [SEP] ids."""
    if tokenizer.huggingface_json is None:
        return
    path = f"{directory}/{HF_TOKENIZER_FILE}"
    check_template_tokens(json.loads(tokenizer.huggingface_json).get("post_processor"), path)
    try:
        # tokenizers raises a bare Exception for a file it cannot load, and for some
        # malformed ones panics in Rust (a BaseException, its message written to fd 2).
        with stderr_discarded():
            huggingface = tokenizers.Tokenizer.from_str(tokenizer.huggingface_json)
            huggingface.no_padding()
            huggingface.no_truncation()
            ids = huggingface.encode("").ids
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserInputError(
            f"{path}: Hugging Face tokenizers cannot load it ({reason}); restore the checkpoint's file"
        ) from None
    if ids != [tokenizer.cls_id, tokenizer.sep_id]:
        raise UserInputError(
            f"{directory}/{HF_TOKENIZER_FILE}: its post-processor makes {ids} of an empty text, "
            f"not [{tokenizer.cls_id}, {tokenizer.sep_id}] ({tokenizer.cls_token} {tokenizer.sep_token}); "
            "use a BERT-family checkpoint"
        )
