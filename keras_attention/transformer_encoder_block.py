import keras

from keras_attention.feed_forward import FeedForward
from keras_attention.masks import merge_padding_and_attention_mask
from keras_attention.multi_head_attention import MultiHeadAttention
from keras_attention.transformer_block_utils import head_size
from keras_attention.transformer_block_utils import validate_block_arguments
from keras_attention.validation import check_sequence_input
from keras_attention.validation import check_sequence_shape


@keras.saving.register_keras_serializable(package="keras_attention")
class TransformerEncoderBlock(keras.layers.Layer):
    """Transformer encoder block: self-attention and a feed-forward network.

    Each sublayer is wrapped in a residual connection and layer normalization,
    after the residual (post-norm, Vaswani et al.) or before the sublayer
    (pre-norm, `normalize_first=True`). Padding is taken from `padding_mask` or
    from the input's Keras mask, merged with `attention_mask`; padded keys get
    no attention weight, so changing a padded token changes no real position's
    output. The Keras mask passes through.

    Args:
        intermediate_dim: int. Hidden size of the feed-forward network.
        num_heads: int. Number of attention heads.
        dropout: float. Dropout after attention and the feed-forward network.
            Defaults to 0.
        attention_dropout: float. Dropout on the attention weights. Defaults to
            0.
        activation: string. Feed-forward activation. Defaults to `"gelu"` (tanh
            approximation, exportable to ONNX).
        layer_norm_epsilon: float. Defaults to 1e-5.
        normalize_first: bool. Pre-norm instead of post-norm. Defaults to False.
        key_dim: int. Size of each head. Defaults to width / num_heads.
        use_rope: bool. Rotary position embeddings in self-attention. Defaults
            to False.
        kernel_initializer: initializer for the kernels. Defaults to
            `"glorot_uniform"`.
        bias_initializer: initializer for the biases. Defaults to `"zeros"`.
        **kwargs: other keyword arguments passed to `keras.layers.Layer`.

    Call arguments:
        inputs: tensor `(batch, time, features)`.
        padding_mask: optional boolean `(batch, time)`; True marks real tokens.
        attention_mask: optional boolean `(batch, time, time)`.
        training: bool. Whether dropout is active.
        return_attention_scores: bool. Also return the self-attention weights
            `(batch, num_heads, time, time)`. Defaults to False.

    Returns:
        A tensor of the shape of `inputs`, followed by the attention weights
        when `return_attention_scores=True`.

    Example:

    >>> block = TransformerEncoderBlock(intermediate_dim=64, num_heads=4)
    >>> tuple(block(keras.random.normal((2, 10, 32))).shape)
    (2, 10, 32)

    References:
        - [Vaswani et al., 2017](https://arxiv.org/abs/1706.03762)
        - [Xiong et al., 2020](https://arxiv.org/abs/2002.04745) (pre-norm)
    """

    def __init__(
        self,
        intermediate_dim,
        num_heads,
        dropout=0.0,
        attention_dropout=0.0,
        activation="gelu",
        layer_norm_epsilon=1e-5,
        normalize_first=False,
        key_dim=None,
        use_rope=False,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        validate_block_arguments(
            intermediate_dim, num_heads, dropout, attention_dropout, normalize_first, key_dim
        )
        self.intermediate_dim = intermediate_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.activation = activation
        self.layer_norm_epsilon = layer_norm_epsilon
        self.normalize_first = normalize_first
        self.key_dim = key_dim
        self.use_rope = use_rope
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.supports_masking = True

    def build(self, input_shape):
        check_sequence_shape(self, "inputs", input_shape)
        hidden_dim = input_shape[-1]
        initializers = dict(
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
        )
        self.self_attention = MultiHeadAttention(
            num_heads=self.num_heads,
            key_dim=head_size(hidden_dim, self.num_heads, self.key_dim),
            dropout=self.attention_dropout,
            use_rope=self.use_rope,
            dtype=self.dtype_policy,
            name="self_attention",
            **initializers,
        )
        self.self_attention.build(input_shape, input_shape)
        self.attention_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name="attention_norm"
        )
        self.attention_norm.build(input_shape)
        self.attention_dropout_layer = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="attention_output_dropout"
        )
        self.feed_forward = FeedForward(
            self.intermediate_dim,
            activation=self.activation,
            dtype=self.dtype_policy,
            name="feed_forward",
            **initializers,
        )
        self.feed_forward.build(input_shape)
        self.feed_forward_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name="feed_forward_norm"
        )
        self.feed_forward_norm.build(input_shape)
        self.feed_forward_dropout_layer = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="feed_forward_dropout"
        )

    def call(
        self,
        inputs,
        padding_mask=None,
        attention_mask=None,
        training=None,
        return_attention_scores=False,
    ):
        check_sequence_input(self, "inputs", inputs)
        mask = merge_padding_and_attention_mask(inputs, padding_mask, attention_mask)
        x = inputs
        residual = x
        if self.normalize_first:
            x = self.attention_norm(x)
        x = self.self_attention(
            x,
            x,
            attention_mask=mask,
            training=training,
            return_attention_scores=return_attention_scores,
        )
        if return_attention_scores:
            x, attention_scores = x
        x = self.attention_dropout_layer(x, training=training) + residual
        if not self.normalize_first:
            x = self.attention_norm(x)

        residual = x
        if self.normalize_first:
            x = self.feed_forward_norm(x)
        x = self.feed_forward(x, training=training)
        x = self.feed_forward_dropout_layer(x, training=training) + residual
        if not self.normalize_first:
            x = self.feed_forward_norm(x)
        if return_attention_scores:
            return x, attention_scores
        return x

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_output_spec(self, inputs, *args, return_attention_scores=False, **kwargs):
        output = keras.KerasTensor(inputs.shape, dtype=self.compute_dtype)
        if not return_attention_scores:
            return output
        batch, length = inputs.shape[:2]
        scores = keras.KerasTensor(
            (batch, self.num_heads, length, length), dtype=self.compute_dtype
        )
        return output, scores

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "intermediate_dim": self.intermediate_dim,
                "num_heads": self.num_heads,
                "dropout": self.dropout,
                "attention_dropout": self.attention_dropout,
                "activation": self.activation,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "normalize_first": self.normalize_first,
                "key_dim": self.key_dim,
                "use_rope": self.use_rope,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config
