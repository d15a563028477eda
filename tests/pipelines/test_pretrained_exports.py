"""`pipelines.pretrained` serves the public names of its modules: `from
pipelines.pretrained import read_checkpoint` gives the reader itself.

(Importing the package loads no TensorFlow: test_install_extras.py imports the
encoder's names with TensorFlow blocked.)
"""

import importlib

import pytest

import pipelines.pretrained

HOMES = {
    "Checkpoint": "pipelines.pretrained.checkpoint",
    "CheckpointTokenizer": "pipelines.pretrained.tokenizer",
    "CheckpointTokenizerLayer": "pipelines.pretrained.tokenizer_layer",
    "EncoderSettings": "pipelines.pretrained.checkpoint",
    "apply_pretrained_encoder": "pipelines.pretrained.encoder",
    "build_pretrained_encoder": "pipelines.pretrained.encoder",
    "checkpoint_tokenizer": "pipelines.pretrained.tokenizer",
    "freeze_token_embeddings": "pipelines.pretrained.encoder",
    "load_encoder_weights": "pipelines.pretrained.encoder",
    "read_checkpoint": "pipelines.pretrained.checkpoint",
    "resolve_checkpoint_dir": "pipelines.pretrained.known_checkpoints",
}


def test_all_lists_the_public_names():
    assert sorted(pipelines.pretrained.__all__) == sorted(HOMES)
    assert set(HOMES) <= set(dir(pipelines.pretrained))


@pytest.mark.parametrize("name", sorted(HOMES))
def test_each_name_imports_from_the_package_as_its_home_module_defines_it(name):
    namespace = {}
    exec(f"from pipelines.pretrained import {name}", namespace)
    home = importlib.import_module(HOMES[name])
    assert namespace[name] is getattr(home, name)
    assert namespace[name].__module__ == HOMES[name]


def test_star_import_gives_every_name():
    namespace = {}
    exec("from pipelines.pretrained import *", namespace)
    assert set(HOMES) <= set(namespace)


def test_an_unknown_name_is_an_import_error():
    with pytest.raises(ImportError, match="read_checkpoints"):
        exec("from pipelines.pretrained import read_checkpoints", {})
