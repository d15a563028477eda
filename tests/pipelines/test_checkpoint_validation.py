"""Untrusted checkpoints: every malformed checkpoint directory is refused with one
line naming the file, the field and the fix, before any tensor data is read and
before `--out` is touched, by both pipelines' `train --init-from`.

Each case below writes a tiny valid checkpoint (tiny_bert.py) and breaks one
thing in it, one class of the problems users have met: non-finite weights, a
vocabulary longer than the embedding table, well-formed JSON of the wrong shape,
and sizes config.json claims that the weights do not hold.
"""

import json
import os

import numpy as np
import pytest

from pipelines.classification.cli import main as classification_main
from pipelines.common.errors import UserInputError
from pipelines.common.finite import non_finite_count
from pipelines.pretrained import safetensors_reader
from pipelines.pretrained.checkpoint import read_checkpoint
from pipelines.pretrained.tokenizer import checkpoint_tokenizer
from pipelines.summarization.cli import main as summarization_main
from test_summarization import make_dialogues
from test_summarization import write_pairs
from tiny_bert import tiny_vocabulary
from tiny_bert import write_json
from tiny_bert import write_tiny_bert_checkpoint
from tiny_bert import write_tokenizer_files

SHAPE = dict(vocabulary_size=40, max_positions=128, hidden_dim=8, num_heads=2, intermediate_dim=16)
LAYER_0_QUERY = "encoder.layer.0.attention.self.query.weight"


def weights_with(name, value, dtype="float32"):
    """A weights override for `write_tiny_bert_checkpoint`: tensor `name` with one value changed."""
    from tiny_bert import random_bert_weights
    from tiny_bert import numpy_dtype
    from tiny_bert import tiny_bert_config

    config = tiny_bert_config(**{k: v for k, v in SHAPE.items()})
    tensor = random_bert_weights(config)[name].astype(numpy_dtype(dtype))
    tensor.reshape(-1)[3] = value
    return {"missing_tensors": (name,), "extra_tensors": {name: tensor}, "dtype": dtype}


def edit_json(path, change):
    with open(path, encoding="utf-8") as file:
        data = json.load(file)
    data = change(data)
    write_json(path, data)


def drop_added_token_id(data):
    del data["added_tokens"][0]["id"]
    return data


def write_file(name, text):
    def change(directory):
        with open(os.path.join(directory, name), "w", encoding="utf-8") as file:
            file.write(text)
    return change


def edit(name, change):
    return lambda directory: edit_json(os.path.join(directory, name), change)


def longer_vocabulary(directory):
    os.remove(os.path.join(directory, "tokenizer.json"))  # vocab.txt alone, as in the report
    with open(os.path.join(directory, "vocab.txt"), "w", encoding="utf-8") as file:
        file.write("\n".join(tiny_vocabulary(SHAPE["vocabulary_size"] + 25)) + "\n")


def sharded_index_with_a_number(directory):
    path = os.path.join(directory, "model.safetensors.index.json")
    edit_json(path, lambda data: {**data, "weight_map": {**data["weight_map"], "pooler.dense.bias": 7}})


def config_as_directory(directory):
    os.remove(os.path.join(directory, "config.json"))
    os.mkdir(os.path.join(directory, "config.json"))


# name → (keyword arguments of write_tiny_bert_checkpoint, change after writing, words the error holds)
CASES = {
    "nan_weight": (weights_with(LAYER_0_QUERY, np.nan), None, [LAYER_0_QUERY, "1 NaN or infinite"]),
    "inf_float16_weight": (weights_with(LAYER_0_QUERY, np.inf, "float16"), None, [LAYER_0_QUERY, "NaN or infinite"]),
    "float64_beyond_float32": (
        weights_with(LAYER_0_QUERY, 1e300, "float64"), None, [LAYER_0_QUERY, "NaN or infinite values"],
    ),
    "vocabulary_longer_than_embeddings": (
        {}, longer_vocabulary, ["the vocabulary has 65 entries but the word embeddings 40 rows"],
    ),
    "tokenizer_json_is_a_list": ({}, write_file("tokenizer.json", "[1, 2]"), [
        "tokenizer.json: the file must be a JSON object, got a JSON list of 2 entries",
    ]),
    "tokenizer_config_is_a_list": ({}, write_file("tokenizer_config.json", '["x"]'), [
        "tokenizer_config.json: the file must be a JSON object",
    ]),
    "added_token_without_id": ({}, edit("tokenizer.json", drop_added_token_id), [
        "tokenizer.json: missing key 'added_tokens[0].id'",
    ]),
    "vocab_id_not_an_integer": ({}, edit("tokenizer.json", lambda d: {
        **d, "model": {**d["model"], "vocab": {**d["model"]["vocab"], "the": "5"}},
    }), ["model.vocab['the'] must be a non-negative integer, got '5'"]),
    # Found by the fuzz test: tokenizers panicked in Rust, or our check raised TypeError.
    "template_names_an_undefined_token": ({}, edit("tokenizer.json", lambda d: {
        **d, "post_processor": {**d["post_processor"], "special_tokens": {}},
    }), ["post_processor.single names the special token '[CLS]', which post_processor.special_tokens does not"]),
    "template_not_a_list": ({}, edit("tokenizer.json", lambda d: {
        **d, "post_processor": {**d["post_processor"], "single": 7},
    }), ["post_processor.single must be a JSON list, got 7"]),
    "lower_case_not_a_boolean": ({}, edit("tokenizer_config.json", lambda d: {**d, "do_lower_case": "yes"}), [
        "tokenizer_config.json: do_lower_case must be true or false, got 'yes'",
    ]),
    "special_token_a_number": ({}, edit("special_tokens_map.json", lambda d: {**d, "cls_token": 5}), [
        "special_tokens_map.json: cls_token must be a token string",
    ]),
    "index_weight_map_holds_a_number": ({"shards": 2}, sharded_index_with_a_number, [
        "weight_map['pooler.dense.bias'] must be a file name in the checkpoint directory, got 7",
    ]),
    "ten_million_layers": ({"config_overrides": {"num_hidden_layers": 10**7}}, None, [
        "num_hidden_layers is 10000000, but the weights hold 2 layers",
    ]),
    "config_is_a_list": ({}, write_file("config.json", "[]"), ["config.json: the file must be a JSON object"]),
    "config_is_a_directory": ({}, config_as_directory, ["config.json is not a regular file"]),
    "layer_norm_eps_nan": ({}, write_file("config.json", json.dumps({
        "model_type": "bert", "vocab_size": 40, "hidden_size": 8, "num_hidden_layers": 2,
        "num_attention_heads": 2, "intermediate_size": 16, "max_position_embeddings": 128,
        "type_vocab_size": 2,
    })[:-1] + ', "layer_norm_eps": NaN}'), ["layer_norm_eps must be a positive number, got nan"]),
    "json_nested_too_deeply": ({}, write_file("tokenizer_config.json", "[" * 100_000 + "]" * 100_000), [
        "tokenizer_config.json: not valid JSON",
    ]),
}


def write_case(directory, name):
    arguments, change, _ = CASES[name]
    write_tiny_bert_checkpoint(directory, **{**SHAPE, **arguments})
    write_tokenizer_files(directory, SHAPE["vocabulary_size"])
    if change is not None:
        change(str(directory))
    return str(directory)


def read_everything(directory, log=print):
    """What both pipelines read of a checkpoint before their run directory is touched."""
    checkpoint = read_checkpoint(directory)
    return checkpoint, checkpoint_tokenizer(checkpoint, max_length=32, log=log)


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_malformed_checkpoint_is_one_line_naming_the_problem(tmp_path, name):
    directory = write_case(tmp_path / name, name)
    with pytest.raises(UserInputError) as raised:
        read_everything(directory)
    message = str(raised.value)
    assert "\n" not in message, message
    for words in CASES[name][2]:
        assert words in message, message


def test_the_valid_tiny_checkpoint_is_accepted(tmp_path):
    directory = str(tmp_path / "valid")
    write_tiny_bert_checkpoint(directory, **SHAPE)
    write_tokenizer_files(directory, SHAPE["vocabulary_size"])
    notes = []
    checkpoint, tokenizer = read_everything(directory, log=notes.append)
    assert tokenizer.vocabulary_size == checkpoint.settings.vocabulary_size == 40
    assert notes == []


def test_a_shorter_vocabulary_is_accepted_with_one_line(tmp_path):
    directory = str(tmp_path / "padded")
    write_tiny_bert_checkpoint(directory, **SHAPE)
    with open(os.path.join(directory, "vocab.txt"), "w", encoding="utf-8") as file:
        file.write("\n".join(tiny_vocabulary(30)) + "\n")
    notes = []
    _, tokenizer = read_everything(directory, log=notes.append)
    assert tokenizer.vocabulary_size == 30
    assert notes == ["note: the vocabulary has 30 entries for 40 embedding rows; the last 10 rows are never used"]


def test_shapes_come_from_the_headers_before_any_tensor_is_read(tmp_path, monkeypatch):
    directory = str(tmp_path / "wrong_shape")
    write_tiny_bert_checkpoint(directory, **SHAPE, config_overrides={"max_position_embeddings": 32})

    def no_data(*arguments):
        raise AssertionError("tensor data was read")

    monkeypatch.setattr(safetensors_reader, "read_float32", no_data)
    expected = r"wrong shape: embeddings.position_embeddings.weight expected \(32, 8\), found \(128, 8\)"
    with pytest.raises(UserInputError, match=expected):
        read_checkpoint(directory)


def test_non_finite_values_are_counted_in_chunks():
    values = np.ones(10, np.float32)
    values[[0, 4, 9]] = [np.nan, np.inf, -np.inf]
    assert non_finite_count(values, chunk=3) == 3
    assert non_finite_count(values.reshape(2, 5), chunk=4) == 3
    assert non_finite_count(np.ones((0, 4), np.float32)) == 0


# --- both command lines: one line, exit status 2, --out as it was ----------------


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    directory = tmp_path_factory.mktemp("data")
    from synthetic_data import make_rows
    from synthetic_data import write_tsv

    return {
        "train": write_tsv(directory / "train.tsv", make_rows(40, seed=1)),
        "valid": write_tsv(directory / "valid.tsv", make_rows(20, seed=2)),
        "dialogues_train": write_pairs(directory / "train.csv", make_dialogues(12, seed=1)),
        "dialogues_valid": write_pairs(directory / "valid.csv", make_dialogues(6, seed=2)),
    }


def classification_command(data, out, init_from):
    return [
        "train", "--init-from", init_from, "--train", data["train"], "--valid", data["valid"],
        "--text-column", "sentence", "--label-column", "label", "--out", str(out),
        "--epochs", "1", "--max-length", "32", "--progress", "none",
    ]


def summarization_command(data, out, init_from):
    return [
        "train", "--init-from", init_from, "--train", data["dialogues_train"], "--valid", data["dialogues_valid"],
        "--document-column", "dialogue", "--summary-column", "summary", "--out", str(out),
        "--max-document-length", "48", "--max-summary-length", "24",
        "--decoder-layers", "1", "--epochs", "1", "--progress", "none",
    ]


PIPELINES = {
    "classification": (classification_main, classification_command),
    "summarization": (summarization_main, summarization_command),
}


def directory_state(path):
    """Every file under `path` with its bytes, or None if there is no such folder."""
    if not os.path.isdir(path):
        return None
    state = {}
    for folder, _, files in os.walk(path):
        for name in files:
            with open(os.path.join(folder, name), "rb") as file:
                state[os.path.relpath(os.path.join(folder, name), path)] = file.read()
    return state


@pytest.mark.parametrize("pipeline", sorted(PIPELINES))
@pytest.mark.parametrize("name", sorted(CASES))
def test_train_refuses_each_malformed_checkpoint_and_leaves_out_alone(data, tmp_path, capsys, pipeline, name):
    main, command = PIPELINES[pipeline]
    directory = write_case(tmp_path / "checkpoint", name)
    out = tmp_path / "run"
    capsys.readouterr()
    assert main(command(data, out, directory)) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and "\n" not in error and "Traceback" not in error, error
    for words in CASES[name][2]:
        assert words in error, error
    assert not out.exists()


@pytest.mark.parametrize("pipeline", sorted(PIPELINES))
def test_an_existing_out_is_left_as_it_was(data, tmp_path, capsys, pipeline):
    main, command = PIPELINES[pipeline]
    directory = write_case(tmp_path / "checkpoint", "nan_weight")
    out = tmp_path / "run"
    out.mkdir()
    before = directory_state(out)
    assert main(command(data, out, directory)) == 2
    assert LAYER_0_QUERY in capsys.readouterr().err
    assert directory_state(out) == before == {}
