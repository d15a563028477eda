"""Compiled training steps (XLA via tf.function on TensorFlow, jax.jit on JAX):
losses and gradients of our layers equal those of Keras's built-ins with the
same weights. Under XLA on TensorFlow the projections and the attention
products have hand-written gradients (`keras_attention/projections.py`,
`keras_attention/ops.py`), a path that eager calls and exports never take."""

import keras
import numpy as np
import pytest

import keras_attention as ka
from layer_test_case import randomize_weights
from numpy_reference import to_numpy


def compiled_loss_and_gradients(layer, x, arguments, loss_weights):
    """`sum(layer(*arguments(x)) * loss_weights)` and its gradients with respect
    to `layer.trainable_variables` and `x`, computed by one compiled step."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        @tf.function(jit_compile=True)
        def step(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                args, kwargs = arguments(x)
                loss = tf.reduce_sum(layer(*args, **kwargs) * loss_weights)
            return loss, tape.gradient(loss, [*layer.trainable_variables, x])

        loss, gradients = step(tf.constant(x))
        return to_numpy(loss), [to_numpy(g) for g in gradients]

    import jax

    non_trainable = [v.value for v in layer.non_trainable_variables]

    def loss_fn(trainable, x):
        args, kwargs = arguments(x)
        output, _ = layer.stateless_call(trainable, non_trainable, *args, **kwargs)
        return keras.ops.sum(output * loss_weights)

    step = jax.jit(jax.value_and_grad(loss_fn, argnums=(0, 1)))
    loss, (trainable_gradients, x_gradient) = step(
        [v.value for v in layer.trainable_variables], x
    )
    return to_numpy(loss), [to_numpy(g) for g in [*trainable_gradients, x_gradient]]


def assert_same_training_step(ours, theirs, x, arguments, atol=1e-4):
    args, kwargs = arguments(x)
    expected_output = theirs(*args, **kwargs)
    ours(*args, **kwargs)
    assert [w.shape for w in ours.trainable_weights] == [
        w.shape for w in theirs.trainable_weights
    ]
    ours.set_weights(theirs.get_weights())
    loss_weights = np.random.default_rng(1).normal(size=expected_output.shape).astype("float32")
    expected_loss, expected_gradients = compiled_loss_and_gradients(
        theirs, x, arguments, loss_weights
    )
    loss, gradients = compiled_loss_and_gradients(ours, x, arguments, loss_weights)
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-5, atol=atol)
    names = [w.path for w in ours.trainable_weights] + ["input"]
    for name, gradient, expected in zip(names, gradients, expected_gradients, strict=True):
        assert np.any(expected != 0), name
        np.testing.assert_allclose(gradient, expected, rtol=1e-4, atol=atol, err_msg=name)


def inputs(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("attention", ["self", "cross", "causal", "unmasked"])
def test_multi_head_attention_step_matches_keras(attention, use_bias):
    """Self-attention projects Q, K and V in one product; cross-attention one
    product each. A padding mask leaves some keys out; the causal case has no
    explicit mask, the unmasked one no mask at all."""
    x = inputs(3, 6, 16)
    memory = inputs(3, 4, 12, seed=1)
    padding = np.array([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]], bool)
    if attention == "self":
        padding = np.concatenate([padding, np.ones((3, 2), bool)], axis=1)

        def arguments(x):
            return (x, x), {"attention_mask": padding[:, None, :]}
    elif attention == "causal":

        def arguments(x):
            return (x, x), {"use_causal_mask": True}
    elif attention == "unmasked":

        def arguments(x):
            return (x, x), {}
    else:

        def arguments(x):
            return (x, memory), {"attention_mask": padding[:, None, :]}

    kwargs = dict(num_heads=2, key_dim=5, use_bias=use_bias)
    theirs = keras.layers.MultiHeadAttention(**kwargs)
    theirs(*arguments(x)[0])
    randomize_weights(theirs)
    assert_same_training_step(ka.MultiHeadAttention(**kwargs), theirs, x, arguments)


def test_feed_forward_step_matches_keras_dense_layers():
    x = inputs(2, 5, 8)
    theirs = keras.Sequential(
        [
            keras.layers.Dense(12, activation=lambda h: keras.ops.gelu(h, approximate=True)),
            keras.layers.Dense(8),
        ]
    )
    theirs(x)
    randomize_weights(theirs)
    assert_same_training_step(ka.FeedForward(12), theirs, x, lambda x: ((x,), {}))


def test_encoder_block_step_matches_keras_layers():
    """The post-norm block of Keras's MultiHeadAttention, LayerNormalization
    and Dense layers, in our block's weight order."""

    class KerasEncoderBlock(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.attention = keras.layers.MultiHeadAttention(2, 4)
            self.attention_norm = keras.layers.LayerNormalization(epsilon=1e-5)
            self.intermediate = keras.layers.Dense(16)
            self.output_dense = keras.layers.Dense(8)
            self.feed_forward_norm = keras.layers.LayerNormalization(epsilon=1e-5)

        def call(self, x, padding_mask):
            x = self.attention_norm(
                x + self.attention(x, x, attention_mask=padding_mask[:, None, :])
            )
            hidden = keras.ops.gelu(self.intermediate(x), approximate=True)
            return self.feed_forward_norm(x + self.output_dense(hidden))

    x = inputs(3, 5, 8)
    padding = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0]], bool)
    theirs = KerasEncoderBlock()
    theirs(x, padding)
    randomize_weights(theirs)
    ours = ka.TransformerEncoderBlock(intermediate_dim=16, num_heads=2)
    ours(x, padding_mask=padding)
    assert_same_training_step(
        ours, theirs, x, lambda x: ((x,), {"padding_mask": padding}), atol=1e-4
    )


def test_mixed_precision_step_is_close_to_float32():
    x = inputs(2, 6, 16)

    def arguments(x):
        return (x, x), {}

    float32_layer = ka.MultiHeadAttention(num_heads=2, key_dim=8)
    float32_layer(x, x)
    randomize_weights(float32_layer)
    loss_weights = inputs(2, 6, 16, seed=2)
    expected_loss, expected = compiled_loss_and_gradients(
        float32_layer, x, arguments, loss_weights
    )
    mixed_layer = ka.MultiHeadAttention(num_heads=2, key_dim=8, dtype="mixed_float16")
    mixed_layer(x, x)
    mixed_layer.set_weights(float32_layer.get_weights())
    loss, gradients = compiled_loss_and_gradients(mixed_layer, x, arguments, loss_weights)
    np.testing.assert_allclose(loss, expected_loss, rtol=2e-2, atol=2e-2)
    for gradient, reference in zip(gradients, expected, strict=True):
        scale = max(1.0, float(np.max(np.abs(reference))))
        assert np.max(np.abs(gradient.astype("float32") - reference)) <= 2e-2 * scale
