"""Constructor and build-time validation: a ValueError naming the value."""

import re

import numpy as np
import pytest

import keras_attention as ka

BLOCKS = [ka.TransformerEncoderBlock, ka.TransformerDecoderBlock]

CONSTRUCTOR_ERRORS = [
    (ka.MultiHeadAttention, dict(num_heads=0, key_dim=4), "num_heads=0"),
    (ka.MultiHeadAttention, dict(num_heads=2.0, key_dim=4), "num_heads=2.0"),
    (ka.MultiHeadAttention, dict(num_heads=True, key_dim=4), "num_heads=True"),
    (ka.MultiHeadAttention, dict(num_heads=2, key_dim=-1), "key_dim=-1"),
    (ka.MultiHeadAttention, dict(num_heads=2, key_dim=4, value_dim=0), "value_dim=0"),
    (ka.MultiHeadAttention, dict(num_heads=2, key_dim=4, dropout=1.0), "dropout=1.0"),
    (ka.MultiHeadAttention, dict(num_heads=2, key_dim=4, dropout=-0.1), "dropout=-0.1"),
    (ka.MultiHeadAttention, dict(num_heads=2, key_dim=4, output_shape=(3, 0)), "output_shape=(3, 0)"),
    (ka.MultiHeadAttention, dict(num_heads=2, key_dim=4, output_shape=0), "output_shape=0"),
    (ka.MultiHeadAttention, dict(num_heads=2, key_dim=4, output_shape=8.0), "output_shape=8.0"),
    (ka.MultiHeadAttention, dict(num_heads=2, key_dim=4, attention_axes="1"), "attention_axes='1'"),
    (ka.MultiHeadAttention, dict(num_heads=2, key_dim=4, sliding_window=0), "sliding_window=0"),
    (ka.MultiHeadAttention, dict(num_heads=2, key_dim=4, use_fused_attention="yes"), "use_fused_attention='yes'"),
    (ka.MultiHeadAttention, dict(num_heads=2, key_dim=4, dropout=0.1, flash_attention=True), "Dropout is not supported"),
    (ka.MultiHeadAttention, dict(num_heads=2, key_dim=4, flash_attention=True, use_fused_attention=False), "use_fused_attention=False"),
    (ka.MultiHeadAttention, dict(num_heads=2, key_dim=3, use_rope=True), "key_dim=3"),
    (ka.AttentionPooling, dict(units=0), "units=0"),
    (ka.AttentionPooling, dict(num_heads=0), "num_heads=0"),
    (ka.AttentionPooling, dict(dropout=1.5), "dropout=1.5"),
    (ka.FeedForward, dict(intermediate_dim=0), "intermediate_dim=0"),
    (ka.FeedForward, dict(intermediate_dim=4, activation=np.tanh), "activation="),
    (ka.FeedForward, dict(intermediate_dim=4, dropout=1.5), "dropout=1.5"),
    (ka.PositionalEncoding, dict(max_wavelength=1.0), "max_wavelength=1.0"),
    (ka.LearnedPositionalEncoding, dict(max_length=0), "max_length=0"),
    (ka.LearnedPositionalEncoding, dict(max_length=2.5), "max_length=2.5"),
    (ka.LearnedPositionalEncoding, dict(max_length=True), "max_length=True"),
    (ka.TokenAndPositionEmbedding, dict(vocabulary_size=0, embedding_dim=4), "vocabulary_size=0"),
    (ka.TokenAndPositionEmbedding, dict(vocabulary_size=5, embedding_dim=-4), "embedding_dim=-4"),
    (
        ka.TokenAndPositionEmbedding,
        dict(vocabulary_size=5, embedding_dim=4, position_encoding="rotary"),
        "position_encoding='rotary'",
    ),
    (
        ka.TokenAndPositionEmbedding,
        dict(vocabulary_size=5, embedding_dim=4, position_encoding="learned"),
        "max_length=None",
    ),
    (
        ka.TokenAndPositionEmbedding,
        dict(vocabulary_size=5, embedding_dim=4, max_length=0, position_encoding="learned"),
        "max_length=0",
    ),
    (ka.TokenAndPositionEmbedding, dict(vocabulary_size=5, embedding_dim=4, dropout=1.5), "dropout=1.5"),
]
for block in BLOCKS:
    CONSTRUCTOR_ERRORS += [
        (block, dict(intermediate_dim=0, num_heads=2), "intermediate_dim=0"),
        (block, dict(intermediate_dim=8, num_heads=-2), "num_heads=-2"),
        (block, dict(intermediate_dim=8, num_heads=2, dropout=1.0), "dropout=1.0"),
        (block, dict(intermediate_dim=8, num_heads=2, normalize_first="yes"), "normalize_first='yes'"),
        # Validated early, like every other argument (not at build time).
        (block, dict(intermediate_dim=8, num_heads=2, attention_dropout=1.5), "attention_dropout=1.5"),
        (block, dict(intermediate_dim=8, num_heads=2, key_dim=0), "key_dim=0"),
    ]


def case_id(case):
    layer_cls, kwargs, _ = case
    return f"{layer_cls.__name__}-" + "-".join(f"{k}={v!r}" for k, v in kwargs.items())


@pytest.mark.parametrize("case", CONSTRUCTOR_ERRORS, ids=[case_id(c) for c in CONSTRUCTOR_ERRORS])
def test_constructor_rejects_bad_argument(case):
    layer_cls, kwargs, received = case
    with pytest.raises(ValueError, match=re.escape(received)):
        layer_cls(**kwargs)


@pytest.mark.parametrize("block", BLOCKS, ids=[b.__name__ for b in BLOCKS])
def test_block_width_not_divisible_by_heads(block):
    layer = block(intermediate_dim=8, num_heads=3)
    with pytest.raises(ValueError, match=r"10.*num_heads=3"):
        layer(np.zeros((1, 2, 10), "float32"))


def test_attention_pooling_features_not_divisible_by_heads():
    with pytest.raises(ValueError, match=r"10.*num_heads=3"):
        ka.AttentionPooling(num_heads=3)(np.zeros((1, 2, 10), "float32"))
