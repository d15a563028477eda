import keras
from keras import ops

from keras_attention.validation import check_positive_int
from keras_attention.validation import check_sequence_input
from keras_attention.validation import check_sequence_shape


def sinusoidal_encoding(positions, dim, max_wavelength=10000.0):
    """Sinusoidal encoding of Vaswani et al. (2017) for float32 `positions`.

    PE[pos, 2i] = sin(pos / max_wavelength^(2i/dim)) and
    PE[pos, 2i+1] = cos(pos / max_wavelength^(2i/dim)).

    Args:
        positions: float32 tensor of shape `(length,)`.
        dim: int. Size of the encoding.
        max_wavelength: float. Defaults to 10000.

    Returns:
        float32 tensor of shape `(length, dim)`.
    """
    feature_index = ops.arange(dim, dtype="int32")
    pair_index = ops.cast(feature_index // 2 * 2, "float32")
    inverse_wavelength = ops.power(
        ops.cast(max_wavelength, "float32"), -pair_index / float(dim)
    )
    angles = positions[:, None] * inverse_wavelength[None, :]
    is_even = ops.cast(feature_index % 2 == 0, "float32")
    return ops.sin(angles) * is_even + ops.cos(angles) * (1.0 - is_even)


@keras.saving.register_keras_serializable(package="keras_attention")
class PositionalEncoding(keras.layers.Layer):
    """Adds the sinusoidal positional encoding of Vaswani et al. (2017).

    `layer(embeddings)` returns `embeddings + PE` where
    PE[pos, 2i] = sin(pos / 10000^(2i/d)) and PE[pos, 2i+1] = cos(pos / 10000^(2i/d)),
    for any sequence length (there is no maximum). Positions run along the
    second-to-last axis, so `(batch, ..., sequence, features)` inputs work too
    (as keras-hub's `SinePositionEncoding`). The encoding is computed in
    float32 and cast to the layer's compute dtype, so it stays exact under mixed
    precision. The Keras mask of the input passes through unchanged.

    Args:
        max_wavelength: float. The base of the geometric progression of
            wavelengths. Defaults to `10000`.
        **kwargs: other keyword arguments passed to `keras.layers.Layer`.

    Call arguments:
        inputs: tensor of shape `(batch, sequence_length, features)` or
            `(batch, ..., sequence_length, features)`.
        start_index: int or scalar tensor. Position of the first timestep, for
            incremental decoding. Defaults to `0`.

    Returns:
        A tensor of the shape of `inputs`.

    Example:

    >>> embeddings = keras.ops.zeros((1, 3, 4))
    >>> keras.ops.convert_to_numpy(PositionalEncoding()(embeddings)).round(4)
    array([[[ 0.    ,  1.    ,  0.    ,  1.    ],
            [ 0.8415,  0.5403,  0.01  ,  1.    ],
            [ 0.9093, -0.4161,  0.02  ,  0.9998]]], dtype=float32)

    References:
        - [Vaswani et al., 2017](https://arxiv.org/abs/1706.03762)
    """

    def __init__(self, max_wavelength=10000.0, **kwargs):
        super().__init__(**kwargs)
        if not max_wavelength > 1:
            raise ValueError(
                "`max_wavelength` must be greater than 1. "
                f"Received: max_wavelength={max_wavelength}"
            )
        self.max_wavelength = max_wavelength
        self.supports_masking = True
        self.built = True

    def call(self, inputs, start_index=0):
        check_sequence_input(self, "inputs", inputs, allow_higher_rank=True)
        length = ops.shape(inputs)[-2]
        positions = ops.cast(ops.arange(length), "float32")
        positions = positions + ops.cast(start_index, "float32")
        encoding = sinusoidal_encoding(
            positions, inputs.shape[-1], self.max_wavelength
        )
        # (length, features) broadcasts over the batch and any other axes.
        return inputs + ops.cast(encoding, inputs.dtype)

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        check_sequence_shape(self, "inputs", input_shape, allow_higher_rank=True)
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"max_wavelength": self.max_wavelength})
        return config


@keras.saving.register_keras_serializable(package="keras_attention")
class LearnedPositionalEncoding(keras.layers.Layer):
    """Adds a trainable position embedding of at most `max_length` positions.

    `layer(embeddings)` returns `embeddings + table[start : start + length]`,
    positions running along the second-to-last axis (so `(batch, ...,
    sequence, features)` inputs work too, as with keras-hub's
    `PositionEmbedding`). A sequence longer than `max_length` raises a
    `ValueError` when its length is known while tracing; the Keras mask passes
    through unchanged.

    Args:
        max_length: int. The longest sequence the table covers.
        initializer: string or `keras.initializers.Initializer`. Defaults to
            `"glorot_uniform"`.
        **kwargs: other keyword arguments passed to `keras.layers.Layer`.

    Call arguments:
        inputs: tensor of shape `(batch, sequence_length, features)` or
            `(batch, ..., sequence_length, features)`.
        start_index: int or scalar tensor. Position of the first timestep.
            Defaults to `0`.

    Returns:
        A tensor of the shape of `inputs`.

    Example:

    >>> layer = LearnedPositionalEncoding(max_length=32)
    >>> tuple(layer(keras.ops.zeros((2, 10, 16))).shape)
    (2, 10, 16)
    """

    def __init__(self, max_length, initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        check_positive_int("max_length", max_length)
        self.max_length = max_length
        self.initializer = keras.initializers.get(initializer)
        self.supports_masking = True

    def build(self, input_shape):
        check_sequence_shape(self, "inputs", input_shape, allow_higher_rank=True)
        self._check_length(input_shape[-2])
        self.position_embeddings = self.add_weight(
            name="position_embeddings",
            shape=(self.max_length, input_shape[-1]),
            initializer=self.initializer,
            trainable=True,
        )

    def _check_length(self, length):
        if length is not None and length > self.max_length:
            raise ValueError(
                f"Sequence length {length} exceeds the learned position table "
                f"of {self.max_length} positions. Truncate the input to "
                f"{self.max_length} tokens or rebuild with a larger max_length."
            )

    def call(self, inputs, start_index=0):
        check_sequence_input(self, "inputs", inputs, allow_higher_rank=True)
        length = inputs.shape[-2]
        try:
            start = int(start_index)  # concrete ints and eager scalar tensors
        except Exception:  # a traced index is checked by the backend's slice
            start = None
        if start is not None and length is not None:
            self._check_length(start + length)
        if length is None:
            length = ops.shape(inputs)[-2]
        table = ops.slice(
            ops.convert_to_tensor(self.position_embeddings),
            (start_index, 0),
            (length, inputs.shape[-1]),
        )
        # (length, features) broadcasts over the batch and any other axes.
        return inputs + ops.cast(table, inputs.dtype)

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        check_sequence_shape(self, "inputs", input_shape, allow_higher_rank=True)
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "max_length": self.max_length,
                "initializer": keras.initializers.serialize(self.initializer),
            }
        )
        return config
