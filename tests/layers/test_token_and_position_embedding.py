"""TokenAndPositionEmbedding and FeedForward against NumPy."""

import math

import keras
import numpy as np
import pytest

import keras_attention as ka
import numpy_reference as reference
from layer_test_case import received_mask
from numpy_reference import to_numpy

erf = np.vectorize(math.erf)
TOKEN_IDS = np.array([[3, 9, 4, 0, 0], [5, 1, 2, 8, 6]], dtype="int32")


@pytest.mark.parametrize("scale_embeddings", [True, False], ids=["scaled", "unscaled"])
def test_sinusoidal_positions_match_reference(scale_embeddings):
    layer = ka.TokenAndPositionEmbedding(
        vocabulary_size=10, embedding_dim=6, scale_embeddings=scale_embeddings
    )
    output = to_numpy(layer(TOKEN_IDS))
    table = to_numpy(layer.token_embedding.embeddings)
    scale = np.sqrt(6.0) if scale_embeddings else 1.0
    expected = table[TOKEN_IDS] * scale + reference.sinusoidal_encoding(5, 6)[None]
    np.testing.assert_allclose(output, expected, rtol=1e-5, atol=1e-5)


def test_learned_positions_match_reference_and_start_index():
    layer = ka.TokenAndPositionEmbedding(
        vocabulary_size=10, embedding_dim=6, max_length=8, position_encoding="learned"
    )
    output = to_numpy(layer(TOKEN_IDS))
    tokens = to_numpy(layer.token_embedding.embeddings)[TOKEN_IDS] * np.sqrt(6.0)
    positions = to_numpy(layer.position_embedding.position_embeddings)
    np.testing.assert_allclose(output, tokens + positions[None, :5], rtol=1e-5, atol=1e-5)
    shifted = to_numpy(layer(TOKEN_IDS[:, 2:], start_index=2))
    np.testing.assert_allclose(shifted, output[:, 2:], rtol=1e-5, atol=1e-5)


def test_sinusoidal_start_index_continues_the_sequence():
    layer = ka.TokenAndPositionEmbedding(vocabulary_size=10, embedding_dim=6)
    full = to_numpy(layer(TOKEN_IDS))
    for start in range(5):
        step = to_numpy(layer(TOKEN_IDS[:, start : start + 1], start_index=start))
        np.testing.assert_allclose(step[:, 0], full[:, start], atol=1e-5)


@pytest.mark.parametrize("mask_zero", [True, False])
def test_mask_marks_token_id_zero(mask_zero):
    layer = ka.TokenAndPositionEmbedding(vocabulary_size=10, embedding_dim=6, mask_zero=mask_zero)
    mask = received_mask(layer(TOKEN_IDS))
    if mask_zero:
        np.testing.assert_array_equal(mask, TOKEN_IDS != 0)
    else:
        assert mask is None


@pytest.mark.parametrize(
    "activation, function",
    [
        ("gelu", reference.gelu_tanh),
        ("gelu_exact", lambda x: 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))),
        ("relu", lambda x: np.maximum(x, 0.0)),
    ],
)
def test_feed_forward_matches_reference(activation, function):
    x = np.random.default_rng(0).normal(size=(2, 3, 5)).astype("float32")
    layer = ka.FeedForward(7, activation=activation, bias_initializer="random_normal")
    output = to_numpy(layer(x))
    hidden = function(
        x.astype("float64") @ to_numpy(layer.intermediate_dense.kernel)
        + to_numpy(layer.intermediate_dense.bias)
    )
    expected = hidden @ to_numpy(layer.output_dense.kernel) + to_numpy(layer.output_dense.bias)
    np.testing.assert_allclose(output, expected, rtol=1e-4, atol=1e-5)


def test_feed_forward_passes_the_mask_through():
    embedded = keras.layers.Embedding(10, 4, mask_zero=True)(TOKEN_IDS)
    np.testing.assert_array_equal(received_mask(ka.FeedForward(8)(embedded)), TOKEN_IDS != 0)
