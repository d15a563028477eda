import keras
from keras import ops

from keras_attention.initializers import clone_initializer
from keras_attention.ops import scaled_dot_product_attention
from keras_attention.ops import zero_fully_masked_queries
from keras_attention.rotary import apply_rotary_embedding
from keras_attention.validation import check_positive_int
from keras_attention.validation import check_rate
from keras_attention.validation import check_sequence_input


@keras.saving.register_keras_serializable(package="keras_attention")
class MultiHeadAttention(keras.layers.Layer):
    """Multi-head scaled dot-product attention, softmax(QKᵀ/√d_k)V.

    A drop-in replacement for `keras.layers.MultiHeadAttention` (same
    constructor arguments, call signature, weight shapes and weight order) that
    adds rotary position embeddings, a key/value cache for incremental decoding,
    and a masked softmax that gives exact zeros on masked keys and on fully
    masked rows (never NaN, never -inf, so exported graphs stay finite).

    Masks: the Keras masks of `query`, `value` and `key`, an explicit
    `attention_mask` of shape `(batch, query_len, key_len)` and
    `use_causal_mask` are all combined with a logical AND; True means "may
    attend". A query whose keys are all masked outputs the output bias alone.
    The output carries the query's Keras mask.

    When there is no attention dropout in effect, no scores are requested and
    `key_dim == value_dim`, attention runs through `keras.ops.dot_product_attention` (the backend's
    fused kernel where there is one); otherwise through an explicit masked
    softmax. Both give the same results. Self-attention (`value is query`,
    no `key`) projects Q, K and V with one matrix product.

    Args:
        num_heads: int. Number of attention heads.
        key_dim: int. Size of each head for query and key.
        value_dim: int. Size of each head for value. Defaults to `key_dim`.
        dropout: float. Dropout rate on the attention weights. Defaults to 0.
        use_bias: bool. Whether the projections use biases. Defaults to True.
        output_shape: int. Size of the output features. Defaults to the
            query's last dimension.
        use_rope: bool. Apply rotary position embeddings to queries and keys.
            Defaults to False.
        rope_max_wavelength: float. RoPE wavelength base. Defaults to 10000.
        use_fused_attention: bool. Use `keras.ops.dot_product_attention` when
            possible. Defaults to True.
        kernel_initializer: initializer for the projection kernels. Defaults to
            `"glorot_uniform"`.
        bias_initializer: initializer for the biases. Defaults to `"zeros"`.
        kernel_regularizer: optional regularizer for the kernels.
        bias_regularizer: optional regularizer for the biases.
        seed: optional int. Seed for the attention dropout.
        **kwargs: other keyword arguments passed to `keras.layers.Layer`.

    Call arguments:
        query: tensor of shape `(batch, query_len, query_features)`.
        value: tensor of shape `(batch, key_len, value_features)`; may be None
            when a precomputed `cache` is given.
        key: optional tensor of shape `(batch, key_len, key_features)`.
            Defaults to `value`.
        attention_mask: optional boolean tensor `(batch, query_len, key_len)`.
        use_causal_mask: bool. Forbid attending to later positions.
        return_attention_scores: bool. Also return the attention weights of
            shape `(batch, heads, query_len, key_len)`.
        training: bool. Whether dropout is active.
        cache: optional tensor `(batch, 2, cache_len, heads, key_dim)` holding
            keys and values. With `cache_update_index` the keys and values of
            the current step are written at that position and attention is
            causal over the cache; without it the cache is used as is (e.g.
            precomputed cross-attention keys and values).
        cache_update_index: int or scalar int tensor. Cache position of the
            first query timestep.

    Returns:
        `output` of shape `(batch, query_len, output_shape)`, followed by the
        attention scores when `return_attention_scores=True` and by the updated
        cache when `cache` is given.

    Example:

    >>> layer = MultiHeadAttention(num_heads=4, key_dim=8)
    >>> x = keras.random.normal((2, 10, 32))
    >>> layer(x, x, use_causal_mask=True).shape
    (2, 10, 32)

    References:
        - [Vaswani et al., 2017](https://arxiv.org/abs/1706.03762)
        - [Su et al., 2021](https://arxiv.org/abs/2104.09864) (RoPE)
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        dropout=0.0,
        use_bias=True,
        output_shape=None,
        use_rope=False,
        rope_max_wavelength=10000.0,
        use_fused_attention=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int("num_heads", num_heads)
        check_positive_int("key_dim", key_dim)
        check_positive_int("value_dim", value_dim, allow_none=True)
        check_rate("dropout", dropout)
        if isinstance(output_shape, (tuple, list)):
            if len(output_shape) != 1:
                raise ValueError(
                    "`output_shape` must be an int or a 1-tuple. "
                    f"Received: output_shape={output_shape}"
                )
            output_shape = output_shape[0]
        check_positive_int("output_shape", output_shape, allow_none=True)
        if use_rope and key_dim % 2:
            raise ValueError(
                "Rotary embeddings need an even `key_dim`. "
                f"Received: key_dim={key_dim}"
            )
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.value_dim = value_dim if value_dim is not None else key_dim
        self.dropout = dropout
        self.use_bias = use_bias
        self._output_dim = output_shape
        self.use_rope = use_rope
        self.rope_max_wavelength = rope_max_wavelength
        self.use_fused_attention = use_fused_attention
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.seed = seed
        self.supports_masking = True
        self.dropout_layer = keras.layers.Dropout(
            dropout, seed=seed, dtype=self.dtype_policy, name="attention_dropout"
        )

    @property
    def output_dim(self):
        return self._output_dim

    def _projection(self, name, shape, bias_shape):
        kernel = self.add_weight(
            name=f"{name}_kernel",
            shape=shape,
            initializer=clone_initializer(self.kernel_initializer),
            regularizer=self.kernel_regularizer,
        )
        bias = None
        if self.use_bias:
            bias = self.add_weight(
                name=f"{name}_bias",
                shape=bias_shape,
                initializer=clone_initializer(self.bias_initializer),
                regularizer=self.bias_regularizer,
            )
        return kernel, bias

    def build(self, query_shape, value_shape=None, key_shape=None):
        query_dim = query_shape[-1]
        value_dim_in = value_shape[-1] if value_shape is not None else query_dim
        key_dim_in = key_shape[-1] if key_shape is not None else value_dim_in
        heads = self.num_heads
        # Same shapes and creation order as keras.layers.MultiHeadAttention,
        # so `set_weights(keras_layer.get_weights())` swaps one for the other.
        self.query_kernel, self.query_bias = self._projection(
            "query", (query_dim, heads, self.key_dim), (heads, self.key_dim)
        )
        self.key_kernel, self.key_bias = self._projection(
            "key", (key_dim_in, heads, self.key_dim), (heads, self.key_dim)
        )
        self.value_kernel, self.value_bias = self._projection(
            "value", (value_dim_in, heads, self.value_dim), (heads, self.value_dim)
        )
        output_dim = self._output_dim or query_dim
        self.output_kernel, self.output_bias = self._projection(
            "attention_output", (heads, self.value_dim, output_dim), (output_dim,)
        )
        self._query_features = query_dim
        self.dropout_layer.build(None)

    # -- projections -------------------------------------------------------

    def _project(self, inputs, kernel, bias, head_dim):
        flat_kernel = ops.reshape(kernel, (kernel.shape[0], -1))
        projected = ops.matmul(inputs, flat_kernel)
        if bias is not None:
            projected = projected + ops.reshape(bias, (-1,))
        return self._split_heads(projected, head_dim)

    def _split_heads(self, x, head_dim):
        shape = ops.shape(x)
        return ops.reshape(x, (shape[0], shape[1], self.num_heads, head_dim))

    def _project_self_attention(self, inputs):
        """Q, K and V of one input with a single matrix product."""
        kernels = [self.query_kernel, self.key_kernel, self.value_kernel]
        flat = [ops.reshape(k, (k.shape[0], -1)) for k in kernels]
        projected = ops.matmul(inputs, ops.concatenate(flat, axis=-1))
        if self.use_bias:
            biases = [self.query_bias, self.key_bias, self.value_bias]
            projected = projected + ops.concatenate(
                [ops.reshape(b, (-1,)) for b in biases], axis=-1
            )
        qk_size = self.num_heads * self.key_dim
        # One split, not three slices: its gradient is one concatenation, where
        # each slice's gradient would be a zero-padded tensor of the full width.
        query, key, value = ops.split(projected, [qk_size, 2 * qk_size], axis=-1)
        return (
            self._split_heads(query, self.key_dim),
            self._split_heads(key, self.key_dim),
            self._split_heads(value, self.value_dim),
        )

    # -- masks -------------------------------------------------------------

    def _combine_masks(
        self,
        query_len,
        key_len,
        query_mask,
        key_padding_mask,
        attention_mask,
        use_causal_mask,
        causal_offset=None,
    ):
        """A boolean (batch or 1, 1, query_len, key_len) mask, or None."""
        mask = None

        def merge(current, new):
            new = ops.cast(new, "bool")
            return new if current is None else ops.logical_and(current, new)

        if attention_mask is not None:
            mask = merge(mask, attention_mask)
        if query_mask is not None:
            mask = merge(mask, ops.expand_dims(query_mask, -1))
        if key_padding_mask is not None:
            mask = merge(mask, ops.expand_dims(key_padding_mask, -2))
        if use_causal_mask:
            query_positions = ops.arange(query_len)[:, None]
            if causal_offset is not None:
                query_positions = query_positions + ops.cast(
                    causal_offset, query_positions.dtype
                )
            key_positions = ops.arange(key_len)[None, :]
            causal = ops.greater_equal(query_positions, key_positions)
            mask = merge(mask, causal[None])
        if mask is None:
            return None
        if len(mask.shape) == 2:
            mask = mask[None]
        return ops.expand_dims(mask, 1)

    # -- call --------------------------------------------------------------

    def call(
        self,
        query,
        value=None,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        use_causal_mask=False,
        return_attention_scores=False,
        training=None,
        cache=None,
        cache_update_index=None,
    ):
        if value is None and cache is None:
            raise ValueError(
                "`value` is required unless a precomputed `cache` is given."
            )
        for name, tensor in (("query", query), ("value", value), ("key", key)):
            if tensor is not None:
                check_sequence_input(self, name, tensor)
        updating_cache = cache is not None and cache_update_index is not None
        self_attention = key is None and value is query and cache is None
        if self_attention:
            q, k, v = self._project_self_attention(query)
        else:
            q = self._project(query, self.query_kernel, self.query_bias, self.key_dim)
            if cache is None or updating_cache:
                key_input = value if key is None else key
                k = self._project(key_input, self.key_kernel, self.key_bias, self.key_dim)
                v = self._project(value, self.value_kernel, self.value_bias, self.value_dim)

        start = cache_update_index if updating_cache else 0
        if self.use_rope:
            query_positions = self._positions(ops.shape(q)[1], start)
            q = apply_rotary_embedding(q, query_positions, self.rope_max_wavelength)
            if cache is None or updating_cache:
                k = apply_rotary_embedding(
                    k, self._positions(ops.shape(k)[1], start), self.rope_max_wavelength
                )

        key_padding_mask = None
        if cache is not None:
            if self.key_dim != self.value_dim:
                raise ValueError(
                    "A key/value cache needs key_dim == value_dim. Received: "
                    f"key_dim={self.key_dim}, value_dim={self.value_dim}"
                )
            if updating_cache:
                update = ops.stack([k, v], axis=1)
                cache = ops.slice_update(
                    cache, (0, 0, cache_update_index, 0, 0), ops.cast(update, cache.dtype)
                )
            k = ops.cast(cache[:, 0], q.dtype)
            v = ops.cast(cache[:, 1], q.dtype)
        else:
            key_padding_mask = value_mask if key_mask is None else (
                key_mask if value_mask is None
                else ops.logical_and(ops.cast(key_mask, "bool"), ops.cast(value_mask, "bool"))
            )

        # Writing into the cache implies incremental decoding: causal over
        # absolute positions, so unwritten cache slots are never attended to.
        mask = self._combine_masks(
            ops.shape(q)[1],
            ops.shape(k)[1],
            query_mask,
            key_padding_mask,
            attention_mask,
            use_causal_mask or updating_cache,
            causal_offset=start if updating_cache else None,
        )

        dropout_active = self.dropout > 0 and bool(training)
        scale = 1.0 / self.key_dim**0.5
        # Fused kernels (jax.nn.dot_product_attention) need key_dim == value_dim.
        fusable = self.key_dim == self.value_dim and not dropout_active
        if self.use_fused_attention and fusable and not return_attention_scores:
            attended = ops.dot_product_attention(q, k, v, mask=mask, scale=scale)
            if mask is not None:
                # Backends spread a fully masked row uniformly; zero it instead.
                attended = zero_fully_masked_queries(attended, mask)
            scores = None
        else:
            dropout_fn = None
            if dropout_active:
                dropout_fn = lambda w: self.dropout_layer(w, training=training)
            attended, scores = scaled_dot_product_attention(
                q, k, v, mask=mask, dropout_fn=dropout_fn, scale=scale,
                return_weights=return_attention_scores,
            )

        shape = ops.shape(attended)
        # An explicit width, not -1: JAX cannot infer -1 when the batch is empty.
        merged = ops.reshape(attended, (shape[0], shape[1], self.num_heads * self.value_dim))
        output_kernel = ops.reshape(self.output_kernel, (-1, self.output_kernel.shape[-1]))
        output = ops.matmul(merged, output_kernel)
        if self.use_bias:
            output = output + self.output_bias

        results = (output,)
        if return_attention_scores:
            results += (scores,)
        if cache is not None:
            results += (cache,)
        return results[0] if len(results) == 1 else results

    def _positions(self, length, start):
        return ops.cast(ops.arange(length), "float32") + ops.cast(start, "float32")

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        output_dim = self._output_dim or query_shape[-1]
        return tuple(query_shape[:-1]) + (output_dim,)

    def compute_output_spec(
        self,
        query,
        value=None,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        use_causal_mask=False,
        return_attention_scores=False,
        training=None,
        cache=None,
        cache_update_index=None,
    ):
        output_dim = self._output_dim or query.shape[-1]
        output = keras.KerasTensor(
            tuple(query.shape[:-1]) + (output_dim,), dtype=self.compute_dtype
        )
        results = (output,)
        if return_attention_scores:
            key_len = (cache.shape[2] if cache is not None else
                       (key if key is not None else value).shape[1])
            results += (
                keras.KerasTensor(
                    (query.shape[0], self.num_heads, query.shape[1], key_len),
                    dtype=self.compute_dtype,
                ),
            )
        if cache is not None:
            results += (keras.KerasTensor(cache.shape, dtype=cache.dtype),)
        return results[0] if len(results) == 1 else results

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "key_dim": self.key_dim,
                "value_dim": self.value_dim,
                "dropout": self.dropout,
                "use_bias": self.use_bias,
                "output_shape": self._output_dim,
                "use_rope": self.use_rope,
                "rope_max_wavelength": self.rope_max_wavelength,
                "use_fused_attention": self.use_fused_attention,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
                "seed": self.seed,
            }
        )
        return config
