"""The tokenizers of a warm-started summarizer, and loading either kind from a run.

Documents go to the checkpoint's encoder, so they are tokenized as the
checkpoint was trained: `CheckpointTokenizer`, `[CLS] pieces… [SEP]`. Summaries
are the decoder's: `SummarizationTokenizer` over the decoder vocabulary (the
checkpoint pieces the training summaries use, `warm_start.decoder_vocabulary`),
which keeps line breaks as `[NL]`, ends with `[EOS]` and detokenizes.

    RUN_DIR/tokenizer/
      tokenizer.json        {"type": "warm_start", "documents": ..., "summaries": ...}
      documents/            the checkpoint tokenizer (vocabulary, settings, Hugging Face file)
      summaries/            the decoder vocabulary and its settings
"""

import os

import tensorflow as tf

from pipelines.common.atomic import write_json_atomic
from pipelines.common.errors import UserInputError
from pipelines.common.run_files import read_json_file
from pipelines.pretrained.tokenizer import CheckpointTokenizer
from pipelines.summarization.tokenizer import SETTINGS_FILE
from pipelines.summarization.tokenizer import TOKENIZER_TYPE
from pipelines.summarization.tokenizer import SummarizationTokenizer

WARM_START_TYPE = "warm_start"
DOCUMENTS_FOLDER = "documents"
SUMMARIES_FOLDER = "summaries"


class WarmStartTokenizer(tf.Module):
    """Documents by the checkpoint's tokenizer; summaries by the decoder's.

    The interface of `SummarizationTokenizer`: `tokenize` (documents),
    `tokenize_summaries`, `detokenize` (summary ids), `vocabulary` (the
    decoder's), `save` and `load`.

    Args:
        document_tokenizer: `CheckpointTokenizer`. Its `max_length` is the
            encoder's input length.
        summary_tokenizer: `SummarizationTokenizer` over the decoder vocabulary.
    """

    def __init__(self, document_tokenizer, summary_tokenizer, name=None):
        super().__init__(name=name)
        self.document_tokenizer = document_tokenizer
        self.summary_tokenizer = summary_tokenizer

    @property
    def vocabulary(self):
        return self.summary_tokenizer.vocabulary

    @property
    def vocabulary_size(self):
        return self.summary_tokenizer.vocabulary_size

    def tokenize(self, texts):
        """Document ids, ragged int32 `(batch, None)`: `[CLS] pieces… [SEP]`, cut to fit."""
        return self.document_tokenizer.tokenize_ragged(texts)

    def tokenize_summaries(self, texts):
        """Summary ids in the decoder vocabulary, ragged int32 `(batch, None)`."""
        return self.summary_tokenizer.tokenize(texts)

    def detokenize(self, token_ids):
        """Texts of summary ids (see `SummarizationTokenizer.detokenize`)."""
        return self.summary_tokenizer.detokenize(token_ids)

    def save(self, directory):
        self.document_tokenizer.save(os.path.join(directory, DOCUMENTS_FOLDER))
        self.summary_tokenizer.save(os.path.join(directory, SUMMARIES_FOLDER))
        write_json_atomic(
            os.path.join(directory, SETTINGS_FILE),
            {"type": WARM_START_TYPE, "documents": DOCUMENTS_FOLDER, "summaries": SUMMARIES_FOLDER},
        )

    @classmethod
    def load(cls, directory):
        settings = read_json_file(os.path.join(directory, SETTINGS_FILE))
        return cls(
            CheckpointTokenizer.load(os.path.join(directory, settings["documents"])),
            SummarizationTokenizer.load(os.path.join(directory, settings["summaries"])),
        )


def load_tokenizer(directory):
    """The tokenizer a summarization run saved in `directory`, of either kind."""
    settings_path = os.path.join(directory, SETTINGS_FILE)
    kind = read_json_file(settings_path).get("type")
    if kind == WARM_START_TYPE:
        return WarmStartTokenizer.load(directory)
    if kind == TOKENIZER_TYPE:
        return SummarizationTokenizer.load(directory)
    raise UserInputError(
        f"{settings_path}: a {kind!r} tokenizer, not a summarization one; point at a run "
        "directory written by `pipelines.summarization train`"
    )
