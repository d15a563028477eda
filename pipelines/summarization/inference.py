"""The trained summarizer split for generation and export.

`InferenceModel` reuses the training model's own layers (same weights) as

    encode(encoder_ids) → (encoder_outputs, encoder_padding_mask)
    initial_state(encoder_outputs, encoder_padding_mask, max_length, encoder_ids) → DecoderState
    decode_step(token_ids, index, state) → (logits, state with updated caches)
    decode(decoder_ids, encoder_outputs, encoder_padding_mask, encoder_ids) → logits

`decode_step` runs one token through the decoder with per-layer key/value
caches `(batch, 2, max_length, num_heads, head_dim)`, so step t costs one
token's work instead of t tokens'. Its logits equal those of `decode` (the full
causal pass) at the same position. A copying model (`PointerGenerator`) needs
the encoder ids as well (the tokens it copies); its "logits" are normalized
log-probabilities, which are logits of the same distribution. One that copies
with the cross-attention (`copy_attention="cross_attention"`) has its last
decoder block return those weights, on the cached step as on the full pass.
Every function is plain TensorFlow on tensors, ready for `tf.function` with
fixed shapes (generation) or an input signature (export).
"""

import collections

import tensorflow as tf

from pipelines.summarization.model import COPY_HEAD
from pipelines.summarization.model import COPY_ID_MAP
from pipelines.summarization.model import DECODER_EMBEDDING
from pipelines.summarization.model import DECODER_NORM
from pipelines.summarization.model import EMBEDDING
from pipelines.summarization.model import ENCODER_EMBEDDING
from pipelines.summarization.model import ENCODER_NORM
from pipelines.summarization.model import decoder_block_name
from pipelines.summarization.model import encoder_block_name
from pipelines.summarization.tokenizer import PAD_ID

DecoderState = collections.namedtuple(
    "DecoderState",
    ["self_attention_caches", "cross_attention_caches", "encoder_padding_mask", "copy_memory"],
    defaults=(None,),
)
DecoderState.__doc__ = """What a decoder step needs besides the token: one self-attention
cache per layer (updated every step), one cross-attention key/value cache per
layer, the encoder padding mask and, for a copying model, its `CopyMemory`
(all but the first fixed for a document)."""

CopyMemory = collections.namedtuple("CopyMemory", ["source_ids", "source_keys", "encoder_outputs"])
CopyMemory.__doc__ = """What the copy head reads for a document: the source tokens as
output ids `(batch, source)` (0: never copied), its attention keys
`(batch, source, key_dim)` (None when it copies with the cross-attention) and the
encoder outputs `(batch, source, hidden)`."""


class InferenceModel:
    """Encoder and cached decoder step over the layers of a trained summarizer.

    Args:
        model: the Keras model from `build_summarizer` (or `model.keras`).
    """

    def __init__(self, model):
        self.model = model
        # One shared table from scratch; the encoder's and the decoder's own when warm-started.
        shared = optional_layer(model, EMBEDDING)
        self.encoder_embedding = shared or model.get_layer(ENCODER_EMBEDDING)
        self.decoder_embedding = shared or model.get_layer(DECODER_EMBEDDING)
        self.encoder_blocks = blocks(model, encoder_block_name)
        self.decoder_blocks = blocks(model, decoder_block_name)
        self.encoder_norm = optional_layer(model, ENCODER_NORM)
        self.decoder_norm = optional_layer(model, DECODER_NORM)
        self.copy_head = optional_layer(model, COPY_HEAD)
        self.copy_id_map = optional_layer(model, COPY_ID_MAP)
        # The block whose cross-attention weights the copy head copies with, if any.
        self.copy_source_block = None
        if self.copy_head is not None and self.copy_head.copy_attention == "cross_attention":
            self.copy_source_block = self.decoder_blocks[-1]

    @property
    def vocabulary_size(self):
        return self.decoder_embedding.vocabulary_size

    def encode(self, encoder_ids):
        """Encoder outputs `(batch, length, hidden)` and the padding mask `(batch, length)`."""
        encoder_ids = tf.convert_to_tensor(encoder_ids, tf.int32)
        padding_mask = tf.not_equal(encoder_ids, PAD_ID)
        hidden = self.encoder_embedding(encoder_ids)
        for block in self.encoder_blocks:
            hidden = block(hidden, padding_mask=padding_mask)
        if self.encoder_norm is not None:
            hidden = self.encoder_norm(hidden)
        return hidden, padding_mask

    @property
    def copies(self):
        """Whether the model copies source tokens (and so needs the encoder ids)."""
        return self.copy_head is not None

    def copy_memory(self, encoder_outputs, encoder_ids):
        """The `CopyMemory` of encoded documents; None for a model that does not copy."""
        if self.copy_head is None:
            return None
        if encoder_ids is None:
            raise ValueError("A copying summarizer needs `encoder_ids` (the tokens it copies).")
        source_ids = tf.convert_to_tensor(encoder_ids, tf.int32)
        if self.copy_id_map is not None:
            source_ids = self.copy_id_map(source_ids)
        return CopyMemory(
            source_ids, self.copy_head.compute_source_keys(encoder_outputs), encoder_outputs
        )

    def initial_state(self, encoder_outputs, encoder_padding_mask, max_length, encoder_ids=None):
        """Empty self-attention caches for `max_length` steps, the cross-attention caches
        and (for a copying model, from `encoder_ids`) the `CopyMemory`."""
        batch_size = tf.shape(encoder_outputs)[0]
        self_caches = []
        cross_caches = []
        for block in self.decoder_blocks:
            attention = block.self_attention
            self_caches.append(
                tf.zeros(
                    [batch_size, 2, max_length, attention.num_heads, attention.key_dim],
                    dtype=encoder_outputs.dtype,
                )
            )
            cross_caches.append(block.compute_cross_attention_cache(encoder_outputs))
        return DecoderState(
            tuple(self_caches), tuple(cross_caches), encoder_padding_mask,
            self.copy_memory(encoder_outputs, encoder_ids),
        )

    def decode_step(self, token_ids, index, state):
        """Logits `(batch, vocabulary)` for the token after `token_ids` `(batch, 1)`.

        Args:
            token_ids: int32 `(batch, 1)`. The token at position `index`.
            index: int32 scalar. Its position (0 for `[BOS]`).
            state: `DecoderState`.

        Returns:
            `(logits, state)` with the token's keys and values written into the
            self-attention caches.
        """
        decoder_inputs = self.decoder_embedding(token_ids, start_index=index)
        hidden = decoder_inputs
        new_caches = []
        cross_attention_scores = None
        for block, self_cache, cross_cache in zip(
            self.decoder_blocks, state.self_attention_caches, state.cross_attention_caches
        ):
            outputs = block(
                hidden,
                encoder_padding_mask=state.encoder_padding_mask,
                self_attention_cache=self_cache,
                self_attention_cache_update_index=index,
                cross_attention_cache=cross_cache,
                return_cross_attention_scores=block is self.copy_source_block,
            )
            if block is self.copy_source_block:
                hidden, cross_attention_scores, self_cache = outputs
            else:
                hidden, self_cache = outputs
            new_caches.append(self_cache)
        logits = self.output_logits(
            hidden, decoder_inputs, state.copy_memory, cross_attention_scores=cross_attention_scores
        )[:, 0, :]
        return logits, state._replace(self_attention_caches=tuple(new_caches))

    def decode(
        self, decoder_ids, encoder_outputs, encoder_padding_mask, encoder_ids=None,
        return_copy_details=False,
    ):
        """Logits `(batch, length, vocabulary)` of a full causal decoder pass.

        A copying model needs `encoder_ids`; with `return_copy_details` it also
        returns its copy attention `(batch, length, source)` and `p_gen`
        `(batch, length)` (see `PointerGenerator`).
        """
        decoder_ids = tf.convert_to_tensor(decoder_ids, tf.int32)
        decoder_inputs = self.decoder_embedding(decoder_ids)
        hidden = decoder_inputs
        decoder_padding_mask = tf.not_equal(decoder_ids, PAD_ID)
        cross_attention_scores = None
        for block in self.decoder_blocks:
            outputs = block(
                hidden,
                encoder_outputs,
                decoder_padding_mask=decoder_padding_mask,
                encoder_padding_mask=encoder_padding_mask,
                return_cross_attention_scores=block is self.copy_source_block,
            )
            if block is self.copy_source_block:
                hidden, cross_attention_scores = outputs
            else:
                hidden = outputs
        copy_memory = self.copy_memory(encoder_outputs, encoder_ids)
        return self.output_logits(
            hidden, decoder_inputs, copy_memory, return_copy_details, cross_attention_scores
        )

    def output_logits(
        self, hidden, decoder_inputs, copy_memory=None, return_copy_details=False,
        cross_attention_scores=None,
    ):
        if self.decoder_norm is not None:
            hidden = self.decoder_norm(hidden)
        logits = self.decoder_embedding(hidden, reverse=True)
        if self.copy_head is None:
            if return_copy_details:
                raise ValueError("The model does not copy: it has no copy details to return.")
            return logits
        return self.copy_head(
            hidden, decoder_inputs, logits, copy_memory.encoder_outputs, copy_memory.source_ids,
            source_keys=copy_memory.source_keys, cross_attention_scores=cross_attention_scores,
            return_copy_details=return_copy_details,
        )


def blocks(model, name_of):
    """The layers named name_of(0), name_of(1), ... in order."""
    names = {layer.name for layer in model.layers}
    found = []
    while name_of(len(found)) in names:
        found.append(model.get_layer(name_of(len(found))))
    if not found:
        raise ValueError(f"The model has no layer named {name_of(0)!r}; is it a summarizer?")
    return found


def optional_layer(model, name):
    return model.get_layer(name) if name in {layer.name for layer in model.layers} else None
