"""Runs written while the tied embeddings lived in pipelines.summarization name them
`pipelines.summarization>TiedEmbedding` and `>BertTiedEmbedding`: such files still load,
into keras_attention's layers, and predict the same."""

import json
import os
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest

import keras_attention as ka
from pipelines.summarization.tied_embedding import FORMER_REGISTERED_NAMES

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FORMER_MODULES = {
    "TiedEmbedding": "pipelines.summarization.tied_embedding",
    "BertTiedEmbedding": "pipelines.summarization.bert_tied_embedding",
}


def rewrite_as_former(path, rewritten):
    """A copy of the `.keras` file at `path` whose config names the tied embeddings
    as files written before the move did (weights untouched)."""
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(rewritten, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                for layer in config["config"]["layers"]:
                    if layer["class_name"] in FORMER_MODULES:
                        layer["module"] = FORMER_MODULES[layer["class_name"]]
                        layer["registered_name"] = f"pipelines.summarization>{layer['class_name']}"
                data = json.dumps(config)
            target.writestr(item, data)


@pytest.mark.parametrize(
    "make_layer",
    [
        lambda: ka.TiedEmbedding(20, 8, name="token_embedding"),
        lambda: ka.BertTiedEmbedding(20, 8, max_length=16, name="decoder_embedding"),
    ],
    ids=["TiedEmbedding", "BertTiedEmbedding"],
)
def test_a_file_naming_the_former_class_loads_and_predicts_the_same(make_layer, tmp_path):
    token_ids = keras.Input((None,), dtype="int32")
    layer = make_layer()
    model = keras.Model(token_ids, layer(layer(token_ids), reverse=True))
    rng = np.random.default_rng(0)
    for weight in model.weights:  # a non-zero bias and type row, so each weight shows
        weight.assign(rng.normal(size=weight.shape).astype("float32"))
    ids = np.array([[3, 7, 1, 0], [5, 2, 9, 4]], "int32")
    model.save(tmp_path / "current.keras")
    rewrite_as_former(tmp_path / "current.keras", tmp_path / "former.keras")

    loaded = keras.saving.load_model(tmp_path / "former.keras", safe_mode=True)
    assert type(loaded.get_layer(layer.name)) is type(layer)
    np.testing.assert_array_equal(loaded.predict(ids, verbose=0), model.predict(ids, verbose=0))
    # Saved again, it is written under the keras_attention name.
    registered = keras.saving.serialize_keras_object(loaded.get_layer(layer.name))["registered_name"]
    assert registered == f"keras_attention>{type(layer).__name__}"


def test_the_summarizer_model_module_registers_the_former_names():
    """Runs are loaded through model.py (Summarizer.load → inference.py → model.py),
    never through the alias module by name: importing model.py registers the names."""
    script = (
        "import keras, pipelines.summarization.model\n"
        "print(*sorted(name for name in keras.saving.get_custom_objects() if 'TiedEmbedding' in name))\n"
    )
    path = os.pathsep.join(filter(None, [REPOSITORY, os.environ.get("PYTHONPATH")]))
    completed = subprocess.run(
        [sys.executable, "-c", script],
        env=dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=path),
        capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    names = completed.stdout.strip().splitlines()[-1].split()
    assert set(FORMER_REGISTERED_NAMES) <= set(names)
