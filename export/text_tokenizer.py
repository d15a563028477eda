"""The run's tokenizer as a Hugging Face `tokenizers` file, for onnxruntime users.

Two kinds of run tokenizer, told apart by the `"type"` of the run's settings file
`tokenizer/tokenizer.json`:

- `"checkpoint_wordpiece"` (a run fine-tuned from a pretrained BERT-family
  checkpoint, pipelines/pretrained/tokenizer.py): the run keeps the checkpoint's
  own Hugging Face tokenizer as `tokenizer/checkpoint_tokenizer.json`, and
  `text_tokenizer_from_settings` returns it as it is, with padding off and
  truncation at the run's `max_length`. Its post-processor writes `[CLS] … [SEP]`,
  and the run's tensorflow-text `CheckpointTokenizer` was written to give its ids
  (tests/pipelines/test_pretrained_tokenizer.py checks every SST-2 and SAMSum test
  text).
- `"wordpiece"` (learned from scratch, pipelines/common/tokenizer.py): rebuilt
  here from `vocabulary.txt`, as described below.

For the from-scratch tokenizer:

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
- truncation to the run's `max_length`; no post-processor, so no special tokens
  are added (`encode_batch` asks for them, for the checkpoint kind); padding
  with id 0 (`[PAD]`).

Known differences from tensorflow-text (none occurs in SST-2 or SAMSum; see
tests/export/test_export_text_tokenizer.py): tensorflow-text's word limit counts
UTF-8 bytes and this one counts characters, so a word of 34 to 100 characters
that needs more than 100 bytes is `[UNK]` there and split into pieces here.
Text after a NUL character is ignored by tensorflow-text; `encode_batch` below
drops it too (only for this kind: a checkpoint tokenizer drops the NUL itself).
"""

import json
import os

import numpy as np
import tokenizers
from tokenizers import models
from tokenizers import normalizers
from tokenizers import pre_tokenizers

PAD_ID = 0
# The settings' "type" of a checkpoint's tokenizer and the default name of its
# Hugging Face file (pipelines/pretrained/tokenizer.py, not imported: it needs TensorFlow).
CHECKPOINT_TYPE = "checkpoint_wordpiece"
CHECKPOINT_TOKENIZER_FILE = "checkpoint_tokenizer.json"
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

    Special tokens are added where the tokenizer's post-processor writes them
    (`[CLS] … [SEP]` for a checkpoint's tokenizer; the from-scratch one has no
    post-processor and gets none). The one column keeps an empty text a valid
    (fully padded) row, as the SavedModel does.
    """
    if not cleans_text(tokenizer):
        # The from-scratch tokenizer's tensorflow-text twin stops at a NUL.
        texts = [text.split("\0", 1)[0] for text in texts]
    rows = [encoding.ids for encoding in tokenizer.encode_batch(texts, add_special_tokens=True)]
    width = max([1] + [len(row) for row in rows])
    token_ids = np.full((len(rows), width), PAD_ID, dtype=np.int32)
    for index, row in enumerate(rows):
        token_ids[index, : len(row)] = row
    return token_ids


def cleans_text(tokenizer):
    """Whether the normalizer drops control characters (NUL included), as BERT's does."""
    return bool(getattr(tokenizer.normalizer, "clean_text", False))


def text_tokenizer_from_settings(vocabulary_path, settings_path):
    """The tokenizer of a run's `vocabulary.txt` and `tokenizer.json` settings.

    For a checkpoint's tokenizer, the Hugging Face file saved beside the settings,
    with padding off and truncation at the run's `max_length` (ids, `[CLS]` and
    `[SEP]` included); otherwise one built from the vocabulary.
    """
    with open(settings_path, encoding="utf-8") as file:
        settings = json.load(file)
    if settings.get("type") == CHECKPOINT_TYPE:
        huggingface_file = settings.get("huggingface_file", CHECKPOINT_TOKENIZER_FILE)
        path = os.path.join(os.path.dirname(settings_path), huggingface_file)
        return checkpoint_text_tokenizer(path, settings["max_length"])
    with open(vocabulary_path, encoding="utf-8") as file:
        vocabulary = [line.rstrip("\n") for line in file if line.rstrip("\n")]
    return build_text_tokenizer(
        vocabulary,
        settings["max_length"],
        unknown_token=settings.get("unknown_token", "[UNK]"),
        suffix_indicator=settings.get("suffix_indicator", "##"),
        lower_case=settings.get("lower_case", True),
    )


def checkpoint_text_tokenizer(path, max_length):
    """A checkpoint's Hugging Face tokenizer file as the run uses it: no padding,
    truncation to `max_length` ids (its post-processor's `[CLS]`/`[SEP]` included)."""
    tokenizer = tokenizers.Tokenizer.from_file(os.fspath(path))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length)
    return tokenizer
