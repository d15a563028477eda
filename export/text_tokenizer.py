"""The run's WordPiece tokenizer rebuilt with Hugging Face `tokenizers`, for onnxruntime users.

tf2onnx has no handler for tensorflow-text's `FastWordpieceTokenizer` (it maps
only the table-based `WordpieceTokenizeWithOffsets` and `RegexSplitWithOffsets`
ops), and onnxruntime-extensions' `BertTokenizer` op tokenizes one text (or a
text pair) per call, not a batch. So the ONNX graph takes token ids, and this
module reproduces tensorflow-text's tokenization from the same `vocabulary.txt`
with a well-kept library that imports no TensorFlow:

- normalizer: `BertNormalizer(lowercase=True, strip_accents=False,
  handle_chinese_chars=True, clean_text=False)`: Unicode lower-casing with full
  case mapping, as `tf.strings.lower(encoding="utf-8")` does; no accent
  stripping; CJK ideographs split off one by one, as `FastWordpieceTokenizer`
  treats them as punctuation; control characters kept.
- pre-tokenizer: `BertPreTokenizer` (split on Unicode whitespace and
  punctuation, ASCII symbols counting as punctuation), as `FastWordpieceTokenizer`
  with `no_pretokenization=False`.
- model: `WordPiece` with the same vocabulary, `[UNK]`, `##` and 100 as the
  longest word.
- truncation to the run's `max_length`; no special tokens added; padding with
  id 0 (`[PAD]`).

Known differences from tensorflow-text (none occurs in SST-2 or SAMSum; see
tests/export/test_text_tokenizer.py): tensorflow-text's word limit counts
UTF-8 bytes and this one counts characters, so a word of 34 to 100 characters
that needs more than 100 bytes is `[UNK]` there and split into pieces here.
Text after a NUL character is ignored by tensorflow-text; `encode_batch` below
drops it too.
"""

import json
import os

import numpy as np
import tokenizers
from tokenizers import models
from tokenizers import normalizers
from tokenizers import pre_tokenizers

PAD_ID = 0
# FastWordpieceTokenizer's default `max_bytes_per_token`.
LONGEST_WORD = 100


def build_text_tokenizer(vocabulary, max_length, unknown_token="[UNK]", suffix_indicator="##",
                         lower_case=True):
    """A `tokenizers.Tokenizer` that gives the run's tensorflow-text token ids."""
    tokenizer = tokenizers.Tokenizer(
        models.WordPiece(
            {token: index for index, token in enumerate(vocabulary)},
            unk_token=unknown_token,
            continuing_subword_prefix=suffix_indicator,
            max_input_chars_per_word=LONGEST_WORD,
        )
    )
    tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=False, handle_chinese_chars=True, strip_accents=False, lowercase=lower_case
    )
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.enable_truncation(max_length)
    return tokenizer


def load_text_tokenizer(path):
    """The tokenizer that `save_text_tokenizer` wrote (a Hugging Face tokenizer.json)."""
    return tokenizers.Tokenizer.from_file(os.fspath(path))


def save_text_tokenizer(tokenizer, path):
    tokenizer.save(os.fspath(path))


def encode_batch(tokenizer, texts):
    """Token ids `(batch, longest)` int32, right-padded with 0; at least one column.

    The one column keeps an empty text a valid (fully padded) row, as the
    SavedModel does.
    """
    texts = [text.split("\0", 1)[0] for text in texts]
    rows = [encoding.ids for encoding in tokenizer.encode_batch(texts, add_special_tokens=False)]
    width = max([1] + [len(row) for row in rows])
    token_ids = np.full((len(rows), width), PAD_ID, dtype=np.int32)
    for index, row in enumerate(rows):
        token_ids[index, : len(row)] = row
    return token_ids


def text_tokenizer_from_settings(vocabulary_path, settings_path):
    """Builds the tokenizer from a run's `vocabulary.txt` and `tokenizer.json` settings."""
    with open(settings_path, encoding="utf-8") as file:
        settings = json.load(file)
    with open(vocabulary_path, encoding="utf-8") as file:
        vocabulary = [line.rstrip("\n") for line in file if line.rstrip("\n")]
    return build_text_tokenizer(
        vocabulary,
        settings["max_length"],
        unknown_token=settings.get("unknown_token", "[UNK]"),
        suffix_indicator=settings.get("suffix_indicator", "##"),
        lower_case=settings.get("lower_case", True),
    )
