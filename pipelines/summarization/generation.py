"""Compiled generation: encoder ids in, summary ids out, greedy or beam search.

One `tf.function` (XLA-compiled by default) runs the encoder and the whole
search loop. It is traced once per input shape, so inputs are padded to a few
fixed shapes: documents to the smallest of `ENCODER_BUCKETS` that fits (capped
at the model's `max_document_length`) and batches to a power of two up to
`batch_size`. Repeated calls with the same options reuse the traces.

With `use_cache=True` every step feeds one token through the decoder and its
key/value caches; with `use_cache=False` every step recomputes the decoder over
the whole (padded) prefix buffer. Both give the same tokens; the second exists
to measure what the cache saves and to test it.
"""

import numpy as np
import tensorflow as tf

from pipelines.decoding.settings import DecodingSettings
from pipelines.decoding.tf_search import search_for
from pipelines.summarization.inference import InferenceModel
from pipelines.summarization.special_tokens import SEARCH_IDS

ENCODER_BUCKETS = (32, 64, 128, 256, 512, 1024)


# The name of `DecodingSettings` before decoding had a folder of its own.
SearchOptions = DecodingSettings


class Generator:
    """Greedy or beam-search generation for one model, compiled at fixed shapes.

    Args:
        model: the Keras summarizer (see `build_summarizer`).
        options: `DecodingSettings`.
        max_document_length: int. Encoder tokens kept per document.
        batch_size: int. Documents per compiled call. Defaults to
            `options.batch_size`.
        use_cache: bool. Decode with key/value caches. Defaults to True.
        jit_compile: bool. Compile with XLA. Defaults to True.
        beam_search: bool. Beam search even with one beam (it equals greedy
            search; for tests). Defaults to `options.beams > 1`.
    """

    def __init__(
        self, model, options, *, max_document_length, batch_size=None, use_cache=True,
        jit_compile=True, beam_search=None,
    ):
        batch_size = options.batch_size if batch_size is None else batch_size
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"`batch_size` must be a positive integer. Received: {batch_size}")
        self.inference = InferenceModel(model)
        self.options = options
        self.decoder = search_for(options, SEARCH_IDS, beam_search)
        self.max_document_length = max_document_length
        self.batch_size = batch_size
        self.use_cache = use_cache
        self.generate_batch = tf.function(self.search, jit_compile=jit_compile)

    def search(self, encoder_ids):
        """Summary ids `(batch, max_length)` of padded encoder ids `(batch, length)`.

        Plain TensorFlow: `generate_batch` compiles it at fixed shapes; an
        exported SavedModel traces it with a dynamic batch and length.
        """
        batch_size = encoder_ids.shape[0]
        if batch_size is None:
            batch_size = tf.shape(encoder_ids)[0]
        encoder_outputs, padding_mask = self.inference.encode(encoder_ids)
        beams = self.decoder.rows_per_document
        if beams > 1:
            encoder_outputs = tf.repeat(encoder_outputs, beams, axis=0)
            padding_mask = tf.repeat(padding_mask, beams, axis=0)
            encoder_ids = tf.repeat(encoder_ids, beams, axis=0)
        make_step = cached_step if self.use_cache else uncached_step
        initial_state, step = make_step(
            self.inference, encoder_outputs, padding_mask, self.options.max_length, encoder_ids
        )
        return self.decoder(step, initial_state, batch_size)

    def generate_ids(self, document_ids, progress=None):
        """Summary ids for tokenized documents.

        Args:
            document_ids: list of int sequences (or a ragged/2-D array) of
                document token ids, without padding.
            progress: optional `keras.utils.Progbar`-like object; `add(n)` is
                called after every batch of n documents.

        Returns:
            int32 array `(documents, max_length)`: tokens, `[EOS]`, then 0.
        """
        documents = [np.asarray(ids, np.int32)[: self.max_document_length] for ids in document_ids]
        # Similar lengths together: fewer, tighter buckets.
        order = sorted(range(len(documents)), key=lambda i: len(documents[i]))
        outputs = np.zeros((len(documents), self.options.max_length), np.int32)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            encoder_ids = pad_batch(
                [documents[i] for i in chunk], self.batch_size, self.max_document_length
            )
            generated = self.generate_batch(tf.constant(encoder_ids)).numpy()
            outputs[chunk] = generated[: len(chunk)]
            if progress is not None:
                progress.add(len(chunk))
        return outputs

    def tracing_count(self):
        """How many times the compiled function has been traced (one per shape)."""
        return self.generate_batch.experimental_get_tracing_count()


def cached_step(inference, encoder_outputs, padding_mask, max_length, encoder_ids):
    """`(initial_state, step)` feeding one token per step through the caches."""
    decoder_state = inference.initial_state(encoder_outputs, padding_mask, max_length, encoder_ids)

    def step(sequences, index, self_attention_caches):
        token_ids = tf.gather(sequences, index, axis=1)[:, None]
        logits, state = inference.decode_step(
            token_ids, index, decoder_state._replace(self_attention_caches=self_attention_caches)
        )
        return logits, state.self_attention_caches

    return decoder_state.self_attention_caches, step


def uncached_step(inference, encoder_outputs, padding_mask, max_length, encoder_ids):
    """`(initial_state, step)` recomputing the decoder over the whole prefix buffer."""

    def step(sequences, index, state):
        logits = inference.decode(sequences[:, :max_length], encoder_outputs, padding_mask, encoder_ids)
        return tf.gather(logits, index, axis=1), state

    return (), step


def bucket_length(length, max_document_length):
    """The padded encoder length for a document of `length` tokens."""
    for bucket in ENCODER_BUCKETS:
        if bucket >= min(length, max_document_length):
            return min(bucket, max_document_length)
    return max_document_length


def batch_rows(count, batch_size):
    """Rows of a compiled batch: the smallest power of two ≥ count, at most batch_size."""
    rows = 1
    while rows < count:
        rows *= 2
    return min(rows, batch_size)


def pad_batch(documents, batch_size, max_document_length):
    """int32 `(rows, bucket)` with the documents, zero-padded; extra rows are empty."""
    longest = max(1, max(len(ids) for ids in documents))
    encoder_ids = np.zeros(
        (batch_rows(len(documents), batch_size), bucket_length(longest, max_document_length)),
        np.int32,
    )
    for row, ids in enumerate(documents):
        encoder_ids[row, : len(ids)] = ids
    return encoder_ids
