"""`keras_attention.ops` against float64 NumPy references."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_attention.ops import masked_softmax
from keras_attention.ops import scaled_dot_product_attention
from numpy_reference import masked_softmax as reference_softmax
from numpy_reference import to_numpy


def random_mask(rng, shape, keep=0.6):
    mask = rng.random(shape) < keep
    mask[..., 0] = True  # at least one kept entry per row unless set otherwise
    return mask


def test_masked_softmax_without_mask_matches_reference():
    logits = np.random.default_rng(0).normal(size=(3, 4, 7)).astype("float32") * 3
    result = to_numpy(masked_softmax(logits))
    np.testing.assert_allclose(result, reference_softmax(logits), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(result.sum(-1), 1.0, atol=1e-6)


def test_masked_softmax_with_mask_matches_reference_and_zeroes_masked_entries():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(3, 4, 7)).astype("float32") * 3
    mask = random_mask(rng, logits.shape)
    result = to_numpy(masked_softmax(logits, mask=mask))
    np.testing.assert_allclose(
        result, reference_softmax(logits, mask), rtol=1e-5, atol=1e-7
    )
    assert np.all(result[~mask] == 0.0), "masked entries must be exactly 0"
    np.testing.assert_allclose(result.sum(-1), 1.0, atol=1e-6)


def test_masked_softmax_ignores_huge_logits_on_masked_entries():
    # A masked logit far above the kept ones must neither win the maximum nor
    # leak any weight.
    logits = np.array([[1e4, 1.0, 2.0, -1e4]], dtype="float32")
    mask = np.array([[False, True, True, True]])
    result = to_numpy(masked_softmax(logits, mask=mask))
    np.testing.assert_allclose(result, reference_softmax(logits, mask), atol=1e-7)
    assert result[0, 0] == 0.0


def test_masked_softmax_mask_of_ints_broadcasts_over_heads_and_queries():
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(2, 3, 4, 5)).astype("float32")
    key_mask = np.array([[1, 1, 0, 1, 0], [0, 1, 1, 1, 1]], dtype="int32")
    mask = key_mask[:, None, None, :]
    result = to_numpy(masked_softmax(logits, mask=mask))
    np.testing.assert_allclose(
        result, reference_softmax(logits, mask.astype(bool)), rtol=1e-5, atol=1e-7
    )


def test_masked_softmax_other_axis():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(2, 6, 3)).astype("float32")
    mask = rng.random((2, 6, 1)) < 0.5
    mask[:, 0] = True
    result = to_numpy(masked_softmax(logits, mask=mask, axis=1))
    np.testing.assert_allclose(
        result, reference_softmax(logits, mask, axis=1), rtol=1e-5, atol=1e-7
    )


def test_fully_masked_row_is_all_zeros_and_finite():
    logits = np.array([[3.0, -2.0, 1.0], [1e4, -1e4, 0.0]], dtype="float32")
    mask = np.array([[False, False, False], [True, False, True]])
    result = to_numpy(masked_softmax(logits, mask=mask))
    assert np.all(np.isfinite(result))
    assert np.all(result[0] == 0.0)
    np.testing.assert_allclose(result[1], reference_softmax(logits, mask)[1], atol=1e-7)


@pytest.mark.parametrize("use_mask", [False, True], ids=["no_mask", "mask"])
def test_large_logits_do_not_overflow(use_mask):
    logits = np.array(
        [[1e4, -1e4, 0.0, 1e4 - 3.0], [-1e4, -1e4 + 1.0, -1e4 + 2.0, -1e4]],
        dtype="float32",
    )
    mask = np.array([[True, True, False, True], [True, True, True, False]])
    mask = mask if use_mask else None
    result = to_numpy(masked_softmax(logits, mask=mask))
    assert np.all(np.isfinite(result))
    np.testing.assert_allclose(result, reference_softmax(logits, mask), atol=1e-6)


@pytest.mark.parametrize("use_mask", [False, True], ids=["no_mask", "mask"])
def test_float16_logits_are_computed_stably(use_mask):
    # exp(6e4 - 0) overflows float16 (max 65504): a float16 softmax without a
    # float32 computation would give inf/NaN here.
    logits = np.array(
        [[6.0e4, 5.99e4, -6.0e4, 0.0], [1.0, 2.0, 3.0, 4.0]], dtype="float16"
    )
    mask = np.array([[True, True, True, False], [False, True, True, True]])
    mask = mask if use_mask else None
    result = masked_softmax(logits, mask=mask)
    assert keras.backend.standardize_dtype(result.dtype) == "float16"
    result = to_numpy(result)
    assert np.all(np.isfinite(result))
    # One float16 rounding of values in [0, 1]: at most 2^-11.
    np.testing.assert_allclose(
        result, reference_softmax(logits.astype("float64"), mask), atol=2.0**-11
    )
    if use_mask:
        assert np.all(result[~mask] == 0.0)


@pytest.mark.parametrize("use_mask", [False, True], ids=["no_mask", "mask"])
def test_float16_long_row_is_normalized_in_float32(use_mask):
    # 70,000 equal logits: the normalizer 70,000 overflows float16 (max
    # 65,504), so a softmax summed in float16 collapses to zeros; computed in
    # float32 every weight is 1/70,000 (a float16 subnormal) and a masked half
    # gets exactly 0.
    length = 70_000
    logits = np.zeros((1, length), dtype="float16")
    mask = None
    kept = length
    if use_mask:
        mask = np.ones((1, length), dtype=bool)
        mask[:, ::2] = False
        kept = length // 2
    result = to_numpy(masked_softmax(logits, mask=mask))
    expected = np.float64(np.float16(1.0 / kept))
    if use_mask:
        assert np.all(result[~mask] == 0.0)
        np.testing.assert_allclose(result[mask], expected, rtol=1e-3)
    else:
        np.testing.assert_allclose(result, expected, rtol=1e-3)


def test_masked_softmax_gradient_is_finite_for_fully_masked_rows():
    logits = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype="float32")
    mask = np.array([[False, False, False], [True, False, True]])
    weights = np.array([[0.3, -1.0, 2.0], [1.0, 0.5, -0.5]], dtype="float32")

    def loss(x):
        return ops.sum(masked_softmax(x, mask=mask) * weights)

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        variable = tf.Variable(logits)
        with tf.GradientTape() as tape:
            value = loss(variable)
        gradient = tape.gradient(value, variable).numpy()
    elif backend == "jax":
        import jax

        gradient = np.asarray(jax.grad(loss)(logits))
    else:
        raise AssertionError(f"no gradient check written for backend {backend}")
    assert np.all(np.isfinite(gradient))
    np.testing.assert_array_equal(gradient[0], 0.0)
    assert np.all(gradient[1][~mask[1]] == 0.0)
    # d/dx of sum(w * softmax(x)) = p * (w - sum(p * w)) on kept entries.
    p = reference_softmax(logits, mask)[1]
    expected = p * (weights[1] - np.sum(p * weights[1]))
    np.testing.assert_allclose(gradient[1], expected, atol=1e-6)


def test_scaled_dot_product_attention_matches_reference():
    rng = np.random.default_rng(4)
    query = rng.normal(size=(2, 3, 2, 4)).astype("float32")
    key = rng.normal(size=(2, 5, 2, 4)).astype("float32")
    value = rng.normal(size=(2, 5, 2, 6)).astype("float32")
    mask = random_mask(rng, (2, 1, 3, 5))
    mask[1, 0, 2] = False  # one fully masked query row
    output, weights = scaled_dot_product_attention(query, key, value, mask=mask)
    logits = np.einsum("bthd,bshd->bhts", query, key) / 2.0
    expected_weights = reference_softmax(logits, mask)
    expected = np.einsum("bhts,bshd->bthd", expected_weights, value)
    np.testing.assert_allclose(to_numpy(weights), expected_weights, atol=1e-6)
    np.testing.assert_allclose(to_numpy(output), expected, atol=1e-5)
    assert np.all(to_numpy(output)[1, 2] == 0.0)


def test_scaled_dot_product_attention_compiled_equals_eager():
    """Compiled (XLA on TensorFlow, where the products are written as one einsum
    each; jax.jit on JAX), the attention gives the eager numbers."""
    from layer_test_case import backend_jit

    rng = np.random.default_rng(21)
    query, key, value = (rng.normal(size=(2, 5, 2, 4)).astype("float32") for _ in range(3))
    mask = random_mask(rng, (2, 1, 5, 5))
    mask[1, 0, 2] = False  # a query with no key

    def attend(query, key, value, mask):
        return scaled_dot_product_attention(query, key, value, mask=mask)

    compiled, _ = backend_jit(attend)
    eager_output, eager_weights = attend(query, key, value, mask)
    output, weights = compiled(*(ops.convert_to_tensor(t) for t in (query, key, value, mask)))
    np.testing.assert_allclose(to_numpy(output), to_numpy(eager_output), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(to_numpy(weights), to_numpy(eager_weights), rtol=1e-5, atol=1e-6)
    assert np.all(to_numpy(output)[1, 2] == 0)
