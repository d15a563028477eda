import math

import keras
from keras import ops

from keras_attention import masks
from keras_attention.attention_equations import attention_equations
from keras_attention.attention_equations import standardize_attention_axes
from keras_attention.attention_equations import standardize_output_shape
from keras_attention.attention_projections import AttentionProjectionsMixin
from keras_attention.key_value_cache import KeyValueCacheMixin
from keras_attention.legacy_layout import LegacyLayoutMixin
from keras_attention.ops import masked_softmax
from keras_attention.ops import scaled_dot_product_attention
from keras_attention.ops import zero_fully_masked_queries
from keras_attention.rotary import apply_rotary_embedding
from keras_attention.validation import check_positive_int
from keras_attention.validation import check_rate
from keras_attention.validation import check_sequence_input
from keras_attention.validation import check_sequence_shape

# Per backend, what `benchmarks/layers.py` measured faster there (BENCHMARKS.md).
# Which attention path `use_fused_attention=None` takes: on TensorFlow
# `keras.ops.dot_product_attention` has no fused kernel and its select-based
# softmax is slower than the explicit path; on JAX (CPU) the explicit path is
# faster too.
_FUSED_BY_DEFAULT = {"tensorflow": False, "jax": False}


@keras.saving.register_keras_serializable(package="keras_attention")
class MultiHeadAttention(
    AttentionProjectionsMixin, KeyValueCacheMixin, LegacyLayoutMixin, keras.layers.Layer
):
    """Multi-head scaled dot-product attention, softmax(QKᵀ/√d_k)V.

    A drop-in replacement for `keras.layers.MultiHeadAttention`: the same
    constructor arguments (including `attention_axes`, `sliding_window`,
    `flash_attention`, `use_gate`, constraints and regularizers), call
    signature, projection sublayers (`query_dense`, `key_dense`, `value_dense`,
    `output_dense`, all `EinsumDense`, so LoRA and quantization work) and
    weight order, and the same override points (`_compute_attention_mask`,
    `_compute_attention`, `_masked_softmax`). It adds rotary position
    embeddings, a key/value cache for incremental decoding, and a masked
    softmax that gives exact zeros on masked keys and on fully masked rows
    (never NaN, never -inf, so exported graphs stay finite).

    Masks: the Keras masks of `query`, `value` and `key`, an explicit
    `attention_mask` of shape `(batch, query_len, key_len)` or, per head,
    `(batch, num_heads, query_len, key_len)`, `use_causal_mask` and
    `sliding_window` are all combined with a logical AND; True means "may
    attend". A query whose keys are all masked outputs the output bias alone
    (Keras's layer spreads its weight uniformly instead). The output carries
    the query's Keras mask.

    Attention runs either through `keras.ops.dot_product_attention` (the
    backend's fused kernel where there is one) or through an explicit masked
    softmax; both give the same results. The fused path is only possible
    without attention dropout in effect, without returned scores, with
    `key_dim == value_dim` and with attention over one axis. Self-attention
    (`value is query`, no `key`) projects Q, K and V with one matrix product.

    Args:
        num_heads: int. Number of attention heads.
        key_dim: int. Size of each head for query and key.
        value_dim: int. Size of each head for value. Defaults to `key_dim`.
        dropout: float. Dropout rate on the attention weights. Defaults to 0.
        use_bias: bool. Whether the projections use biases. Defaults to True.
        output_shape: int or tuple of ints. Shape of each output position.
            Defaults to the query's last dimension.
        attention_axes: int or tuple of ints. The axes of the inputs attention
            runs over (batch, heads and features excluded). Defaults to every
            axis between the batch and the features, i.e. the sequence axis of
            `(batch, sequence, features)` inputs.
        sliding_window: int. If set, a query attends only to keys less than
            `sliding_window` positions away (a band; with `use_causal_mask`
            the causal sliding window of Mistral). Defaults to None.
        flash_attention: bool. True requires the backend's flash kernel
            (JAX on a GPU), False forbids it; None lets the backend decide
            and follows `keras.config.disable_flash_attention()`. Defaults to
            None.
        kernel_initializer: initializer for the projection kernels. Defaults to
            `"glorot_uniform"`.
        bias_initializer: initializer for the biases. Defaults to `"zeros"`.
        kernel_regularizer: optional regularizer for the kernels.
        bias_regularizer: optional regularizer for the biases.
        activity_regularizer: optional regularizer for the outputs of every
            projection (as Keras's layer applies it).
        kernel_constraint: optional constraint for the kernels.
        bias_constraint: optional constraint for the biases.
        use_gate: bool. Multiply each head's output by a sigmoid gate computed
            from the query (gated attention). Defaults to False.
        seed: optional int. Seed for the attention dropout.
        use_rope: bool. Apply rotary position embeddings to queries and keys.
            Defaults to False.
        rope_max_wavelength: float. RoPE wavelength base. Defaults to 10000.
        use_fused_attention: bool. True prefers
            `keras.ops.dot_product_attention` where it applies, False always
            uses the explicit softmax; None picks the path measured faster on
            the current backend (explicit on TensorFlow, fused on JAX).
            Defaults to None.
        **kwargs: other keyword arguments passed to `keras.layers.Layer`.

    Call arguments:
        query: tensor of shape `(batch, query_len, query_features)` (or
            `(batch, ..., query_features)` with `attention_axes`).
        value: tensor of shape `(batch, key_len, value_features)`; may be None
            when a precomputed `cache` is given.
        key: optional tensor of shape `(batch, key_len, key_features)`.
            Defaults to `value`.
        attention_mask: optional boolean tensor `(batch, query_len, key_len)`
            or `(batch, num_heads, query_len, key_len)`.
        return_attention_scores: bool. Also return the attention weights of
            shape `(batch, heads, query_len, key_len)`.
        training: bool. Whether dropout is active.
        use_causal_mask: bool. Forbid attending to later positions.
        cache: optional tensor `(batch, 2, cache_len, heads, key_dim)` holding
            keys and values. With `cache_update_index` the keys and values of
            the current step are written at that position and attention is
            causal over the cache; without it the cache is used as is (e.g.
            precomputed cross-attention keys and values).
        cache_update_index: int or scalar int tensor. Cache position of the
            first query timestep.

    Returns:
        `output` of shape `(batch, query_len) + output_shape`, followed by the
        attention scores when `return_attention_scores=True` and by the updated
        cache when `cache` is given.

    Example:

    >>> layer = MultiHeadAttention(num_heads=4, key_dim=8)
    >>> x = keras.random.normal((2, 10, 32))
    >>> tuple(layer(x, x, use_causal_mask=True).shape)
    (2, 10, 32)

    References:
        - [Vaswani et al., 2017](https://arxiv.org/abs/1706.03762)
        - [Su et al., 2021](https://arxiv.org/abs/2104.09864) (RoPE)
        - [Qiu et al., 2025](https://arxiv.org/abs/2505.06708) (gated attention)
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        dropout=0.0,
        use_bias=True,
        output_shape=None,
        attention_axes=None,
        sliding_window=None,
        flash_attention=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        use_gate=False,
        seed=None,
        use_rope=False,
        rope_max_wavelength=10000.0,
        use_fused_attention=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int("num_heads", num_heads)
        check_positive_int("key_dim", key_dim)
        check_positive_int("value_dim", value_dim, allow_none=True)
        check_rate("dropout", dropout)
        check_positive_int("sliding_window", sliding_window, allow_none=True)
        if use_rope and key_dim % 2:
            raise ValueError(
                "Rotary embeddings need an even `key_dim`. "
                f"Received: key_dim={key_dim}"
            )
        if use_fused_attention not in (None, True, False):
            raise ValueError(
                "`use_fused_attention` must be True, False or None. "
                f"Received: use_fused_attention={use_fused_attention!r}"
            )
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.value_dim = value_dim if value_dim is not None else key_dim
        self.dropout = dropout
        self.use_bias = use_bias
        # Keras's private name; `output_shape` is a property of Layer. The
        # argument itself is kept as given for `get_config`.
        self._output_shape = standardize_output_shape(output_shape)
        self._output_shape_argument = output_shape
        self.attention_axes = standardize_attention_axes(attention_axes)
        self._attention_axes_argument = attention_axes
        self.sliding_window = sliding_window
        self.flash_attention = flash_attention
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        # Not `self.activity_regularizer`: Layer would apply that to this
        # layer's outputs; like Keras's layer, it goes to the projections.
        self._activity_regularizer = keras.regularizers.get(activity_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.use_gate = use_gate
        self.seed = seed
        self.use_rope = use_rope
        self.rope_max_wavelength = rope_max_wavelength
        self.use_fused_attention = use_fused_attention
        # The names below are keras.layers.MultiHeadAttention's, for subclasses
        # written against it (keras-hub's CachedMultiHeadAttention reads them).
        self._flash_attention = flash_attention or keras.config.is_flash_attention_enabled()
        if self._flash_attention and dropout > 0.0:
            raise ValueError(
                "Dropout is not supported when flash attention is enabled. "
                "Please set dropout to 0.0 to use flash attention."
            )
        if self._flash_attention and use_fused_attention is False:
            raise ValueError(
                "Flash attention runs on the fused path; it cannot be combined with "
                "use_fused_attention=False."
            )
        self._inverse_sqrt_key_dim = 1.0 / math.sqrt(float(key_dim))
        self.supports_masking = True

    # -- build -------------------------------------------------------------

    def build(self, query_shape, value_shape=None, key_shape=None):
        query_shape, value_shape, key_shape = self._check_shapes(
            query_shape, value_shape, key_shape
        )
        rank = len(query_shape) + 1  # of the projected tensors: one more, the heads
        self._query_dense = self._projection(
            "query", query_shape, (self.num_heads, self.key_dim)
        )
        self._key_dense = self._projection("key", key_shape, (self.num_heads, self.key_dim))
        if self.use_gate:
            self._gate_dense = self._projection(
                "gate", query_shape, (self.num_heads, self.value_dim), activation="sigmoid"
            )
        self._value_dense = self._projection(
            "value", value_shape, (self.num_heads, self.value_dim)
        )
        self._output_dense = self._projection(
            "attention_output",
            tuple(query_shape[:-1]) + (self.num_heads, self.value_dim),
            self._output_shape or (query_shape[-1],),
            contracted_dims=2,
        )
        self._build_attention(rank)

    def _check_shapes(self, query_shape, value_shape, key_shape):
        """Validated `(query, value, key)` shapes; value and key default as in `call`."""
        query_shape = tuple(query_shape)
        value_shape = query_shape if value_shape is None else tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        if value_shape[1:-1] != key_shape[1:-1]:
            raise ValueError(
                "All dimensions of `value` and `key`, except the last one, must be "
                f"equal. Received: value_shape={value_shape} and key_shape={key_shape}"
            )
        for name, shape in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            check_sequence_shape(self, name, shape, allow_higher_rank=True)
        if len(query_shape) != len(value_shape):
            raise ValueError(
                "`query` and `value` must have the same rank. Received: "
                f"query_shape={query_shape} and value_shape={value_shape}"
            )
        attention_axes = self._resolved_attention_axes(len(query_shape) + 1)
        for axis in range(1, len(query_shape) - 1):
            if axis in attention_axes:
                continue
            if None not in (query_shape[axis], value_shape[axis]) and (
                query_shape[axis] != value_shape[axis]
            ):
                raise ValueError(
                    f"Axis {axis} is not an attention axis, so `query` and `value` "
                    "must be equal along it. Received: "
                    f"query_shape={query_shape} and value_shape={value_shape}"
                )
        return query_shape, value_shape, key_shape

    def _resolved_attention_axes(self, rank):
        """Attention axes of the projected tensors of `rank` (heads included)."""
        if self.attention_axes is None:
            return tuple(range(1, rank - 2))
        axes = tuple(axis if axis >= 0 else rank - 1 + axis for axis in self.attention_axes)
        for axis in axes:
            if not 1 <= axis < rank - 2:
                raise ValueError(
                    "`attention_axes` must name axes between the batch and the "
                    f"features of inputs of rank {rank - 1}. Received: "
                    f"attention_axes={self.attention_axes}"
                )
        return axes

    def _build_attention(self, rank):
        """Einsum equations, softmax axes and dropout for projected tensors of `rank`."""
        self._attention_axes = self._resolved_attention_axes(rank)
        # Attention over the sequence axis of (batch, sequence, heads, dim):
        # the case with fused, rotary and cached variants.
        self._over_sequence = rank == 4 and self._attention_axes == (1,)
        (
            self._dot_product_equation,
            self._combine_equation,
            scores_rank,
        ) = attention_equations(rank, self._attention_axes)
        self._softmax_axes = tuple(
            range(scores_rank - len(self._attention_axes), scores_rank)
        )
        # Masks without a heads axis get one here (and batch axes before it).
        self._mask_expansion_axis = -len(self._attention_axes) * 2 - 1
        if self.use_rope and not self._over_sequence:
            raise ValueError(
                "Rotary embeddings need inputs of shape (batch, sequence, features) "
                f"and attention over the sequence. Received: attention_axes="
                f"{self.attention_axes} for inputs of rank {rank - 1}"
            )
        self._dropout_layer = keras.layers.Dropout(
            self.dropout, seed=self.seed, dtype=self.dtype_policy, name="attention_dropout"
        )

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
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
        cache=None,
        cache_update_index=None,
    ):
        self._check_call_arguments(query, value, key, cache, cache_update_index)
        updating_cache = cache is not None and cache_update_index is not None
        start_index = cache_update_index if updating_cache else 0

        # A cache without an update index is used as is: no keys to project.
        project_keys = cache is None or updating_cache
        query_heads, key_heads, value_heads = self._project_inputs(
            query, value, key, project_keys, self_attention_allowed=cache is None
        )
        if self.use_rope:
            query_heads, key_heads = self._rotate(query_heads, key_heads, start_index)
        if cache is not None:
            key_heads, value_heads, cache = self._read_and_update_cache(
                cache, key_heads, value_heads, start_index if updating_cache else None
            )
            # The cache replaces the inputs' keys; their padding masks do not apply.
            value_mask = key_mask = None

        # Writing into the cache implies incremental decoding: causal over
        # absolute positions, so unwritten cache slots are never attended to.
        mask_arguments = {"start_index": start_index} if updating_cache else {}
        attention_mask = self._compute_attention_mask(
            query_heads,
            value_heads,
            query_mask=query_mask,
            value_mask=value_mask,
            key_mask=key_mask,
            attention_mask=attention_mask,
            use_causal_mask=use_causal_mask or updating_cache,
            **mask_arguments,
        )
        # Positional, as keras.layers.MultiHeadAttention calls it, so that
        # overrides written for Keras's signature work.
        attended, scores = self._compute_attention(
            query_heads,
            key_heads,
            value_heads,
            attention_mask,
            training,
            return_attention_scores,
        )
        if self.use_gate:
            attended = attended * self._apply_projection(self._gate_dense, query)
        output = self._project_output(attended)

        results = (output,)
        if return_attention_scores:
            results += (scores,)
        if cache is not None:
            results += (cache,)
        return results[0] if len(results) == 1 else results

    def _check_call_arguments(self, query, value, key, cache, cache_update_index):
        if value is None and cache is None:
            raise ValueError("`value` is required unless a precomputed `cache` is given.")
        if cache_update_index is not None and cache is None:
            raise ValueError(
                "`cache_update_index` needs a `cache`. Received: cache=None, "
                f"cache_update_index={cache_update_index}"
            )
        for name, tensor in (("query", query), ("value", value), ("key", key)):
            if tensor is not None:
                check_sequence_input(self, name, tensor, allow_higher_rank=True)
        self._check_shapes(
            query.shape,
            None if value is None else value.shape,
            None if key is None else key.shape,
        )
        if cache is not None:
            self._check_cache_supported(query)

    # -- rotary embeddings -----------------------------------------------------

    def _rotate(self, query_heads, key_heads, start_index):
        query_heads = apply_rotary_embedding(
            query_heads,
            self._positions(ops.shape(query_heads)[1], start_index),
            self.rope_max_wavelength,
        )
        if key_heads is not None:  # None: the cached keys are rotated already
            key_heads = apply_rotary_embedding(
                key_heads,
                self._positions(ops.shape(key_heads)[1], start_index),
                self.rope_max_wavelength,
            )
        return query_heads, key_heads

    def _positions(self, length, start):
        return ops.cast(ops.arange(length), "float32") + ops.cast(start, "float32")

    # -- masks (Keras's override points) ---------------------------------------

    def _compute_attention_mask(
        self,
        query,
        value,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        use_causal_mask=False,
        start_index=0,
    ):
        """The AND of every mask source, a boolean mask or None.

        `query` and `value` are the projected tensors (only their lengths are
        read). The query's Keras mask becomes `(batch, query_len, 1)`, the
        value's and key's `(batch, 1, key_len)`, the causal and sliding-window
        masks `(1, query_len, key_len)`; `attention_mask` may be 2-D, 3-D or
        have a heads axis `(batch, num_heads, query_len, key_len)`, in which
        case the others gain a heads axis before the AND. `start_index` is the
        absolute position of the first query (incremental decoding).
        """
        sources = []
        if query_mask is not None:
            sources.append(ops.expand_dims(ops.cast(query_mask, "bool"), -1))
        for padding in (value_mask, key_mask):
            if padding is not None:
                sources.append(ops.expand_dims(ops.cast(padding, "bool"), -2))
        if use_causal_mask:
            sources.append(self._compute_causal_mask(query, value, start_index=start_index))
        if self.sliding_window is not None:
            sources.append(
                self._compute_sliding_window_mask(query, value, start_index=start_index)
            )
        if attention_mask is not None:
            sources.append(ops.cast(attention_mask, "bool"))
        if not sources:
            return None
        rank = max(len(mask.shape) for mask in sources)
        return masks.logical_and(*(self._expand_mask(mask, rank) for mask in sources))

    def _attention_lengths(self, query, value):
        if len(self._attention_axes) != 1:
            raise ValueError(
                "Causal and sliding-window masks need attention over one axis. "
                f"Received: attention_axes={self.attention_axes}"
            )
        axis = self._attention_axes[0]
        query_length = ops.shape(query)[axis]
        return query_length, query_length if value is None else ops.shape(value)[axis]

    def _compute_causal_mask(self, query, value=None, start_index=0):
        """A boolean `(1, query_len, key_len)` lower-triangular mask."""
        query_length, key_length = self._attention_lengths(query, value)
        return masks.causal_mask(query_length, key_length, start_index)

    def _compute_sliding_window_mask(self, query, value=None, start_index=0):
        """A boolean `(1, query_len, key_len)` band of width `2 * sliding_window - 1`."""
        query_length, key_length = self._attention_lengths(query, value)
        return masks.sliding_window_mask(
            query_length, key_length, self.sliding_window, start_index
        )

    def _expand_mask(self, mask, rank):
        """Inserts the missing heads (and batch) axes Keras's layer inserts."""
        for _ in range(rank - len(mask.shape)):
            mask = ops.expand_dims(mask, self._mask_expansion_axis)
        return mask

    # -- attention (Keras's override points) -----------------------------------

    def _masked_softmax(self, attention_scores, attention_mask=None):
        """Softmax over the key axes; masked keys and fully masked rows get 0."""
        if attention_mask is not None:
            attention_mask = self._expand_mask(
                ops.cast(attention_mask, "bool"), len(attention_scores.shape)
            )
        return masked_softmax(attention_scores, attention_mask, axis=self._softmax_axes)

    def _compute_attention(
        self,
        query,
        key,
        value,
        attention_mask=None,
        training=None,
        return_attention_scores=False,
        use_causal_mask=False,
    ):
        """Attention of projected queries to projected keys and values.

        Args:
            query: tensor `(batch, query_len, num_heads, key_dim)`.
            key: tensor `(batch, key_len, num_heads, key_dim)`.
            value: tensor `(batch, key_len, num_heads, value_dim)`.
            attention_mask: optional boolean mask as `_compute_attention_mask`
                returns it.
            training: bool. Whether dropout is active.
            return_attention_scores: bool. Whether to compute the weights.
            use_causal_mask: bool. AND a causal mask into `attention_mask`.

        Returns:
            `(attention_output, attention_scores)`; the scores are None when
            they were not computed.
        """
        if self._flash_attention and return_attention_scores:
            raise ValueError(
                "Returning attention scores is not supported when flash "
                "attention is enabled. Please disable flash attention to access"
                " attention scores."
            )
        query, key, value = (ops.convert_to_tensor(t) for t in (query, key, value))
        if use_causal_mask:
            attention_mask = masks.logical_and(
                attention_mask, self._compute_causal_mask(query, value)
            )
        if attention_mask is not None:
            rank = len(query.shape) + len(self._attention_axes) - 1
            attention_mask = self._expand_mask(ops.cast(attention_mask, "bool"), rank)
        dropout_active = self.dropout > 0.0 and bool(training)
        if self._takes_fused_path(query, value, dropout_active, return_attention_scores):
            attended = ops.dot_product_attention(
                query,
                key,
                value,
                mask=attention_mask,
                scale=self._inverse_sqrt_key_dim,
                flash_attention=self._flash_attention,
            )
            if attention_mask is not None:
                # Backends spread a fully masked row uniformly; zero it instead.
                attended = zero_fully_masked_queries(attended, attention_mask)
            return attended, None

        def dropout(weights):
            if not dropout_active:
                return weights
            return self._dropout_layer(weights, training=training)

        if self._over_sequence and (
            type(self)._masked_softmax is MultiHeadAttention._masked_softmax
        ):
            # The same numbers as the general path below, with fully masked
            # rows zeroed on the (smaller) output instead of the weights.
            return scaled_dot_product_attention(
                query,
                key,
                value,
                mask=attention_mask,
                dropout_fn=dropout if dropout_active else None,
                scale=self._inverse_sqrt_key_dim,
                return_weights=return_attention_scores,
            )
        query = ops.multiply(query, ops.cast(self._inverse_sqrt_key_dim, query.dtype))
        scores = ops.einsum(self._dot_product_equation, key, query)
        weights = self._masked_softmax(scores, attention_mask)
        attended = ops.einsum(self._combine_equation, dropout(weights), value)
        return attended, weights

    def _takes_fused_path(self, query, value, dropout_active, return_attention_scores):
        if not self._over_sequence or dropout_active or return_attention_scores:
            return False
        if self._flash_attention:
            return True
        # Fused kernels (jax.nn.dot_product_attention) need key_dim == value_dim.
        if query.shape[-1] != value.shape[-1]:
            return False
        if self.use_fused_attention is None:
            return _FUSED_BY_DEFAULT.get(keras.backend.backend(), False)
        return self.use_fused_attention

    # -- shapes and config ---------------------------------------------------

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        query_shape, _, _ = self._check_shapes(query_shape, value_shape, key_shape)
        return query_shape[:-1] + (self._output_shape or (query_shape[-1],))

    def compute_output_spec(
        self,
        query,
        value=None,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
        cache=None,
        cache_update_index=None,
    ):
        query_shape, value_shape, _ = self._check_shapes(
            query.shape,
            None if value is None else value.shape,
            None if key is None else key.shape,
        )
        output = keras.KerasTensor(
            self.compute_output_shape(query_shape, value_shape), dtype=self.compute_dtype
        )
        results = (output,)
        if return_attention_scores:
            key_shape = value_shape if cache is None else (None,) + tuple(cache.shape[2:])
            results += (
                keras.KerasTensor(
                    self._scores_shape(query_shape, key_shape), dtype=self.compute_dtype
                ),
            )
        if cache is not None:
            results += (keras.KerasTensor(cache.shape, dtype=cache.dtype),)
        return results[0] if len(results) == 1 else results

    def _scores_shape(self, query_shape, key_shape):
        """(batch dims..., heads, query attention dims..., key attention dims...)."""
        axes = self._resolved_attention_axes(len(query_shape) + 1)
        batch = [query_shape[i] for i in range(len(query_shape) - 1) if i not in axes]
        return (
            tuple(batch)
            + (self.num_heads,)
            + tuple(query_shape[i] for i in axes)
            + tuple(key_shape[i] for i in axes)
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "key_dim": self.key_dim,
                "value_dim": self.value_dim,
                "dropout": self.dropout,
                "use_bias": self.use_bias,
                "output_shape": _as_saved(self._output_shape_argument),
                "attention_axes": _as_saved(self._attention_axes_argument),
                "sliding_window": self.sliding_window,
                "flash_attention": self.flash_attention,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": keras.regularizers.serialize(
                    self._activity_regularizer
                ),
                "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
                "bias_constraint": keras.constraints.serialize(self.bias_constraint),
                "use_gate": self.use_gate,
                "seed": self.seed,
                "use_rope": self.use_rope,
                "rope_max_wavelength": self.rope_max_wavelength,
                "use_fused_attention": self.use_fused_attention,
            }
        )
        return config


def _as_saved(argument):
    """An int as given, a sequence as a list: what a `.keras` file gives back."""
    return list(argument) if isinstance(argument, (tuple, list)) else argument
