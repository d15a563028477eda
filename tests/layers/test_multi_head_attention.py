"""MultiHeadAttention: NumPy reference, masks, fused path, Keras parity, cache."""

import keras
import numpy as np
import pytest
from keras import ops

import keras_attention as ka
import numpy_reference as reference
from layer_test_case import backend_jit
from layer_test_case import received_mask
from layer_test_case import random_weights_on_build
from numpy_reference import to_numpy

FUSED = pytest.mark.parametrize(
    "use_fused_attention", [True, False], ids=["fused", "explicit"]
)


def normal(rng, *shape):
    return rng.normal(size=shape).astype("float32")


def make_layer(**kwargs):
    # Independent random weights and non-zero biases, so that a swapped,
    # missing or misplaced weight shows.
    return random_weights_on_build(ka.MultiHeadAttention(**kwargs))


# -- NumPy reference ---------------------------------------------------------


@FUSED
def test_self_attention_matches_reference(use_fused_attention):
    rng = np.random.default_rng(0)
    x = normal(rng, 2, 5, 8)
    layer = make_layer(num_heads=2, key_dim=4, use_fused_attention=use_fused_attention)
    output = to_numpy(layer(x, x))
    expected, _ = reference.multi_head_attention(layer, x, x)
    np.testing.assert_allclose(output, expected, rtol=1e-4, atol=1e-5)


@FUSED
def test_self_attention_with_masks_matches_reference(use_fused_attention):
    rng = np.random.default_rng(1)
    x = normal(rng, 2, 5, 8)
    attention_mask = rng.random((2, 5, 5)) < 0.6
    attention_mask[:, :, 1] = True
    attention_mask[1, 3] = False  # a query with no key at all
    layer = make_layer(num_heads=2, key_dim=4, use_fused_attention=use_fused_attention)
    output = to_numpy(layer(x, x, attention_mask=attention_mask, use_causal_mask=True))
    expected, _ = reference.multi_head_attention(
        layer, x, x, mask=attention_mask, causal=True
    )
    np.testing.assert_allclose(output, expected, rtol=1e-4, atol=1e-5)
    # The fully masked query gets zero attention: its output is the bias.
    np.testing.assert_allclose(output[1, 3], to_numpy(layer.output_bias), atol=1e-6)


@FUSED
def test_cross_attention_with_separate_key_matches_reference(use_fused_attention):
    rng = np.random.default_rng(2)
    query, value, key = normal(rng, 2, 4, 6), normal(rng, 2, 7, 5), normal(rng, 2, 7, 3)
    query_mask = np.array([[True, True, False, True], [True, True, True, True]])
    value_mask = np.array([[True] * 5 + [False] * 2, [False] + [True] * 6])
    layer = make_layer(
        num_heads=3,
        key_dim=2,
        value_dim=5,
        output_shape=7,
        use_fused_attention=use_fused_attention,
    )
    output = layer(query, value, key=key, query_mask=query_mask, value_mask=value_mask)
    assert tuple(output.shape) == (2, 4, 7)
    mask = query_mask[:, :, None] & value_mask[:, None, :]
    expected, _ = reference.multi_head_attention(layer, query, value, key=key, mask=mask)
    np.testing.assert_allclose(to_numpy(output), expected, rtol=1e-4, atol=1e-5)


@FUSED
def test_rotary_self_attention_matches_reference(use_fused_attention):
    rng = np.random.default_rng(3)
    x = normal(rng, 2, 5, 8)
    layer = make_layer(
        num_heads=2,
        key_dim=4,
        use_rope=True,
        rope_max_wavelength=50.0,
        use_fused_attention=use_fused_attention,
    )
    output = to_numpy(layer(x, x, use_causal_mask=True))
    expected, _ = reference.multi_head_attention(layer, x, x, causal=True)
    np.testing.assert_allclose(output, expected, rtol=1e-4, atol=1e-5)


def test_attention_scores_match_reference():
    rng = np.random.default_rng(4)
    query, value = normal(rng, 2, 5, 8), normal(rng, 2, 5, 8)
    attention_mask = rng.random((2, 5, 5)) < 0.5
    attention_mask[..., 0] = True
    attention_mask[0, 2] = False
    layer = make_layer(num_heads=2, key_dim=4)
    output, scores = layer(
        query, value, attention_mask=attention_mask, return_attention_scores=True
    )
    expected, expected_scores = reference.multi_head_attention(
        layer, query, value, mask=attention_mask
    )
    scores = to_numpy(scores)
    assert scores.shape == (2, 2, 5, 5)
    np.testing.assert_allclose(scores, expected_scores, atol=1e-6)
    np.testing.assert_allclose(to_numpy(output), expected, rtol=1e-4, atol=1e-5)
    masked = np.broadcast_to(~attention_mask[:, None], scores.shape)
    assert np.all(scores[masked] == 0.0)
    row_sums = scores.sum(-1)
    rows_with_keys = np.repeat(attention_mask.any(-1)[:, None], 2, axis=1)
    np.testing.assert_allclose(row_sums[rows_with_keys], 1.0, atol=1e-6)
    assert np.all(row_sums[0, :, 2] == 0.0)


# -- Invariance --------------------------------------------------------------


@FUSED
def test_padded_key_tokens_do_not_change_real_outputs_with_embedding_mask(
    use_fused_attention,
):
    token_ids = np.array([[3, 5, 2, 0, 0], [4, 1, 0, 0, 0]])
    real = token_ids != 0
    embedding = keras.layers.Embedding(8, 8, mask_zero=True)
    layer = make_layer(num_heads=2, key_dim=4, use_fused_attention=use_fused_attention)

    def run():
        x = embedding(token_ids)
        return to_numpy(layer(x, x))

    before = run()
    table = to_numpy(embedding.embeddings, None)
    table[0] = np.random.default_rng(5).normal(size=8) * 10.0  # the padding row
    embedding.embeddings.assign(table)
    after = run()
    np.testing.assert_allclose(after[real], before[real], atol=1e-5)
    # The same change on a real token does change the other real positions.
    table[3] += 1.0
    embedding.embeddings.assign(table)
    assert not np.allclose(run()[0, 1], before[0, 1], atol=1e-3)


@FUSED
@pytest.mark.parametrize("how", ["value_mask", "attention_mask"])
def test_masked_keys_do_not_change_outputs_with_explicit_masks(use_fused_attention, how):
    rng = np.random.default_rng(6)
    query, value = normal(rng, 2, 5, 8), normal(rng, 2, 5, 8)
    key_mask = np.array([[1, 1, 1, 0, 0], [1, 0, 1, 0, 1]], dtype=bool)
    layer = make_layer(num_heads=2, key_dim=4, use_fused_attention=use_fused_attention)
    if how == "value_mask":
        kwargs = {"value_mask": key_mask}
    else:
        kwargs = {"attention_mask": np.repeat(key_mask[:, None], 5, axis=1)}
    before = to_numpy(layer(query, value, **kwargs))
    perturbed = value.copy()
    perturbed[~key_mask] = normal(rng, int((~key_mask).sum()), 8) * 10.0
    after = to_numpy(layer(query, perturbed, **kwargs))
    np.testing.assert_allclose(after, before, atol=1e-5)
    perturbed[0, 0] += 1.0
    assert not np.allclose(to_numpy(layer(query, perturbed, **kwargs))[0], before[0], atol=1e-3)


@FUSED
@pytest.mark.parametrize("use_rope", [False, True], ids=["no_rope", "rope"])
def test_future_tokens_do_not_change_earlier_outputs(use_fused_attention, use_rope):
    rng = np.random.default_rng(7)
    x = normal(rng, 2, 5, 8)
    layer = make_layer(
        num_heads=2, key_dim=4, use_rope=use_rope, use_fused_attention=use_fused_attention
    )
    before = to_numpy(layer(x, x, use_causal_mask=True))
    for position in range(1, 5):
        changed = x.copy()
        changed[:, position:] = normal(rng, 2, 5 - position, 8) * 5.0
        after = to_numpy(layer(changed, changed, use_causal_mask=True))
        np.testing.assert_allclose(after[:, :position], before[:, :position], atol=1e-5)
        assert not np.allclose(after[:, position], before[:, position], atol=1e-3)


# -- Fused versus explicit ---------------------------------------------------


def paired_layers(**kwargs):
    """The same weights behind the fused and the explicit path."""
    fused = make_layer(use_fused_attention=True, **kwargs)
    explicit = make_layer(use_fused_attention=False, **kwargs)
    return fused, explicit


@pytest.mark.parametrize(
    "value_dim", [None, 5], ids=["value_dim_equal", "value_dim_different"]
)
def test_fused_and_explicit_paths_agree_with_masks(value_dim):
    rng = np.random.default_rng(8)
    query, value = normal(rng, 2, 5, 8), normal(rng, 2, 5, 8)
    query_mask = np.array([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]], dtype=bool)
    value_mask = np.array([[1, 1, 1, 0, 0], [0, 0, 1, 1, 1]], dtype=bool)
    fused, explicit = paired_layers(num_heads=2, key_dim=4, value_dim=value_dim)
    explicit(query, value)
    fused(query, value)
    fused.set_weights(explicit.get_weights())
    kwargs = dict(query_mask=query_mask, value_mask=value_mask, use_causal_mask=True)
    fused_output = to_numpy(fused(query, value, **kwargs))
    explicit_output = to_numpy(explicit(query, value, **kwargs))
    assert np.all(np.isfinite(fused_output))
    np.testing.assert_allclose(fused_output, explicit_output, rtol=1e-5, atol=1e-5)
    # Row 1, queries 0 and 1 see no key (causal and padding together), and
    # row 0, query 4 is padding: zero attention, so the output is the bias.
    bias = to_numpy(fused.output_bias)
    for batch, position in [(1, 0), (1, 1), (0, 4)]:
        np.testing.assert_allclose(fused_output[batch, position], bias, atol=1e-6)


def test_fused_and_explicit_paths_agree_under_mixed_float16():
    rng = np.random.default_rng(9)
    x = normal(rng, 2, 5, 8)
    attention_mask = np.ones((2, 5, 5), dtype=bool)
    attention_mask[0, 2] = False
    weights = None
    outputs = {}
    try:
        keras.config.set_dtype_policy("mixed_float16")
        for use_fused_attention in (True, False):
            layer = make_layer(
                num_heads=2, key_dim=4, use_fused_attention=use_fused_attention
            )
            layer(x, x)
            if weights is None:
                weights = layer.get_weights()
            layer.set_weights(weights)
            output = layer(x, x, attention_mask=attention_mask, use_causal_mask=True)
            assert keras.backend.standardize_dtype(output.dtype) == "float16"
            outputs[use_fused_attention] = to_numpy(output)
            bias = to_numpy(layer.output_bias)
    finally:
        keras.config.set_dtype_policy("float32")
    for output in outputs.values():
        assert np.all(np.isfinite(output))
        np.testing.assert_allclose(output[0, 2], bias, atol=2e-3)
    np.testing.assert_allclose(outputs[True], outputs[False], atol=1e-2)


# -- Parity with keras.layers.MultiHeadAttention ------------------------------

PARITY_CASES = {
    "self": dict(kwargs=dict(num_heads=2, key_dim=4), query=(2, 5, 8), value=None),
    "self_causal": dict(
        kwargs=dict(num_heads=2, key_dim=4),
        query=(2, 5, 8),
        value=None,
        call=dict(use_causal_mask=True),
    ),
    "cross_lengths_value_dim_output_shape": dict(
        kwargs=dict(num_heads=3, key_dim=2, value_dim=5, output_shape=7),
        query=(2, 4, 6),
        value=(2, 7, 5),
        key=(2, 7, 3),
    ),
    "cross_causal_attention_mask": dict(
        kwargs=dict(num_heads=2, key_dim=4, value_dim=3),
        query=(2, 5, 8),
        value=(2, 6, 8),
        call=dict(use_causal_mask=True),
        attention_mask=True,
    ),
    "padding_masks": dict(
        kwargs=dict(num_heads=2, key_dim=4),
        query=(2, 5, 8),
        value=(2, 6, 8),
        query_mask=[[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]],
        value_mask=[[1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 1, 0]],
    ),
}


@FUSED
@pytest.mark.parametrize("case", list(PARITY_CASES))
def test_matches_keras_multi_head_attention(case, use_fused_attention):
    spec = PARITY_CASES[case]
    rng = np.random.default_rng(10)
    query = normal(rng, *spec["query"])
    value = query if spec["value"] is None else normal(rng, *spec["value"])
    key = normal(rng, *spec["key"]) if "key" in spec else None
    call = dict(spec.get("call", {}))
    valid_queries = np.ones(query.shape[:2], dtype=bool)
    if spec.get("attention_mask"):
        attention_mask = rng.random((query.shape[0], query.shape[1], value.shape[1])) < 0.7
        attention_mask[..., 0] = True  # keep every query row non-empty
        call["attention_mask"] = attention_mask
    if "query_mask" in spec:
        call["query_mask"] = np.array(spec["query_mask"], dtype=bool)
        call["value_mask"] = np.array(spec["value_mask"], dtype=bool)
        # A padded query has no keys in ours (bias out) and uniform weights in
        # Keras: compare real query positions only.
        valid_queries = call["query_mask"]

    theirs = keras.layers.MultiHeadAttention(bias_initializer="random_normal", **spec["kwargs"])
    ours = ka.MultiHeadAttention(use_fused_attention=use_fused_attention, **spec["kwargs"])
    theirs_output, theirs_scores = theirs(
        query, value, key=key, return_attention_scores=True, **call
    )
    ours(query, value, key=key, **call)
    assert [w.shape for w in ours.weights] == [w.shape for w in theirs.weights]
    ours.set_weights(theirs.get_weights())
    ours_output = to_numpy(ours(query, value, key=key, **call))
    _, ours_scores = ours(query, value, key=key, return_attention_scores=True, **call)
    np.testing.assert_allclose(
        ours_output[valid_queries], to_numpy(theirs_output)[valid_queries], rtol=1e-4, atol=1e-5
    )
    heads = spec["kwargs"]["num_heads"]
    score_rows = np.repeat(valid_queries[:, None], heads, axis=1)
    np.testing.assert_allclose(
        to_numpy(ours_scores)[score_rows], to_numpy(theirs_scores)[score_rows], atol=1e-6
    )


# -- Keras masks -------------------------------------------------------------


def test_output_carries_the_query_mask():
    token_ids = np.array([[3, 5, 2, 0, 0], [4, 1, 0, 0, 0]])
    x = keras.layers.Embedding(8, 8, mask_zero=True)(token_ids)
    layer = make_layer(num_heads=2, key_dim=4)
    np.testing.assert_array_equal(received_mask(layer(x, x)), token_ids != 0)


def test_dropout_is_inactive_at_inference_and_active_in_training():
    rng = np.random.default_rng(11)
    x = normal(rng, 2, 5, 8)
    plain = make_layer(num_heads=2, key_dim=4)
    dropped = make_layer(num_heads=2, key_dim=4, dropout=0.5, seed=3)
    plain(x, x)
    dropped(x, x)
    dropped.set_weights(plain.get_weights())
    np.testing.assert_allclose(
        to_numpy(dropped(x, x, training=False)), to_numpy(plain(x, x)), atol=1e-6
    )
    training_output = to_numpy(dropped(x, x, training=True))
    assert np.all(np.isfinite(training_output))
    assert not np.allclose(training_output, to_numpy(plain(x, x)), atol=1e-3)


# -- Key/value cache ---------------------------------------------------------


def empty_cache(batch, length, layer):
    return ops.zeros((batch, 2, length, layer.num_heads, layer.key_dim))


def decode_step_by_step(layer, x, prefill=0):
    """Runs `x` through `layer` with a cache: a prefill chunk, then one token at a time."""
    batch, length = x.shape[:2]
    cache = empty_cache(batch, length, layer)
    outputs = []
    if prefill:
        output, cache = layer(x[:, :prefill], x[:, :prefill], cache=cache, cache_update_index=0)
        outputs.append(to_numpy(output))
    for index in range(prefill, length):
        token = x[:, index : index + 1]
        output, cache = layer(token, token, cache=cache, cache_update_index=index)
        outputs.append(to_numpy(output))
    return np.concatenate(outputs, axis=1), to_numpy(cache)


@pytest.mark.parametrize(
    "use_fused_attention, use_rope, prefill",
    [(True, False, 0), (False, True, 0), (True, True, 3), (False, False, 3)],
    ids=[
        "fused-token_by_token",
        "explicit-rope-token_by_token",
        "fused-rope-prefill_3",
        "explicit-prefill_3",
    ],
)
def test_cached_decoding_equals_full_causal_pass(use_fused_attention, use_rope, prefill):
    rng = np.random.default_rng(12)
    x = normal(rng, 2, 5, 8)
    layer = make_layer(
        num_heads=2, key_dim=4, use_rope=use_rope, use_fused_attention=use_fused_attention
    )
    full = to_numpy(layer(x, x, use_causal_mask=True))
    stepwise, cache = decode_step_by_step(layer, x, prefill=prefill)
    np.testing.assert_allclose(stepwise, full, rtol=1e-4, atol=1e-5)
    # The cache holds the (rotated) keys and the values of every position.
    keys = np.einsum("btf,fhd->bthd", x, to_numpy(layer.key_kernel)) + to_numpy(layer.key_bias)
    values = np.einsum("btf,fhd->bthd", x, to_numpy(layer.value_kernel)) + to_numpy(
        layer.value_bias
    )
    if use_rope:
        keys = reference.rotary_embedding(keys, np.arange(5))
    np.testing.assert_allclose(cache[:, 0], keys, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(cache[:, 1], values, rtol=1e-4, atol=1e-5)


def test_cache_update_leaves_other_positions_untouched():
    rng = np.random.default_rng(13)
    layer = make_layer(num_heads=2, key_dim=4)
    token = normal(rng, 1, 1, 8)
    layer(token, token)
    cache = normal(rng, 1, 2, 5, 2, 4)
    _, updated = layer(token, token, cache=cache, cache_update_index=2)
    updated = to_numpy(updated)
    untouched = [0, 1, 3, 4]
    np.testing.assert_array_equal(updated[:, :, untouched], cache[:, :, untouched])
    assert not np.allclose(updated[:, :, 2], cache[:, :, 2])


@pytest.mark.parametrize("use_rope", [False, True], ids=["no_rope", "rope"])
def test_compiled_cache_update_with_tensor_index(use_rope):
    """One compiled step (XLA via tf.function on TensorFlow, jax.jit on JAX)
    with the index as a tensor: traced once, equal to the full causal pass."""
    rng = np.random.default_rng(14)
    x = normal(rng, 2, 5, 8)
    layer = make_layer(num_heads=2, key_dim=4, use_rope=use_rope)
    full = to_numpy(layer(x, x, use_causal_mask=True))

    def step(token, cache, index):
        return layer(token, token, cache=cache, cache_update_index=index)

    compiled_step, traces = backend_jit(step)
    cache = empty_cache(2, 5, layer)
    outputs = []
    for index in range(5):
        token = ops.convert_to_tensor(x[:, index : index + 1])
        output, cache = compiled_step(token, cache, ops.convert_to_tensor(index, "int32"))
        outputs.append(to_numpy(output))
    assert traces[0] == 1, f"the step was traced {traces[0]} times"
    np.testing.assert_allclose(np.concatenate(outputs, axis=1), full, rtol=1e-4, atol=1e-5)


def test_cache_requires_equal_key_and_value_dims():
    layer = make_layer(num_heads=2, key_dim=4, value_dim=3)
    token = np.zeros((1, 1, 8), "float32")
    with pytest.raises(ValueError, match="key_dim=4, value_dim=3"):
        layer(token, token, cache=ops.zeros((1, 2, 3, 2, 4)), cache_update_index=0)


def test_value_is_required_without_cache():
    layer = make_layer(num_heads=2, key_dim=4)
    with pytest.raises(ValueError, match="value"):
        layer(np.zeros((1, 2, 8), "float32"))


def test_symbolic_call_with_scores_and_cache():
    query = keras.Input((1, 8))
    cache = keras.Input((2, 6, 2, 4))
    layer = make_layer(num_heads=2, key_dim=4)
    output, scores, new_cache = layer(
        query, query, cache=cache, cache_update_index=0, return_attention_scores=True
    )
    assert tuple(output.shape) == (None, 1, 8)
    assert tuple(scores.shape) == (None, 2, 1, 6)
    assert tuple(new_cache.shape) == (None, 2, 6, 2, 4)
    # The symbolic structure is what eager calls return.
    eager = layer(
        np.ones((3, 1, 8), "float32"),
        np.ones((3, 1, 8), "float32"),
        cache=np.zeros((3, 2, 6, 2, 4), "float32"),
        cache_update_index=0,
        return_attention_scores=True,
    )
    assert [tuple(t.shape)[1:] for t in eager] == [(1, 8), (2, 1, 6), (2, 6, 2, 4)]


def test_projection_kernels_are_initialized_independently():
    """An unseeded initializer instance returns the same values on every call
    in Keras 3: reused for query, key and value it would make W_q = W_k = W_v
    (keras.layers.MultiHeadAttention clones its initializers for this reason)."""
    x = np.ones((1, 3, 8), "float32")
    layer = ka.MultiHeadAttention(num_heads=2, key_dim=4, bias_initializer="random_normal")
    layer(x, x)
    kernels = {
        name: to_numpy(getattr(layer, f"{name}_kernel")) for name in ("query", "key", "value")
    }
    biases = {name: to_numpy(getattr(layer, f"{name}_bias")) for name in ("query", "key", "value")}
    for first, second in [("query", "key"), ("query", "value"), ("key", "value")]:
        assert not np.array_equal(kernels[first], kernels[second]), (first, second)
        assert not np.array_equal(biases[first], biases[second]), (first, second)
