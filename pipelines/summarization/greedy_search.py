"""Greedy decoding: at every step the most probable next token, in a `tf.while_loop`."""

import tensorflow as tf

from pipelines.summarization.search_constraints import apply_search_constraints


def start_sequences(rows, max_length, start_id, pad_id):
    """`(rows, max_length + 1)` int32: `[BOS]` then padding."""
    return tf.concat(
        [tf.fill([rows, 1], start_id), tf.fill([rows, max_length], pad_id)], axis=1
    )


def write_position(sequences, position, tokens):
    """`sequences` with column `position` replaced by `tokens` (static shapes)."""
    column = tf.equal(tf.range(sequences.shape[-1]), position)
    return tf.where(column, tokens[..., None], sequences)


def greedy_search(
    step,
    initial_state,
    rows,
    max_length,
    *,
    start_id,
    end_id,
    pad_id=0,
    min_length=0,
    no_repeat_ngram_size=0,
):
    """Generates up to `max_length` tokens per row, stopping at `[EOS]`.

    Args:
        step: callable `(sequences, index, state) → (logits, state)` giving the
            next-token logits `(rows, vocabulary)` after position `index`.
        initial_state: nest of tensors passed to the first `step`.
        rows: int. Static number of rows.
        max_length: int. Most tokens generated, `[EOS]` included.
        start_id, end_id, pad_id: int. Special token ids.
        min_length: int. Tokens before `[EOS]` may be generated. `[PAD]` and
            `[BOS]` are never generated.
        no_repeat_ngram_size: int. See `apply_search_constraints`.

    Returns:
        int32 `(rows, max_length)`: the generated tokens, `[EOS]` included,
        then `pad_id`.
    """

    def not_done(index, sequences, finished, state):
        return tf.logical_and(index < max_length, tf.logical_not(tf.reduce_all(finished)))

    def next_token(index, sequences, finished, state):
        logits, state = step(sequences, index, state)
        log_probs = apply_search_constraints(
            tf.nn.log_softmax(tf.cast(logits, tf.float32)), sequences, index,
            end_id=end_id, never_ids=(pad_id, start_id), min_length=min_length,
            no_repeat_ngram_size=no_repeat_ngram_size,
        )
        tokens = tf.argmax(log_probs, axis=-1, output_type=tf.int32)
        tokens = tf.where(finished, pad_id, tokens)
        sequences = write_position(sequences, index + 1, tokens)
        finished = tf.logical_or(finished, tf.equal(tokens, end_id))
        return index + 1, sequences, finished, state

    loop_vars = (
        tf.constant(0, tf.int32),
        start_sequences(rows, max_length, start_id, pad_id),
        tf.zeros([rows], tf.bool),
        initial_state,
    )
    _, sequences, _, _ = tf.while_loop(
        not_done, next_token, loop_vars, maximum_iterations=max_length
    )
    return sequences[:, 1:]
