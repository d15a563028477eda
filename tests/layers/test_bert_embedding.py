"""BertEmbedding against NumPy: token + type + positions, LayerNorm, the padding mask."""

import keras
import numpy as np
import pytest

import keras_attention as ka
from numpy_reference import to_numpy

TOKEN_IDS = np.array([[3, 9, 4, 0, 0], [5, 1, 2, 8, 6]], dtype="int32")
TYPE_IDS = np.array([[0, 0, 1, 1, 1], [0, 1, 1, 1, 0]], dtype="int32")


def reference(layer, token_ids, type_ids):
    tokens = to_numpy(layer.token_embedding.embeddings)[token_ids]
    types = to_numpy(layer.token_type_embedding.embeddings)[type_ids]
    positions = to_numpy(layer.position_embedding.position_embeddings)[: token_ids.shape[1]]
    summed = tokens + types + positions[None]
    mean = summed.mean(-1, keepdims=True)
    variance = summed.var(-1, keepdims=True)
    normalized = (summed - mean) / np.sqrt(variance + layer.layer_norm_epsilon)
    return normalized * to_numpy(layer.norm.gamma) + to_numpy(layer.norm.beta)


def randomized_layer(**kwargs):
    layer = ka.BertEmbedding(vocabulary_size=10, embedding_dim=6, max_length=8, **kwargs)
    layer.build(TOKEN_IDS.shape)
    rng = np.random.default_rng(0)
    for variable in layer.weights:  # LayerNorm scale and offset away from 1 and 0
        variable.assign(rng.normal(size=variable.shape).astype("float32"))
    return layer


@pytest.mark.parametrize("with_types", [False, True], ids=["type_0", "type_ids"])
def test_matches_reference(with_types):
    layer = randomized_layer(layer_norm_epsilon=1e-12)
    type_ids = TYPE_IDS if with_types else np.zeros_like(TOKEN_IDS)
    output = to_numpy(layer(TOKEN_IDS, token_type_ids=TYPE_IDS if with_types else None))
    np.testing.assert_allclose(output, reference(layer, TOKEN_IDS, type_ids), rtol=1e-5, atol=1e-5)


def test_emits_padding_mask_and_no_mask_without_mask_zero():
    layer = randomized_layer()
    np.testing.assert_array_equal(to_numpy(layer.compute_mask(TOKEN_IDS), np.bool_), TOKEN_IDS != 0)
    assert randomized_layer(mask_zero=False).compute_mask(TOKEN_IDS) is None


def test_longer_than_position_table_is_a_clear_error():
    layer = randomized_layer()
    with pytest.raises(ValueError, match="exceeds the learned position table"):
        layer(np.ones((1, 9), dtype="int32"))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"vocabulary_size": 0}, "vocabulary_size=0"),
        ({"max_length": None}, "max_length=None"),
        ({"type_vocabulary_size": -1}, "type_vocabulary_size=-1"),
        ({"dropout": 1.5}, "dropout=1.5"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, message):
    arguments = {"vocabulary_size": 10, "embedding_dim": 6, "max_length": 8, **kwargs}
    with pytest.raises(ValueError, match=message):
        ka.BertEmbedding(**arguments)


def test_config_round_trip():
    layer = ka.BertEmbedding(vocabulary_size=10, embedding_dim=6, max_length=8, layer_norm_epsilon=1e-7)
    restored = ka.BertEmbedding.from_config(layer.get_config())
    assert restored.get_config() == layer.get_config()
    assert isinstance(restored.embeddings_initializer, keras.initializers.TruncatedNormal)
