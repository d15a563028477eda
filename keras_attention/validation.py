"""Argument and input checks shared by the layers (errors name the value)."""

import keras


def check_positive_int(name, value, allow_none=False):
    if value is None and allow_none:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")


def check_rate(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"`{name}` must be a number in [0, 1). Received: {name}={value!r}")


def check_sequence_input(layer, name, tensor):
    """Raises a ValueError unless `tensor` is floating point `(batch, sequence, features)`.

    A user's mistake then names the argument and the fix instead of failing
    deep inside a backend op (a rank-2 matmul, an int + float add).
    """
    shape = tuple(tensor.shape)
    if len(shape) != 3:
        raise ValueError(
            f"{type(layer).__name__} expects `{name}` of shape (batch, sequence, features). "
            f"Received: {name}.shape={shape}"
        )
    dtype = keras.backend.standardize_dtype(tensor.dtype)
    if not keras.backend.is_float_dtype(dtype):
        raise ValueError(
            f"{type(layer).__name__} expects floating-point `{name}` (embed token ids first, "
            f"e.g. with TokenAndPositionEmbedding). Received: {name}.dtype={dtype}"
        )


def check_token_ids_shape(layer, shape):
    """Raises a ValueError unless token ids of this shape are `(batch, sequence)`."""
    shape = tuple(shape)
    if len(shape) != 2:
        raise ValueError(
            f"{type(layer).__name__} expects `token_ids` of shape (batch, sequence). "
            f"Received: token_ids.shape={shape}"
        )
