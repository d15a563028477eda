"""AttentionPooling against a NumPy reference, and its masking."""

import keras
import numpy as np
import pytest

import keras_attention as ka
import numpy_reference as reference
from layer_test_case import random_weights_on_build
from numpy_reference import to_numpy

HEADS = pytest.mark.parametrize("num_heads", [1, 3], ids=["one_head", "three_heads"])
MASK = np.array(
    [[1, 1, 1, 0, 0], [1, 0, 1, 1, 0], [1, 1, 1, 1, 1]], dtype=bool
)


def make_inputs(seed=0):
    return np.random.default_rng(seed).normal(size=(3, 5, 6)).astype("float32")


def make_layer(**kwargs):
    return random_weights_on_build(ka.AttentionPooling(**kwargs))


@HEADS
@pytest.mark.parametrize("use_mask", [False, True], ids=["no_mask", "mask"])
def test_matches_reference(num_heads, use_mask):
    x = make_inputs()
    mask = MASK if use_mask else None
    layer = make_layer(num_heads=num_heads, units=4)
    pooled, weights = layer(x, mask=mask, return_attention_scores=True)
    expected_pooled, expected_weights = reference.attention_pooling(layer, x, mask)
    assert tuple(weights.shape) == (3, num_heads, 5)
    np.testing.assert_allclose(to_numpy(weights), expected_weights, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(to_numpy(pooled), expected_pooled, rtol=1e-5, atol=1e-5)


@HEADS
def test_weights_sum_to_one_and_are_zero_on_masked_steps(num_heads):
    layer = make_layer(num_heads=num_heads)
    _, weights = layer(make_inputs(), mask=MASK, return_attention_scores=True)
    weights = to_numpy(weights)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)
    masked = np.broadcast_to(~MASK[:, None, :], weights.shape)
    assert np.all(weights[masked] == 0.0)
    assert np.all(weights[~masked] > 0.0)


@HEADS
def test_masked_steps_do_not_change_the_pooled_output(num_heads):
    x = make_inputs()
    layer = make_layer(num_heads=num_heads)
    before = to_numpy(layer(x, mask=MASK))
    perturbed = x.copy()
    perturbed[~MASK] = make_inputs(1)[~MASK] * 10.0
    np.testing.assert_allclose(to_numpy(layer(perturbed, mask=MASK)), before, atol=1e-5)
    perturbed[0, 0] += 1.0
    assert not np.allclose(to_numpy(layer(perturbed, mask=MASK))[0], before[0], atol=1e-3)


def test_uses_the_keras_mask_of_its_input():
    token_ids = np.array([[4, 2, 7, 0, 0], [1, 3, 0, 0, 0]])
    embedding = keras.layers.Embedding(8, 6, mask_zero=True)
    layer = make_layer(num_heads=2)
    implicit = to_numpy(layer(embedding(token_ids)))
    explicit = to_numpy(layer(embedding(token_ids), mask=token_ids != 0))
    unmasked = to_numpy(layer(to_numpy(embedding(token_ids), None)))
    np.testing.assert_allclose(implicit, explicit, atol=1e-6)
    assert not np.allclose(implicit, unmasked, atol=1e-3)


def test_fully_masked_sequence_pools_to_zeros():
    layer = make_layer(num_heads=2)
    mask = np.array([[0, 0, 0, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 1, 1]], dtype=bool)
    pooled, weights = layer(make_inputs(), mask=mask, return_attention_scores=True)
    pooled, weights = to_numpy(pooled), to_numpy(weights)
    assert np.all(np.isfinite(pooled)) and np.all(np.isfinite(weights))
    assert np.all(pooled[0] == 0.0) and np.all(weights[0] == 0.0)


def test_dropout_only_in_training():
    x = make_inputs()
    plain = make_layer(num_heads=3)
    dropped = make_layer(num_heads=3, dropout=0.5)
    plain(x)
    dropped(x)
    dropped.set_weights(plain.get_weights())
    np.testing.assert_allclose(to_numpy(dropped(x)), to_numpy(plain(x)), atol=1e-6)
    assert not np.allclose(to_numpy(dropped(x, training=True)), to_numpy(plain(x)), atol=1e-3)


def test_weights_under_mixed_float16_sum_to_one():
    try:
        keras.config.set_dtype_policy("mixed_float16")
        layer = make_layer(num_heads=3)
        # Large activations: float16 scores whose exp() overflows float16.
        pooled, weights = layer(make_inputs() * 300.0, mask=MASK, return_attention_scores=True)
    finally:
        keras.config.set_dtype_policy("float32")
    assert keras.backend.standardize_dtype(pooled.dtype) == "float16"
    weights = to_numpy(weights)
    assert np.all(np.isfinite(weights)) and np.all(np.isfinite(to_numpy(pooled)))
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=2e-3)
    assert np.all(weights[np.broadcast_to(~MASK[:, None], weights.shape)] == 0.0)
