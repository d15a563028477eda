from keras import ops


def apply_rotary_embedding(x, positions, max_wavelength=10000.0):
    """Rotates pairs of features of `x` by position-dependent angles (RoPE).

    Feature `i` of the first half is paired with feature `i` of the second half
    and rotated by `pos / max_wavelength^(2i/d)`, computed in float32.

    Args:
        x: tensor of shape `(batch, length, heads, head_dim)`, `head_dim` even.
        positions: float32 tensor of shape `(length,)`.
        max_wavelength: float. Defaults to 10000.

    Returns:
        A tensor of the shape and dtype of `x`.

    References:
        - [Su et al., 2021](https://arxiv.org/abs/2104.09864)
    """
    head_dim = x.shape[-1]
    half = head_dim // 2
    inverse_wavelength = ops.power(
        ops.cast(max_wavelength, "float32"),
        -ops.cast(ops.arange(half), "float32") * 2.0 / float(head_dim),
    )
    angles = positions[:, None] * inverse_wavelength[None, :]
    # (length, half) -> (length, 1, half) to broadcast over heads.
    cos = ops.cos(angles)[:, None, :]
    sin = ops.sin(angles)[:, None, :]
    x32 = ops.cast(x, "float32")
    first, second = x32[..., :half], x32[..., half:]
    rotated = ops.concatenate(
        [first * cos - second * sin, second * cos + first * sin], axis=-1
    )
    return ops.cast(rotated, x.dtype)
