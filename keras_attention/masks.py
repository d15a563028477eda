"""Helpers that merge implicit Keras masks with explicit mask arguments."""

from keras import ops


def implicit_mask(x):
    """The Keras mask attached to `x` by an upstream layer, or None."""
    # Keras keeps propagated masks on the tensor itself (`_keras_mask`).
    return getattr(x, "_keras_mask", None)


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
