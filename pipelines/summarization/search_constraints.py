"""Rules applied to next-token log-probabilities before a search picks tokens.

Both searches keep hypotheses in a fixed buffer `sequences` of shape
`(rows, max_length + 1)`: position 0 holds `[BOS]`, position t the t-th
generated token, and `index` is the position of the last token written, so
`index` tokens have been generated and the next one goes to `index + 1`.
Forbidden tokens get a large finite negative log-probability (never -inf,
which turns into NaN in exported graphs and in score arithmetic).
"""

import tensorflow as tf

from keras_attention.ops import large_negative

FORBIDDEN = large_negative("float32")


def apply_search_constraints(
    log_probs, sequences, index, *, end_id, never_ids=(), min_length=0, no_repeat_ngram_size=0
):
    """Forbids `never_ids`, `[EOS]` before `min_length` tokens and repeated n-grams.

    Args:
        log_probs: float32 `(rows, vocabulary)`.
        sequences: int32 `(rows, max_length + 1)`.
        index: int32 scalar. Tokens generated so far.
        end_id: int. The `[EOS]` id.
        never_ids: sequence of int. Tokens never generated (`[PAD]`, `[BOS]`).
        min_length: int. `[EOS]` is forbidden until this many tokens exist.
        no_repeat_ngram_size: int. Forbid a token that would repeat an n-gram
            of this size already generated; 0 turns it off.

    Returns:
        The constrained `log_probs`.
    """
    vocabulary = tf.range(tf.shape(log_probs)[-1])
    if never_ids:
        never = tf.reduce_any(tf.equal(vocabulary[:, None], list(never_ids)), axis=1)
        log_probs = tf.where(never[None, :], FORBIDDEN, log_probs)
    if min_length > 0:
        too_short = tf.logical_and(
            index < min_length, tf.equal(vocabulary, end_id)
        )
        log_probs = tf.where(too_short[None, :], FORBIDDEN, log_probs)
    if no_repeat_ngram_size > 0:
        repeated = repeated_ngram_tokens(
            sequences, index, no_repeat_ngram_size, tf.shape(log_probs)[-1]
        )
        log_probs = tf.where(repeated, FORBIDDEN, log_probs)
    return log_probs


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
