"""A seeded fuzz test of the checkpoint reader: random truncations, byte flips, JSON
type swaps and deleted files over a tiny checkpoint (single-file and sharded), each
either read or refused with one `UserInputError` line, never another exception;
and a sample of the refused ones through both `train --init-from` command lines:
exit status 2, one `error:` line without a traceback, and no `--out` left behind.
"""

import json
import math
import os
import random
import shutil

import pytest

from pipelines.classification.cli import main as classification_main
from pipelines.common.errors import UserInputError
from pipelines.pretrained.checkpoint import read_checkpoint
from pipelines.pretrained.tokenizer import checkpoint_tokenizer
from pipelines.summarization.cli import main as summarization_main
from test_checkpoint_validation import classification_command
from test_checkpoint_validation import data  # noqa: F401  (the module's data fixture)
from test_checkpoint_validation import summarization_command
from tiny_bert import write_tiny_bert_checkpoint
from tiny_bert import write_tokenizer_files

SEED = 26
CASES = 300
COMMAND_LINE_CASES = 16  # refused cases also run through `train` (half per pipeline)
SHAPE = dict(vocabulary_size=40, max_positions=128, hidden_dim=8, num_heads=2, intermediate_dim=16)
JSON_FILES = (
    "config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
    "model.safetensors.index.json",
)
# Values a JSON type swap puts in place of another.
SWAPS = (None, True, False, 0, -1, 7, 10**7, 1.5, math.nan, math.inf, "", "x", "[PAD]", [], [1], {}, {"a": 1})


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz_templates")
    directories = []
    for shards in (1, 2):
        directory = root / f"shards_{shards}"
        write_tiny_bert_checkpoint(directory, shards=shards, **SHAPE)
        write_tokenizer_files(directory, SHAPE["vocabulary_size"])
        directories.append(str(directory))
    return directories


def json_paths(value, path=()):
    """Every (path, value) inside a parsed JSON document, the root included."""
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from json_paths(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value[:50]):
            yield from json_paths(item, path + (index,))


def replaced(document, path, new_value):
    if not path:
        return new_value
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = new_value
    return document


def mutate(directory, rng):
    """Breaks one thing in the checkpoint at `directory`; returns what it did."""
    names = sorted(os.listdir(directory))
    kind = rng.choice(("truncate", "flip", "swap", "swap", "delete"))
    if kind == "swap":
        names = [name for name in names if name in JSON_FILES]
    name = rng.choice(names)
    path = os.path.join(directory, name)
    if kind == "delete":
        os.remove(path)
        return f"deleted {name}"
    with open(path, "rb") as file:
        content = file.read()
    if kind == "truncate":
        keep = rng.randrange(len(content))
        content = content[:keep]
        description = f"{name} cut to {keep} bytes"
    elif kind == "flip":
        content = bytearray(content)
        positions = [rng.randrange(len(content)) for _ in range(rng.randint(1, 4))]
        for position in positions:
            content[position] ^= 1 << rng.randrange(8)
        content = bytes(content)
        description = f"{name} bits flipped at {positions}"
    else:
        document = json.loads(content)
        path_in_document, old = rng.choice(list(json_paths(document)))
        new = rng.choice([value for value in SWAPS if type(value) is not type(old)])
        content = json.dumps(replaced(document, path_in_document, new)).encode()
        description = f"{name} {list(path_in_document)}: {old!r:.30} → {new!r}"
    with open(path, "wb") as file:
        file.write(content)
    return description


def read_everything(directory):
    checkpoint = read_checkpoint(directory)
    return checkpoint_tokenizer(checkpoint, max_length=32, log=lambda line: None)


def test_every_fuzzed_checkpoint_is_read_or_refused_with_one_line(templates, data, tmp_path, capsys):  # noqa: F811
    rng = random.Random(SEED)
    refused = []
    outcomes = {"read": 0, "refused": 0}
    for case in range(CASES):
        directory = str(tmp_path / f"case_{case}")
        shutil.copytree(rng.choice(templates), directory)
        description = mutate(directory, rng)
        try:
            read_everything(directory)
        except UserInputError as error:
            message = str(error)
            assert message and "\n" not in message, (description, message)
            outcomes["refused"] += 1
            if len(refused) < COMMAND_LINE_CASES:
                refused.append((directory, description, message))
            continue
        except Exception as error:  # noqa: BLE001
            pytest.fail(f"case {case} ({description}): {type(error).__name__}: {error}")
        outcomes["read"] += 1
        shutil.rmtree(directory)
    assert outcomes["refused"] > CASES // 2, outcomes  # most breakages must be caught

    pipelines = ((classification_main, classification_command), (summarization_main, summarization_command))
    for index, (directory, description, message) in enumerate(refused):
        main, command = pipelines[index % 2]
        out = tmp_path / f"run_{index}"
        capsys.readouterr()
        assert main(command(data, out, directory)) == 2, description
        error = capsys.readouterr().err.strip()
        assert error == f"error: {message}", (description, error)
        assert not out.exists(), description
