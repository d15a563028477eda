"""Dialogue tokenization and summary detokenization without TensorFlow.

The onnxruntime side of the summarizer must go from raw dialogues to the
pipeline's exact summary text with `tokenizers`, numpy and the standard
library alone. This module reproduces, step by step:

- `SummarizationTokenizer.tokenize`: whitespace around line breaks collapsed
  to one `\\n`, stripping, lower-casing, one WordPiece pass per line (the run's
  vocabulary in a Hugging Face `tokenizers` WordPiece; see text_tokenizer.py)
  and the lines joined by `[NL]`.
- detokenization and truecasing: `pipelines.summarization.postprocessing.python_text`,
  the pipeline's own plain-Python side of them (the package imports its
  TensorFlow modules lazily).

tests/export/test_export_summarizer.py proves the tokenization equals the
pipeline's on all SAMSum test dialogues; tests/pipelines/test_summary_postprocessing.py
does the same for the text post-processing.
"""

import re

from export.text_tokenizer import build_text_tokenizer
from export.text_tokenizer import load_text_tokenizer
from pipelines.summarization.postprocessing import python_text
from pipelines.summarization.special_tokens import NEWLINE_ID

# No truncation: documents are cut to the model's length after tokenization.
_UNTRUNCATED = 1 << 30

# `tf.strings.regex_replace(texts, r"\s*[\r\n]\s*", "\n")` and `tf.strings.strip` (ASCII).
_LINE_BREAK_SPACE = re.compile(r"[\t\n\f\r ]*[\r\n][\t\n\f\r ]*")
_ASCII_SPACE = "\t\n\v\f\r "


class DialogueTokenizer:
    """The summarization run's tokenizer on `tokenizers`: texts ↔ token ids.

    Args:
        tokenizer: `tokenizers.Tokenizer` from `build_dialogue_tokenizer` (or
            the exported `tokenizer.json`): the summaries' vocabulary, and the
            documents' too unless `document_tokenizer` is given.
        document_tokenizer: `tokenizers.Tokenizer` of a warm-started run's
            checkpoint (the exported `document_tokenizer.json`): `[CLS]
            pieces… [SEP]`, truncated to the encoder's length, as the run's
            `WarmStartTokenizer.tokenize`. Defaults to None.
    """

    def __init__(self, tokenizer, document_tokenizer=None):
        self.tokenizer = tokenizer
        self.document_tokenizer = document_tokenizer
        vocabulary = tokenizer.get_vocab()
        self.vocabulary = [None] * len(vocabulary)
        for token, index in vocabulary.items():
            self.vocabulary[index] = token

    @classmethod
    def load(cls, path, document_path=None):
        document_tokenizer = None if document_path is None else load_text_tokenizer(document_path)
        return cls(load_text_tokenizer(path), document_tokenizer)

    def tokenize(self, texts):
        """One list of int ids per text, as the run tokenizer's `tokenize` gives."""
        if self.document_tokenizer is not None:
            encodings = self.document_tokenizer.encode_batch(list(texts), add_special_tokens=True)
            return [encoding.ids for encoding in encodings]
        documents = []
        for text in texts:
            # Lower-casing happens in the tokenizer's normalizer (text_tokenizer.py).
            text = _LINE_BREAK_SPACE.sub("\n", text).strip(_ASCII_SPACE)
            # tensorflow-text reads each line up to a NUL.
            lines = [line.split("\0", 1)[0] for line in text.split("\n")]
            encodings = self.tokenizer.encode_batch(lines, add_special_tokens=False)
            ids = []
            for index, encoding in enumerate(encodings):
                if index:
                    ids.append(NEWLINE_ID)
                ids.extend(encoding.ids)
            documents.append(ids)
        return documents

    def detokenize(self, token_ids):
        """The text of one summary's ids, as `SummarizationTokenizer.detokenize` gives."""
        return python_text.detokenize(token_ids, self.vocabulary)


def build_dialogue_tokenizer(vocabulary):
    """A `tokenizers.Tokenizer` with the run's vocabulary (lower-case WordPiece, no truncation)."""
    tokenizer = build_text_tokenizer(vocabulary, _UNTRUNCATED)
    tokenizer.no_truncation()
    return tokenizer
