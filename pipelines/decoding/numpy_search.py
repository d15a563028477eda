"""Greedy and beam search in NumPy: the searches of tf_search.py, step for step, without TensorFlow.

The onnxruntime runner (export/summarizer/onnx_runner.py) decodes with these where
TensorFlow is not installed, so this module imports NumPy alone. Everything is
float32 and ties go to the lower index, as `tf.math.top_k` and `tf.argmax`
break them, so both give the same tokens on the same logits
(tests/pipelines/test_decoding.py checks it); exported models differ only by
the float rounding of the logits, which the export's parity gate measures.

    search = search_for(settings, SpecialIds(pad=0, start=2, end=3))
    summary_ids = search(step, initial_state, batch_size)

`step(sequences, index, state) → (logits, state)` as in tf_search.py, on
NumPy arrays; `state` is an array, or a list, tuple or dict of them, with one
row per hypothesis, reordered with the hypotheses.
"""

import collections

import numpy as np

from pipelines.decoding.settings import FORBIDDEN_SCORE

FORBIDDEN = np.float32(FORBIDDEN_SCORE)
_IS_SCORE = FORBIDDEN / 2  # scores above this belong to real hypotheses


class Search:
    """The rules and the loop shared by greedy and beam search (see tf_search.Search).

    Args:
        settings: `DecodingSettings`.
        special_ids: `SpecialIds`.
    """

    def __init__(self, settings, special_ids):
        self.settings = settings
        self.special_ids = special_ids

    @property
    def rows_per_document(self):
        """Rows `step` and its state have per document (the beams)."""
        return 1

    def __call__(self, step, initial_state, batch_size):
        """int32 `(batch_size, max_length)`: tokens, `[EOS]`, then `pad`."""
        return self.run_loop(step, initial_state, batch_size)[0]

    def run_loop(self, step, initial_state, batch_size):
        """`(sequences, scores)`: the best hypothesis per document and its score
        (beam search's normalized score; None for greedy search)."""
        hypotheses, state, index = self.start(batch_size), initial_state, 0
        while index < self.settings.max_length and not self.done(hypotheses).all():
            sequences = self.sequences(hypotheses)
            logits, state = step(sequences, index, state)
            log_probs = self.constrain(log_softmax(logits), sequences, index)
            hypotheses, rows = self.extend(hypotheses, log_probs, index)
            if rows is not None:
                state = take_rows(state, rows)
            index += 1
        return self.finish(hypotheses, index)

    def start_sequences(self, rows):
        """`(rows, max_length + 1)` int32: `[BOS]` then padding."""
        sequences = np.full((rows, self.settings.max_length + 1), self.special_ids.pad, np.int32)
        sequences[:, 0] = self.special_ids.start
        return sequences

    def constrain(self, log_probs, sequences, index):
        """Forbids `[PAD]`, `[BOS]`, `[EOS]` before `min_length` tokens, repeated n-grams
        and, unless `repeat_previous_token`, the token just generated (in place on the
        float32 `(rows, vocabulary)` log-probabilities)."""
        settings, special_ids = self.settings, self.special_ids
        log_probs[:, [special_ids.pad, special_ids.start]] = FORBIDDEN
        if index < settings.min_length:
            log_probs[:, special_ids.end] = FORBIDDEN
        if settings.no_repeat_ngram_size > 0:
            log_probs[repeated_ngram_tokens(sequences, index, settings.no_repeat_ngram_size)] = FORBIDDEN
        if not settings.repeat_previous_token:
            log_probs[np.arange(len(log_probs)), sequences[:, index]] = FORBIDDEN
        return log_probs


GreedyHypotheses = collections.namedtuple("GreedyHypotheses", ["sequences", "finished"])


class GreedySearch(Search):
    """The most probable token each step until every row has `[EOS]`."""

    def start(self, batch_size):
        return GreedyHypotheses(self.start_sequences(batch_size), np.zeros(batch_size, bool))

    def sequences(self, hypotheses):
        return hypotheses.sequences

    def done(self, hypotheses):
        return hypotheses.finished

    def extend(self, hypotheses, log_probs, index):
        sequences, finished = hypotheses
        tokens = np.where(finished, self.special_ids.pad, log_probs.argmax(axis=-1)).astype(np.int32)
        sequences[:, index + 1] = tokens
        return GreedyHypotheses(sequences, finished | (tokens == self.special_ids.end)), None

    def finish(self, hypotheses, index):
        return hypotheses.sequences[:, 1:], None


BeamHypotheses = collections.namedtuple(
    "BeamHypotheses", ["sequences", "scores", "finished", "finished_scores", "done"]
)


class BeamSearch(Search):
    """Beam search with a length penalty, fairseq's bookkeeping (see tf_search.BeamSearch)."""

    @property
    def beams(self):
        return self.settings.beams

    @property
    def rows_per_document(self):
        return self.settings.beams

    def start(self, batch_size):
        beams, buffer_length = self.beams, self.settings.max_length + 1
        scores = np.full((batch_size, beams), FORBIDDEN, np.float32)
        scores[:, 0] = 0.0  # the beams start identical: expand one of them
        return BeamHypotheses(
            self.start_sequences(batch_size * beams).reshape(batch_size, beams, buffer_length),
            scores,
            np.full((batch_size, beams, buffer_length), self.special_ids.pad, np.int32),
            np.full((batch_size, beams), FORBIDDEN, np.float32),
            np.zeros(batch_size, bool),
        )

    def sequences(self, hypotheses):
        return hypotheses.sequences.reshape(-1, self.settings.max_length + 1)

    def done(self, hypotheses):
        return hypotheses.done

    def normalize(self, scores, length):
        length_penalty = np.float32(self.settings.length_penalty)
        return (scores / np.power(np.float32(length), length_penalty)).astype(np.float32)

    def extend(self, hypotheses, log_probs, index):
        sequences, scores, finished, finished_scores, done = hypotheses
        batch_size, beams = len(done), self.beams
        documents = np.arange(batch_size)[:, None]
        vocabulary_size = log_probs.shape[-1]
        totals = (scores[:, :, None] + log_probs.reshape(batch_size, beams, vocabulary_size)).reshape(
            batch_size, beams * vocabulary_size
        )
        top_indices = top_k(totals, 2 * beams)
        top_scores = totals[documents, top_indices]
        origins, tokens = top_indices // vocabulary_size, (top_indices % vocabulary_size).astype(np.int32)
        candidates = sequences[documents, origins]
        candidates[:, :, index + 1] = tokens

        ends = tokens == self.special_ids.end
        in_top_beams = np.arange(2 * beams) < beams
        finishing = ends & in_top_beams[None, :] & ~done[:, None]
        new_finished_scores = np.where(finishing, self.normalize(top_scores, index + 1), FORBIDDEN)
        all_finished_scores = np.concatenate([finished_scores, new_finished_scores], axis=1)
        best = top_k(all_finished_scores, beams)
        finished_scores = all_finished_scores[documents, best]
        finished = np.concatenate([finished, candidates], axis=1)[documents, best]
        done = done | ((finished_scores > _IS_SCORE).sum(axis=1) >= beams)

        live_scores = np.where(ends, FORBIDDEN, top_scores).astype(np.float32)
        kept = top_k(live_scores, beams)
        rows = (documents * beams + origins[documents, kept]).reshape(batch_size * beams)
        hypotheses = BeamHypotheses(
            candidates[documents, kept], live_scores[documents, kept], finished, finished_scores, done
        )
        return hypotheses, rows

    def finish(self, hypotheses, index):
        sequences, scores, finished, finished_scores, done = hypotheses
        # Documents without `beams` finished hypotheses let the live ones compete.
        live_scores = np.where(done[:, None], FORBIDDEN, self.normalize(scores, index))
        all_scores = np.concatenate([finished_scores, live_scores], axis=1)
        best = all_scores.argmax(axis=1)
        documents = np.arange(len(done))
        best_sequences = np.concatenate([finished, sequences], axis=1)[documents, best]
        return best_sequences[:, 1:], all_scores[documents, best]


def search_for(settings, special_ids, beam_search=None):
    """`BeamSearch` for more than one beam (or if `beam_search`), else `GreedySearch`."""
    use_beams = settings.beams > 1 if beam_search is None else beam_search
    return (BeamSearch if use_beams else GreedySearch)(settings, special_ids)


def log_softmax(logits):
    """float32, as TensorFlow's kernel: shifted − log Σ exp(shifted)."""
    logits = np.asarray(logits, np.float32)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def top_k(values, k):
    """Indices of the k largest values per row, descending, lower index first on ties."""
    return np.argsort(-values, axis=-1, kind="stable")[..., :k]


def take_rows(state, rows):
    """`state` (an array, or a list, tuple or dict of them) with its rows reordered."""
    if isinstance(state, dict):
        return {key: take_rows(value, rows) for key, value in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(take_rows(value, rows) for value in state)
    return np.take(state, rows, axis=0)


def repeated_ngram_tokens(sequences, index, ngram_size):
    """`(rows, tokens)` index arrays: tokens that would repeat an n-gram of the
    generated tokens 1..index (see tf_search.repeated_ngram_tokens)."""
    prefix = sequences[:, index - ngram_size + 2 : index + 1]
    rows, tokens = [], []
    for start in range(1, index - ngram_size + 2):  # start + ngram_size - 1 <= index
        matching = np.flatnonzero((sequences[:, start : start + ngram_size - 1] == prefix).all(axis=1))
        rows.append(matching)
        tokens.append(sequences[matching, start + ngram_size - 1])
    if not rows:
        return (np.zeros(0, np.int64), np.zeros(0, np.int64))
    return np.concatenate(rows), np.concatenate(tokens)
