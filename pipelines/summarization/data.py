"""`tf.data` pipelines from (document, summary) texts to teacher-forcing batches.

Each example becomes

    encoder_ids = document ids, cut to `max_document_length`
    decoder_ids = [BOS] + summary ids          (cut to `max_summary_length`)
    labels      = summary ids + [EOS]          (cut to `max_summary_length`)

so the decoder input at step t is the target of step t - 1 (teacher forcing).
A summary that is cut keeps no [EOS]: the model is never taught to stop in the
middle of a sentence. Batches are padded with 0 (`[PAD]`), and the third
element, `sample_weight`, is 1 on real label tokens and 0 on padding, so the
loss and the metrics average over real tokens only.

Training batches are drawn from shuffled windows sorted by document length
(little padding, still random order); the number of batches per epoch is exact,
so the progress bar has a total. Tokenization runs once, in the pipeline, and
is cached.
"""

import math

import tensorflow as tf

from pipelines.summarization.model import DECODER_IDS
from pipelines.summarization.model import ENCODER_IDS
from pipelines.summarization.tokenizer import END_ID
from pipelines.summarization.tokenizer import START_ID

_WINDOW_BATCHES = 32  # batches per length-sorted window
_TOKENIZE_CHUNK = 256  # texts tokenized per call (vectorized)


def teacher_forcing_example(document_ids, summary_ids, max_document_length, max_summary_length):
    """The `(inputs, labels)` of one tokenized example (1-D int32 tensors)."""
    start = tf.constant([START_ID], tf.int32)
    end = tf.constant([END_ID], tf.int32)
    inputs = {
        ENCODER_IDS: document_ids[:max_document_length],
        DECODER_IDS: tf.concat([start, summary_ids], 0)[:max_summary_length],
    }
    labels = tf.concat([summary_ids, end], 0)[:max_summary_length]
    return inputs, labels


def tokenized_examples(documents, summaries, tokenizer, max_document_length, max_summary_length):
    """Unbatched `(inputs, labels)` examples, tokenized in vectorized chunks."""
    dataset = tf.data.Dataset.from_tensor_slices(
        (tf.constant(list(documents), tf.string), tf.constant(list(summaries), tf.string))
    ).batch(_TOKENIZE_CHUNK)
    dataset = dataset.map(
        lambda document, summary: (tokenizer.tokenize(document), tokenizer.tokenize_summaries(summary)),
        num_parallel_calls=tf.data.AUTOTUNE,
    ).unbatch()
    # Unbatched ragged rows are rank-0-ragged specs; make them plain tensors.
    return dataset.map(
        lambda document, summary: teacher_forcing_example(
            tf.convert_to_tensor(document), tf.convert_to_tensor(summary),
            max_document_length, max_summary_length,
        ),
        num_parallel_calls=tf.data.AUTOTUNE,
    )


def with_sample_weight(inputs, labels):
    return inputs, labels, tf.cast(tf.not_equal(labels, 0), tf.float32)


def make_dataset(
    documents,
    summaries,
    *,
    tokenizer,
    max_document_length,
    max_summary_length,
    batch_size=32,
    shuffle=False,
    seed=None,
):
    """Batches of `({"encoder_ids", "decoder_ids"}, labels, sample_weight)`.

    Args:
        documents: list of str.
        summaries: list of str, parallel to `documents`.
        tokenizer: `SummarizationTokenizer` or `WarmStartTokenizer`.
        max_document_length: int. Encoder tokens kept per document.
        max_summary_length: int. Decoder steps per summary (with [BOS]/[EOS]).
        batch_size: int. Defaults to 32.
        shuffle: bool. Reshuffle every epoch and batch documents of similar
            length together (training). Otherwise keep the input order.
        seed: int. Shuffle seed.

    Returns:
        A prefetching `tf.data.Dataset` of int32 ids `(batch, length)`, padded
        with 0, with a known number of batches.
    """
    if len(documents) != len(summaries):
        raise ValueError(
            f"documents and summaries differ in number: {len(documents)} vs {len(summaries)}"
        )
    if not documents:
        raise ValueError("No examples to make a dataset of.")
    dataset = tokenized_examples(
        documents, summaries, tokenizer, max_document_length, max_summary_length
    ).cache()  # tokenize once; later epochs read ids
    if shuffle:
        dataset = dataset.shuffle(len(documents), seed=seed, reshuffle_each_iteration=True)
        dataset = sort_windows_by_length(dataset, batch_size * _WINDOW_BATCHES)
    dataset = dataset.padded_batch(batch_size)
    if shuffle:
        dataset = dataset.shuffle(_WINDOW_BATCHES, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.map(with_sample_weight, num_parallel_calls=tf.data.AUTOTUNE)
    # Windows are cut into batches in order, so the count is exactly this.
    batches = math.ceil(len(documents) / batch_size)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(batches))
    return dataset.prefetch(tf.data.AUTOTUNE)


def sort_windows_by_length(dataset, window_size):
    """Reorders each window of `window_size` examples by document length."""

    def sort_window(inputs, labels):
        order = tf.argsort(inputs[ENCODER_IDS].row_lengths())
        gather = lambda ragged: tf.gather(ragged, order)
        return tf.nest.map_structure(gather, inputs), gather(labels)

    dataset = dataset.ragged_batch(window_size).map(sort_window).unbatch()
    return dataset.map(lambda inputs, labels: tf.nest.map_structure(
        tf.convert_to_tensor, (inputs, labels)
    ))
