"""The encoder-decoder Transformer summarizer, built from keras_attention layers.

    encoder_ids → TiedEmbedding (token table × √d + PositionalEncoding; emits the
                  padding mask, ids != 0)
                → N × TransformerEncoderBlock → LayerNorm (pre-norm models)
    decoder_ids → the same TiedEmbedding
                → M × TransformerDecoderBlock (causal self-attention; cross-attention
                  to the encoder outputs, masked by the encoder's padding only)
                → LayerNorm (pre-norm models) → logits = hidden · tableᵀ + bias
                  (the same token table again)
                → with `copy` (the default for new runs): PointerGenerator, whose
                  output mixes softmax(logits) with copies of the encoder's tokens
                  (log-probabilities, which are logits of the same distribution);
                  with `copy_attention="cross_attention"` it copies with the last
                  decoder block's cross-attention weights, which that block returns

The training model is one functional Keras model over
`{"encoder_ids", "decoder_ids"}` with no Lambda layers, so `model.keras` loads
with `safe_mode=True`. Generation and export reuse its layers by name
(`InferenceModel` in `inference.py`): an encoder pass, then one cached decoder
step per token.

This module needs Keras alone (no TensorFlow), so the same model trains on the
JAX backend (`pipelines.jax_training`).
"""

import dataclasses

import keras

import keras_attention
from pipelines.pretrained.checkpoint import EncoderSettings
from pipelines.pretrained.encoder import EMBEDDING_LAYER
from pipelines.pretrained.encoder import apply_pretrained_encoder
from pipelines.pretrained.encoder import checkpoint_block_arguments
from pipelines.summarization import tied_embedding  # noqa: F401  (registers the embeddings' former names)
from pipelines.summarization.pointer_generator import PointerGenerator
from pipelines.summarization.pointer_generator import SourceIdMap

# The model's input names (also the keys of the datasets' input dicts).
ENCODER_IDS = "encoder_ids"
DECODER_IDS = "decoder_ids"
EMBEDDING = "token_embedding"
# A warm-started model (`warm_start.py`) embeds its two sides apart: the
# checkpoint's encoder embedding and the decoder's own tied table.
ENCODER_EMBEDDING = EMBEDDING_LAYER
DECODER_EMBEDDING = "decoder_embedding"
ENCODER_NORM = "encoder_norm"
DECODER_NORM = "decoder_norm"
COPY_HEAD = "copy_head"
COPY_ID_MAP = "copy_source_ids"  # a warm start's source → decoder id map
LAYER_NORM_EPSILON = 1e-5


def encoder_block_name(index):
    return f"encoder_block_{index}"


def decoder_block_name(index):
    return f"decoder_block_{index}"


def build_summarizer(config):
    """An uncompiled Keras model `{"encoder_ids", "decoder_ids"} → logits`.

    Args:
        config: `ModelConfig`.

    Returns:
        A `keras.Model`. Inputs are int32 `(batch, length)` with 0 as padding;
        the output is float32 logits `(batch, decoder_length, vocabulary_size)`.
        With `config.encoder` set (`--init-from`), the warm-started layout of
        `build_warm_started_summarizer`.
    """
    if config.encoder is not None:
        return build_warm_started_summarizer(config)
    encoder_ids = keras.Input(shape=(None,), dtype="int32", name=ENCODER_IDS)
    decoder_ids = keras.Input(shape=(None,), dtype="int32", name=DECODER_IDS)
    embedding = keras_attention.TiedEmbedding(
        config.vocabulary_size, config.hidden_dim, dropout=config.dropout, name=EMBEDDING
    )
    block_arguments = dict(
        intermediate_dim=config.intermediate_dim,
        num_heads=config.num_heads,
        dropout=config.dropout,
        attention_dropout=config.attention_dropout,
        normalize_first=config.normalize_first,
        layer_norm_epsilon=LAYER_NORM_EPSILON,
    )

    encoded = embedding(encoder_ids)
    for index in range(config.encoder_layers):
        encoded = keras_attention.TransformerEncoderBlock(
            name=encoder_block_name(index), **block_arguments
        )(encoded)
    if config.normalize_first:
        encoded = final_norm(ENCODER_NORM)(encoded)

    decoder_inputs = embedding(decoder_ids)
    decoded, cross_attention_scores = apply_decoder_blocks(
        lambda index: keras_attention.TransformerDecoderBlock(
            name=decoder_block_name(index), **block_arguments
        ),
        decoder_inputs, encoded, config,
    )
    if config.normalize_first:
        decoded = final_norm(DECODER_NORM)(decoded)
    logits = embedding(decoded, reverse=True)
    if config.copy:  # one vocabulary: the source ids are output ids
        logits = copy_head(config)(
            decoded, decoder_inputs, logits, encoded, encoder_ids,
            cross_attention_scores=cross_attention_scores,
        )
    return keras.Model(
        {ENCODER_IDS: encoder_ids, DECODER_IDS: decoder_ids}, logits, name="summarizer"
    )


def copies_with_cross_attention(config):
    return config.copy and config.copy_attention == "cross_attention"


def apply_decoder_blocks(make_block, decoder_inputs, encoded, config):
    """`(decoded, cross_attention_scores)` of `config.decoder_layers` blocks
    `make_block(index)`: the last block's scores when the copy head copies with
    them, else None (no block then computes attention weights).

    Each block is made right before its call: unseeded initializers draw their
    seeds when made, so this order keeps a seed's weights."""
    decoded, scores = decoder_inputs, None
    last = config.decoder_layers - 1
    for index in range(config.decoder_layers):
        block = make_block(index)
        if index == last and copies_with_cross_attention(config):
            decoded, scores = block(decoded, encoded, return_cross_attention_scores=True)
        else:
            decoded = block(decoded, encoded)
    return decoded, scores


def copy_head(config):
    return PointerGenerator(
        copy_attention=config.copy_attention, coverage_weight=config.coverage_weight, name=COPY_HEAD
    )


def final_norm(name):
    """Pre-norm blocks leave their residual stream unnormalized; this closes it."""
    return keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON, name=name)


def build_warm_started_summarizer(config):
    """The summarizer of `warm_start.py`, with random weights until
    `load_warm_start_weights` fills them (or `model.keras` is loaded).

    Its encoder is `config.encoder` (the checkpoint's `EncoderSettings`); its
    decoder blocks share the encoder's width, heads, activation and post-norm
    layout, so that checkpoint layers load into them.
    """
    settings = EncoderSettings.from_dict(config.encoder)
    settings = dataclasses.replace(
        settings, dropout=config.dropout, attention_dropout=config.attention_dropout
    )
    encoder_ids = keras.Input(shape=(None,), dtype="int32", name=ENCODER_IDS)
    decoder_ids = keras.Input(shape=(None,), dtype="int32", name=DECODER_IDS)
    encoded = apply_pretrained_encoder(encoder_ids, settings)
    embedding = keras_attention.BertTiedEmbedding(
        config.vocabulary_size,
        settings.hidden_dim,
        max_length=settings.max_positions,
        layer_norm_epsilon=settings.layer_norm_epsilon,
        dropout=config.dropout,
        name=DECODER_EMBEDDING,
    )
    decoder_inputs = embedding(decoder_ids)
    decoded, cross_attention_scores = apply_decoder_blocks(
        lambda index: keras_attention.TransformerDecoderBlock(
            name=decoder_block_name(index), **checkpoint_block_arguments(settings)
        ),
        decoder_inputs, encoded, config,
    )
    logits = embedding(decoded, reverse=True)
    if config.copy:  # the checkpoint's pieces in, the decoder's vocabulary out
        source_ids = SourceIdMap(settings.vocabulary_size, name=COPY_ID_MAP)(encoder_ids)
        logits = copy_head(config)(
            decoded, decoder_inputs, logits, encoded, source_ids,
            cross_attention_scores=cross_attention_scores,
        )
    return keras.Model(
        {ENCODER_IDS: encoder_ids, DECODER_IDS: decoder_ids}, logits, name="summarizer"
    )
