"""TiedEmbedding and BertTiedEmbedding against NumPy, and the weight layout their files keep."""

import h5py
import keras
import numpy as np
import pytest

import keras_attention as ka
from numpy_reference import sinusoidal_encoding
from numpy_reference import to_numpy

TOKEN_IDS = np.array([[3, 9, 4, 0], [5, 1, 0, 0]], dtype="int32")
START = 2  # a decoder step's position: both layers take positions from start_index


def randomized(layer):
    layer.build(TOKEN_IDS.shape)
    rng = np.random.default_rng(0)
    for variable in layer.weights:  # a non-zero bias and type row, LayerNorm away from 1 and 0
        variable.assign(rng.normal(size=variable.shape).astype("float32"))
    return layer


def tied_embedding_reference(layer, token_ids):
    table = to_numpy(layer.embeddings)
    return table[token_ids] * np.sqrt(layer.embedding_dim) + sinusoidal_encoding(
        token_ids.shape[1], layer.embedding_dim, start=START
    )


def bert_tied_embedding_reference(layer, token_ids):
    length = token_ids.shape[1]
    summed = (
        to_numpy(layer.embeddings)[token_ids]
        + to_numpy(layer.type_embedding)
        + to_numpy(layer.position_embedding.position_embeddings)[START : START + length]
    )
    mean = summed.mean(-1, keepdims=True)
    variance = summed.var(-1, keepdims=True)
    normalized = (summed - mean) / np.sqrt(variance + layer.layer_norm_epsilon)
    return normalized * to_numpy(layer.norm.gamma) + to_numpy(layer.norm.beta)


LAYERS = {
    "tied_embedding": (
        lambda: ka.TiedEmbedding(vocabulary_size=10, embedding_dim=6),
        tied_embedding_reference,
    ),
    "bert_tied_embedding": (
        lambda: ka.BertTiedEmbedding(vocabulary_size=10, embedding_dim=6, max_length=8),
        bert_tied_embedding_reference,
    ),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_embeddings_logits_and_mask_match_a_float64_reference(name):
    make_layer, reference = LAYERS[name]
    layer = randomized(make_layer())
    embedded = to_numpy(layer(TOKEN_IDS, start_index=START))
    np.testing.assert_allclose(embedded, reference(layer, TOKEN_IDS), rtol=1e-5, atol=1e-5)

    hidden = np.random.default_rng(1).normal(size=(2, 4, 6)).astype("float32")
    logits = layer(hidden, reverse=True)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    expected = hidden.astype(np.float64) @ to_numpy(layer.embeddings).T + to_numpy(layer.output_bias)
    np.testing.assert_allclose(to_numpy(logits), expected, rtol=1e-5, atol=1e-5)

    np.testing.assert_array_equal(to_numpy(layer.compute_mask(TOKEN_IDS), bool), TOKEN_IDS != 0)
    decoder_mask = TOKEN_IDS != 0  # hidden states keep the mask they come with
    assert layer.compute_mask(hidden, mask=decoder_mask) is decoder_mask


@pytest.mark.parametrize("name", list(LAYERS))
def test_logits_are_float32_under_mixed_precision(name):
    keras.config.set_dtype_policy("mixed_float16")  # the conftest fixture restores float32
    layer = LAYERS[name][0]()
    embedded = layer(TOKEN_IDS)
    assert keras.backend.standardize_dtype(embedded.dtype) == "float16"
    logits = layer(embedded, reverse=True)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"


def saved_shapes(layer, path):
    """`{h5 path: shape}` of the weights file of a model that embeds and reverses with `layer`."""
    token_ids = keras.Input((None,), dtype="int32")
    keras.Model(token_ids, layer(layer(token_ids), reverse=True)).save_weights(path)
    shapes = {}
    with h5py.File(path, "r") as file:
        file.visititems(
            lambda name, item: shapes.update({name: item.shape}) if isinstance(item, h5py.Dataset) else None
        )
    return shapes


def test_files_keep_the_weight_layout(tmp_path):
    """Older summarizer files were written with these paths, in this order."""
    tied = saved_shapes(ka.TiedEmbedding(10, 6, name="token_embedding"), tmp_path / "tied.weights.h5")
    assert tied == {
        "layers/tied_embedding/vars/0": (10, 6),  # the table
        "layers/tied_embedding/vars/1": (10,),  # the output bias
    }
    bert = saved_shapes(
        ka.BertTiedEmbedding(10, 6, max_length=8, name="decoder_embedding"), tmp_path / "bert.weights.h5"
    )
    assert bert == {
        "layers/bert_tied_embedding/vars/0": (10, 6),  # the table
        "layers/bert_tied_embedding/vars/1": (10,),  # the output bias
        "layers/bert_tied_embedding/vars/2": (6,),  # the type-0 row
        "layers/bert_tied_embedding/position_embedding/vars/0": (8, 6),
        "layers/bert_tied_embedding/norm/vars/0": (6,),
        "layers/bert_tied_embedding/norm/vars/1": (6,),
    }


@pytest.mark.parametrize(
    "layer_cls, kwargs, message",
    [
        (ka.TiedEmbedding, {"vocabulary_size": 0}, "vocabulary_size=0"),
        (ka.TiedEmbedding, {"embedding_dim": 2.5}, "embedding_dim=2.5"),
        (ka.TiedEmbedding, {"dropout": 1.5}, "dropout=1.5"),
        (ka.BertTiedEmbedding, {"max_length": None}, "max_length=None"),
        (ka.BertTiedEmbedding, {"dropout": -0.1}, "dropout=-0.1"),
    ],
)
def test_bad_arguments_name_the_value(layer_cls, kwargs, message):
    arguments = {"vocabulary_size": 10, "embedding_dim": 6, **kwargs}
    if layer_cls is ka.BertTiedEmbedding:
        arguments = {"max_length": 8, **arguments}
    with pytest.raises(ValueError, match=message):
        layer_cls(**arguments)
