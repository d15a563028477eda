"""The einsum equations of MultiHeadAttention, and the `output_shape` and
`attention_axes` arguments they are built from, standardized.

Pure Python (no tensors): the layer calls these when it is constructed and built.
"""

import string


def standardize_output_shape(output_shape):
    if output_shape is None:
        return None
    shape = (output_shape,) if isinstance(output_shape, int) else output_shape
    if not isinstance(shape, (tuple, list)) or not shape or not all(
        isinstance(size, int) and not isinstance(size, bool) and size > 0 for size in shape
    ):
        raise ValueError(
            f"Invalid `output_shape`: expected a positive int or a tuple of them. "
            f"Received: output_shape={output_shape!r}"
        )
    return tuple(shape)


def standardize_attention_axes(attention_axes):
    if attention_axes is None:
        return None
    axes = (attention_axes,) if isinstance(attention_axes, int) else attention_axes
    if not isinstance(axes, (tuple, list)) or not axes or not all(
        isinstance(axis, int) and not isinstance(axis, bool) for axis in axes
    ):
        raise ValueError(
            "`attention_axes` must be an int or a tuple of ints. "
            f"Received: attention_axes={attention_axes!r}"
        )
    return tuple(axes)


def projection_equation(free_dims, bound_dims, output_dims):
    """EinsumDense equation and bias axes: `free_dims` kept, `bound_dims` contracted."""
    letters = string.ascii_lowercase
    free = letters[:free_dims]
    bound = letters[free_dims : free_dims + bound_dims]
    output = letters[free_dims + bound_dims : free_dims + bound_dims + output_dims]
    return f"{free}{bound},{bound}{output}->{free}{output}", output


def attention_equations(rank, attention_axes):
    """Keras's einsum equations for attention over `attention_axes`.

    Projected tensors are `(batch, <other dims>, <attention dims>, heads, dim)`;
    every axis that is not an attention axis or the last is a batch axis of the
    product. Returns `(dot_product_equation, combine_equation, scores_rank)`,
    the dot product taking `(key, query)` and the combination
    `(scores, value)`, as in keras.layers.MultiHeadAttention.
    """
    letters = string.ascii_lowercase
    target = letters[:rank]
    batch_axes = [axis for axis in range(rank - 1) if axis not in attention_axes]
    source = list(target)
    for offset, axis in enumerate(attention_axes):
        source[axis] = letters[rank + offset]
    source = "".join(source)
    product = (
        "".join(target[axis] for axis in batch_axes)
        + "".join(target[axis] for axis in attention_axes)
        + "".join(source[axis] for axis in attention_axes)
    )
    return f"{source},{target}->{product}", f"{product},{source}->{target}", len(product)
