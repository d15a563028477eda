"""Argument and input checks shared by the layers (errors name the value)."""

import keras


def check_positive_int(name, value, allow_none=False):
    if value is None and allow_none:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(
            f"Received an invalid value for argument `{name}`, expected a positive "
            f"integer. Received: {name}={value!r}"
        )


def check_rate(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"`{name}` must be a number in [0, 1). Received: {name}={value!r}")


def check_sequence_input(layer, name, tensor, allow_higher_rank=False):
    """Raises a ValueError unless `tensor` is floating point `(batch, sequence, features)`.

    A user's mistake then names the argument and the fix instead of failing
    deep inside a backend op (a rank-2 matmul, an int + float add). With
    `allow_higher_rank`, `(batch, ..., sequence, features)` is accepted too.
    """
    check_sequence_shape(layer, name, tensor.shape, allow_higher_rank)
    dtype = keras.backend.standardize_dtype(tensor.dtype)
    if not keras.backend.is_float_dtype(dtype):
        raise ValueError(
            f"{type(layer).__name__} expects floating-point `{name}` (embed token ids first, "
            f"e.g. with TokenAndPositionEmbedding). Received: {name}.dtype={dtype}"
        )


def check_sequence_shape(layer, name, shape, allow_higher_rank=False):
    """The shape half of `check_sequence_input`, for `build` and `compute_output_shape`."""
    shape = tuple(shape)
    if len(shape) == 3 or (allow_higher_rank and len(shape) > 3):
        return
    expected = "(batch, ..., sequence, features)" if allow_higher_rank else "(batch, sequence, features)"
    raise ValueError(
        f"{type(layer).__name__} expects `{name}` of shape {expected}. "
        f"Received: {name}.shape={shape}"
    )


def check_token_ids_shape(layer, shape):
    """Raises a ValueError unless token ids of this shape are `(batch, sequence)`."""
    shape = tuple(shape)
    if len(shape) != 2:
        raise ValueError(
            f"{type(layer).__name__} expects `token_ids` of shape (batch, sequence). "
            f"Received: token_ids.shape={shape}"
        )
