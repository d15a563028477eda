"""Numerically stable attention primitives built on `keras.ops`."""

import keras
from keras import ops

# Finite stand-ins for -inf: tf2onnx rewrites a float select as
# `cast(c) * x + cast(!c) * y`, which turns -inf into NaN after export.
_LARGE_NEGATIVE = {"float16": -3.0e4}
_DEFAULT_LARGE_NEGATIVE = -1.0e9


def large_negative(dtype):
    """A finite, very negative number representable in `dtype`."""
    dtype = keras.backend.standardize_dtype(dtype)
    return _LARGE_NEGATIVE.get(dtype, _DEFAULT_LARGE_NEGATIVE)


def softmax_dtype(dtype):
    """Softmax runs in float32 for half-precision inputs."""
    dtype = keras.backend.standardize_dtype(dtype)
    return "float32" if dtype in ("float16", "bfloat16") else dtype


def masked_softmax(x, mask=None, axis=-1):
    """Softmax of `x` over `axis`, ignoring entries where `mask` is False.

    The maximum is subtracted before exponentiating, so logits of any size are
    safe. Masked entries get exactly 0, and a row whose entries are all masked is
    all zeros (never NaN). Half-precision inputs are computed in float32 and cast
    back.

    Args:
        x: tensor. Logits.
        mask: optional boolean (or 0/1) tensor broadcastable to `x`; True keeps an
            entry.
        axis: int. The axis to normalize over. Defaults to -1.

    Returns:
        A tensor of the shape and dtype of `x`.

    Example:

    >>> masked_softmax(np.array([[1.0, 2.0, 3.0]]), mask=np.array([[1, 1, 0]]))
    """
    input_dtype = keras.backend.standardize_dtype(x.dtype)
    compute_dtype = softmax_dtype(input_dtype)
    x = ops.cast(x, compute_dtype)
    if mask is None:
        return ops.cast(ops.softmax(x, axis=axis), input_dtype)
    keep = ops.cast(mask, compute_dtype)
    # Push masked logits far below every kept one before taking the maximum, so
    # the maximum is over kept entries and exp() of a kept entry is <= 1.
    x = x * keep + (1.0 - keep) * large_negative(compute_dtype)
    x = x - ops.stop_gradient(ops.max(x, axis=axis, keepdims=True))
    unnormalized = ops.exp(x) * keep
    total = ops.sum(unnormalized, axis=axis, keepdims=True)
    # A row with a kept entry sums to >= 1 (its maximum contributes exp(0));
    # a fully masked row sums to 0 and stays 0 when divided by 1.
    return ops.cast(unnormalized / ops.maximum(total, 1.0), input_dtype)


def scaled_dot_product_attention(
    query, key, value, mask=None, dropout_fn=None, scale=None
):
    """softmax(Q Kᵀ · scale) V with a masked, numerically stable softmax.

    Uses the `(batch, length, heads, dim)` layout of
    `keras.ops.dot_product_attention`.

    Args:
        query: tensor of shape `(batch, query_len, heads, key_dim)`.
        key: tensor of shape `(batch, key_len, heads, key_dim)`.
        value: tensor of shape `(batch, key_len, heads, value_dim)`.
        mask: optional boolean tensor broadcastable to
            `(batch, heads, query_len, key_len)`; True lets a query attend.
        dropout_fn: optional callable applied to the attention weights.
        scale: float. Defaults to `1 / sqrt(key_dim)`.

    Returns:
        `(output, weights)`: output of shape `(batch, query_len, heads,
        value_dim)` and weights of shape `(batch, heads, query_len, key_len)`.
    """
    if scale is None:
        scale = 1.0 / float(query.shape[-1]) ** 0.5
    logits = ops.einsum("bthd,bshd->bhts", query, key)
    logits = logits * ops.cast(scale, logits.dtype)
    weights = masked_softmax(logits, mask=mask, axis=-1)
    if dropout_fn is not None:
        weights = dropout_fn(weights)
    return ops.einsum("bhts,bshd->bthd", weights, value), weights
