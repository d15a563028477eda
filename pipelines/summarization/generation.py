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

import dataclasses

import numpy as np
import tensorflow as tf

from pipelines.summarization.beam_search import beam_search
from pipelines.summarization.greedy_search import greedy_search
from pipelines.summarization.inference import InferenceModel
from pipelines.summarization.tokenizer import END_ID
from pipelines.summarization.tokenizer import PAD_ID
from pipelines.summarization.tokenizer import START_ID

ENCODER_BUCKETS = (32, 64, 128, 256, 512, 1024)


@dataclasses.dataclass(frozen=True)
class SearchOptions:
    """How to decode.

    Attributes:
        beams: int. 1 is greedy search (unless `beam_search=True`).
        max_length: int. Most tokens generated per summary, `[EOS]` included.
        min_length: int. Tokens before `[EOS]` may be generated.
        length_penalty: float. Beam scores are divided by length ** this.
        no_repeat_ngram_size: int. Forbid repeating an n-gram; 0 turns it off.
        beam_search: bool. Use beam search even with one beam (equals greedy;
            for tests). Defaults to `beams > 1`.
    """

    beams: int = 1
    max_length: int = 80
    min_length: int = 0
    length_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    beam_search: bool = None

    def __post_init__(self):
        for name in ("beams", "max_length"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value}")
        for name in ("min_length", "no_repeat_ngram_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"`{name}` must be an integer >= 0. Received: {name}={value}")
        if self.min_length >= self.max_length:
            raise ValueError(
                "`min_length` must be below `max_length`. "
                f"Received: min_length={self.min_length}, max_length={self.max_length}"
            )

    @property
    def uses_beam_search(self):
        return self.beams > 1 if self.beam_search is None else self.beam_search


class Generator:
    """Greedy or beam-search generation for one model, compiled at fixed shapes.

    Args:
        model: the Keras summarizer (see `build_summarizer`).
        options: `SearchOptions`.
        max_document_length: int. Encoder tokens kept per document.
        batch_size: int. Documents per compiled call. Defaults to 16.
        use_cache: bool. Decode with key/value caches. Defaults to True.
        jit_compile: bool. Compile with XLA. Defaults to True.
    """

    def __init__(
        self, model, options, *, max_document_length, batch_size=16, use_cache=True,
        jit_compile=True,
    ):
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"`batch_size` must be a positive integer. Received: {batch_size}")
        self.inference = InferenceModel(model)
        self.options = options
        self.max_document_length = max_document_length
        self.batch_size = batch_size
        self.use_cache = use_cache
        self.generate_batch = tf.function(self.search, jit_compile=jit_compile)

    def search(self, encoder_ids):
        """Summary ids `(batch, max_length)` of padded encoder ids `(batch, length)`.

        Plain TensorFlow: `generate_batch` compiles it at fixed shapes; an
        exported SavedModel traces it with a dynamic batch and length.
        """
        options = self.options
        batch_size = encoder_ids.shape[0]
        if batch_size is None:
            batch_size = tf.shape(encoder_ids)[0]
        encoder_outputs, padding_mask = self.inference.encode(encoder_ids)
        beams = options.beams if options.uses_beam_search else 1
        if beams > 1:
            encoder_outputs = tf.repeat(encoder_outputs, beams, axis=0)
            padding_mask = tf.repeat(padding_mask, beams, axis=0)
        make_step = cached_step if self.use_cache else uncached_step
        initial_state, step = make_step(
            self.inference, encoder_outputs, padding_mask, options.max_length
        )
        search_arguments = dict(
            start_id=START_ID,
            end_id=END_ID,
            pad_id=PAD_ID,
            min_length=options.min_length,
            no_repeat_ngram_size=options.no_repeat_ngram_size,
        )
        if not options.uses_beam_search:
            return greedy_search(
                step, initial_state, batch_size, options.max_length, **search_arguments
            )
        sequences, _ = beam_search(
            step, initial_state, batch_size, beams, options.max_length,
            self.inference.vocabulary_size, length_penalty=options.length_penalty,
            **search_arguments,
        )
        return sequences

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


def cached_step(inference, encoder_outputs, padding_mask, max_length):
    """`(initial_state, step)` feeding one token per step through the caches."""
    decoder_state = inference.initial_state(encoder_outputs, padding_mask, max_length)

    def step(sequences, index, self_attention_caches):
        token_ids = tf.gather(sequences, index, axis=1)[:, None]
        logits, state = inference.decode_step(
            token_ids, index, decoder_state._replace(self_attention_caches=self_attention_caches)
        )
        return logits, state.self_attention_caches

    return decoder_state.self_attention_caches, step


def uncached_step(inference, encoder_outputs, padding_mask, max_length):
    """`(initial_state, step)` recomputing the decoder over the whole prefix buffer."""

    def step(sequences, index, state):
        logits = inference.decode(sequences[:, :max_length], encoder_outputs, padding_mask)
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
