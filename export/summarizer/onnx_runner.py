"""Summaries from the exported ONNX encoder and decoder step, with onnxruntime and numpy only.

No TensorFlow is imported here (tests/export/test_export_summarizer.py proves
it): a service installs `onnxruntime numpy tokenizers` and copies the `onnx/`
folder of an exported version. With `version_dir` a summarizer's version folder
(`saved_models/samsum/1`, say):

>>> import os
>>> summarizer = OnnxSummarizer.load(os.path.join(version_dir, "onnx"))
>>> dialogue = "Anna: lunch at 1?\\nBen: sure, see you there"
>>> summary_ids = summarizer.generate_ids(summarizer.tokenize([dialogue]), beams=4)
>>> summary_ids.shape == (1, summarizer.settings.max_length)
True
>>> summarizer.summarize([dialogue], beams=4) == summarizer.texts_of(summary_ids, [dialogue])
True

A summarizer trained on all of SAMSum answers with a summary such as
`['Anna and Ben will have lunch at 1.']`.

The searches are `pipelines.decoding.numpy_search`, the NumPy side of the
pipeline's own search rules (it gives the TensorFlow side's tokens on the same
logits), so the tokens equal the SavedModel's and the Keras model's up to
float rounding of the logits; the export's parity gate measures how often.
Detokenization and truecasing are `pipelines.summarization.postprocessing.python_text`.
"""

import os

import numpy as np

from export.onnx_session import FLOAT32
from export.onnx_session import create_session
from export.onnx_session import model_path
from export.onnx_session import read_onnx_config
from export.summary_text import DialogueTokenizer
from pipelines.decoding.numpy_search import search_for
from pipelines.decoding.settings import DecodingSettings
from pipelines.decoding.settings import SpecialIds
from pipelines.summarization.postprocessing.python_text import restore_document_form


class OnnxSummarizer:
    """The ONNX summarizer of an exported version, with its tokenizer and generation settings.

    Args:
        encoder: `onnxruntime.InferenceSession` of `encoder.onnx`.
        decoder_step: `onnxruntime.InferenceSession` of `decoder_step.onnx`.
        tokenizer: `DialogueTokenizer`.
        config: dict. The exported `onnx/config.json`.
    """

    def __init__(self, encoder, decoder_step, tokenizer, config):
        self.encoder = encoder
        self.decoder_step = decoder_step
        self.tokenizer = tokenizer
        self.config = config
        self.settings = DecodingSettings.from_dict(config["generation"])
        self.special_ids = SpecialIds(**config["special_ids"])
        self.max_document_length = config["max_document_length"]
        self.cache_shape = tuple(config["cache_shape"])
        self.decoder_layers = config["decoder_layers"]

    @classmethod
    def load(
        cls, onnx_dir, intra_op_threads=1, optimization="all", precision=FLOAT32, providers=None, inter_op_threads=1
    ):
        """Loads an exported `onnx/` folder (config.json, the two graphs, tokenizer.json).

        `precision="int8"` loads `encoder.int8.onnx` and `decoder_step.int8.onnx`
        (exported with `--quantize int8`). `providers` (onnxruntime execution
        providers, CPU by default) and the thread counts go to
        `export.onnx_session.create_session`.
        """
        config = read_onnx_config(onnx_dir)
        sessions = [
            create_session(
                model_path(onnx_dir, config, key, precision), intra_op_threads, optimization, providers,
                inter_op_threads,
            )
            for key in ("encoder_file", "decoder_step_file")
        ]
        document_file = config.get("document_tokenizer_file")  # warm-started runs
        tokenizer = DialogueTokenizer.load(
            os.path.join(onnx_dir, config["tokenizer_file"]),
            None if document_file is None else os.path.join(onnx_dir, document_file),
        )
        return cls(*sessions, tokenizer, config)

    def tokenize(self, texts):
        """One list of token ids per dialogue (uncut), as the SavedModel's `tokenize`."""
        return self.tokenizer.tokenize(list(texts))

    def summarize(self, texts, beams=1, restore_capitals=True):
        """Summaries of dialogues (list of str), greedy (`beams=1`) or beam search."""
        texts = list(texts)
        summary_ids = self.generate_ids(self.tokenize(texts), beams=beams)
        return self.texts_of(summary_ids, texts if restore_capitals else None)

    def texts_of(self, summary_ids, documents=None):
        """Summary texts of generated ids; truecased from `documents` when given."""
        summaries = [self.tokenizer.detokenize(row) for row in summary_ids]
        if documents is not None:
            summaries = [restore_document_form(summary, document) for summary, document in zip(summaries, documents)]
        return summaries

    def generate_ids(self, document_ids, beams=1):
        """int32 `(documents, max_length)`: tokens, `[EOS]`, then 0; one batch.

        Args:
            document_ids: list of int sequences (cut to `max_document_length`)
                or an int array `(batch, length)` with 0 as padding.
            beams: int. 1 is greedy search.
        """
        encoder_ids = self.pad(document_ids)
        encoded = dict(zip([o.name for o in self.encoder.get_outputs()],
                           self.encoder.run(None, {"encoder_ids": encoder_ids})))
        search = search_for(self.settings.with_overrides(beams=beams), self.special_ids)
        step = DecoderStep(self, encoded, search.rows_per_document)
        return search(step, step.initial_state(), len(encoder_ids))

    def pad(self, document_ids):
        pad_id = self.special_ids.pad
        rows = [np.asarray(ids, np.int32) for ids in document_ids]
        rows = [row[row != pad_id][: self.max_document_length] for row in rows]
        width = max([1] + [len(row) for row in rows])
        encoder_ids = np.full((len(rows), width), pad_id, np.int32)
        for index, row in enumerate(rows):
            encoder_ids[index, : len(row)] = row
        return encoder_ids


def tokens_until_end(ids, end_id):
    """One row of `generate_ids` as a list: its tokens up to and including `[EOS]` (`end_id`)."""
    ids = [int(token) for token in ids]
    return ids[: ids.index(end_id) + 1] if end_id in ids else [token for token in ids if token]


class DecoderStep:
    """`step(sequences, index, past_key_values)` of the searches: `decoder_step.onnx`
    over `batch × beams` rows; the searches reorder the caches with the hypotheses."""

    def __init__(self, summarizer, encoded, beams):
        self.session = summarizer.decoder_step
        self.layers = summarizer.decoder_layers
        self.cache_shape = summarizer.cache_shape
        repeat = lambda value: np.repeat(value, beams, axis=0)  # noqa: E731 (beams of a document are adjacent)
        self.fixed = {name: repeat(value) for name, value in encoded.items()}
        self.rows = len(self.fixed["encoder_padding_mask"])
        self.output_names = ["logits"] + [f"present_key_values_{i}" for i in range(self.layers)]

    def initial_state(self):
        """Empty self-attention caches, one per decoder layer."""
        return [np.zeros((self.rows,) + self.cache_shape, np.float32) for _ in range(self.layers)]

    def __call__(self, sequences, index, past_key_values):
        feeds = {
            "token_ids": np.ascontiguousarray(sequences[:, index : index + 1]),
            "index": np.array(index, np.int32),
            **self.fixed,
        }
        feeds.update({f"past_key_values_{i}": past for i, past in enumerate(past_key_values)})
        logits, *past_key_values = self.session.run(self.output_names, feeds)
        return logits, past_key_values
