"""Beam search with a length penalty, in a `tf.while_loop` with static shapes.

The bookkeeping follows fairseq's: every step scores all continuations of the
`beams` live hypotheses, keeps the best `2 × beams`, moves those that end with
`[EOS]` *and rank within the best `beams`* to the finished set, and continues
the best `beams` that did not end. A document is done once it has `beams`
finished hypotheses. Finished hypotheses are ranked by
`sum of log-probabilities / length ** length_penalty` (length counts `[EOS]`);
if the maximum length comes first, the live hypotheses compete too. With one
beam this is exactly greedy decoding.
"""

import tensorflow as tf

from pipelines.summarization.greedy_search import start_sequences
from pipelines.summarization.greedy_search import write_position
from pipelines.summarization.search_constraints import FORBIDDEN
from pipelines.summarization.search_constraints import apply_search_constraints

_IS_SCORE = FORBIDDEN / 2  # scores above this belong to real hypotheses


def beam_search(
    step,
    initial_state,
    batch_size,
    beams,
    max_length,
    vocabulary_size,
    *,
    start_id,
    end_id,
    pad_id=0,
    min_length=0,
    no_repeat_ngram_size=0,
    length_penalty=1.0,
):
    """The best hypothesis per document.

    Args:
        step: callable `(sequences, index, state) → (logits, state)` over
            `batch_size * beams` rows (document-major: the beams of document b
            are rows b * beams ... b * beams + beams - 1).
        initial_state: nest of tensors with `batch_size * beams` rows; it is
            reordered with the hypotheses every step.
        batch_size, beams, max_length, vocabulary_size: int. Static sizes.
        start_id, end_id, pad_id: int. Special token ids.
        min_length: int. Tokens before `[EOS]` may be generated. `[PAD]` and
            `[BOS]` are never generated.
        no_repeat_ngram_size: int. See `apply_search_constraints`.
        length_penalty: float. Exponent of the length normalization; 0 ranks
            by total log-probability, larger values favour longer outputs.

    Returns:
        `(sequences, scores)`: int32 `(batch_size, max_length)` with `[EOS]`
        and then `pad_id`, and their float32 normalized scores.
    """
    rows = batch_size * beams
    buffer_length = max_length + 1
    candidates_per_step = 2 * beams

    def normalize(scores, length):
        return scores / tf.pow(tf.cast(length, tf.float32), length_penalty)

    def not_done(index, sequences, scores, finished, finished_scores, done, state):
        return tf.logical_and(index < max_length, tf.logical_not(tf.reduce_all(done)))

    def extend(index, sequences, scores, finished, finished_scores, done, state):
        flat_sequences = tf.reshape(sequences, [rows, buffer_length])
        logits, state = step(flat_sequences, index, state)
        log_probs = apply_search_constraints(
            tf.nn.log_softmax(tf.cast(logits, tf.float32)), flat_sequences, index,
            end_id=end_id, never_ids=(pad_id, start_id), min_length=min_length,
            no_repeat_ngram_size=no_repeat_ngram_size,
        )
        log_probs = tf.reshape(log_probs, [batch_size, beams, vocabulary_size])
        totals = tf.reshape(scores[:, :, None] + log_probs, [batch_size, beams * vocabulary_size])
        top_scores, top_indices = tf.math.top_k(totals, k=candidates_per_step)
        origins = top_indices // vocabulary_size
        tokens = top_indices % vocabulary_size
        candidates = tf.gather(sequences, origins, batch_dims=1)
        candidates = write_position(candidates, index + 1, tokens)

        ends = tf.equal(tokens, end_id)
        in_top_beams = tf.range(candidates_per_step) < beams
        finishing = ends & in_top_beams[None, :] & tf.logical_not(done)[:, None]
        new_finished_scores = tf.where(finishing, normalize(top_scores, index + 1), FORBIDDEN)
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
        rows_kept = tf.reshape(tf.range(batch_size)[:, None] * beams + kept_origins, [rows])
        state = tf.nest.map_structure(lambda tensor: tf.gather(tensor, rows_kept), state)
        return index + 1, sequences, scores, finished, finished_scores, done, state

    first_beam_only = tf.concat(
        [tf.zeros([batch_size, 1]), tf.fill([batch_size, beams - 1], FORBIDDEN)], axis=1
    )
    loop_vars = (
        tf.constant(0, tf.int32),
        tf.reshape(
            start_sequences(rows, max_length, start_id, pad_id), [batch_size, beams, buffer_length]
        ),
        first_beam_only,  # the beams start identical: expand one of them
        tf.fill([batch_size, beams, buffer_length], pad_id),
        tf.fill([batch_size, beams], FORBIDDEN),
        tf.zeros([batch_size], tf.bool),
        initial_state,
    )
    index, sequences, scores, finished, finished_scores, done, _ = tf.while_loop(
        not_done, extend, loop_vars, maximum_iterations=max_length
    )
    # Documents without `beams` finished hypotheses let the live ones compete.
    live_scores = tf.where(done[:, None], FORBIDDEN, normalize(scores, index))
    all_scores = tf.concat([finished_scores, live_scores], axis=1)
    best = tf.argmax(all_scores, axis=1, output_type=tf.int32)
    best_sequences = tf.gather(tf.concat([finished, sequences], axis=1), best, batch_dims=1)
    return best_sequences[:, 1:], tf.gather(all_scores, best, batch_dims=1)
