"""`tf.data` pipelines from texts to batches of padded token ids.

Tokenization runs inside the pipeline with the run's `WordPieceTokenizer`.
Training batches are bucketed by length (short phrases are batched with short
phrases) and padded to the bucket's length; evaluation batches keep the input
order and are padded to the smallest bucket that fits (callers sort texts by
length first, `length_order`, where the order is theirs to restore). Either way every batch
has one of a few fixed lengths, so XLA (`--jit-compile`) compiles a handful of
shapes instead of one per batch.
"""

import math

import numpy as np
import tensorflow as tf

from pipelines.common.text_input import check_texts
from pipelines.common.tokenizer import dense_to_width

# Lengths batches are padded to (plus max_length itself).
PADDED_LENGTHS = (8, 16, 32, 64, 128, 256, 512, 1024)
# Texts per batch when nothing is learnt (validation, evaluation, prediction).
EVALUATION_BATCH_SIZE = 256


def padded_lengths(max_length):
    """The bucket lengths used for sequences of at most `max_length` tokens."""
    return tuple(length for length in PADDED_LENGTHS if length < max_length) + (max_length,)


def make_dataset(
    texts,
    label_ids=None,
    *,
    tokenizer,
    num_classes=None,
    batch_size=64,
    shuffle=False,
    seed=None,
):
    """Batches of `(token_ids, one_hot_labels)`, or of `token_ids` without labels.

    Args:
        texts: list of str.
        label_ids: int array of class ids, or None for prediction.
        tokenizer: `WordPieceTokenizer`.
        num_classes: int. Width of the one-hot labels (one-hot so the loss can
            smooth labels). Required with `label_ids`.
        batch_size: int. Defaults to 64.
        shuffle: bool. Shuffle every epoch and bucket by length (training).
            Otherwise batches keep the input order. Defaults to False.
        seed: int. Shuffle seed.

    Returns:
        A prefetching `tf.data.Dataset`; token ids are int32 `(batch, length)`,
        0 = padding.
    """
    texts = tf.constant(list(texts), dtype=tf.string)
    if label_ids is not None and num_classes is None:
        raise ValueError("`num_classes` is required with `label_ids`.")
    if shuffle:
        dataset = bucketed_batches(texts, label_ids, tokenizer, batch_size, seed)
    else:
        dataset = ordered_batches(texts, label_ids, tokenizer, batch_size)
    if label_ids is not None:
        dataset = dataset.map(
            lambda ids, labels: (ids, tf.one_hot(labels, num_classes)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return dataset.prefetch(tf.data.AUTOTUNE)


def bucketed_batches(texts, label_ids, tokenizer, batch_size, seed):
    labels = tf.constant(np.asarray(label_ids, dtype=np.int32))
    dataset = tf.data.Dataset.from_tensor_slices((texts, labels))
    dataset = dataset.map(
        lambda text, label: (tokenize_one(tokenizer, text), label),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    dataset = dataset.cache()  # tokenize once; every later epoch reads ids
    dataset = dataset.shuffle(len(texts), seed=seed, reshuffle_each_iteration=True)
    boundaries = bucket_boundaries(tokenizer.max_length)
    dataset = dataset.bucket_by_sequence_length(
        element_length_func=lambda ids, label: tf.shape(ids)[0],
        bucket_boundaries=boundaries,
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        pad_to_bucket_boundary=True,
    )
    # The batch count is the same every epoch (bucket membership does not
    # depend on the order); telling tf.data lets Keras show a full progress bar.
    sequence_lengths = tokenizer.tokenize_ragged(texts).row_lengths().numpy()
    count = count_bucketed_batches(sequence_lengths, batch_size, tokenizer.max_length)
    return dataset.apply(tf.data.experimental.assert_cardinality(count))


def bucket_boundaries(max_length):
    # A bucket holds lengths < its boundary and is padded to boundary - 1.
    return [length + 1 for length in padded_lengths(max_length)]


def count_bucketed_batches(sequence_lengths, batch_size, max_length):
    """The number of batches `bucket_by_sequence_length` makes of these lengths."""
    buckets = np.searchsorted(bucket_boundaries(max_length), sequence_lengths, side="right")
    sizes = np.bincount(buckets)
    return int(sum(math.ceil(size / batch_size) for size in sizes))


def ordered_batches(texts, label_ids, tokenizer, batch_size):
    lengths = tf.constant(padded_lengths(tokenizer.max_length), dtype=tf.int32)

    def tokenize_batch(batch_texts):
        ragged = tokenizer.tokenize_ragged(batch_texts)
        longest = tf.maximum(tf.reduce_max(ragged.row_lengths()), 1)
        width = tf.reduce_min(tf.boolean_mask(lengths, lengths >= tf.cast(longest, tf.int32)))
        return dense_to_width(ragged.to_tensor(default_value=0), width)

    if label_ids is None:
        dataset = tf.data.Dataset.from_tensor_slices(texts).batch(batch_size)
        return dataset.map(tokenize_batch, num_parallel_calls=tf.data.AUTOTUNE)
    labels = tf.constant(np.asarray(label_ids, dtype=np.int32))
    dataset = tf.data.Dataset.from_tensor_slices((texts, labels)).batch(batch_size)
    return dataset.map(
        lambda batch_texts, batch_labels: (tokenize_batch(batch_texts), batch_labels),
        num_parallel_calls=tf.data.AUTOTUNE,
    )


def length_order(texts, tokenizer):
    """Indices that sort `texts` by token count (stable).

    Evaluation and prediction batch texts in this order and put the answers back
    in input order: in input order every batch is padded to its longest text
    (most of SST-2's 256-phrase batches to 64 tokens, for phrases of 13 on
    average), in this order to about its own length.
    """
    lengths = tokenizer.tokenize_ragged(tf.constant(list(texts), dtype=tf.string)).row_lengths().numpy()
    return np.argsort(lengths, kind="stable")


def length_ordered_dataset(texts, label_ids=None, *, tokenizer, num_classes=None, batch_size=EVALUATION_BATCH_SIZE):
    """`(dataset, order)`: `make_dataset` of `texts` sorted by token count (`length_order`),
    and that order; `answers[order] = model.predict(dataset)` puts answers back in input order."""
    order = length_order(texts, tokenizer)
    ordered_ids = None if label_ids is None else np.asarray(label_ids)[order]
    dataset = make_dataset(
        [texts[index] for index in order],
        ordered_ids,
        tokenizer=tokenizer,
        num_classes=num_classes,
        batch_size=batch_size,
    )
    return dataset, order


def predict_in_input_order(predict, texts, *, tokenizer, num_classes, batch_size=EVALUATION_BATCH_SIZE, **arguments):
    """Class probabilities `(len(texts), num_classes)` of `texts`, in input order.

    `predict` is a Keras model's `predict`, run with `arguments` on batches sorted by
    length. Texts are cut to the tokenizer's `max_length`; an empty text gets the answer
    for a fully padded row. Anything but a list of UTF-8 texts is a `UserInputError`.
    """
    texts = check_texts(texts)
    if not texts:
        return np.zeros((0, num_classes), dtype=np.float32)
    dataset, order = length_ordered_dataset(texts, tokenizer=tokenizer, batch_size=batch_size)
    probabilities = np.empty((len(texts), num_classes), dtype=np.float32)
    probabilities[order] = predict(dataset, **arguments)
    return probabilities


def tokenize_one(tokenizer, text):
    """Token ids (1-D) of one scalar string."""
    return tokenizer.tokenize_ragged(tf.reshape(text, [1])).flat_values
