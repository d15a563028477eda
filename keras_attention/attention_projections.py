"""The query, key, value, gate and output projections of MultiHeadAttention.

They are EinsumDense sublayers with Keras's names and weight layout. The layer
either calls them or, where it measured faster, multiplies by their flattened
kernels itself (one MatMul; Q, K and V in one product for self-attention).
"""

import warnings

import keras
from keras import ops

from keras_attention.attention_equations import projection_equation
from keras_attention.initializers import clone_initializer
from keras_attention.projections import flat_matmul
from keras_attention.projections import kernel_gives_output

# Per backend, what `benchmarks/layers.py` measured faster there (BENCHMARKS.md).
# Whether plain projections multiply by the flattened kernel (one MatMul, and
# Q, K and V in one product for self-attention) instead of calling their
# EinsumDense: faster on TensorFlow, and the MatMul is what exported graphs
# hold; on JAX, XLA turns the EinsumDense einsum into one matrix product and
# is slower with the flattened 3-D matmul.
_FLATTENED_PROJECTIONS = {"tensorflow": True, "jax": False}
_MASK_DROPPED_WARNING = r".*was passed an input with a mask attached to it"


class AttentionProjectionsMixin:
    """The projection sublayers and methods that `MultiHeadAttention` inherits;
    they read its head sizes and weight settings (bias, initializers,
    regularizers, constraints)."""

    # -- Keras's public sublayer names -------------------------------------

    @property
    def query_dense(self):
        return self._query_dense

    @property
    def key_dense(self):
        return self._key_dense

    @property
    def value_dense(self):
        return self._value_dense

    @property
    def output_dense(self):
        return self._output_dense

    # The projection weights by name (this layer's attributes before the
    # projections were EinsumDense sublayers; pipelines read them).

    @property
    def query_kernel(self):
        return self._query_dense.kernel

    @property
    def query_bias(self):
        return self._query_dense.bias

    @property
    def key_kernel(self):
        return self._key_dense.kernel

    @property
    def key_bias(self):
        return self._key_dense.bias

    @property
    def value_kernel(self):
        return self._value_dense.kernel

    @property
    def value_bias(self):
        return self._value_dense.bias

    @property
    def output_kernel(self):
        return self._output_dense.kernel

    @property
    def output_bias(self):
        return self._output_dense.bias

    # -- building and applying them ----------------------------------------

    def _sublayer_arguments(self):
        return dict(
            kernel_initializer=clone_initializer(self.kernel_initializer),
            bias_initializer=clone_initializer(self.bias_initializer),
            kernel_regularizer=self.kernel_regularizer,
            bias_regularizer=self.bias_regularizer,
            activity_regularizer=self._activity_regularizer,
            kernel_constraint=self.kernel_constraint,
            bias_constraint=self.bias_constraint,
            dtype=self.dtype_policy,
        )

    def _projection(self, name, input_shape, output_shape, activation=None, contracted_dims=1):
        """An EinsumDense from `input_shape` to `input_shape[:-contracted_dims] + output_shape`."""
        kept_dims = len(input_shape) - contracted_dims
        equation, bias_axes = projection_equation(kept_dims, contracted_dims, len(output_shape))
        projection = keras.layers.EinsumDense(
            equation,
            output_shape=(None,) * (kept_dims - 1) + tuple(output_shape),
            activation=activation,
            bias_axes=bias_axes if self.use_bias else None,
            name=name,
            **self._sublayer_arguments(),
        )
        projection.build(input_shape)
        return projection

    def _project_inputs(self, query, value, key, project_keys, self_attention_allowed):
        """Query, key and value heads; key and value are None unless `project_keys`."""
        projections = (self._query_dense, self._key_dense, self._value_dense)
        self_attention = value is query and (key is None or key is query)
        if (
            self_attention
            and self_attention_allowed
            and all(map(_use_flattened_kernel, projections))
        ):
            return self._project_self_attention(query)
        query_heads = self._apply_projection(self._query_dense, query)
        if not project_keys or value is None:
            return query_heads, None, None
        key_heads = self._apply_projection(self._key_dense, value if key is None else key)
        value_heads = self._apply_projection(self._value_dense, value)
        return query_heads, key_heads, value_heads

    def _apply_projection(self, projection, inputs):
        if not _use_flattened_kernel(projection):
            with warnings.catch_warnings():
                # This layer applies the inputs' Keras masks itself; the
                # projection need not keep them (nor warn that it drops them).
                warnings.filterwarnings("ignore", message=_MASK_DROPPED_WARNING)
                return projection(inputs)
        # One matrix product on the flattened kernel: the same numbers as
        # the EinsumDense, and a MatMul in exported graphs.
        kernel = projection.kernel
        heads, head_dim = kernel.shape[-2:]
        bias = projection.bias
        projected = flat_matmul(
            inputs,
            ops.reshape(kernel, (kernel.shape[0], heads * head_dim)),
            None if bias is None else ops.reshape(bias, (heads * head_dim,)),
        )
        projected = projection.activation(projected)  # linear but for the gate's sigmoid
        return _split_heads(projected, heads, head_dim)

    def _project_self_attention(self, inputs):
        """Q, K and V of one input with a single matrix product."""
        projections = (self._query_dense, self._key_dense, self._value_dense)
        kernels = [ops.reshape(p.kernel, (p.kernel.shape[0], -1)) for p in projections]
        bias = None
        if self.use_bias:
            bias = ops.concatenate([ops.reshape(p.bias, (-1,)) for p in projections], axis=-1)
        projected = flat_matmul(inputs, ops.concatenate(kernels, axis=-1), bias)
        qk_size = self.num_heads * self.key_dim
        # One split, not three slices: its gradient is one concatenation, where
        # each slice's gradient would be a zero-padded tensor of the full width.
        query, key, value = ops.split(projected, [qk_size, 2 * qk_size], axis=-1)
        return (
            _split_heads(query, self.num_heads, self.key_dim),
            _split_heads(key, self.num_heads, self.key_dim),
            _split_heads(value, self.num_heads, self.value_dim),
        )

    def _project_output(self, attended):
        projection = self._output_dense
        if not _use_flattened_kernel(projection):
            return projection(attended)
        kernel = projection.kernel  # (heads, value_dim, *output_shape)
        features = self.num_heads * self.value_dim
        shape = ops.shape(attended)
        merged = ops.reshape(attended, tuple(shape[:-2]) + (features,))
        bias = projection.bias
        output = flat_matmul(
            merged,
            ops.reshape(kernel, (features, -1)),
            None if bias is None else ops.reshape(bias, (-1,)),
        )
        output_shape = tuple(kernel.shape[2:])
        if len(output_shape) > 1:
            output = ops.reshape(output, tuple(shape[:-2]) + output_shape)
        return output


def _use_flattened_kernel(projection):
    """Whether this layer may multiply by `projection`'s flattened kernel itself."""
    return _FLATTENED_PROJECTIONS.get(keras.backend.backend(), False) and kernel_gives_output(
        projection
    )


def _split_heads(x, heads, head_dim):
    shape = ops.shape(x)
    return ops.reshape(x, tuple(shape[:-1]) + (heads, head_dim))
