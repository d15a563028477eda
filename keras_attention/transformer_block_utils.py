"""Argument checks and sizes shared by the encoder and decoder blocks."""

from keras_attention.validation import check_positive_int
from keras_attention.validation import check_rate


def validate_block_arguments(
    intermediate_dim, num_heads, dropout, attention_dropout, normalize_first, key_dim
):
    """Raises a ValueError naming the first bad constructor argument of a block."""
    check_positive_int("intermediate_dim", intermediate_dim)
    check_positive_int("num_heads", num_heads)
    check_positive_int("key_dim", key_dim, allow_none=True)
    check_rate("dropout", dropout)
    check_rate("attention_dropout", attention_dropout)
    if not isinstance(normalize_first, bool):
        raise ValueError(
            f"`normalize_first` must be a bool. Received: normalize_first={normalize_first!r}"
        )


def head_size(hidden_dim, num_heads, key_dim):
    """`key_dim` when given, else the model width split evenly across the heads."""
    if key_dim is not None:
        return key_dim
    if hidden_dim % num_heads:
        raise ValueError(
            f"The model width {hidden_dim} must be divisible by num_heads "
            f"(or pass key_dim). Received: num_heads={num_heads}"
        )
    return hidden_dim // num_heads
