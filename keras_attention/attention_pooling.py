import keras
from keras import ops

from keras_attention.initializers import clone_initializer
from keras_attention.ops import masked_softmax
from keras_attention.validation import check_positive_int
from keras_attention.validation import check_rate
from keras_attention.validation import check_sequence_input
from keras_attention.validation import check_sequence_shape


@keras.saving.register_keras_serializable(package="keras_attention")
class AttentionPooling(keras.layers.Layer):
    """Softmax attention pooling over time with additive scoring.

    Each timestep `h_t` gets one score per head, `v_k · tanh(W h_t + b)`; a
    masked softmax over time turns the scores into weights, and head `k` sums
    its slice of the features (features split evenly between heads) with its
    weights. Masked timesteps get weight exactly 0 and the weights of every
    sequence with an unmasked timestep sum to 1; a fully masked sequence pools
    to zeros. The softmax runs in float32 under mixed precision.

    Args:
        units: int. Size of the hidden scoring layer. Defaults to the input
            feature size.
        num_heads: int. Number of independent pooling heads; must divide the
            feature size. Defaults to 1.
        dropout: float. Dropout rate on the pooling weights. Defaults to 0.
        kernel_initializer: initializer for the kernels. Defaults to
            `"glorot_uniform"`.
        bias_initializer: initializer for the bias. Defaults to `"zeros"`.
        **kwargs: other keyword arguments passed to `keras.layers.Layer`.

    Call arguments:
        inputs: tensor of shape `(batch, time, features)`.
        mask: optional boolean tensor `(batch, time)`; True marks real tokens.
            Defaults to the input's Keras mask.
        return_attention_scores: bool. Also return the weights.
        training: bool. Whether dropout is active.

    Returns:
        A tensor of shape `(batch, features)`, and with
        `return_attention_scores=True` also the weights of shape
        `(batch, num_heads, time)`.

    Example:

    >>> x = keras.random.normal((2, 7, 16))
    >>> tuple(AttentionPooling(num_heads=2)(x).shape)
    (2, 16)

    References:
        - [Bahdanau et al., 2015](https://arxiv.org/abs/1409.0473)
        - [Lin et al., 2017](https://arxiv.org/abs/1703.03130)
    """

    def __init__(
        self,
        units=None,
        num_heads=1,
        dropout=0.0,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int("units", units, allow_none=True)
        check_positive_int("num_heads", num_heads)
        check_rate("dropout", dropout)
        self.units = units
        self.num_heads = num_heads
        self.dropout = dropout
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.supports_masking = True

    def build(self, input_shape):
        check_sequence_shape(self, "inputs", input_shape)
        features = input_shape[-1]
        if features % self.num_heads:
            raise ValueError(
                f"The feature size {features} must be divisible by num_heads. "
                f"Received: num_heads={self.num_heads}"
            )
        units = self.units or features
        self.hidden_dense = keras.layers.Dense(
            units,
            activation="tanh",
            kernel_initializer=clone_initializer(self.kernel_initializer),
            bias_initializer=clone_initializer(self.bias_initializer),
            dtype=self.dtype_policy,
            name="hidden",
        )
        self.hidden_dense.build(input_shape)
        self.score_dense = keras.layers.Dense(
            self.num_heads,
            use_bias=False,
            kernel_initializer=clone_initializer(self.kernel_initializer),
            dtype=self.dtype_policy,
            name="score",
        )
        self.score_dense.build(tuple(input_shape[:-1]) + (units,))
        self.dropout_layer = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="weights_dropout"
        )

    def call(self, inputs, mask=None, return_attention_scores=False, training=None):
        check_sequence_input(self, "inputs", inputs)
        scores = self.score_dense(self.hidden_dense(inputs))  # (batch, time, heads)
        scores = ops.transpose(scores, (0, 2, 1))  # (batch, heads, time)
        if mask is not None:
            mask = ops.expand_dims(ops.cast(mask, "bool"), 1)
        weights = masked_softmax(scores, mask=mask, axis=-1)
        dropped = self.dropout_layer(weights, training=training)
        shape = ops.shape(inputs)
        head_size = inputs.shape[-1] // self.num_heads
        per_head = ops.reshape(inputs, (shape[0], shape[1], self.num_heads, head_size))
        # (batch, heads, time) x (batch, time, heads, head_size) -> (batch, heads, head_size)
        pooled = ops.einsum("bht,bthd->bhd", ops.cast(dropped, inputs.dtype), per_head)
        pooled = ops.reshape(pooled, (shape[0], inputs.shape[-1]))
        if return_attention_scores:
            return pooled, weights
        return pooled

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def compute_output_spec(self, inputs, mask=None, return_attention_scores=False, training=None):
        pooled = keras.KerasTensor((inputs.shape[0], inputs.shape[-1]), dtype=self.compute_dtype)
        if return_attention_scores:
            weights = keras.KerasTensor(
                (inputs.shape[0], self.num_heads, inputs.shape[1]), dtype=self.compute_dtype
            )
            return pooled, weights
        return pooled

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "num_heads": self.num_heads,
                "dropout": self.dropout,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config
