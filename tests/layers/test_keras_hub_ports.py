"""keras-hub's layer tests, ported to our layers where the arguments map.

Each test names the keras-hub test it comes from (keras-hub 0.32,
`keras_hub/src/layers/modeling/*_test.py`). keras-hub is not a dependency; the
cases are rewritten against our classes, and what differs is said where it
differs (README, "Layers", lists the differences that remain):

- `CachedMultiHeadAttention` is keras-hub's subclass of
  `keras.layers.MultiHeadAttention` that projects with `_query_dense`, ...,
  reads and writes a key/value cache and calls `_compute_attention`. A
  subclass of ours written to the same contract (below) passes its tests, and
  so does our layer's own cache.
- `TransformerEncoder`/`TransformerDecoder` ↔ `TransformerEncoderBlock`/
  `TransformerDecoderBlock`: the same arguments; norms are named
  `attention_norm`/`self_attention_norm`, `cross_attention_norm` and
  `feed_forward_norm` (keras-hub: `_self_attention_layer_norm`, ...). Our
  decoder computes the cross-attention cache once with
  `compute_cross_attention_cache` and returns `(outputs, self_attention_cache)`;
  keras-hub's fills the cross cache in its call with
  `cross_attention_cache_update_index=0` and returns three values.
- `SinePositionEncoding` ↔ `PositionalEncoding`: keras-hub returns the
  encoding alone, ours returns `inputs + encoding`; the ported cases feed zeros
  where keras-hub's compare values.
- `TokenAndPositionEmbedding`: keras-hub's `sequence_length` is our
  `max_length` with `position_encoding="learned"`; ours scales token
  embeddings by √d unless `scale_embeddings=False`, and its
  `embeddings_initializer` sets the token table only.
"""

import keras
import numpy as np
import pytest
from keras import ops
from keras import random

import keras_attention as ka
from layer_test_case import received_mask
from layer_test_case import run_layer_test
from numpy_reference import to_numpy

NORM = pytest.mark.parametrize("normalize_first", [False, True], ids=["post_norm", "pre_norm"])


@keras.saving.register_keras_serializable(package="keras_attention")
class CachedAttentionOnOurs(ka.MultiHeadAttention):
    """keras-hub's CachedMultiHeadAttention contract, written on our class.

    It uses only what keras-hub's subclass uses of Keras's layer: the
    projection sublayers, `_compute_attention` and the output projection. The
    cache is `(batch, 2, length, heads, key_dim)`; with `cache_update_index`
    the step's keys and values are written at that index first.
    """

    def call(
        self,
        query,
        value,
        key=None,
        attention_mask=None,
        cache=None,
        cache_update_index=None,
        return_attention_scores=False,
        training=None,
    ):
        key = value if key is None else key
        query = self._query_dense(query)
        if cache is None:
            key, value = self._key_dense(key), self._value_dense(value)
        elif cache_update_index is None:
            key, value = cache[:, 0], cache[:, 1]
        else:
            start = (0, cache_update_index, 0, 0)
            key = ops.slice_update(cache[:, 0], start, self._key_dense(key))
            value = ops.slice_update(cache[:, 1], start, self._value_dense(value))
            cache = ops.stack((key, value), axis=1)
        output, scores = self._compute_attention(
            query=query,
            key=key,
            value=value,
            attention_mask=attention_mask,
            return_attention_scores=return_attention_scores,
            training=training,
        )
        output = self._output_dense(output)
        results = (output,) + ((scores,) if return_attention_scores else ())
        results += (cache,) if cache is not None else ()
        return results[0] if len(results) == 1 else results

    def compute_output_spec(self, query, value, *args, **kwargs):
        return keras.KerasTensor(query.shape, dtype=self.compute_dtype)


BATCH, LENGTH, HEADS, KEY_DIM = 2, 5, 2, 4
HIDDEN = HEADS * KEY_DIM
CACHED_LAYERS = [CachedAttentionOnOurs, ka.MultiHeadAttention]
CACHED = pytest.mark.parametrize(
    "layer_cls", CACHED_LAYERS, ids=["keras_hub_subclass_on_ours", "ours"]
)


def loop_with_cache(layer, x, mask, cache):
    """keras-hub's loop: one token at a time through `ops.while_loop`."""

    def body(i, outputs, cache):
        token = ops.slice(x, (0, i, 0), (BATCH, 1, HIDDEN))
        step_mask = ops.slice(mask, (i, 0), (1, LENGTH))
        output, cache = layer(
            query=token, value=token, cache=cache, cache_update_index=i, attention_mask=step_mask
        )
        return i + 1, ops.slice_update(outputs, (0, i, 0), output), cache

    _, outputs, cache = ops.while_loop(
        lambda i, outputs, cache: i < LENGTH, body, (0, ops.zeros_like(x), cache)
    )
    return outputs, cache


# From cached_multi_head_attention_test.py ----------------------------------------


def test_cached_attention_layer_behaviors():  # test_layer_behaviors
    run_layer_test(
        CachedAttentionOnOurs,
        init_kwargs={"num_heads": 2, "key_dim": 4, "dropout": 0.1},
        input_data={
            "query": np.random.default_rng(0).uniform(size=(2, 4, 6)).astype("float32"),
            "value": np.random.default_rng(1).uniform(size=(2, 4, 6)).astype("float32"),
        },
        expected_output_shape=(2, 4, 6),
        expected_num_trainable_weights=8,
    )


@CACHED
def test_cache_call_is_correct(layer_cls):  # test_cache_call_is_correct
    x = random.uniform(shape=(BATCH, LENGTH, HIDDEN))
    empty_cache = ops.zeros((BATCH, 2, LENGTH, HEADS, KEY_DIM))
    causal = ops.tril(ops.ones((LENGTH, LENGTH)))
    layer = layer_cls(num_heads=HEADS, key_dim=KEY_DIM)
    full, full_cache = layer(x, x, cache=empty_cache, cache_update_index=0, attention_mask=causal)
    stepwise, stepwise_cache = loop_with_cache(layer, x, causal, empty_cache)
    np.testing.assert_allclose(to_numpy(stepwise), to_numpy(full), atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(to_numpy(stepwise_cache), to_numpy(full_cache), atol=1e-5, rtol=1e-5)


@CACHED
def test_return_attention_scores(layer_cls):  # test_return_attention_scores
    x = random.uniform(shape=(BATCH, LENGTH, HIDDEN))
    output, scores = layer_cls(num_heads=HEADS, key_dim=KEY_DIM)(x, x, return_attention_scores=True)
    assert tuple(output.shape) == (BATCH, LENGTH, HIDDEN)
    assert tuple(scores.shape) == (BATCH, HEADS, LENGTH, LENGTH)
    np.testing.assert_allclose(to_numpy(ops.sum(scores, axis=-1)), 1.0, atol=1e-5)


@CACHED
def test_return_attention_scores_with_cache(layer_cls):  # test_return_attention_scores_with_cache
    x = random.uniform(shape=(BATCH, LENGTH, HIDDEN))
    empty_cache = ops.zeros((BATCH, 2, LENGTH, HEADS, KEY_DIM))
    output, scores, cache = layer_cls(num_heads=HEADS, key_dim=KEY_DIM)(
        x,
        x,
        cache=empty_cache,
        cache_update_index=0,
        attention_mask=ops.tril(ops.ones((LENGTH, LENGTH))),
        return_attention_scores=True,
    )
    assert tuple(output.shape) == (BATCH, LENGTH, HIDDEN)
    assert tuple(scores.shape) == (BATCH, HEADS, LENGTH, LENGTH)
    assert tuple(cache.shape) == tuple(empty_cache.shape)


@CACHED
def test_cached_attention_training_propagation(layer_cls):  # test_training_propagation
    """Attention dropout of almost 1: every weight is dropped, the output is the bias."""
    x = random.uniform(shape=(BATCH, LENGTH, HIDDEN))
    layer = layer_cls(
        num_heads=HEADS, key_dim=KEY_DIM, dropout=0.99999, bias_initializer="random_normal"
    )
    outputs = layer(x, x, training=True)
    no_attention = ops.einsum(
        layer._combine_equation,
        ops.zeros((BATCH, HEADS, LENGTH, LENGTH)),
        layer._value_dense(x),
    )
    np.testing.assert_allclose(
        to_numpy(outputs), to_numpy(layer._output_dense(no_attention)), atol=1e-5
    )


# From transformer_encoder_test.py -------------------------------------------------


# keras-hub runs both norm placements; test_layer_suite.py covers the other one
# with our defaults, so each block runs keras-hub's arguments once (fast suite).
def test_encoder_layer_behaviors(normalize_first=False):  # test_layer_behaviors
    run_layer_test(
        ka.TransformerEncoderBlock,
        init_kwargs={
            "intermediate_dim": 4,
            "num_heads": 2,
            "normalize_first": normalize_first,
            "activation": "relu",
            "layer_norm_epsilon": 1e-05,
            "kernel_initializer": "HeNormal",
            "bias_initializer": "Zeros",
            "dropout": 0.1,
        },
        input_data=np.random.default_rng(0).uniform(size=(2, 4, 6)).astype("float32"),
        expected_output_shape=(2, 4, 6),
        expected_num_trainable_weights=16,
    )


@NORM
def test_encoder_valid_call(normalize_first):  # test_valid_call
    encoder = ka.TransformerEncoderBlock(intermediate_dim=4, num_heads=2, normalize_first=normalize_first)
    model = keras.Sequential([keras.Input(shape=(4, 6)), encoder])
    assert tuple(model(random.uniform(shape=(2, 4, 6))).shape) == (2, 4, 6)


def test_encoder_valid_call_with_mask():  # test_valid_call_with_mask
    encoder = ka.TransformerEncoderBlock(intermediate_dim=4, num_heads=2)
    encoder.build([2, 4, 6])
    inputs = random.uniform(shape=(2, 4, 6))
    assert tuple(encoder(inputs, inputs[:, :, 0] < 0.5).shape) == (2, 4, 6)


@pytest.mark.parametrize("block", [ka.TransformerEncoderBlock, ka.TransformerDecoderBlock])
def test_invalid_kernel_initializer(block):  # test_value_error_when_invalid_kernel_inititalizer
    with pytest.raises(ValueError):
        block(intermediate_dim=4, num_heads=2, dropout=0.5, kernel_initializer="Invalid")


def test_encoder_training_propagation():  # test_training_propagation
    """Dropout of almost 1 on both residual branches: the output is the two norms of the input."""
    encoder = ka.TransformerEncoderBlock(intermediate_dim=4, num_heads=2, dropout=0.99999)
    inputs = random.uniform(shape=(1, 4, 6))
    outputs = encoder(inputs, training=True)
    expected = encoder.feed_forward_norm(encoder.attention_norm(inputs))
    np.testing.assert_allclose(to_numpy(outputs), to_numpy(expected), atol=1e-5)


def test_encoder_mask_propagation():  # test_mask_propagation
    token_ids = np.array([[3, 5, 0, 0]])
    embedded = keras.layers.Embedding(8, 6, mask_zero=True)(token_ids)
    outputs = ka.TransformerEncoderBlock(intermediate_dim=4, num_heads=2)(embedded)
    np.testing.assert_array_equal(received_mask(outputs), [[True, True, False, False]])


def test_encoder_attention_scores():  # test_attention_scores
    encoder = ka.TransformerEncoderBlock(intermediate_dim=4, num_heads=2)
    inputs = random.uniform(shape=(1, 4, 6))
    outputs, scores = encoder(inputs, return_attention_scores=True)
    assert tuple(outputs.shape) == (1, 4, 6)
    assert tuple(scores.shape) == (1, 2, 4, 4)
    symbolic_outputs, symbolic_scores = encoder(keras.Input((4, 6)), return_attention_scores=True)
    assert tuple(symbolic_scores.shape) == (None, 2, 4, 4)


# From transformer_decoder_test.py -------------------------------------------------

DECODER_ARGUMENTS = {
    "intermediate_dim": 4,
    "num_heads": 2,
    "activation": "relu",
    "layer_norm_epsilon": 1e-05,
    "kernel_initializer": "HeNormal",
    "bias_initializer": "Zeros",
    "dropout": 0.1,
}


@pytest.mark.parametrize(
    "normalize_first, with_encoder",
    [(False, False), (True, True)],
    ids=["decoder_only-post_norm", "cross_attention-pre_norm"],
)
def test_decoder_layer_behaviors(normalize_first, with_encoder):
    # test_layer_behaviors and test_layer_behaviors_with_cross_attention
    rng = np.random.default_rng(0)
    decoder_sequence = rng.uniform(size=(2, 4, 6)).astype("float32")
    input_data = decoder_sequence
    if with_encoder:
        input_data = {
            "decoder_sequence": decoder_sequence,
            "encoder_sequence": rng.uniform(size=(2, 4, 6)).astype("float32"),
        }
    run_layer_test(
        ka.TransformerDecoderBlock,
        init_kwargs={**DECODER_ARGUMENTS, "normalize_first": normalize_first},
        input_data=input_data,
        expected_output_shape=(2, 4, 6),
        expected_num_trainable_weights=26 if with_encoder else 16,
    )


def test_decoder_invalid_calls():  # test_invalid_calls
    encoder_input, decoder_input = ops.zeros((2, 4, 6)), ops.zeros((2, 4, 6))
    decoder = ka.TransformerDecoderBlock(intermediate_dim=4, num_heads=2)
    decoder(decoder_input, encoder_input)
    with pytest.raises(ValueError):
        decoder(decoder_input)
    decoder = ka.TransformerDecoderBlock(intermediate_dim=4, num_heads=2)
    decoder(decoder_input)
    with pytest.raises(ValueError):
        decoder(decoder_input, encoder_input)


def test_decoder_training_propagation():  # test_training_propagation
    decoder = ka.TransformerDecoderBlock(intermediate_dim=4, num_heads=2, dropout=0.99999)
    decoder_sequence = random.uniform(shape=[1, 4, 6])
    encoder_sequence = random.uniform(shape=[1, 4, 6])
    outputs = decoder(decoder_sequence, encoder_sequence, training=True)
    expected = decoder.feed_forward_norm(
        decoder.cross_attention_norm(decoder.self_attention_norm(decoder_sequence))
    )
    np.testing.assert_allclose(to_numpy(outputs), to_numpy(expected), atol=1e-5)


@pytest.mark.parametrize("with_encoder", [False, True], ids=["decoder_only", "cross_attention"])
def test_decoder_mask_propagation(with_encoder):
    # test_mask_propagation and test_mask_propagation_without_cross_attention
    token_ids = np.array([[3, 5, 0, 0]])
    embedded = keras.layers.Embedding(8, 6, mask_zero=True)(token_ids)
    decoder = ka.TransformerDecoderBlock(intermediate_dim=4, num_heads=2)
    outputs = decoder(embedded, random.uniform(shape=[1, 4, 6])) if with_encoder else decoder(embedded)
    np.testing.assert_array_equal(received_mask(outputs), [[True, True, False, False]])


@pytest.mark.parametrize("with_encoder", [False, True], ids=["decoder_only", "cross_attention"])
def test_decoder_cache_call_is_correct(with_encoder):
    # test_cache_call_is_correct and test_cache_call_is_correct_with_cross_attention
    x = random.uniform(shape=(BATCH, LENGTH, HIDDEN))
    source = random.uniform(shape=(BATCH, LENGTH, HIDDEN)) if with_encoder else None
    empty_cache = ops.zeros((BATCH, 2, LENGTH, HEADS, KEY_DIM))
    layer = ka.TransformerDecoderBlock(intermediate_dim=4, num_heads=HEADS)
    layer(x, source)
    cross = layer.compute_cross_attention_cache(source) if with_encoder else None
    full, full_cache = layer(
        x, self_attention_cache=empty_cache, self_attention_cache_update_index=0,
        cross_attention_cache=cross,
    )

    def body(i, outputs, cache):
        token = ops.slice(x, (0, i, 0), (BATCH, 1, HIDDEN))
        output, cache = layer(
            decoder_sequence=token,
            self_attention_cache=cache,
            self_attention_cache_update_index=i,
            cross_attention_cache=cross,
        )
        return i + 1, ops.slice_update(outputs, (0, i, 0), output), cache

    _, stepwise, stepwise_cache = ops.while_loop(
        lambda i, outputs, cache: i < LENGTH, body, (0, ops.zeros_like(x), empty_cache)
    )
    np.testing.assert_allclose(to_numpy(stepwise), to_numpy(full), atol=1e-5)
    np.testing.assert_allclose(to_numpy(stepwise_cache), to_numpy(full_cache), atol=1e-5)
    # And the full pass equals the block's plain causal pass.
    np.testing.assert_allclose(to_numpy(full), to_numpy(layer(x, source)), atol=1e-5)


# From sine_position_encoding_test.py --------------------------------------------


@pytest.mark.parametrize("shape", [(2, 4, 6), (1, 2, 4, 6)], ids=["3d", "4d"])
def test_sine_position_encoding_layer_behaviors(shape):  # test_layer_behaviors(_4d)
    run_layer_test(
        ka.PositionalEncoding,
        init_kwargs={"max_wavelength": 10000.0},
        input_data=np.random.default_rng(0).uniform(size=shape).astype("float32"),
        expected_output_shape=shape,
    )


@pytest.mark.parametrize(
    "shape",
    [(100, 32), (None, 32), (None, 100, 32)],
    ids=["static", "dynamic", "multi_dimension"],
)
def test_sine_position_encoding_symbolic_shapes(shape):
    # test_static_layer_output_shape, test_dynamic_layer_output_shape,
    # test_multi_dimension_layer_output_shape
    outputs = ka.PositionalEncoding()(keras.Input(shape=shape))
    assert tuple(outputs.shape) == (None,) + shape


def test_sine_position_encoding_values():  # test_output_correct_values
    model = keras.Sequential([keras.Input(shape=(4, 6)), ka.PositionalEncoding()])
    output = to_numpy(model(ops.zeros((1, 4, 6))))  # ours adds the encoding to its input
    np.testing.assert_allclose(output[0, 0], [0.0, 1.0, 0.0, 1.0, 0.0, 1.0], atol=0.01, rtol=0.01)
    np.testing.assert_allclose(
        output[0, 3], [0.14112, -0.98999, 0.13879, 0.99032, 0.00646, 0.99997], atol=0.01, rtol=0.01
    )


@pytest.mark.parametrize(
    "layer", [ka.PositionalEncoding(), ka.LearnedPositionalEncoding(max_length=3)],
    ids=["sinusoidal", "learned"],
)
def test_position_encoding_start_index(layer):  # test_start_index
    data = random.uniform(shape=(2, 3, 4))
    full = layer(data)
    sequential = ops.zeros((2, 3, 4))
    for i in range(3):
        sequential = ops.slice_update(sequential, (0, i, 0), layer(data[:, i : i + 1, :], start_index=i))
    np.testing.assert_allclose(to_numpy(sequential), to_numpy(full), atol=1e-6)


# From token_and_position_embedding_test.py ----------------------------------------


def test_token_and_position_embedding_layer_behaviors():  # test_layer_behaviors
    arguments = {
        "vocabulary_size": 5,
        "max_length": 4,
        "position_encoding": "learned",
        "embedding_dim": 3,
        "scale_embeddings": False,
        "embeddings_initializer": "ones",
    }
    token_ids = np.random.default_rng(0).integers(0, 5, size=(2, 4)).astype("int32")
    run_layer_test(
        ka.TokenAndPositionEmbedding,
        init_kwargs=arguments,
        input_data=token_ids,
        expected_output_shape=(2, 4, 3),
        expected_num_trainable_weights=2,
    )
    layer = ka.TokenAndPositionEmbedding(**arguments)
    output = to_numpy(layer(token_ids))
    positions = to_numpy(layer.position_embedding.position_embeddings)
    np.testing.assert_allclose(output, np.broadcast_to(1.0 + positions, output.shape), atol=1e-6)


def test_token_and_position_embedding_mask_propagation():  # test_mask_propagation
    layer = ka.TokenAndPositionEmbedding(vocabulary_size=5, max_length=4, embedding_dim=3)
    token_ids = np.array([[1, 0], [1, 0]])
    np.testing.assert_array_equal(received_mask(layer(token_ids)), token_ids != 0)
