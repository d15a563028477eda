"""MultiHeadAttention's Keras arguments, each against keras.layers.MultiHeadAttention
with the same weights; per-head masks; shape checks; the override points."""

import keras
import numpy as np
import pytest
from keras import ops

import keras_attention as ka
from numpy_reference import to_numpy


def normal(rng, *shape):
    return rng.normal(size=shape).astype("float32")


def keras_and_ours(query, value, key=None, **kwargs):
    """A Keras layer with random biases and ours with its weights, both built."""
    theirs = keras.layers.MultiHeadAttention(bias_initializer="random_normal", **kwargs)
    ours = ka.MultiHeadAttention(**kwargs)
    # With scores: Keras's fused path fails on JAX when value_dim != key_dim.
    theirs(query, value, key=key, return_attention_scores=True)
    ours(query, value, key=key)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    ours.set_weights(theirs.get_weights())
    return theirs, ours


def assert_same_outputs(theirs, ours, query, value, atol=1e-5, **call):
    expected, expected_scores = theirs(query, value, return_attention_scores=True, **call)
    output, scores = ours(query, value, return_attention_scores=True, **call)
    np.testing.assert_allclose(to_numpy(output), to_numpy(expected), rtol=1e-4, atol=atol)
    np.testing.assert_allclose(to_numpy(scores), to_numpy(expected_scores), atol=1e-6)
    # Without scores, on whichever path the layer takes by default.
    np.testing.assert_allclose(
        to_numpy(ours(query, value, **call)), to_numpy(expected), rtol=1e-4, atol=atol
    )


# -- attention_axes and higher-rank inputs -------------------------------------


@pytest.mark.parametrize(
    "query_shape, value_shape, attention_axes",
    [
        ((2, 3, 4, 8), (2, 3, 5, 8), (2,)),
        ((2, 3, 4, 8), (2, 6, 4, 8), 1),
        ((2, 3, 4, 8), (2, 5, 2, 8), None),  # every axis between batch and features
        ((2, 2, 3, 4, 8), (2, 2, 3, 2, 8), (2, 3)),
        ((2, 3, 4, 8), (2, 3, 5, 8), -2),
    ],
    ids=["axis_2", "axis_1", "both_axes_by_default", "two_of_three_axes", "negative_axis"],
)
def test_attention_axes_match_keras(query_shape, value_shape, attention_axes):
    rng = np.random.default_rng(0)
    query, value = normal(rng, *query_shape), normal(rng, *value_shape)
    theirs, ours = keras_and_ours(
        query, value, num_heads=2, key_dim=4, attention_axes=attention_axes
    )
    assert_same_outputs(theirs, ours, query, value)


def test_attention_axes_with_a_mask_match_keras():
    rng = np.random.default_rng(1)
    query, value = normal(rng, 2, 3, 4, 8), normal(rng, 2, 3, 5, 8)
    mask = rng.random((2, 3, 4, 5)) < 0.7
    mask[..., 0] = True
    theirs, ours = keras_and_ours(query, value, num_heads=2, key_dim=4, attention_axes=2)
    assert_same_outputs(theirs, ours, query, value, attention_mask=mask)


def test_causal_mask_over_the_attention_axis():
    rng = np.random.default_rng(2)
    x = normal(rng, 2, 5, 3, 8)
    theirs, ours = keras_and_ours(x, x, num_heads=2, key_dim=4, attention_axes=1)
    assert_same_outputs(theirs, ours, x, x, use_causal_mask=True)


def test_rotary_embeddings_and_the_cache_need_sequence_inputs():
    x = np.zeros((1, 3, 4, 8), "float32")
    with pytest.raises(ValueError, match="Rotary embeddings need inputs of shape"):
        ka.MultiHeadAttention(num_heads=2, key_dim=4, use_rope=True)(x, x)
    layer = ka.MultiHeadAttention(num_heads=2, key_dim=4, attention_axes=2)
    with pytest.raises(ValueError, match="A key/value cache needs inputs of shape"):
        layer(x, x, cache=np.zeros((1, 2, 4, 2, 4), "float32"), cache_update_index=0)


# -- use_gate, output_shape, sliding_window -------------------------------------


@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no_bias"])
def test_gated_attention_matches_keras(use_bias):
    rng = np.random.default_rng(3)
    query, value = normal(rng, 2, 5, 8), normal(rng, 2, 6, 8)
    theirs, ours = keras_and_ours(
        query, value, num_heads=2, key_dim=4, value_dim=3, use_gate=True, use_bias=use_bias
    )
    assert len(ours.trainable_weights) == (10 if use_bias else 5)
    assert_same_outputs(theirs, ours, query, value)
    # Self-attention takes the one-product projection path.
    assert_same_outputs(theirs, ours, query, query, use_causal_mask=True)


@pytest.mark.parametrize("output_shape", [5, (5,), (2, 3)], ids=["int", "one_tuple", "two_dims"])
def test_output_shape_matches_keras(output_shape):
    rng = np.random.default_rng(4)
    query, value = normal(rng, 2, 5, 8), normal(rng, 2, 6, 7)
    theirs, ours = keras_and_ours(query, value, num_heads=2, key_dim=4, output_shape=output_shape)
    assert_same_outputs(theirs, ours, query, value)
    expected = (2, 5) + ((output_shape,) if isinstance(output_shape, int) else tuple(output_shape))
    assert ours.compute_output_shape((2, 5, 8), (2, 6, 7)) == expected


@pytest.mark.parametrize("use_causal_mask", [False, True], ids=["band", "causal_band"])
def test_sliding_window_matches_keras(use_causal_mask):
    rng = np.random.default_rng(5)
    x = normal(rng, 2, 7, 8)
    theirs, ours = keras_and_ours(x, x, num_heads=2, key_dim=4, sliding_window=3)
    assert_same_outputs(theirs, ours, x, x, use_causal_mask=use_causal_mask)


def test_sliding_window_with_the_cache_equals_the_full_pass():
    rng = np.random.default_rng(6)
    x = normal(rng, 2, 6, 8)
    layer = ka.MultiHeadAttention(num_heads=2, key_dim=4, sliding_window=2, use_rope=True)
    full = to_numpy(layer(x, x, use_causal_mask=True))
    cache = ops.zeros((2, 2, 6, 2, 4))
    steps = []
    for index in range(6):
        token = x[:, index : index + 1]
        output, cache = layer(token, token, cache=cache, cache_update_index=index)
        steps.append(to_numpy(output))
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, rtol=1e-4, atol=1e-5)


def test_sliding_window_round_trips_through_the_config():
    layer = ka.MultiHeadAttention(num_heads=2, key_dim=4, sliding_window=5)
    restored = ka.MultiHeadAttention.from_config(layer.get_config())
    assert restored.sliding_window == 5


# -- constraints and regularizers -------------------------------------------------


def one_sgd_step(layer, query, value):
    optimizer = keras.optimizers.SGD(learning_rate=1.0)
    model_input = keras.Input(query.shape[1:]), keras.Input(value.shape[1:])
    model = keras.Model(model_input, layer(*model_input))
    model.compile(optimizer=optimizer, loss="mse")
    target = np.zeros(model.output_shape[1:], "float32")[None].repeat(len(query), 0)
    model.fit([query, value], target, epochs=1, batch_size=len(query), verbose=0, shuffle=False)


@pytest.mark.parametrize(
    "arguments",
    [
        dict(kernel_constraint="non_neg", use_gate=True),
        dict(bias_constraint=keras.constraints.MaxNorm(0.1), use_gate=True),
    ],
    ids=["kernel_non_neg", "bias_max_norm"],
)
def test_constraints_act_as_in_keras(arguments):
    rng = np.random.default_rng(7)
    query, value = normal(rng, 4, 5, 8), normal(rng, 4, 6, 8)
    theirs, ours = keras_and_ours(query, value, num_heads=2, key_dim=4, **arguments)
    one_sgd_step(theirs, query, value)
    one_sgd_step(ours, query, value)
    for mine, keras_weight in zip(ours.weights, theirs.weights):
        np.testing.assert_allclose(to_numpy(mine), to_numpy(keras_weight), rtol=1e-4, atol=1e-5)
    if "kernel_constraint" in arguments:
        assert all(np.all(to_numpy(w) >= 0) for w in ours.weights if "kernel" in w.path)


def test_regularizers_add_the_losses_keras_adds():
    rng = np.random.default_rng(8)
    query, value = normal(rng, 2, 5, 8), normal(rng, 2, 6, 8)
    arguments = dict(
        kernel_regularizer=keras.regularizers.L2(0.1),
        bias_regularizer=keras.regularizers.L1(0.2),
        activity_regularizer=keras.regularizers.L2(0.01),
        use_gate=True,
    )
    theirs, ours = keras_and_ours(query, value, num_heads=2, key_dim=4, **arguments)
    theirs(query, value)
    ours(query, value)
    assert len(ours.losses) == len(theirs.losses)
    np.testing.assert_allclose(
        sum(float(to_numpy(loss)) for loss in ours.losses),
        sum(float(to_numpy(loss)) for loss in theirs.losses),
        rtol=1e-5,
    )
    config = ours.get_config()
    assert config["activity_regularizer"]["class_name"] == "L2"
    assert ka.MultiHeadAttention.from_config(config).get_config() == config


def test_flash_attention_is_refused_as_keras_refuses_it():
    layer = ka.MultiHeadAttention(num_heads=2, key_dim=4, flash_attention=True)
    assert layer.get_config()["flash_attention"] is True
    x = np.ones((1, 3, 8), "float32")
    with pytest.raises(ValueError, match="Returning attention scores is not supported"):
        layer(x, x, return_attention_scores=True)
    if keras.backend.backend() == "tensorflow":
        theirs = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4, flash_attention=True)
        for attention in (theirs, ka.MultiHeadAttention(num_heads=2, key_dim=4, flash_attention=True)):
            with pytest.raises(ValueError, match="Flash attention is not supported in tensorflow"):
                attention(x, x)


# -- per-head masks --------------------------------------------------------------


def test_a_per_head_mask_equal_for_every_head_is_the_3d_mask():
    rng = np.random.default_rng(9)
    query, value = normal(rng, 2, 5, 8), normal(rng, 2, 6, 8)
    mask = rng.random((2, 5, 6)) < 0.6
    mask[:, :, 0] = True
    mask[1, 2] = False  # a query with no key
    per_head = np.repeat(mask[:, None], 2, axis=1)
    for use_fused_attention in (True, False):
        layer = ka.MultiHeadAttention(
            num_heads=2, key_dim=4, use_fused_attention=use_fused_attention
        )
        expected = to_numpy(layer(query, value, attention_mask=mask))
        np.testing.assert_allclose(
            to_numpy(layer(query, value, attention_mask=per_head)), expected, atol=1e-6
        )


def test_per_head_masks_match_keras():
    rng = np.random.default_rng(10)
    query, value = normal(rng, 2, 5, 8), normal(rng, 2, 6, 8)
    mask = rng.random((2, 2, 5, 6)) < 0.6
    mask[..., 0] = True
    theirs, ours = keras_and_ours(query, value, num_heads=2, key_dim=4)
    assert_same_outputs(theirs, ours, query, value, attention_mask=mask)


def test_per_head_mask_and_keras_masks_combine():
    """Each head sees only its own keys, on top of the value's padding; the
    padded and the head-masked keys change nothing (keras.layers.MultiHeadAttention
    cannot broadcast a (batch, query_len, 1) mask against a per-head one)."""
    rng = np.random.default_rng(11)
    query, value = normal(rng, 3, 4, 8), normal(rng, 3, 5, 8)
    value_mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0]], bool)
    head_mask = np.ones((3, 2, 4, 5), bool)
    head_mask[:, 0, :, 1] = False  # head 0 never sees key 1 ...
    head_mask[:, 1, :, 0] = False  # ... and head 1 never sees key 0
    layer = ka.MultiHeadAttention(num_heads=2, key_dim=4)
    _, scores = layer(
        query, value, value_mask=value_mask, attention_mask=head_mask, return_attention_scores=True
    )
    scores = to_numpy(scores)
    assert np.all(scores[:, 0, :, 1] == 0) and np.all(scores[:, 1, :, 0] == 0)
    assert np.all(scores[~value_mask[:, None, None, :].repeat(2, 1).repeat(4, 2)] == 0)
    before = to_numpy(layer(query, value, value_mask=value_mask, attention_mask=head_mask))
    changed = value.copy()
    changed[~value_mask] = normal(rng, int((~value_mask).sum()), 8) * 10
    after = to_numpy(layer(query, changed, value_mask=value_mask, attention_mask=head_mask))
    np.testing.assert_allclose(after, before, atol=1e-5)


# -- shape checks ----------------------------------------------------------------


def test_key_and_value_of_different_lengths_are_refused_with_their_shapes():
    layer = ka.MultiHeadAttention(num_heads=2, key_dim=4)
    message = r"must be equal\. Received: value_shape=\(2, 2, 8\) and key_shape=\(2, 1, 8\)"
    with pytest.raises(ValueError, match=message):
        layer.compute_output_shape((2, 3, 8), (2, 2, 8), (2, 1, 8))
    with pytest.raises(ValueError, match=message):
        layer(np.ones((2, 3, 8)), np.ones((2, 2, 8)), np.ones((2, 1, 8)))
    # Also once built, and on symbolic inputs.
    layer(np.ones((2, 3, 8)), np.ones((2, 2, 8)))
    with pytest.raises(ValueError, match=message):
        layer(np.ones((2, 3, 8)), np.ones((2, 2, 8)), np.ones((2, 1, 8)))
    with pytest.raises(ValueError, match="must be equal"):
        layer(keras.Input((3, 8)), keras.Input((2, 8)), keras.Input((1, 8)))


def test_query_and_value_must_agree_off_the_attention_axes():
    layer = ka.MultiHeadAttention(num_heads=2, key_dim=4, attention_axes=2)
    with pytest.raises(ValueError, match=r"Axis 1 is not an attention axis"):
        layer(np.ones((1, 3, 4, 8), "float32"), np.ones((1, 2, 5, 8), "float32"))


# -- the default path and the override points -------------------------------------


def test_the_default_path_is_the_one_measured_faster_on_this_backend(monkeypatch):
    calls = []
    fused = ops.dot_product_attention
    monkeypatch.setattr(
        ops, "dot_product_attention", lambda *a, **k: calls.append(1) or fused(*a, **k)
    )
    x = np.ones((1, 3, 8), "float32")
    ka.MultiHeadAttention(num_heads=2, key_dim=4)(x, x)
    assert not calls  # benchmarks/layers.py: explicit is faster on TensorFlow and on JAX
    calls.clear()
    ka.MultiHeadAttention(num_heads=2, key_dim=4, use_fused_attention=True)(x, x)
    assert calls
    calls.clear()
    ka.MultiHeadAttention(num_heads=2, key_dim=4, use_fused_attention=False)(x, x)
    assert not calls


class TemperatureSoftmax(ka.MultiHeadAttention):
    """Overrides `_masked_softmax` as a Keras subclass would."""

    def _masked_softmax(self, attention_scores, attention_mask=None):
        return super()._masked_softmax(attention_scores * 2.0, attention_mask)


def test_an_overridden_masked_softmax_is_used():
    rng = np.random.default_rng(12)
    x = normal(rng, 2, 5, 8)
    plain = ka.MultiHeadAttention(num_heads=2, key_dim=4, use_fused_attention=False)
    tempered = TemperatureSoftmax(num_heads=2, key_dim=4, use_fused_attention=False)
    plain(x, x)
    tempered(x, x)
    tempered.set_weights(plain.get_weights())
    # Doubling the logits is halving the scale: a key_dim four times larger.
    for layer in (plain, tempered):
        _, scores = layer(x, x, use_causal_mask=True, return_attention_scores=True)
        layer.recorded = to_numpy(scores)
    q = np.einsum("btf,fhd->bthd", x, to_numpy(plain.query_kernel)) + to_numpy(plain.query_bias)
    k = np.einsum("btf,fhd->bthd", x, to_numpy(plain.key_kernel)) + to_numpy(plain.key_bias)
    logits = np.einsum("bthd,bshd->bhts", q, k) / np.sqrt(4) * 2.0
    logits = np.where(np.tril(np.ones((5, 5), bool)), logits, -np.inf)
    expected = np.exp(logits - logits.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(tempered.recorded, expected, atol=1e-5)
    assert not np.allclose(plain.recorded, tempered.recorded, atol=1e-3)


class RecordingAttention(ka.MultiHeadAttention):
    """Overrides `_compute_attention` with Keras's older signature."""

    def _compute_attention(
        self, query, key, value, attention_mask=None, training=None, return_attention_scores=False
    ):
        self.seen = (tuple(query.shape), tuple(key.shape), attention_mask)
        return super()._compute_attention(
            query, key, value, attention_mask, training, return_attention_scores
        )


def test_compute_attention_receives_projected_heads_and_the_merged_mask():
    rng = np.random.default_rng(13)
    query, value = normal(rng, 2, 5, 8), normal(rng, 2, 6, 8)
    value_mask = np.ones((2, 6), bool)
    value_mask[0, 4:] = False
    layer = RecordingAttention(num_heads=2, key_dim=4)
    output = layer(query, value, value_mask=value_mask, use_causal_mask=True)
    query_shape, key_shape, mask = layer.seen
    assert query_shape == (2, 5, 2, 4) and key_shape == (2, 6, 2, 4)
    expected_mask = np.tril(np.ones((5, 6), bool))[None] & value_mask[:, None, :]
    np.testing.assert_array_equal(to_numpy(mask, bool), expected_mask)
    plain = ka.MultiHeadAttention(num_heads=2, key_dim=4)
    plain(query, value)
    plain.set_weights(layer.get_weights())
    np.testing.assert_allclose(
        to_numpy(output),
        to_numpy(plain(query, value, value_mask=value_mask, use_causal_mask=True)),
        atol=1e-6,
    )
