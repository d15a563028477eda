"""Greedy and beam search in TensorFlow: one `tf.while_loop` with static shapes (XLA-ready).

The same searches as numpy_search.py, op for op; see `pipelines/decoding/__init__.py`
for the rules and the hypothesis buffer. A search is a small object built
from `DecodingSettings` and `SpecialIds` (as keras-hub's samplers): the base
class holds the rules and the loop, `GreedySearch` and `BeamSearch` say how a
step extends the hypotheses.

    search = search_for(settings, SpecialIds(pad=0, start=2, end=3))
    summary_ids = search(step, initial_state, batch_size)

`step(sequences, index, state) → (logits, state)` gives the next-token logits
`(rows, vocabulary)` after position `index` of the int32 `sequences` buffer;
`state` is any nest of tensors with one row per hypothesis (the decoder's
key/value caches), reordered with the hypotheses.
"""

import collections

import tensorflow as tf

from pipelines.decoding.settings import FORBIDDEN_SCORE

FORBIDDEN = FORBIDDEN_SCORE
_IS_SCORE = FORBIDDEN / 2  # scores above this belong to real hypotheses


class Search:
    """The rules and the loop shared by greedy and beam search.

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
        max_length = self.settings.max_length

        def not_done(index, hypotheses, state):
            return tf.logical_and(index < max_length, tf.logical_not(tf.reduce_all(self.done(hypotheses))))

        def next_token(index, hypotheses, state):
            sequences = self.sequences(hypotheses)
            logits, state = step(sequences, index, state)
            log_probs = self.constrain(tf.nn.log_softmax(tf.cast(logits, tf.float32)), sequences, index)
            hypotheses, rows = self.extend(hypotheses, log_probs, index)
            if rows is not None:
                state = tf.nest.map_structure(lambda tensor: tf.gather(tensor, rows), state)
            return index + 1, hypotheses, state

        loop_vars = (tf.constant(0, tf.int32), self.start(batch_size), initial_state)
        index, hypotheses, _ = tf.while_loop(
            not_done, next_token, loop_vars, maximum_iterations=max_length
        )
        return self.finish(hypotheses, index)

    def start_sequences(self, rows):
        """`(rows, max_length + 1)` int32: `[BOS]` then padding."""
        start, pad = self.special_ids.start, self.special_ids.pad
        return tf.concat(
            [tf.fill([rows, 1], start), tf.fill([rows, self.settings.max_length], pad)], axis=1
        )

    def constrain(self, log_probs, sequences, index):
        """Forbids `[PAD]`, `[BOS]`, `[EOS]` before `min_length` tokens, repeated n-grams
        and, unless `repeat_previous_token`, the token just generated.

        Args:
            log_probs: float32 `(rows, vocabulary)`.
            sequences: int32 `(rows, max_length + 1)`.
            index: int32 scalar. Tokens generated so far.
        """
        settings, special_ids = self.settings, self.special_ids
        vocabulary = tf.range(tf.shape(log_probs)[-1])
        never = tf.reduce_any(tf.equal(vocabulary[:, None], [special_ids.pad, special_ids.start]), axis=1)
        log_probs = tf.where(never[None, :], FORBIDDEN, log_probs)
        if settings.min_length > 0:
            too_short = tf.logical_and(index < settings.min_length, tf.equal(vocabulary, special_ids.end))
            log_probs = tf.where(too_short[None, :], FORBIDDEN, log_probs)
        if settings.no_repeat_ngram_size > 0:
            repeated = repeated_ngram_tokens(
                sequences, index, settings.no_repeat_ngram_size, tf.shape(log_probs)[-1]
            )
            log_probs = tf.where(repeated, FORBIDDEN, log_probs)
        if not settings.repeat_previous_token:
            # At index 0 the previous token is [BOS], forbidden anyway.
            previous = tf.gather(sequences, index, axis=1)
            log_probs = tf.where(tf.equal(vocabulary[None, :], previous[:, None]), FORBIDDEN, log_probs)
        return log_probs

    # What a subclass defines.
    def start(self, batch_size):
        """The hypotheses before the first step (a nest of tensors)."""
        raise NotImplementedError

    def sequences(self, hypotheses):
        """int32 `(rows, max_length + 1)`: the buffer `step` reads."""
        raise NotImplementedError

    def done(self, hypotheses):
        """bool: which documents need no more steps."""
        raise NotImplementedError

    def extend(self, hypotheses, log_probs, index):
        """`(hypotheses, rows)` after one step: `rows` reorders the step state, or is None."""
        raise NotImplementedError

    def finish(self, hypotheses, index):
        """`(sequences (batch, max_length), scores (batch,) or None)` once the loop ends."""
        raise NotImplementedError


GreedyHypotheses = collections.namedtuple("GreedyHypotheses", ["sequences", "finished"])


class GreedySearch(Search):
    """The most probable token each step until every row has `[EOS]`."""

    def start(self, batch_size):
        return GreedyHypotheses(self.start_sequences(batch_size), tf.zeros([batch_size], tf.bool))

    def sequences(self, hypotheses):
        return hypotheses.sequences

    def done(self, hypotheses):
        return hypotheses.finished

    def extend(self, hypotheses, log_probs, index):
        pad, end = self.special_ids.pad, self.special_ids.end
        tokens = tf.argmax(log_probs, axis=-1, output_type=tf.int32)
        tokens = tf.where(hypotheses.finished, pad, tokens)
        sequences = write_position(hypotheses.sequences, index + 1, tokens)
        finished = tf.logical_or(hypotheses.finished, tf.equal(tokens, end))
        return GreedyHypotheses(sequences, finished), None

    def finish(self, hypotheses, index):
        return hypotheses.sequences[:, 1:], None


BeamHypotheses = collections.namedtuple(
    "BeamHypotheses", ["sequences", "scores", "finished", "finished_scores", "done"]
)


class BeamSearch(Search):
    """Beam search with a length penalty, fairseq's bookkeeping.

    Every step scores all continuations of the `beams` live hypotheses of a
    document, keeps the best `2 × beams`, moves those that end with `[EOS]`
    *and rank within the best `beams`* to the finished set, and continues the
    best `beams` that did not end. A document is done once it has `beams`
    finished hypotheses. Finished hypotheses are ranked by
    `sum of log-probabilities / length ** length_penalty` (length counts
    `[EOS]`); if the maximum length comes first, the live hypotheses compete
    too. With one beam this is exactly greedy search.

    `step` and its state see `batch_size * beams` rows, document-major: the
    beams of document b are rows b * beams ... b * beams + beams - 1.
    """

    @property
    def beams(self):
        return self.settings.beams

    @property
    def rows_per_document(self):
        return self.settings.beams

    def start(self, batch_size):
        beams, buffer_length = self.beams, self.settings.max_length + 1
        first_beam_only = tf.concat(  # the beams start identical: expand one of them
            [tf.zeros([batch_size, 1]), tf.fill([batch_size, beams - 1], FORBIDDEN)], axis=1
        )
        return BeamHypotheses(
            tf.reshape(self.start_sequences(batch_size * beams), [batch_size, beams, buffer_length]),
            first_beam_only,
            tf.fill([batch_size, beams, buffer_length], self.special_ids.pad),
            tf.fill([batch_size, beams], FORBIDDEN),
            tf.zeros([batch_size], tf.bool),
        )

    def sequences(self, hypotheses):
        return tf.reshape(hypotheses.sequences, [-1, self.settings.max_length + 1])

    def done(self, hypotheses):
        return hypotheses.done

    def normalize(self, scores, length):
        return scores / tf.pow(tf.cast(length, tf.float32), self.settings.length_penalty)

    def extend(self, hypotheses, log_probs, index):
        batch_size, beams = rows_of(hypotheses.done), self.beams
        candidates_per_step = 2 * beams
        vocabulary_size = log_probs.shape[-1] or tf.shape(log_probs)[-1]
        sequences, scores, finished, finished_scores, done = hypotheses
        log_probs = tf.reshape(log_probs, [batch_size, beams, vocabulary_size])
        totals = tf.reshape(scores[:, :, None] + log_probs, [batch_size, beams * vocabulary_size])
        top_scores, top_indices = tf.math.top_k(totals, k=candidates_per_step)
        origins = top_indices // vocabulary_size
        tokens = top_indices % vocabulary_size
        candidates = tf.gather(sequences, origins, batch_dims=1)
        candidates = write_position(candidates, index + 1, tokens)

        ends = tf.equal(tokens, self.special_ids.end)
        in_top_beams = tf.range(candidates_per_step) < beams
        finishing = ends & in_top_beams[None, :] & tf.logical_not(done)[:, None]
        new_finished_scores = tf.where(finishing, self.normalize(top_scores, index + 1), FORBIDDEN)
        finished_scores, best = tf.math.top_k(
            tf.concat([finished_scores, new_finished_scores], axis=1), k=beams
        )
        finished = tf.gather(tf.concat([finished, candidates], axis=1), best, batch_dims=1)
        done = tf.logical_or(
            done, tf.reduce_sum(tf.cast(finished_scores > _IS_SCORE, tf.int32), axis=1) >= beams
        )

        scores, kept = tf.math.top_k(tf.where(ends, FORBIDDEN, top_scores), k=beams)
        sequences = tf.gather(candidates, kept, batch_dims=1)
        kept_origins = tf.gather(origins, kept, batch_dims=1)
        rows = tf.reshape(tf.range(batch_size)[:, None] * beams + kept_origins, [batch_size * beams])
        return BeamHypotheses(sequences, scores, finished, finished_scores, done), rows

    def finish(self, hypotheses, index):
        sequences, scores, finished, finished_scores, done = hypotheses
        # Documents without `beams` finished hypotheses let the live ones compete.
        live_scores = tf.where(done[:, None], FORBIDDEN, self.normalize(scores, index))
        all_scores = tf.concat([finished_scores, live_scores], axis=1)
        best = tf.argmax(all_scores, axis=1, output_type=tf.int32)
        best_sequences = tf.gather(tf.concat([finished, sequences], axis=1), best, batch_dims=1)
        return best_sequences[:, 1:], tf.gather(all_scores, best, batch_dims=1)


def search_for(settings, special_ids, beam_search=None):
    """`BeamSearch` for more than one beam (or if `beam_search`), else `GreedySearch`."""
    use_beams = settings.beams > 1 if beam_search is None else beam_search
    return (BeamSearch if use_beams else GreedySearch)(settings, special_ids)


def rows_of(tensor):
    """The first dimension: static where known (XLA), else dynamic (an exported batch)."""
    return tensor.shape[0] if tensor.shape[0] is not None else tf.shape(tensor)[0]


def write_position(sequences, position, tokens):
    """`sequences` with column `position` (last axis) replaced by `tokens` (static shapes)."""
    column = tf.equal(tf.range(sequences.shape[-1]), position)
    return tf.where(column, tokens[..., None], sequences)


def repeated_ngram_tokens(sequences, index, ngram_size, vocabulary_size):
    """Boolean `(rows, vocabulary)`: tokens that would complete a seen n-gram.

    The n-gram being completed is the last `ngram_size - 1` generated tokens
    plus the candidate; an earlier n-gram (of generated tokens, `[BOS]`
    excluded) with the same first `ngram_size - 1` tokens forbids its last one.
    Static shapes throughout: every start position is compared and the
    invalid ones masked, so it compiles under XLA.
    """
    rows = tf.shape(sequences)[0]
    buffer_length = sequences.shape[1]
    starts = buffer_length - ngram_size + 1  # n-grams that fit in the buffer
    if starts <= 0:
        return tf.zeros([rows, vocabulary_size], tf.bool)
    start_positions = tf.range(starts)
    # An earlier n-gram j..j+n-1 lies within the generated tokens 1..index.
    valid = (start_positions >= 1) & (start_positions + ngram_size - 1 <= index)
    matches = tf.broadcast_to(valid[None, :], [rows, starts])
    for offset in range(ngram_size - 1):
        prefix_position = tf.maximum(index - ngram_size + 2 + offset, 0)
        prefix_token = tf.gather(sequences, prefix_position, axis=1)  # (rows,)
        window = sequences[:, offset : offset + starts]
        matches &= tf.equal(window, prefix_token[:, None])
    following = sequences[:, ngram_size - 1 : ngram_size - 1 + starts]
    row_ids = tf.broadcast_to(tf.range(rows)[:, None], [rows, starts])
    indices = tf.reshape(tf.stack([row_ids, following], axis=-1), [-1, 2])
    forbidden = tf.tensor_scatter_nd_max(
        tf.zeros([rows, vocabulary_size], tf.int32),
        indices,
        tf.reshape(tf.cast(matches, tf.int32), [-1]),
    )
    return forbidden > 0
