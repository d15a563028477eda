"""TransformerEncoderBlock: NumPy reference and padding invariance."""

import keras
import numpy as np
import pytest

import keras_attention as ka
import numpy_reference as reference
from layer_test_case import received_mask
from layer_test_case import random_weights_on_build
from numpy_reference import to_numpy

NORM = pytest.mark.parametrize("normalize_first", [False, True], ids=["post_norm", "pre_norm"])
PADDING = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=bool)


def make_block(**kwargs):
    block = ka.TransformerEncoderBlock(intermediate_dim=16, num_heads=2, **kwargs)
    return random_weights_on_build(block)


def make_inputs(seed=0):
    return np.random.default_rng(seed).normal(size=(3, 5, 8)).astype("float32")


@NORM
@pytest.mark.parametrize("use_rope", [False, True], ids=["no_rope", "rope"])
def test_matches_reference(normalize_first, use_rope):
    x = make_inputs()
    block = make_block(normalize_first=normalize_first, use_rope=use_rope)
    output = to_numpy(block(x, padding_mask=PADDING))
    expected = reference.transformer_encoder_block(block, x, padding_mask=PADDING)
    np.testing.assert_allclose(output, expected, rtol=1e-4, atol=1e-4)


@NORM
def test_padded_tokens_do_not_change_real_outputs_with_padding_mask(normalize_first):
    x = make_inputs()
    block = make_block(normalize_first=normalize_first)
    before = to_numpy(block(x, padding_mask=PADDING))
    perturbed = x.copy()
    perturbed[~PADDING] = make_inputs(1)[~PADDING] * 10.0
    after = to_numpy(block(perturbed, padding_mask=PADDING))
    np.testing.assert_allclose(after[PADDING], before[PADDING], atol=1e-5)
    perturbed[0, 1] += np.linspace(-1.0, 1.0, 8)  # not a constant: LayerNorm removes those
    changed = to_numpy(block(perturbed, padding_mask=PADDING))
    assert not np.allclose(changed[0, 0], before[0, 0], atol=1e-3)


@NORM
def test_padded_tokens_do_not_change_real_outputs_with_implicit_mask(normalize_first):
    token_ids = np.array([[3, 5, 2, 0, 0], [4, 1, 6, 7, 2], [1, 0, 0, 0, 0]])
    real = token_ids != 0
    embedding = keras.layers.Embedding(8, 8, mask_zero=True)
    block = make_block(normalize_first=normalize_first)

    def run():
        return to_numpy(block(embedding(token_ids)))

    before = run()
    table = to_numpy(embedding.embeddings, None)
    table[0] = np.random.default_rng(2).normal(size=8) * 10.0
    embedding.embeddings.assign(table)
    np.testing.assert_allclose(run()[real], before[real], atol=1e-5)
    # Real positions equal the reference with the padding as key mask.
    embedded = to_numpy(embedding(token_ids))
    expected = reference.transformer_encoder_block(block, embedded, padding_mask=real)
    np.testing.assert_allclose(run()[real], expected[real], rtol=1e-4, atol=1e-4)


def test_attention_mask_and_padding_mask_are_combined():
    x = make_inputs()
    block = make_block()
    # Each query may only see itself and its right neighbour.
    window = np.triu(np.ones((5, 5), bool)) & np.tril(np.ones((5, 5), bool), 1)
    attention_mask = np.broadcast_to(window, (3, 5, 5))
    before = to_numpy(block(x, padding_mask=PADDING, attention_mask=attention_mask))
    perturbed = x.copy()
    # Padded tokens change (row 0, query 2 sees padded key 3), and in the
    # fully real row 1 the last token changes (only queries 3 and 4 see it).
    perturbed[~PADDING] += np.linspace(2.0, -2.0, 8)
    perturbed[1, 4] += np.linspace(-3.0, 3.0, 8)
    after = to_numpy(block(perturbed, padding_mask=PADDING, attention_mask=attention_mask))
    unchanged = PADDING.copy()
    unchanged[1, 3:] = False
    np.testing.assert_allclose(after[unchanged], before[unchanged], atol=1e-5)
    assert not np.allclose(after[1, 3], before[1, 3], atol=1e-3)


def test_the_keras_mask_passes_through():
    token_ids = np.array([[3, 5, 2, 0, 0], [4, 1, 6, 7, 2]])
    embedded = keras.layers.Embedding(8, 8, mask_zero=True)(token_ids)
    np.testing.assert_array_equal(received_mask(make_block()(embedded)), token_ids != 0)


def test_explicit_key_dim():
    block = make_block(key_dim=5)
    x = make_inputs()
    output = block(x)
    assert tuple(output.shape) == x.shape
    assert tuple(block.self_attention.query_kernel.shape) == (8, 2, 5)
    np.testing.assert_allclose(
        to_numpy(output), reference.transformer_encoder_block(block, x), rtol=1e-4, atol=1e-4
    )


def test_padding_from_the_keras_mask_applies_inside_a_compiled_model():
    """In `predict` (compiled, on every backend) the block still reads the
    embedding's mask: changing a padded token changes no real output."""
    token_ids = np.array([[3, 5, 2, 0, 0], [4, 1, 6, 7, 2]])
    inputs = keras.Input((None,), dtype="int32")
    embedding = keras.layers.Embedding(8, 8, mask_zero=True)
    model = keras.Model(inputs, make_block()(embedding(inputs)))
    before = model.predict(token_ids, verbose=0)
    table = to_numpy(embedding.embeddings, None)
    table[0] = np.random.default_rng(4).normal(size=8) * 10.0
    embedding.embeddings.assign(table)
    after = model.predict(token_ids, verbose=0)
    real = token_ids != 0
    np.testing.assert_allclose(after[real], before[real], atol=1e-5)
