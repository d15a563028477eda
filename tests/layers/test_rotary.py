"""Rotary position embeddings (RoPE) against NumPy."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_attention.rotary import apply_rotary_embedding
from numpy_reference import rotary_embedding
from numpy_reference import to_numpy


def rope(x, positions, max_wavelength=10000.0):
    return apply_rotary_embedding(
        ops.convert_to_tensor(x),
        ops.convert_to_tensor(np.asarray(positions, "float32")),
        max_wavelength,
    )


@pytest.mark.parametrize("max_wavelength", [10000.0, 30.0])
def test_rope_matches_reference(max_wavelength):
    x = np.random.default_rng(0).normal(size=(2, 7, 3, 8)).astype("float32")
    positions = np.arange(7) + 40
    output = to_numpy(rope(x, positions, max_wavelength))
    expected = rotary_embedding(x, positions, max_wavelength)
    # Angles up to 46 rad in float32: argument error ~46 * 2^-23 ≈ 6e-6.
    np.testing.assert_allclose(output, expected, rtol=1e-5, atol=2e-5)


def test_rope_at_position_zero_is_identity_and_preserves_pair_norms():
    x = np.random.default_rng(1).normal(size=(1, 5, 2, 6)).astype("float32")
    output = to_numpy(rope(x, np.arange(5)))
    np.testing.assert_allclose(output[:, 0], x[:, 0], atol=1e-7)
    half = 3
    norms_in = x[..., :half] ** 2 + x[..., half:] ** 2
    norms_out = output[..., :half] ** 2 + output[..., half:] ** 2
    np.testing.assert_allclose(norms_out, norms_in, rtol=1e-5, atol=1e-6)


def test_rope_scores_depend_only_on_relative_position():
    rng = np.random.default_rng(2)
    query = rng.normal(size=(1, 1, 1, 8)).astype("float32")
    key = rng.normal(size=(1, 1, 1, 8)).astype("float32")

    def score(query_position, key_position):
        rotated_query = to_numpy(rope(query, [query_position]))
        rotated_key = to_numpy(rope(key, [key_position]))
        return float(np.sum(rotated_query * rotated_key))

    for offset in (0, 3, 17):
        np.testing.assert_allclose(score(5 + offset, 2 + offset), score(5, 2), atol=1e-4)
    assert abs(score(5, 2) - score(5, 4)) > 1e-3


def test_rope_keeps_half_precision_dtype_and_computes_in_float32():
    x = np.random.default_rng(3).normal(size=(1, 4, 1, 4)).astype("float16")
    positions = np.arange(4) + 3000  # not representable exactly in float16
    output = rope(x, positions)
    assert keras.backend.standardize_dtype(output.dtype) == "float16"
    expected = rotary_embedding(x.astype("float64"), positions)
    # Float16 rounding of results of magnitude <= ~3 (ulp 2^-9) plus float32
    # angle error (~3000 * 2^-23).
    np.testing.assert_allclose(to_numpy(output), expected, atol=2.0**-9 + 1e-3)
