import keras
from keras import ops

from keras_attention.initializers import clone_initializer
from keras_attention.projections import flat_matmul
from keras_attention.projections import in_tensorflow_xla_function
from keras_attention.projections import kernel_gives_output
from keras_attention.validation import check_positive_int
from keras_attention.validation import check_rate


def get_activation(name):
    """Resolves an activation; "gelu" is the tanh approximation, "gelu_exact" the erf form.

    "gelu_exact" is what BERT-family checkpoints use. It is written with `erf`
    rather than `ops.gelu(approximate=False)`: TensorFlow lowers the latter to
    `Erfc`, which tf2onnx cannot convert (the ONNX file is written but
    onnxruntime rejects it), while ONNX has `Erf`.
    """
    if name == "gelu":
        return lambda x: ops.gelu(x, approximate=True)
    if name == "gelu_exact":
        return exact_gelu
    return keras.activations.get(name)


def exact_gelu(x):
    """x·Φ(x) = 0.5·x·(1 + erf(x/√2)), with ops that export to ONNX."""
    return 0.5 * x * (1.0 + ops.erf(x * ops.cast(0.7071067811865476, x.dtype)))


@keras.saving.register_keras_serializable(package="keras_attention")
class FeedForward(keras.layers.Layer):
    """Position-wise feed-forward network: Dense → activation → Dense.

    The Keras mask passes through.

    Args:
        intermediate_dim: int. Size of the hidden layer.
        activation: string. Defaults to `"gelu"` (tanh approximation).
        dropout: float. Dropout on the hidden layer. Defaults to 0.
        kernel_initializer: initializer for the kernels. Defaults to
            `"glorot_uniform"`.
        bias_initializer: initializer for the biases. Defaults to `"zeros"`.
        **kwargs: other keyword arguments passed to `keras.layers.Layer`.

    Call arguments:
        inputs: tensor `(batch, time, features)`.
        training: bool. Whether dropout is active.

    Returns:
        A tensor of the shape of `inputs`.

    Example:

    >>> tuple(FeedForward(64)(keras.random.normal((2, 5, 16))).shape)
    (2, 5, 16)
    """

    def __init__(
        self,
        intermediate_dim,
        activation="gelu",
        dropout=0.0,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int("intermediate_dim", intermediate_dim)
        check_rate("dropout", dropout)
        if not isinstance(activation, str):
            raise ValueError(
                f"`activation` must be a string name. Received: activation={activation!r}"
            )
        self.intermediate_dim = intermediate_dim
        self.activation = activation
        self.dropout = dropout
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self._activation_fn = get_activation(activation)
        self.supports_masking = True

    def build(self, input_shape):
        def dense_args():
            return dict(
                kernel_initializer=clone_initializer(self.kernel_initializer),
                bias_initializer=clone_initializer(self.bias_initializer),
                dtype=self.dtype_policy,
            )

        self.intermediate_dense = keras.layers.Dense(
            self.intermediate_dim, name="intermediate_dense", **dense_args()
        )
        self.intermediate_dense.build(input_shape)
        self.output_dense = keras.layers.Dense(input_shape[-1], name="output_dense", **dense_args())
        self.output_dense.build(tuple(input_shape[:-1]) + (self.intermediate_dim,))
        self.dropout_layer = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="intermediate_dropout"
        )

    def call(self, inputs, training=None):
        hidden = self._activation_fn(_apply_dense(self.intermediate_dense, inputs))
        hidden = self.dropout_layer(hidden, training=training)
        return _apply_dense(self.output_dense, hidden)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "intermediate_dim": self.intermediate_dim,
                "activation": self.activation,
                "dropout": self.dropout,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config


def _apply_dense(dense, inputs):
    """`dense(inputs)`; under XLA on TensorFlow, one 2-D product with the bias folded in."""
    if in_tensorflow_xla_function() and kernel_gives_output(dense):
        return dense.activation(flat_matmul(inputs, dense.kernel, dense.bias))
    return dense(inputs)
