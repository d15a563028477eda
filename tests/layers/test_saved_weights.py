"""Saved weights: files from before the projections became sublayers still load, and
a Keras MultiHeadAttention's weights file loads into ours (the same variable paths)."""

import os

import keras
import numpy as np

import keras_attention as ka
from numpy_reference import to_numpy

DATA = os.path.join(os.path.dirname(__file__), "data")


def test_a_model_saved_in_the_former_layout_loads_and_predicts_the_same():
    """legacy_layout.keras was written by make_legacy_layout.py at commit 566cc42,
    when MultiHeadAttention held its eight weights itself."""
    model = keras.saving.load_model(os.path.join(DATA, "legacy_layout.keras"), safe_mode=True)
    expected = np.load(os.path.join(DATA, "legacy_layout.npz"))
    decoded, attended = model.predict([expected["source_ids"], expected["target_ids"]], verbose=0)
    np.testing.assert_allclose(decoded, expected["decoded"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(attended, expected["attended"], rtol=1e-5, atol=1e-5)


def test_a_former_layout_model_saved_again_is_written_in_the_current_layout(tmp_path):
    model = keras.saving.load_model(os.path.join(DATA, "legacy_layout.keras"), safe_mode=True)
    expected = np.load(os.path.join(DATA, "legacy_layout.npz"))
    model.save(tmp_path / "current.keras")
    reloaded = keras.saving.load_model(tmp_path / "current.keras", safe_mode=True)
    decoded, _ = reloaded.predict([expected["source_ids"], expected["target_ids"]], verbose=0)
    np.testing.assert_allclose(decoded, expected["decoded"], rtol=1e-5, atol=1e-5)


def attention_model(attention_cls):
    query, value = keras.Input((5, 8)), keras.Input((6, 7))
    output = attention_cls(num_heads=2, key_dim=4, use_gate=True, name="attention")(query, value)
    return keras.Model([query, value], output)


def test_keras_multi_head_attention_weights_load_into_ours(tmp_path):
    rng = np.random.default_rng(0)
    inputs = [rng.normal(size=(2, 5, 8)).astype("float32"), rng.normal(size=(2, 6, 7)).astype("float32")]
    theirs = attention_model(keras.layers.MultiHeadAttention)
    for weight in theirs.weights:
        weight.assign(rng.normal(size=weight.shape).astype("float32") * 0.3)
    theirs.save_weights(tmp_path / "keras.weights.h5")
    ours = attention_model(ka.MultiHeadAttention)
    ours.load_weights(tmp_path / "keras.weights.h5")
    np.testing.assert_allclose(
        to_numpy(ours(inputs)), to_numpy(theirs(inputs)), rtol=1e-4, atol=1e-5
    )
