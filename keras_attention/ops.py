"""Numerically stable attention primitives built on `keras.ops`."""

import keras
from keras import ops

from keras_attention.projections import in_tensorflow_xla_function

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

    The row maximum is subtracted first, so logits of any size are safe. Masked
    entries get exactly 0, and a row whose entries are all masked is all zeros
    (never NaN). Half-precision inputs are computed in float32 and cast back.

    Args:
        x: tensor. Logits.
        mask: optional boolean (or 0/1) tensor broadcastable to `x`; True keeps an
            entry.
        axis: int or tuple of ints. The axis (or axes, normalized together) to
            normalize over. Defaults to -1.

    Returns:
        A tensor of the shape and dtype of `x`.

    Example:

    >>> logits = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]], dtype="float32")
    >>> weights = masked_softmax(logits, mask=np.array([[1, 1, 0], [0, 0, 0]]))
    >>> np.round(keras.ops.convert_to_numpy(weights), 4)
    array([[0.2689, 0.7311, 0.    ],
           [0.    , 0.    , 0.    ]], dtype=float32)
    """
    x = ops.convert_to_tensor(x)
    input_dtype = keras.backend.standardize_dtype(x.dtype)
    compute_dtype = softmax_dtype(input_dtype)
    x = ops.cast(x, compute_dtype)
    if mask is None:
        return ops.cast(_softmax(x, axis), input_dtype)
    weights = _softmax_with_key_mask(x, mask, axis)
    return ops.cast(weights * _row_has_keys(mask, axis, compute_dtype), input_dtype)


def _softmax(x, axis):
    if isinstance(axis, (tuple, list)):
        # keras.ops.softmax over several axes needs static shapes; this does not.
        axis = tuple(axis)
        return ops.exp(x - ops.logsumexp(x, axis=axis, keepdims=True))
    return ops.softmax(x, axis=axis)


def _softmax_with_key_mask(x, mask, axis):
    """Softmax where masked entries are exactly 0 in rows with a kept entry.

    An additive bias (one broadcast add, cheaper than a select over the full
    tensor) pushes masked logits ~1e9 below the kept ones, so exp() underflows to
    exactly 0. Fully masked rows come out meaningless and must be zeroed by the
    caller.
    """
    return _softmax(x + _key_mask_bias(mask, x.dtype), axis)


def _key_mask_bias(mask, dtype):
    """0 where `mask` is True, a large negative number where it is False."""
    return (ops.cast(mask, dtype) - 1.0) * (-large_negative(dtype))


def _row_has_keys(mask, axis, dtype):
    axis = tuple(axis) if isinstance(axis, (tuple, list)) else axis
    return ops.cast(ops.any(ops.cast(mask, "bool"), axis=axis, keepdims=True), dtype)


def scaled_dot_product_attention(
    query, key, value, mask=None, dropout_fn=None, scale=None, return_weights=True
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
        return_weights: bool. Return the attention weights (else None).

    Returns:
        `(output, weights)`: output of shape `(batch, query_len, heads,
        value_dim)` and weights of shape `(batch, heads, query_len, key_len)`.
        Queries with no unmasked key get zero output and zero weights.
    """
    if scale is None:
        scale = 1.0 / float(query.shape[-1]) ** 0.5
    if mask is not None:
        mask = ops.cast(mask, "bool")
        while len(mask.shape) < 4:
            mask = ops.expand_dims(mask, 0)
    # Scaling the queries touches far fewer numbers than scaling the logits.
    query = query * ops.cast(scale, query.dtype)
    # Under XLA on TensorFlow, without dropout or returned weights, a
    # hand-written gradient (`_softmax_attention`); half precision keeps the
    # float32 softmax of the path below.
    if (
        dropout_fn is None
        and not return_weights
        and softmax_dtype(query.dtype) == query.dtype
        and in_tensorflow_xla_function()
    ):
        bias = ops.zeros((), query.dtype) if mask is None else _key_mask_bias(mask, query.dtype)
        output = _softmax_attention(query, key, value, bias)
        if mask is not None:
            output = zero_fully_masked_queries(output, mask)
        return output, None
    logits = _product("bthd,bshd->bhts", query, key)
    if mask is None:
        weights = masked_softmax(logits, axis=-1)
    else:
        compute_dtype = softmax_dtype(logits.dtype)
        weights = _softmax_with_key_mask(ops.cast(logits, compute_dtype), mask, -1)
        weights = ops.cast(weights, query.dtype)
    dropped = dropout_fn(weights) if dropout_fn is not None else weights
    output = _product("bhts,bshd->bthd", dropped, value)
    if mask is not None:
        # Zero fully masked rows on the (smaller) output rather than the weights.
        output = zero_fully_masked_queries(output, mask)
        if return_weights:
            weights = weights * _row_has_keys(mask, -1, weights.dtype)
    return output, (weights if return_weights else None)


def _product(equation, first, second):
    """`ops.einsum`, written as one `tf.einsum` inside XLA-compiled TensorFlow functions.

    Keras's TensorFlow einsum spells these products out as transposes and a
    batched MatMul: faster as a TensorFlow graph (and what exported graphs
    hold), slower under XLA than one einsum, which XLA fuses with the
    transposes (benchmarks/layers.py, BENCHMARKS.md).
    """
    if in_tensorflow_xla_function():
        return ops.einsum(equation, first, second, optimize="optimal")
    return ops.einsum(equation, first, second)


@ops.custom_gradient
def _softmax_attention(query, key, value, bias):
    """softmax(Q Kᵀ + bias) V, with key and value gradients computed transposed.

    For XLA-compiled TensorFlow functions. Differentiated automatically, the
    key and value gradients are `dSᵀ Q` and `Pᵀ dO`: products that contract the
    `(batch, heads, query, key)` weights (or their gradient) over the query
    axis, which XLA's CPU matrix product runs about three times slower than
    the other products here. Computed as `Qᵀ dS` and `dOᵀ P`, then transposed
    (the smaller tensors), they are the same sums, and the attention products
    take about 12% less time at sequence 256 (BENCHMARKS.md).
    """
    weights = ops.softmax(_product("bthd,bshd->bhts", query, key) + bias, axis=-1)

    def grad(output_gradient):
        weights_gradient = _product("bthd,bshd->bhts", output_gradient, value)
        value_gradient = _product("bthd,bhts->bhds", output_gradient, weights)
        logits_gradient = weights * (
            weights_gradient - ops.sum(weights_gradient * weights, axis=-1, keepdims=True)
        )
        query_gradient = _product("bhts,bshd->bthd", logits_gradient, key)
        key_gradient = _product("bthd,bhts->bhds", query, logits_gradient)
        return (
            query_gradient,
            ops.transpose(key_gradient, (0, 3, 1, 2)),
            ops.transpose(value_gradient, (0, 3, 1, 2)),
            None,
        )

    return _product("bhts,bshd->bthd", weights, value), grad


def zero_fully_masked_queries(output, mask):
    """Zeros the outputs `(batch, query_len, heads, dim)` of queries whose
    mask row `(batch, heads, query_len, key_len)` has no True entry."""
    row_has_keys = _row_has_keys(mask, -1, output.dtype)  # (b|1, h|1, t|1, 1)
    return output * ops.transpose(row_has_keys, (0, 2, 1, 3))
