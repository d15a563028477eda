"""Helpers that merge implicit Keras masks with explicit mask arguments."""

from keras import ops
from keras.src.backend import get_keras_mask


def implicit_mask(x):
    """The Keras mask attached to `x` by an upstream layer, or None."""
    if x is None:
        return None
    # Keras keeps a propagated mask on the tensor itself where the tensor
    # takes attributes, and in a table keyed by the tensor where it does not
    # (JAX arrays and tracers): `get_keras_mask` reads both, as keras-hub does.
    return get_keras_mask(x)


def merge_padding_and_attention_mask(inputs, padding_mask=None, attention_mask=None):
    """One boolean mask `(batch, 1 or query_len, key_len)` from every source.

    `padding_mask` (batch, key_len) marks real keys; it defaults to the
    implicit Keras mask of `inputs`. `attention_mask` (batch, query_len,
    key_len) is AND-ed with it. Returns None when there is no mask at all.
    """
    if padding_mask is None:
        padding_mask = implicit_mask(inputs)
    mask = None
    if padding_mask is not None:
        mask = ops.expand_dims(ops.cast(padding_mask, "bool"), axis=1)
    if attention_mask is not None:
        attention_mask = ops.cast(attention_mask, "bool")
        mask = attention_mask if mask is None else ops.logical_and(mask, attention_mask)
    return mask


def causal_mask(query_length, key_length, start_index=0):
    """A boolean `(1, query_length, key_length)` mask: query i sees keys j <= i + start_index.

    `start_index` is the absolute position of the first query, for incremental
    decoding against a key/value cache.
    """
    query_positions = ops.arange(query_length)[:, None] + ops.cast(start_index, "int32")
    key_positions = ops.arange(key_length)[None, :]
    return ops.greater_equal(query_positions, key_positions)[None]


def sliding_window_mask(query_length, key_length, window, start_index=0):
    """A boolean `(1, query_length, key_length)` band: query i sees keys j with |i - j| < window."""
    query_positions = ops.arange(query_length)[:, None] + ops.cast(start_index, "int32")
    key_positions = ops.arange(key_length)[None, :]
    return ops.less(ops.abs(query_positions - key_positions), window)[None]


def logical_and(*masks):
    """The AND of the masks that are not None, cast to bool; None when all are."""
    result = None
    for mask in masks:
        if mask is None:
            continue
        mask = ops.cast(mask, "bool")
        result = mask if result is None else ops.logical_and(result, mask)
    return result
