"""TransformerDecoderBlock: reference, causal and cross-attention masks, cache."""

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

NORM = pytest.mark.parametrize("normalize_first", [False, True], ids=["post_norm", "pre_norm"])
WIDTH = 8


def make_block(**kwargs):
    block = ka.TransformerDecoderBlock(intermediate_dim=16, num_heads=2, **kwargs)
    return random_weights_on_build(block)


def normal(seed, *shape):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def not_constant(scale=1.0):
    """A change LayerNorm cannot remove (it removes constant shifts)."""
    return np.linspace(-scale, scale, WIDTH).astype("float32")


# -- NumPy reference ---------------------------------------------------------


@NORM
def test_matches_reference_with_encoder_and_padding(normalize_first):
    decoder, encoder = normal(0, 2, 5, WIDTH), normal(1, 2, 6, WIDTH)
    decoder_padding = np.array([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]], dtype=bool)
    encoder_padding = np.array([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0]], dtype=bool)
    block = make_block(normalize_first=normalize_first)
    output = block(
        decoder,
        encoder,
        decoder_padding_mask=decoder_padding,
        encoder_padding_mask=encoder_padding,
    )
    expected = reference.transformer_decoder_block(
        block,
        decoder,
        encoder,
        decoder_padding_mask=decoder_padding,
        encoder_padding_mask=encoder_padding,
    )
    np.testing.assert_allclose(to_numpy(output), expected, rtol=1e-4, atol=1e-4)


@NORM
def test_cross_attention_scores_match_reference_and_leave_the_outputs_unchanged(
    normalize_first,
):
    decoder, encoder = normal(25, 2, 5, WIDTH), normal(26, 2, 6, WIDTH)
    encoder_padding = np.array([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1]], dtype=bool)
    block = make_block(normalize_first=normalize_first)
    plain = to_numpy(block(decoder, encoder, encoder_padding_mask=encoder_padding))
    output, scores = block(
        decoder, encoder, encoder_padding_mask=encoder_padding,
        return_cross_attention_scores=True,
    )
    expected_output, expected_scores = reference.transformer_decoder_block(
        block, decoder, encoder, encoder_padding_mask=encoder_padding,
        return_cross_attention_weights=True,
    )
    scores = to_numpy(scores)
    assert scores.shape == (2, 2, 5, 6)
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-5, atol=1e-6)
    assert np.all(scores[0, :, :, 3:] == 0)  # padded source positions: exactly nothing
    np.testing.assert_allclose(scores.sum(-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(to_numpy(output), expected_output, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(to_numpy(output), plain, rtol=0, atol=1e-6)


@NORM
def test_decoder_only_matches_reference(normalize_first):
    decoder = normal(2, 2, 5, WIDTH)
    block = make_block(normalize_first=normalize_first, use_rope=True)
    output = to_numpy(block(decoder))
    expected = reference.transformer_decoder_block(block, decoder)
    np.testing.assert_allclose(output, expected, rtol=1e-4, atol=1e-4)
    assert not hasattr(block, "cross_attention")


# -- Masks by invariance -----------------------------------------------------


@NORM
@pytest.mark.parametrize("with_encoder", [False, True], ids=["decoder_only", "with_encoder"])
def test_future_tokens_do_not_change_earlier_outputs(normalize_first, with_encoder):
    decoder, encoder = normal(3, 2, 5, WIDTH), normal(4, 2, 4, WIDTH)
    block = make_block(normalize_first=normalize_first)
    arguments = (encoder,) if with_encoder else ()
    before = to_numpy(block(decoder, *arguments))
    for position in range(1, 5):
        changed = decoder.copy()
        changed[:, position:] += normal(position, 2, 5 - position, WIDTH) * 3.0
        after = to_numpy(block(changed, *arguments))
        np.testing.assert_allclose(after[:, :position], before[:, :position], atol=1e-5)
        assert not np.allclose(after[:, position], before[:, position], atol=1e-3)


def test_padded_decoder_tokens_do_not_change_real_outputs():
    # Left padding: causal masking alone would let real tokens see it.
    decoder, encoder = normal(5, 2, 5, WIDTH), normal(6, 2, 4, WIDTH)
    padding = np.array([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]], dtype=bool)
    block = make_block()
    before = to_numpy(block(decoder, encoder, decoder_padding_mask=padding))
    changed = decoder.copy()
    changed[~padding] += not_constant(5.0)
    after = to_numpy(block(changed, encoder, decoder_padding_mask=padding))
    np.testing.assert_allclose(after[padding], before[padding], atol=1e-5)


@NORM
def test_padded_encoder_tokens_do_not_change_outputs_explicit_mask(normalize_first):
    decoder, encoder = normal(7, 3, 4, WIDTH), normal(8, 3, 6, WIDTH)
    encoder_padding = np.array(
        [[1, 1, 1, 0, 0, 0], [1, 0, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1]], dtype=bool
    )
    block = make_block(normalize_first=normalize_first)
    before = to_numpy(block(decoder, encoder, encoder_padding_mask=encoder_padding))
    changed = encoder.copy()
    changed[~encoder_padding] = normal(9, int((~encoder_padding).sum()), WIDTH) * 10.0
    after = to_numpy(block(decoder, changed, encoder_padding_mask=encoder_padding))
    np.testing.assert_allclose(after, before, atol=1e-5)
    changed[0, 0] += not_constant()
    after = to_numpy(block(decoder, changed, encoder_padding_mask=encoder_padding))
    assert not np.allclose(after[0], before[0], atol=1e-3)


def test_padded_encoder_tokens_do_not_change_outputs_implicit_mask():
    target_ids = np.array([[2, 3, 4, 0], [5, 6, 0, 0]])
    source_ids = np.array([[1, 2, 3, 0, 0, 0], [7, 1, 2, 3, 4, 0]])
    target_embedding = keras.layers.Embedding(9, WIDTH, mask_zero=True)
    source_embedding = keras.layers.Embedding(9, WIDTH, mask_zero=True)
    block = make_block()

    def run():
        return to_numpy(block(target_embedding(target_ids), source_embedding(source_ids)))

    before = run()
    real_targets = target_ids != 0
    table = to_numpy(source_embedding.embeddings, None)
    table[0] = normal(10, WIDTH) * 10.0
    source_embedding.embeddings.assign(table)
    np.testing.assert_allclose(run()[real_targets], before[real_targets], atol=1e-5)
    expected = reference.transformer_decoder_block(
        block,
        to_numpy(target_embedding(target_ids)),
        to_numpy(source_embedding(source_ids)),
        decoder_padding_mask=real_targets,
        encoder_padding_mask=source_ids != 0,
    )
    np.testing.assert_allclose(run()[real_targets], expected[real_targets], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("how", ["implicit", "explicit"])
def test_cross_attention_does_not_use_the_decoder_mask_as_key_mask(how):
    """keras.io shipped this: cross-attention keys masked with the decoder's
    padding. Encoder position 3 is real, decoder position 3 is padding: the
    real decoder positions must still attend to encoder position 3."""
    target_ids = np.array([[2, 3, 4, 0], [5, 6, 0, 0]])
    decoder_padding = target_ids != 0
    encoder = normal(11, 2, 4, WIDTH)
    embedding = keras.layers.Embedding(9, WIDTH, mask_zero=True)
    block = make_block()

    def run(source):
        if how == "implicit":
            return to_numpy(block(embedding(target_ids), source))
        decoder = to_numpy(embedding(target_ids))
        return to_numpy(block(decoder, source, decoder_padding_mask=decoder_padding))

    before = run(encoder)
    changed = encoder.copy()
    changed[:, 3] += not_constant(3.0)
    after = run(changed)
    for row in range(2):
        assert not np.allclose(after[row, 0], before[row, 0], atol=1e-3), row
    expected = reference.transformer_decoder_block(
        block, to_numpy(embedding(target_ids)), changed, decoder_padding_mask=decoder_padding
    )
    np.testing.assert_allclose(
        after[decoder_padding], expected[decoder_padding], rtol=1e-4, atol=1e-4
    )


def test_encoder_attention_mask_is_applied():
    decoder, encoder = normal(12, 1, 3, WIDTH), normal(13, 1, 4, WIDTH)
    # Decoder position t may see encoder positions <= t.
    encoder_attention_mask = np.tril(np.ones((3, 4), bool))[None]
    block = make_block()
    before = to_numpy(block(decoder, encoder, encoder_attention_mask=encoder_attention_mask))
    changed = encoder.copy()
    changed[0, 2:] += not_constant(4.0)
    after = to_numpy(block(decoder, changed, encoder_attention_mask=encoder_attention_mask))
    np.testing.assert_allclose(after[0, :2], before[0, :2], atol=1e-5)
    assert not np.allclose(after[0, 2], before[0, 2], atol=1e-3)


def test_the_keras_mask_passes_through():
    target_ids = np.array([[2, 3, 4, 0], [5, 6, 0, 0]])
    embedded = keras.layers.Embedding(9, WIDTH, mask_zero=True)(target_ids)
    output = make_block()(embedded, normal(14, 2, 3, WIDTH))
    np.testing.assert_array_equal(received_mask(output), target_ids != 0)


# -- Cached decoding ---------------------------------------------------------


def empty_cache(block, batch, length):
    attention = block.self_attention
    return ops.zeros((batch, 2, length, attention.num_heads, attention.key_dim))


def decode(
    block, decoder, source=None, encoder_padding_mask=None, use_cross_cache=False,
    return_scores=False,
):
    """Step-by-step outputs (and, with `return_scores`, cross-attention scores)."""
    batch, length = decoder.shape[:2]
    cache = empty_cache(block, batch, length)
    kwargs = {}
    if encoder_padding_mask is not None:
        kwargs["encoder_padding_mask"] = encoder_padding_mask
    if use_cross_cache:
        kwargs["cross_attention_cache"] = block.compute_cross_attention_cache(source)
    elif source is not None:
        kwargs["encoder_sequence"] = source
    if return_scores:
        kwargs["return_cross_attention_scores"] = True
    outputs, scores = [], []
    for index in range(length):
        output, *step_scores, cache = block(
            decoder[:, index : index + 1],
            self_attention_cache=cache,
            self_attention_cache_update_index=index,
            **kwargs,
        )
        outputs.append(to_numpy(output))
        scores += [to_numpy(step) for step in step_scores]
    if return_scores:
        return np.concatenate(outputs, axis=1), np.concatenate(scores, axis=2)
    return np.concatenate(outputs, axis=1)


@NORM
@pytest.mark.parametrize(
    "source_kind", ["decoder_only", "encoder_sequence", "cross_attention_cache"]
)
def test_cached_decoding_equals_full_pass(normalize_first, source_kind):
    decoder, encoder = normal(15, 2, 5, WIDTH), normal(16, 2, 6, WIDTH)
    encoder_padding = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], dtype=bool)
    block = make_block(normalize_first=normalize_first, use_rope=True)
    if source_kind == "decoder_only":
        full = to_numpy(block(decoder))
        stepwise = decode(block, decoder)
    else:
        full = to_numpy(block(decoder, encoder, encoder_padding_mask=encoder_padding))
        stepwise = decode(
            block,
            decoder,
            encoder,
            encoder_padding_mask=encoder_padding,
            use_cross_cache=source_kind == "cross_attention_cache",
        )
    np.testing.assert_allclose(stepwise, full, rtol=1e-4, atol=1e-4)


@NORM
@pytest.mark.parametrize("use_cross_cache", [False, True], ids=["encoder_sequence", "cross_cache"])
def test_cached_steps_return_the_cross_attention_scores_of_the_full_pass(
    normalize_first, use_cross_cache
):
    decoder, encoder = normal(27, 2, 5, WIDTH), normal(28, 2, 6, WIDTH)
    encoder_padding = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], dtype=bool)
    block = make_block(normalize_first=normalize_first, use_rope=True)
    full, full_scores = block(
        decoder, encoder, encoder_padding_mask=encoder_padding,
        return_cross_attention_scores=True,
    )
    stepwise, scores = decode(
        block, decoder, encoder, encoder_padding_mask=encoder_padding,
        use_cross_cache=use_cross_cache, return_scores=True,
    )
    np.testing.assert_allclose(scores, to_numpy(full_scores), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stepwise, to_numpy(full), rtol=1e-4, atol=1e-4)
    plain = decode(
        block, decoder, encoder, encoder_padding_mask=encoder_padding,
        use_cross_cache=use_cross_cache,
    )
    np.testing.assert_allclose(stepwise, plain, rtol=0, atol=1e-6)


def test_cross_attention_cache_holds_projected_keys_and_values():
    decoder, encoder = normal(17, 1, 2, WIDTH), normal(18, 1, 3, WIDTH)
    block = make_block()
    block(decoder, encoder)
    cache = to_numpy(block.compute_cross_attention_cache(encoder))
    attention = block.cross_attention
    keys = np.einsum("bsf,fhd->bshd", encoder, to_numpy(attention.key_kernel))
    values = np.einsum("bsf,fhd->bshd", encoder, to_numpy(attention.value_kernel))
    assert cache.shape == (1, 2, 3, 2, 4)
    np.testing.assert_allclose(cache[:, 0], keys + to_numpy(attention.key_bias), atol=1e-5)
    np.testing.assert_allclose(cache[:, 1], values + to_numpy(attention.value_bias), atol=1e-5)


def test_compiled_cached_step_with_tensor_index():
    """The decoding step compiled (tf.function + XLA on TensorFlow, jax.jit
    on JAX) with a tensor index: one trace, same outputs as the full pass."""
    decoder, encoder = normal(19, 2, 4, WIDTH), normal(20, 2, 5, WIDTH)
    block = make_block(use_rope=True)
    full = to_numpy(block(decoder, encoder))
    cross_cache = block.compute_cross_attention_cache(encoder)

    def step(token, cache, index):
        return block(
            token,
            cross_attention_cache=cross_cache,
            self_attention_cache=cache,
            self_attention_cache_update_index=index,
        )

    compiled_step, traces = backend_jit(step)
    cache = empty_cache(block, 2, 4)
    outputs = []
    for index in range(4):
        token = ops.convert_to_tensor(decoder[:, index : index + 1])
        output, cache = compiled_step(token, cache, ops.convert_to_tensor(index, "int32"))
        outputs.append(to_numpy(output))
    assert traces[0] == 1, f"the step was traced {traces[0]} times"
    np.testing.assert_allclose(np.concatenate(outputs, axis=1), full, rtol=1e-4, atol=1e-4)


# -- Build-time structure errors ---------------------------------------------


def test_block_built_without_cross_attention_rejects_an_encoder_sequence():
    decoder, encoder = normal(21, 1, 3, WIDTH), normal(22, 1, 4, WIDTH)
    block = make_block()
    block(decoder)
    with pytest.raises(ValueError, match="without cross-attention"):
        block(decoder, encoder)
    with pytest.raises(ValueError, match="without cross-attention"):
        block(
            decoder,
            cross_attention_cache=ops.zeros((1, 2, 4, 2, 4)),
        )
    # The same clear error, not an AttributeError, when asking for the cache.
    with pytest.raises(ValueError, match="without cross-attention"):
        block.compute_cross_attention_cache(encoder)
    with pytest.raises(ValueError, match="needs cross-attention"):
        block(decoder, return_cross_attention_scores=True)


def test_block_built_with_cross_attention_requires_a_source():
    decoder, encoder = normal(23, 1, 3, WIDTH), normal(24, 1, 4, WIDTH)
    block = make_block()
    block(decoder, encoder)
    with pytest.raises(ValueError, match="encoder_sequence"):
        block(decoder)


def test_symbolic_call_with_cache_returns_outputs_and_cache():
    """A cached step built on keras.Input (a functional decoding-step model,
    e.g. for export) has the structure of the eager call: (outputs, cache), or
    (outputs, cross-attention scores, cache)."""
    token, source = keras.Input((1, WIDTH)), keras.Input((5, WIDTH))
    cache = keras.Input((2, 6, 2, 4))
    block = make_block()
    result = block(
        token, source, self_attention_cache=cache, self_attention_cache_update_index=0
    )
    assert isinstance(result, (tuple, list)) and len(result) == 2, result
    assert tuple(result[0].shape) == (None, 1, WIDTH)
    assert tuple(result[1].shape) == (None, 2, 6, 2, 4)
    output, scores, cache = block(
        token, cross_attention_cache=keras.Input((2, 5, 2, 4)), self_attention_cache=cache,
        self_attention_cache_update_index=0, return_cross_attention_scores=True,
    )
    assert tuple(scores.shape) == (None, 2, 1, 5) and tuple(cache.shape) == (None, 2, 6, 2, 4)
    output, scores = block(keras.Input((3, WIDTH)), source, return_cross_attention_scores=True)
    assert tuple(output.shape) == (None, 3, WIDTH) and tuple(scores.shape) == (None, 2, 3, 5)


def test_sublayers_are_initialized_independently():
    """Self- and cross-attention must not start from the same weights (an
    unseeded Keras 3 initializer instance repeats its values when reused)."""
    decoder = np.ones((1, 3, WIDTH), "float32")
    block = ka.TransformerDecoderBlock(intermediate_dim=16, num_heads=2)
    block(decoder, decoder)
    for name in ("query_kernel", "key_kernel", "value_kernel", "output_kernel"):
        assert not np.array_equal(
            to_numpy(getattr(block.self_attention, name)),
            to_numpy(getattr(block.cross_attention, name)),
        ), name
    attention = block.self_attention
    assert not np.array_equal(to_numpy(attention.query_kernel), to_numpy(attention.key_kernel))


def test_padding_from_the_keras_masks_applies_inside_a_compiled_model():
    """In `predict` (compiled, on every backend) the block reads the target's and
    the source's Keras masks: changing a padded token changes no real output,
    and the output carries the target's mask."""
    source_ids = np.array([[3, 5, 2, 0, 0], [4, 1, 6, 7, 2]])
    target_ids = np.array([[1, 2, 3, 4], [5, 6, 0, 0]])
    source, target = keras.Input((None,), dtype="int32"), keras.Input((None,), dtype="int32")
    embedding = keras.layers.Embedding(8, 8, mask_zero=True)
    decoded = ka.TransformerDecoderBlock(intermediate_dim=16, num_heads=2)(
        embedding(target), embedding(source)
    )
    # Without biases, a query the carried mask marks as padding outputs zeros.
    attended = ka.MultiHeadAttention(num_heads=2, key_dim=4, use_bias=False)(decoded, decoded)
    model = keras.Model([source, target], [decoded, attended])
    before, attended = model.predict([source_ids, target_ids], verbose=0)
    real = target_ids != 0
    assert np.all(attended[~real] == 0) and np.all(attended[real] != 0)
    table = to_numpy(embedding.embeddings, None)
    table[0] = np.random.default_rng(4).normal(size=8) * 10.0
    embedding.embeddings.assign(table)
    after, _ = model.predict([source_ids, target_ids], verbose=0)
    np.testing.assert_allclose(after[real], before[real], atol=1e-5)
