"""Bad input to the layers: empty and one-row batches, wrong rank or dtype, fully masked rows.

Covered elsewhere: fully masked rows in `masked_softmax` (tests/layers/test_ops.py),
`AttentionPooling` (test_attention_pooling.py) and `MultiHeadAttention`
(test_multi_head_attention.py); a sequence longer than a learned position table
(test_positional_encoding.py); constructor arguments (test_validation.py).
"""

import keras
import numpy as np
import pytest

import keras_attention as ka

WIDTH = 8
SEQUENCE_LAYERS = {
    "MultiHeadAttention": lambda: ka.MultiHeadAttention(num_heads=2, key_dim=4),
    "MultiHeadAttention-explicit": lambda: ka.MultiHeadAttention(num_heads=2, key_dim=4, use_fused_attention=False),
    "TransformerEncoderBlock": lambda: ka.TransformerEncoderBlock(intermediate_dim=16, num_heads=2),
    "TransformerDecoderBlock": lambda: ka.TransformerDecoderBlock(intermediate_dim=16, num_heads=2),
    "AttentionPooling": lambda: ka.AttentionPooling(num_heads=2),
    "PositionalEncoding": ka.PositionalEncoding,
    "LearnedPositionalEncoding": lambda: ka.LearnedPositionalEncoding(max_length=8),
}


@pytest.fixture(autouse=True)
def float32_and_seeded():
    keras.config.set_dtype_policy("float32")
    keras.utils.set_random_seed(11)


def call(name, layer, inputs):
    if name.startswith("MultiHeadAttention"):
        return layer(inputs, inputs)
    return layer(inputs)


def embeddings(batch, length=5, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, length, WIDTH)).astype("float32")


@pytest.mark.parametrize("name", SEQUENCE_LAYERS)
def test_a_row_gets_the_same_answer_alone_and_in_a_batch_and_an_empty_batch_works(name):
    layer = SEQUENCE_LAYERS[name]()
    batch = embeddings(3)
    together = keras.ops.convert_to_numpy(call(name, layer, batch))
    alone = keras.ops.convert_to_numpy(call(name, layer, batch[1:2]))
    np.testing.assert_allclose(alone[0], together[1], atol=1e-5)
    empty = keras.ops.convert_to_numpy(call(name, layer, batch[:0]))
    assert empty.shape == (0,) + together.shape[1:]


# Like Keras's and keras-hub's, these take (batch, ..., sequence, features) too.
HIGHER_RANK_LAYERS = {
    "MultiHeadAttention", "MultiHeadAttention-explicit", "PositionalEncoding", "LearnedPositionalEncoding"
}


@pytest.mark.parametrize("name", SEQUENCE_LAYERS)
@pytest.mark.parametrize(
    "inputs, message",
    [
        (np.zeros((5, WIDTH), "float32"), r"of shape \(batch, (\.\.\., )?sequence, features\)\. Received: \w+\.shape=\(5, 8\)"),
        (np.zeros((2, 5, WIDTH), "int32"), r"expects floating-point .*embed token ids first.*dtype=int32"),
    ],
    ids=["rank-2", "int-ids"],
)
def test_wrong_rank_or_dtype_names_the_argument_and_the_fix(name, inputs, message):
    with pytest.raises(ValueError, match=message):
        call(name, SEQUENCE_LAYERS[name](), inputs)


@pytest.mark.parametrize("name", SEQUENCE_LAYERS)
@pytest.mark.parametrize("how", ["eager", "symbolic"])
def test_rank_4_input_works_where_supported_and_is_refused_when_the_model_is_built(name, how):
    """Refused at once, on a symbolic input too: never accepted by the model and then failing in predict."""
    shape = (1, 2, 5, WIDTH)
    inputs = np.zeros(shape, "float32") if how == "eager" else keras.Input(batch_shape=shape)
    if name in HIGHER_RANK_LAYERS:
        assert tuple(call(name, SEQUENCE_LAYERS[name](), inputs).shape) == shape
    else:
        with pytest.raises(ValueError, match=r"of shape \(batch, sequence, features\)\. Received: \w+\.shape=\(1, 2, 5, 8\)"):
            call(name, SEQUENCE_LAYERS[name](), inputs)


@pytest.mark.parametrize("shape", [(5,), (2, 5, 1)])
def test_token_ids_of_the_wrong_rank_are_refused(shape):
    layer = ka.TokenAndPositionEmbedding(vocabulary_size=10, embedding_dim=4, max_length=8)
    with pytest.raises(ValueError, match=r"expects `token_ids` of shape \(batch, sequence\)"):
        layer(np.ones(shape, "int32"))


def test_token_ids_of_an_empty_batch_or_empty_sequence_embed_to_empty_tensors():
    layer = ka.TokenAndPositionEmbedding(
        vocabulary_size=10, embedding_dim=4, max_length=8, position_encoding="learned"
    )
    assert tuple(layer(np.ones((0, 3), "int32")).shape) == (0, 3, 4)
    assert tuple(layer(np.ones((2, 0), "int32")).shape) == (2, 0, 4)


def test_fully_masked_rows_are_finite_and_no_masked_value_leaks_in():
    """Every key masked: a position's output depends on its own value only, never NaN.

    (A softmax over only masked keys that fell back to uniform weights would
    average the other positions in; the second half of the check catches it.)
    """
    sequence = embeddings(1)
    changed = sequence.copy()
    changed[:, 1:] = embeddings(1, seed=3)[:, 1:]
    mask = np.zeros((1, 5), bool)
    for block in (
        ka.TransformerEncoderBlock(intermediate_dim=16, num_heads=2),
        ka.TransformerEncoderBlock(intermediate_dim=16, num_heads=2, normalize_first=True),
    ):
        first = keras.ops.convert_to_numpy(block(sequence, padding_mask=mask))
        second = keras.ops.convert_to_numpy(block(changed, padding_mask=mask))
        assert np.all(np.isfinite(first))
        np.testing.assert_allclose(first[:, 0], second[:, 0], atol=1e-6)
        assert np.abs(first[:, 1:] - second[:, 1:]).max() > 1e-3  # the check can see a change


def test_fully_masked_encoder_sequence_does_not_reach_the_decoder():
    decoder = ka.TransformerDecoderBlock(intermediate_dim=16, num_heads=2)
    sequence = embeddings(2)
    mask = np.zeros((2, 4), bool)
    first = keras.ops.convert_to_numpy(decoder(sequence, embeddings(2, 4, seed=1), encoder_padding_mask=mask))
    second = keras.ops.convert_to_numpy(decoder(sequence, embeddings(2, 4, seed=2), encoder_padding_mask=mask))
    assert np.all(np.isfinite(first))
    np.testing.assert_allclose(first, second, atol=1e-6)
