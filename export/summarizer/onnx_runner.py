"""Summaries from the exported ONNX encoder and decoder step, with onnxruntime and numpy only.

No TensorFlow is imported here (tests/export/test_export_summarizer.py proves
it): a service installs `onnxruntime numpy tokenizers` and copies the `onnx/`
folder of an exported version:

>>> summarizer = OnnxSummarizer.load("saved_models/samsum/1/onnx")
>>> summarizer.summarize(["Anna: lunch at 1?\\nBen: sure, see you there"], beams=4)
['Anna and Ben will have lunch at 1.']

The search loops follow the pipeline's `greedy_search.py`, `beam_search.py`
and `search_constraints.py` step for step (same rules: `[PAD]`/`[BOS]` never
generated, `[EOS]` forbidden before `min_length`, no repeated n-gram of
`no_repeat_ngram_size`, beam scores divided by `length ** length_penalty`,
fairseq's bookkeeping of finished hypotheses, ties broken towards the lower
index as `tf.math.top_k` and `tf.argmax` do), in float32, so the tokens equal
the SavedModel's and the Keras model's up to float rounding of the logits;
the export's parity gate measures how often.
"""

import json
import os

import numpy as np

from export.onnx_session import FLOAT32
from export.onnx_session import create_session
from export.onnx_session import model_path
from export.summary_text import DialogueTokenizer
from pipelines.summarization.truecase import restore_case


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
        generation = config["generation"]
        self.max_length = generation["max_length"]
        self.min_length = generation["min_length"]
        self.length_penalty = generation["length_penalty"]
        self.no_repeat_ngram_size = generation["no_repeat_ngram_size"]
        self.default_beams = generation["beams"]
        self.max_document_length = config["max_document_length"]
        self.cache_shape = tuple(config["cache_shape"])
        self.decoder_layers = config["decoder_layers"]
        self.forbidden = np.float32(config["forbidden_score"])
        special = config["special_ids"]
        self.pad_id, self.start_id, self.end_id = special["pad"], special["start"], special["end"]

    @classmethod
    def load(cls, onnx_dir, intra_op_threads=1, optimization="all", precision=FLOAT32):
        """Loads an exported `onnx/` folder (config.json, the two graphs, tokenizer.json).

        `precision="int8"` loads `encoder.int8.onnx` and `decoder_step.int8.onnx`
        (exported with `--quantize int8`).
        """
        with open(os.path.join(onnx_dir, "config.json"), encoding="utf-8") as file:
            config = json.load(file)
        sessions = [
            create_session(model_path(onnx_dir, config, key, precision), intra_op_threads, optimization)
            for key in ("encoder_file", "decoder_step_file")
        ]
        tokenizer = DialogueTokenizer.load(os.path.join(onnx_dir, config["tokenizer_file"]))
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
            summaries = [restore_case(summary, document) for summary, document in zip(summaries, documents)]
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
        state = DecoderStep(self, encoded, beams)
        if beams == 1:
            return greedy_search(self, state, len(encoder_ids))
        return beam_search(self, state, len(encoder_ids), beams)

    def pad(self, document_ids):
        rows = [np.asarray(ids, np.int32) for ids in document_ids]
        rows = [row[row != self.pad_id][: self.max_document_length] for row in rows]
        width = max([1] + [len(row) for row in rows])
        encoder_ids = np.full((len(rows), width), self.pad_id, np.int32)
        for index, row in enumerate(rows):
            encoder_ids[index, : len(row)] = row
        return encoder_ids


def tokens_until_end(ids, end_id):
    """One row of `generate_ids` as a list: its tokens up to and including `[EOS]` (`end_id`)."""
    ids = [int(token) for token in ids]
    return ids[: ids.index(end_id) + 1] if end_id in ids else [token for token in ids if token]


class DecoderStep:
    """Runs `decoder_step.onnx` over `batch × beams` rows and keeps their caches."""

    def __init__(self, summarizer, encoded, beams):
        self.session = summarizer.decoder_step
        self.layers = summarizer.decoder_layers
        repeat = lambda value: np.repeat(value, beams, axis=0)  # noqa: E731 (beams of a document are adjacent)
        self.fixed = {name: repeat(value) for name, value in encoded.items()}
        rows = len(self.fixed["encoder_padding_mask"])
        self.past = [np.zeros((rows,) + summarizer.cache_shape, np.float32) for _ in range(self.layers)]
        self.output_names = ["logits"] + [f"present_key_values_{i}" for i in range(self.layers)]

    def __call__(self, sequences, index):
        feeds = {
            "token_ids": np.ascontiguousarray(sequences[:, index : index + 1]),
            "index": np.array(index, np.int32),
            **self.fixed,
        }
        feeds.update({f"past_key_values_{i}": past for i, past in enumerate(self.past)})
        logits, *self.past = self.session.run(self.output_names, feeds)
        return logits

    def reorder(self, rows):
        self.past = [np.take(past, rows, axis=0) for past in self.past]


def log_softmax(logits):
    """float32, as TensorFlow's kernel: shifted − log Σ exp(shifted)."""
    logits = logits.astype(np.float32)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def constrained_log_probs(summarizer, logits, sequences, index):
    """`apply_search_constraints` of search_constraints.py on next-token log-probabilities."""
    log_probs = log_softmax(logits)
    log_probs[:, [summarizer.pad_id, summarizer.start_id]] = summarizer.forbidden
    if index < summarizer.min_length:
        log_probs[:, summarizer.end_id] = summarizer.forbidden
    if summarizer.no_repeat_ngram_size > 0:
        log_probs[repeated_ngram_tokens(sequences, index, summarizer.no_repeat_ngram_size)] = summarizer.forbidden
    return log_probs


def repeated_ngram_tokens(sequences, index, ngram_size):
    """`(rows, token)` index pairs that would repeat an n-gram of the generated tokens 1..index."""
    prefix = sequences[:, index - ngram_size + 2 : index + 1]
    rows, tokens = [], []
    for start in range(1, index - ngram_size + 2):  # start + ngram_size - 1 <= index
        matching = np.flatnonzero((sequences[:, start : start + ngram_size - 1] == prefix).all(axis=1))
        rows.append(matching)
        tokens.append(sequences[matching, start + ngram_size - 1])
    if not rows:
        return (np.zeros(0, np.int64), np.zeros(0, np.int64))
    return np.concatenate(rows), np.concatenate(tokens)


def start_sequences(summarizer, rows):
    sequences = np.full((rows, summarizer.max_length + 1), summarizer.pad_id, np.int32)
    sequences[:, 0] = summarizer.start_id
    return sequences


def top_k(values, k):
    """Indices of the k largest values per row, descending, lower index first on ties."""
    return np.argsort(-values, axis=-1, kind="stable")[..., :k]


def greedy_search(summarizer, step, rows):
    """greedy_search.py: the most probable token each step until every row has `[EOS]`."""
    sequences = start_sequences(summarizer, rows)
    finished = np.zeros(rows, bool)
    for index in range(summarizer.max_length):
        if finished.all():
            break
        log_probs = constrained_log_probs(summarizer, step(sequences, index), sequences, index)
        tokens = np.where(finished, summarizer.pad_id, log_probs.argmax(axis=-1)).astype(np.int32)
        sequences[:, index + 1] = tokens
        finished |= tokens == summarizer.end_id
    return sequences[:, 1:]


def beam_search(summarizer, step, batch_size, beams):
    """beam_search.py: the best hypothesis per document, fairseq's bookkeeping."""
    forbidden = summarizer.forbidden
    rows = batch_size * beams
    buffer_length = summarizer.max_length + 1
    length_penalty = np.float32(summarizer.length_penalty)

    def normalize(scores, length):
        return (scores / np.power(np.float32(length), length_penalty)).astype(np.float32)

    sequences = start_sequences(summarizer, rows).reshape(batch_size, beams, buffer_length)
    scores = np.full((batch_size, beams), forbidden, np.float32)
    scores[:, 0] = 0.0  # the beams start identical: expand one of them
    finished = np.full((batch_size, beams, buffer_length), summarizer.pad_id, np.int32)
    finished_scores = np.full((batch_size, beams), forbidden, np.float32)
    done = np.zeros(batch_size, bool)
    documents = np.arange(batch_size)[:, None]
    index = 0
    while index < summarizer.max_length and not done.all():
        flat_sequences = sequences.reshape(rows, buffer_length)
        log_probs = constrained_log_probs(summarizer, step(flat_sequences, index), flat_sequences, index)
        vocabulary_size = log_probs.shape[-1]
        totals = (scores[:, :, None] + log_probs.reshape(batch_size, beams, vocabulary_size)).reshape(
            batch_size, beams * vocabulary_size
        )
        top_indices = top_k(totals, 2 * beams)
        top_scores = totals[documents, top_indices]
        origins, tokens = top_indices // vocabulary_size, (top_indices % vocabulary_size).astype(np.int32)
        candidates = sequences[documents, origins]
        candidates[:, :, index + 1] = tokens

        ends = tokens == summarizer.end_id
        in_top_beams = np.arange(2 * beams) < beams
        finishing = ends & in_top_beams[None, :] & ~done[:, None]
        new_finished_scores = np.where(finishing, normalize(top_scores, index + 1), forbidden)
        all_finished_scores = np.concatenate([finished_scores, new_finished_scores], axis=1)
        best = top_k(all_finished_scores, beams)
        finished_scores = all_finished_scores[documents, best]
        finished = np.concatenate([finished, candidates], axis=1)[documents, best]
        done |= (finished_scores > forbidden / 2).sum(axis=1) >= beams

        live_scores = np.where(ends, forbidden, top_scores).astype(np.float32)
        kept = top_k(live_scores, beams)
        scores = live_scores[documents, kept]
        sequences = candidates[documents, kept]
        step.reorder((documents * beams + origins[documents, kept]).reshape(rows))
        index += 1
    # Documents without `beams` finished hypotheses let the live ones compete.
    live_scores = np.where(done[:, None], forbidden, normalize(scores, index))
    all_scores = np.concatenate([finished_scores, live_scores], axis=1)
    best = all_scores.argmax(axis=1)
    return np.concatenate([finished, sequences], axis=1)[np.arange(batch_size), best][:, 1:]
