"""The summarizer's TiedEmbedding on `keras.layers.ReversibleEmbedding`: the numbers of a
float64 NumPy reference, and files written by the former layer load and predict the same."""

import os

import keras
import numpy as np
import pytest

from pipelines.summarization.tied_embedding import TiedEmbedding

DATA = os.path.join(os.path.dirname(__file__), "data")
INPUTS = ("encoder_ids", "decoder_ids")


@pytest.fixture(scope="module")
def legacy():
    """legacy_summarizer.* were written by make_legacy_summarizer.py at commit e93cae8,
    when TiedEmbedding was a plain Layer holding its table and bias itself."""
    expected = np.load(os.path.join(DATA, "legacy_summarizer.npz"))
    return {name: expected[name] for name in INPUTS}, expected["logits"]


def test_a_model_saved_by_the_former_layer_loads_and_predicts_the_same(legacy):
    inputs, logits = legacy
    model = keras.saving.load_model(os.path.join(DATA, "legacy_summarizer.keras"), safe_mode=True)
    assert isinstance(model.get_layer("token_embedding"), keras.layers.ReversibleEmbedding)
    np.testing.assert_allclose(model.predict(inputs, verbose=0), logits, rtol=1e-5, atol=1e-5)


def test_weights_saved_by_the_former_layer_load_into_a_new_model(legacy, tmp_path):
    inputs, logits = legacy
    loaded = keras.saving.load_model(os.path.join(DATA, "legacy_summarizer.keras"), safe_mode=True)
    model = keras.models.clone_model(loaded)  # same architecture, fresh weights
    assert not np.allclose(model.predict(inputs, verbose=0), logits, atol=1e-3)
    model.load_weights(os.path.join(DATA, "legacy_summarizer.weights.h5"))
    np.testing.assert_allclose(model.predict(inputs, verbose=0), logits, rtol=1e-5, atol=1e-5)
    # Saved again, the file keeps the former order (table, then bias) and round-trips.
    model.save(tmp_path / "again.keras")
    reloaded = keras.saving.load_model(tmp_path / "again.keras", safe_mode=True)
    np.testing.assert_allclose(reloaded.predict(inputs, verbose=0), logits, rtol=1e-5, atol=1e-5)


def sinusoids(length, dim, start=0):
    """float64 sinusoidal positions (Vaswani et al., 2017): sin on even, cos on odd features."""
    positions = np.arange(start, start + length, dtype=np.float64)[:, None]
    rates = 1.0 / 10000.0 ** (np.arange(0, dim, 2, dtype=np.float64) / dim)
    table = np.zeros((length, dim))
    table[:, 0::2] = np.sin(positions * rates)
    table[:, 1::2] = np.cos(positions * rates)
    return table


def test_embedding_and_logits_match_a_float64_reference():
    rng = np.random.default_rng(3)
    layer = TiedEmbedding(vocabulary_size=11, embedding_dim=6)
    token_ids = np.array([[4, 7, 1, 0], [10, 2, 0, 0]])
    layer(token_ids)
    table = rng.normal(size=(11, 6))
    bias = rng.normal(size=11)
    layer.embeddings.assign(table.astype("float32"))
    layer.output_bias.assign(bias.astype("float32"))

    embedded = keras.ops.convert_to_numpy(layer(token_ids, start_index=3))
    expected = table[token_ids] * np.sqrt(6.0) + sinusoids(4, 6, start=3)
    np.testing.assert_allclose(embedded, expected, rtol=1e-5, atol=1e-5)

    hidden = rng.normal(size=(2, 4, 6))
    logits = layer(hidden.astype("float32"), reverse=True)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    np.testing.assert_allclose(keras.ops.convert_to_numpy(logits), hidden @ table.T + bias, rtol=1e-5, atol=1e-5)

    mask = keras.ops.convert_to_numpy(layer.compute_mask(token_ids))
    np.testing.assert_array_equal(mask, token_ids != 0)


def test_config_holds_the_layer_arguments_and_round_trips():
    layer = TiedEmbedding(vocabulary_size=11, embedding_dim=6, dropout=0.25, name="table")
    config = layer.get_config()
    assert {key: config[key] for key in ("vocabulary_size", "embedding_dim", "dropout", "name")} == {
        "vocabulary_size": 11, "embedding_dim": 6, "dropout": 0.25, "name": "table"
    }
    assert "input_dim" not in config  # the table's settings follow from the arguments
    assert TiedEmbedding.from_config(config).get_config() == config


@pytest.mark.parametrize("name, value", [("vocabulary_size", 0), ("embedding_dim", 2.5)])
def test_bad_sizes_are_refused_with_the_value(name, value):
    arguments = {"vocabulary_size": 11, "embedding_dim": 6, name: value}
    with pytest.raises(ValueError, match=f"Received: {name}={value}"):
        TiedEmbedding(**arguments)
