"""The key/value cache of MultiHeadAttention, for incremental decoding.

A cache is one tensor `(batch, 2, length, heads, key_dim)`, keys then values.
`compute_key_value_cache` fills one from a fixed source (a decoder's
cross-attention to the encoder output); `call` with `cache_update_index` writes
each step's keys and values into one with `write_cache`.
"""

import keras
from keras import ops

from keras_attention.rotary import apply_rotary_embedding


class KeyValueCacheMixin:
    """The cache methods of `MultiHeadAttention`, which it inherits; they read
    the layer's projections, rotary settings and attention axes."""

    def compute_key_value_cache(self, value, key=None):
        """Keys and values of `value` (and `key`) as a cache for `call`.

        Returns a tensor `(batch, 2, key_len, num_heads, key_dim)`: pass it as
        `cache` (without `cache_update_index`) to attend to these keys and
        values without projecting them again, e.g. a decoder's
        cross-attention to a fixed encoder output.
        """
        self._check_cache_dims()
        key_heads = self._apply_projection(self._key_dense, value if key is None else key)
        value_heads = self._apply_projection(self._value_dense, value)
        if self.use_rope:
            positions = self._positions(ops.shape(key_heads)[1], 0)
            key_heads = apply_rotary_embedding(key_heads, positions, self.rope_max_wavelength)
        return ops.stack([key_heads, value_heads], axis=1)

    def _check_cache_supported(self, query):
        """Raises unless this layer's inputs and heads fit a cache (checked in `call`)."""
        if not self._over_sequence:
            raise ValueError(
                "A key/value cache needs inputs of shape (batch, sequence, "
                f"features). Received: query.shape={tuple(query.shape)}"
            )
        self._check_cache_dims()

    def _check_cache_dims(self):
        # Keys and values share one cache tensor, so they need one width.
        if self.key_dim != self.value_dim:
            raise ValueError(
                "A key/value cache needs key_dim == value_dim. Received: "
                f"key_dim={self.key_dim}, value_dim={self.value_dim}"
            )

    def _read_and_update_cache(self, cache, key_heads, value_heads, update_index):
        if update_index is not None:
            update = ops.stack([key_heads, value_heads], axis=1)
            cache = write_cache(cache, ops.cast(update, cache.dtype), update_index)
        compute_dtype = self.compute_dtype
        return ops.cast(cache[:, 0], compute_dtype), ops.cast(cache[:, 1], compute_dtype), cache


def write_cache(cache, update, start_index):
    """`cache` `(batch, 2, max_length, heads, dim)` with `update` `(batch, 2,
    length, heads, dim)` written at sequence positions `start_index...`.

    On TensorFlow this is a `TensorScatterUpdate` (ONNX `ScatterND`), not
    `ops.slice_update`'s `XlaDynamicUpdateSlice`: that op is missing from
    TF Serving model server builds (tensorflow/serving#2217), and the scatter
    is as fast in the generation loop (one write per decoder layer and step).
    Other backends keep the dynamic-update-slice XLA compiles in place.
    """
    if keras.backend.backend() != "tensorflow":
        return ops.slice_update(cache, (0, 0, start_index, 0, 0), update)
    shape = ops.shape(update)
    batch_positions, key_or_value, sequence_positions = ops.meshgrid(
        ops.arange(shape[0]),
        ops.arange(2),
        ops.arange(shape[2]) + ops.cast(start_index, "int32"),
        indexing="ij",
    )
    indices = ops.stack([batch_positions, key_or_value, sequence_positions], axis=-1)
    return ops.scatter_update(
        cache,
        ops.reshape(indices, (-1, 3)),
        ops.reshape(update, (-1, shape[3], shape[4])),
    )
