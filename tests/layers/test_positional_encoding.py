"""Sinusoidal and learned positional encodings."""

import keras
import numpy as np
import pytest
from keras import ops

import keras_attention as ka
from keras_attention.positional_encoding import sinusoidal_encoding as layer_encoding
from layer_test_case import received_mask
from numpy_reference import sinusoidal_angles
from numpy_reference import sinusoidal_encoding
from numpy_reference import to_numpy

FLOAT32_EPS = float(np.finfo(np.float32).eps)


def float32_angle_tolerance(angles):
    """Error bound for sin/cos of an angle computed in float32.

    The layer forms `pos * w^(-2i/d)` in float32: the inverse wavelength from
    `pow` carries a couple of ulps of relative error and the product one
    more rounding, so the argument is off by about k·eps32·|angle|, and sin/cos
    add about one ulp of their result. With k = 4 this is
    4·eps32·(|angle| + 1): ~5e-7 at position 0, ~2e-3 at position 4095
    (measured errors stay under 1.7·eps32·(|angle| + 1) on both backends).
    """
    return 4.0 * FLOAT32_EPS * (np.abs(angles) + 1.0)


@pytest.mark.parametrize("dim", [6, 7], ids=["even_dim", "odd_dim"])
def test_sinusoidal_encoding_matches_formula(dim):
    embeddings = np.random.default_rng(0).normal(size=(2, 11, dim)).astype("float32")
    output = to_numpy(ka.PositionalEncoding()(embeddings))
    expected = embeddings + sinusoidal_encoding(11, dim)[None]
    np.testing.assert_allclose(output, expected, atol=1e-6)


@pytest.mark.parametrize("dim", [8, 9], ids=["even_dim", "odd_dim"])
def test_sinusoidal_encoding_long_sequence(dim):
    length = 4096
    output = to_numpy(ka.PositionalEncoding()(np.zeros((1, length, dim), "float32")))[0]
    error = np.abs(output - sinusoidal_encoding(length, dim))
    bound = float32_angle_tolerance(sinusoidal_angles(length, dim))
    assert np.all(error <= bound), float(np.max(error / bound))


def test_sinusoidal_encoding_other_wavelength_and_start_index():
    layer = ka.PositionalEncoding(max_wavelength=100.0)
    zeros = np.zeros((1, 6, 5), "float32")
    expected = sinusoidal_encoding(6, 5, start=9, max_wavelength=100.0)
    np.testing.assert_allclose(to_numpy(layer(zeros, start_index=9))[0], expected, atol=1e-5)
    tensor_start = ops.convert_to_tensor(9, dtype="int32")
    np.testing.assert_allclose(
        to_numpy(layer(zeros, start_index=tensor_start))[0], expected, atol=1e-5
    )


def test_sinusoidal_function_is_float32():
    encoding = layer_encoding(ops.cast(ops.arange(4), "float32"), 6)
    assert keras.backend.standardize_dtype(encoding.dtype) == "float32"
    np.testing.assert_allclose(to_numpy(encoding), sinusoidal_encoding(4, 6), atol=1e-6)


def test_sinusoidal_encoding_stays_exact_under_mixed_float16():
    # float16 has an 11-bit significand: positions past 2048 are not even
    # representable, so an encoding computed in float16 is wrong by O(1).
    length, dim = 4096, 9
    try:
        keras.config.set_dtype_policy("mixed_float16")
        layer = ka.PositionalEncoding()
        output = layer(ops.zeros((1, length, dim), "float16"))
    finally:
        keras.config.set_dtype_policy("float32")
    assert keras.backend.standardize_dtype(output.dtype) == "float16"
    error = np.abs(to_numpy(output)[0] - sinusoidal_encoding(length, dim))
    # One float16 rounding of a value in [-1, 1] (<= 2^-12) on top of the
    # float32 argument error.
    bound = 2.0**-12 + float32_angle_tolerance(sinusoidal_angles(length, dim))
    assert np.all(error <= bound), float(np.max(error - bound))


def test_learned_positional_encoding_adds_its_table():
    layer = ka.LearnedPositionalEncoding(max_length=10)
    embeddings = np.random.default_rng(1).normal(size=(2, 4, 3)).astype("float32")
    output = to_numpy(layer(embeddings))
    table = to_numpy(layer.position_embeddings)
    assert table.shape == (10, 3)
    np.testing.assert_allclose(output, embeddings + table[None, :4], atol=1e-6)
    shifted = to_numpy(layer(embeddings, start_index=6))
    np.testing.assert_allclose(shifted, embeddings + table[None, 6:10], atol=1e-6)


def test_learned_positional_encoding_too_long_at_build():
    layer = ka.LearnedPositionalEncoding(max_length=4)
    with pytest.raises(ValueError, match=r"5.*exceeds.*4 positions"):
        layer(np.zeros((1, 5, 3), "float32"))


def test_learned_positional_encoding_too_long_after_build():
    layer = ka.LearnedPositionalEncoding(max_length=4)
    layer(np.zeros((1, 3, 3), "float32"))
    with pytest.raises(ValueError, match=r"exceeds.*4 positions"):
        layer(np.zeros((1, 5, 3), "float32"))
    with pytest.raises(ValueError, match=r"exceeds.*4 positions"):
        layer(np.zeros((1, 2, 3), "float32"), start_index=3)


def test_learned_positional_encoding_with_tensor_start_index():
    layer = ka.LearnedPositionalEncoding(max_length=4)
    embeddings = np.zeros((1, 2, 3), "float32")
    layer(embeddings)
    table = to_numpy(layer.position_embeddings)
    start = ops.convert_to_tensor(2, "int32")
    np.testing.assert_allclose(to_numpy(layer(embeddings, start_index=start))[0], table[2:4])
    # Past the table an eager tensor index is as concrete as an int: it must
    # raise the same clear error (JAX's slice would silently clamp the start
    # and reuse rows 2-3; TensorFlow's would fail deep inside Slice).
    with pytest.raises(ValueError, match=r"exceeds.*4 positions"):
        layer(embeddings, start_index=ops.convert_to_tensor(3, "int32"))


def test_token_and_position_embedding_learned_too_long():
    layer = ka.TokenAndPositionEmbedding(
        vocabulary_size=5, embedding_dim=4, max_length=3, position_encoding="learned"
    )
    with pytest.raises(ValueError, match=r"exceeds.*3 positions"):
        layer(np.ones((1, 4), "int32"))


@pytest.mark.parametrize(
    "make_layer",
    [ka.PositionalEncoding, lambda: ka.LearnedPositionalEncoding(max_length=6)],
    ids=["sinusoidal", "learned"],
)
def test_positional_encodings_pass_the_mask_through(make_layer):
    layer = make_layer()
    token_ids = np.array([[4, 2, 0, 0], [1, 3, 3, 0]])
    embedded = keras.layers.Embedding(6, 4, mask_zero=True)(token_ids)
    np.testing.assert_array_equal(received_mask(layer(embedded)), token_ids != 0)
