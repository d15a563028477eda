import keras

from keras_attention.feed_forward import FeedForward
from keras_attention.masks import implicit_mask
from keras_attention.masks import merge_padding_and_attention_mask
from keras_attention.multi_head_attention import MultiHeadAttention
from keras_attention.transformer_block_utils import head_size
from keras_attention.transformer_block_utils import validate_block_arguments
from keras_attention.validation import check_sequence_input
from keras_attention.validation import check_sequence_shape


@keras.saving.register_keras_serializable(package="keras_attention")
class TransformerDecoderBlock(keras.layers.Layer):
    """Transformer decoder block: causal self-attention, cross-attention, FFN.

    Self-attention is causal: a position never sees a later one, so changing a
    future token changes no earlier output. Decoder padding comes from
    `decoder_padding_mask` or the decoder input's Keras mask; encoder padding
    from `encoder_padding_mask` or the encoder output's Keras mask, and only
    the encoder's mask is applied to cross-attention keys. Cross-attention is
    built when `encoder_sequence` is given at build time; without it the block
    is a decoder-only (GPT-style) block.

    For incremental decoding pass `self_attention_cache` of shape
    `(batch, 2, max_length, num_heads, head_dim)` and the position of the first
    new token as `self_attention_cache_update_index`; the block then returns
    `(outputs, updated_cache)`. Step-by-step outputs equal the full causal pass.
    Cross-attention keys and values can be computed once with
    `compute_cross_attention_cache(encoder_sequence)` and passed as
    `cross_attention_cache` instead of `encoder_sequence`.

    With `return_cross_attention_scores=True` the block also returns the
    cross-attention weights (what a copy mechanism points with), on the full
    pass and on a cached step alike; without it the cross-attention runs as
    before (it may take the backend's fused path, which computes no weights).

    Args:
        intermediate_dim: int. Hidden size of the feed-forward network.
        num_heads: int. Number of attention heads.
        dropout: float. Dropout after each sublayer. Defaults to 0.
        attention_dropout: float. Dropout on attention weights. Defaults to 0.
        activation: string. Feed-forward activation. Defaults to `"gelu"` (tanh
            approximation).
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
        decoder_sequence: tensor `(batch, target_len, features)`.
        encoder_sequence: optional tensor `(batch, source_len, features)`.
        decoder_padding_mask: optional boolean `(batch, target_len)`.
        decoder_attention_mask: optional boolean `(batch, target_len, target_len)`.
        encoder_padding_mask: optional boolean `(batch, source_len)`.
        encoder_attention_mask: optional boolean `(batch, target_len, source_len)`.
        self_attention_cache: optional cache tensor (see above).
        self_attention_cache_update_index: int or scalar tensor.
        cross_attention_cache: optional precomputed cross-attention keys and
            values, `(batch, 2, source_len, num_heads, head_dim)`.
        use_causal_mask: bool. Defaults to True.
        return_cross_attention_scores: bool. Also return the cross-attention
            weights `(batch, num_heads, target_len, source_len)`: softmax
            outputs before attention dropout, 0 on padded source positions.
            Defaults to False.
        training: bool. Whether dropout is active.

    Returns:
        A tensor of the shape of `decoder_sequence`; followed by the
        cross-attention weights with `return_cross_attention_scores`, and by
        the updated `self_attention_cache` when a cache is given (the order of
        `MultiHeadAttention`'s outputs).

    Example:

    >>> block = TransformerDecoderBlock(intermediate_dim=64, num_heads=4)
    >>> target, source = keras.random.normal((2, 6, 32)), keras.random.normal((2, 9, 32))
    >>> tuple(block(target, source).shape)
    (2, 6, 32)

    References:
        - [Vaswani et al., 2017](https://arxiv.org/abs/1706.03762)
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

    def _attention(self, name, hidden_dim, use_rope):
        return MultiHeadAttention(
            num_heads=self.num_heads,
            key_dim=head_size(hidden_dim, self.num_heads, self.key_dim),
            dropout=self.attention_dropout,
            use_rope=use_rope,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
            dtype=self.dtype_policy,
            name=name,
        )

    def _norm(self, name, shape):
        norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name=name
        )
        norm.build(shape)
        return norm

    def _dropout(self, name):
        return keras.layers.Dropout(self.dropout, dtype=self.dtype_policy, name=name)

    def build(self, decoder_sequence_shape, encoder_sequence_shape=None):
        check_sequence_shape(self, "decoder_sequence", decoder_sequence_shape)
        if encoder_sequence_shape is not None:
            check_sequence_shape(self, "encoder_sequence", encoder_sequence_shape)
        hidden_dim = decoder_sequence_shape[-1]
        self.self_attention = self._attention("self_attention", hidden_dim, self.use_rope)
        self.self_attention.build(decoder_sequence_shape, decoder_sequence_shape)
        self.self_attention_norm = self._norm("self_attention_norm", decoder_sequence_shape)
        self.self_attention_dropout = self._dropout("self_attention_dropout")
        self.has_cross_attention = encoder_sequence_shape is not None
        if self.has_cross_attention:
            self.cross_attention = self._attention("cross_attention", hidden_dim, False)
            self.cross_attention.build(decoder_sequence_shape, encoder_sequence_shape)
            self.cross_attention_norm = self._norm("cross_attention_norm", decoder_sequence_shape)
            self.cross_attention_dropout = self._dropout("cross_attention_dropout")
        self.feed_forward = FeedForward(
            self.intermediate_dim,
            activation=self.activation,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
            dtype=self.dtype_policy,
            name="feed_forward",
        )
        self.feed_forward.build(decoder_sequence_shape)
        self.feed_forward_norm = self._norm("feed_forward_norm", decoder_sequence_shape)
        self.feed_forward_dropout = self._dropout("feed_forward_dropout")

    def compute_cross_attention_cache(self, encoder_sequence):
        """Cross-attention keys and values `(batch, 2, source_len, heads, head_dim)`."""
        if not getattr(self, "has_cross_attention", False):
            raise ValueError(
                "This block was built without cross-attention; build it with an "
                "encoder_sequence to attend to one."
            )
        return self.cross_attention.compute_key_value_cache(encoder_sequence)

    def _residual(self, sublayer, norm, dropout, x, training):
        residual = x
        if self.normalize_first:
            x = norm(x)
        x, extra = sublayer(x)
        x = dropout(x, training=training) + residual
        if not self.normalize_first:
            x = norm(x)
        return x, extra

    def call(
        self,
        decoder_sequence,
        encoder_sequence=None,
        decoder_padding_mask=None,
        decoder_attention_mask=None,
        encoder_padding_mask=None,
        encoder_attention_mask=None,
        self_attention_cache=None,
        self_attention_cache_update_index=None,
        cross_attention_cache=None,
        use_causal_mask=True,
        return_cross_attention_scores=False,
        training=None,
    ):
        check_sequence_input(self, "decoder_sequence", decoder_sequence)
        if encoder_sequence is not None:
            check_sequence_input(self, "encoder_sequence", encoder_sequence)
        use_cache = self_attention_cache is not None
        if use_cache:
            # Cached keys are all real tokens; the causal cache mask covers the rest.
            self_mask = decoder_attention_mask
        else:
            self_mask = merge_padding_and_attention_mask(
                decoder_sequence, decoder_padding_mask, decoder_attention_mask
            )

        def self_attention(x):
            if use_cache:
                return self.self_attention(
                    x,
                    x,
                    attention_mask=self_mask,
                    cache=self_attention_cache,
                    cache_update_index=self_attention_cache_update_index,
                    training=training,
                )
            return (
                self.self_attention(
                    x, x, attention_mask=self_mask, use_causal_mask=use_causal_mask,
                    training=training,
                ),
                None,
            )

        x, new_cache = self._residual(
            self_attention, self.self_attention_norm, self.self_attention_dropout,
            decoder_sequence, training,
        )

        has_source = encoder_sequence is not None or cross_attention_cache is not None
        if has_source and not self.has_cross_attention:
            raise ValueError(
                "This block was built without cross-attention; build it with an "
                "encoder_sequence to attend to one."
            )
        if self.has_cross_attention and not has_source:
            raise ValueError(
                "This block has cross-attention: pass `encoder_sequence` or "
                "`cross_attention_cache`."
            )
        if return_cross_attention_scores and not self.has_cross_attention:
            raise ValueError(
                "`return_cross_attention_scores` needs cross-attention; build the block "
                "with an encoder_sequence."
            )
        cross_scores = None
        if self.has_cross_attention:
            # The encoder's padding only (never the decoder's): from
            # `encoder_padding_mask` or the encoder output's Keras mask.
            cross_mask = merge_padding_and_attention_mask(
                encoder_sequence, encoder_padding_mask, encoder_attention_mask
            )

            def cross_attention(x):
                # Scores only when asked for: returning them rules out the fused path.
                arguments = dict(
                    attention_mask=cross_mask,
                    return_attention_scores=return_cross_attention_scores,
                    training=training,
                )
                if cross_attention_cache is not None:
                    # (output, [scores,] cache): the cache is read, never written.
                    results = self.cross_attention(
                        x, None, cache=cross_attention_cache, **arguments
                    )[:-1]
                elif return_cross_attention_scores:
                    results = self.cross_attention(x, encoder_sequence, **arguments)
                else:
                    results = (self.cross_attention(x, encoder_sequence, **arguments),)
                return results[0], results[1] if return_cross_attention_scores else None

            x, cross_scores = self._residual(
                cross_attention, self.cross_attention_norm, self.cross_attention_dropout,
                x, training,
            )

        def feed_forward(x):
            return self.feed_forward(x, training=training), None

        x, _ = self._residual(
            feed_forward, self.feed_forward_norm, self.feed_forward_dropout, x, training
        )
        results = (x,)
        if return_cross_attention_scores:
            results += (cross_scores,)
        if use_cache:
            results += (new_cache,)
        return results[0] if len(results) == 1 else results

    def compute_mask(self, decoder_sequence, *args, **kwargs):
        return implicit_mask(decoder_sequence)

    def compute_output_shape(self, decoder_sequence_shape, encoder_sequence_shape=None):
        return decoder_sequence_shape

    def compute_output_spec(
        self,
        decoder_sequence,
        encoder_sequence=None,
        *args,
        self_attention_cache=None,
        cross_attention_cache=None,
        return_cross_attention_scores=False,
        **kwargs,
    ):
        results = (keras.KerasTensor(decoder_sequence.shape, dtype=self.compute_dtype),)
        if return_cross_attention_scores:
            if encoder_sequence is not None:
                source_length = encoder_sequence.shape[1]
            else:
                source_length = cross_attention_cache.shape[2]
            batch, target_length = decoder_sequence.shape[:2]
            results += (
                keras.KerasTensor(
                    (batch, self.num_heads, target_length, source_length),
                    dtype=self.compute_dtype,
                ),
            )
        if self_attention_cache is not None:
            results += (
                keras.KerasTensor(self_attention_cache.shape, dtype=self_attention_cache.dtype),
            )
        return results[0] if len(results) == 1 else results

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
