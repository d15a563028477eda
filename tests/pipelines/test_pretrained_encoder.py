"""The pretrained encoder built from keras_attention layers against a float64 NumPy BERT."""

import csv
import json
import os

import keras
import numpy as np
import pytest
import tokenizers

from numpy_bert import bert_hidden_states
from pipelines.pretrained.checkpoint import read_checkpoint
from pipelines.pretrained.encoder import build_pretrained_encoder
from pipelines.pretrained.encoder import load_encoder_weights
from pipelines.pretrained.known_checkpoints import resolve_checkpoint_dir
from tiny_bert import write_tiny_bert_checkpoint

DATA = os.environ.get(
    "KERAS_ATTENTION_DATA", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data")
)


def loaded_encoder(checkpoint):
    return build_pretrained_encoder(checkpoint)


def padded(rows):
    token_ids = np.zeros((len(rows), max(map(len, rows))), dtype=np.int32)
    for index, row in enumerate(rows):
        token_ids[index, : len(row)] = row
    return token_ids


def read_config(directory):
    with open(os.path.join(directory, "config.json"), encoding="utf-8") as file:
        return json.load(file)


@pytest.mark.parametrize("hidden_act", ["gelu", "gelu_new", "relu"])
def test_tiny_checkpoint_matches_numpy_bert(tmp_path, hidden_act):
    directory = tmp_path / "tiny"
    write_tiny_bert_checkpoint(directory, hidden_act=hidden_act, num_heads=2, hidden_dim=8)
    checkpoint = read_checkpoint(directory)
    token_ids = np.array([[2, 7, 9, 3, 0, 0], [2, 11, 5, 6, 12, 3]], dtype=np.int32)
    expected = bert_hidden_states(checkpoint.weights, read_config(directory), token_ids)
    hidden = keras.ops.convert_to_numpy(loaded_encoder(checkpoint)(token_ids, training=False)["hidden_states"])
    real = token_ids != 0
    np.testing.assert_allclose(hidden[real], expected[real], atol=1e-5)


def test_padding_never_changes_real_positions(tmp_path):
    write_tiny_bert_checkpoint(tmp_path / "tiny")
    encoder = loaded_encoder(read_checkpoint(tmp_path / "tiny"))
    token_ids = np.array([[2, 7, 9, 3, 0, 0]], dtype=np.int32)
    longer = np.array([[2, 7, 9, 3, 0, 0, 0, 0, 0]], dtype=np.int32)
    short = keras.ops.convert_to_numpy(encoder(token_ids)["hidden_states"])[0, :4]
    long = keras.ops.convert_to_numpy(encoder(longer)["hidden_states"])[0, :4]
    np.testing.assert_allclose(short, long, atol=1e-6)


def test_encoder_returns_the_padding_mask(tmp_path):
    write_tiny_bert_checkpoint(tmp_path / "tiny")
    encoder = build_pretrained_encoder(read_checkpoint(tmp_path / "tiny").settings, random_weights=True)
    token_ids = np.array([[2, 7, 3, 0]], dtype=np.int32)
    outputs = encoder(token_ids)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(outputs["padding_mask"]), token_ids != 0)
    assert outputs["hidden_states"].shape == (1, 4, 8)


def test_encoder_saves_and_loads_in_safe_mode(tmp_path):
    write_tiny_bert_checkpoint(tmp_path / "tiny")
    encoder = loaded_encoder(read_checkpoint(tmp_path / "tiny"))
    path = str(tmp_path / "encoder.keras")
    encoder.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    token_ids = np.array([[2, 7, 9, 3, 0]], dtype=np.int32)
    for key in ("hidden_states", "padding_mask"):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(restored(token_ids)[key]),
            keras.ops.convert_to_numpy(encoder(token_ids)[key]),
        )


def sst2_test_sentences(count):
    with open(os.path.join(DATA, "sst2", "test.tsv"), encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [row["sentence"] for row in rows[:count]]


def test_minilm_hidden_states_equal_float64_numpy_bert():
    """Real SST-2 sentences of different lengths in one padded batch, tokenized by the
    checkpoint's own tokenizer.json: every real position within 1e-4 of float64."""
    directory = resolve_checkpoint_dir("minilm")
    checkpoint = read_checkpoint(directory)
    tokenizer = tokenizers.Tokenizer.from_file(os.path.join(directory, "tokenizer.json"))
    tokenizer.no_padding()
    texts = sst2_test_sentences(12)
    token_ids = padded([encoding.ids for encoding in tokenizer.encode_batch(texts)])
    assert (token_ids == 0).any(), "the batch must hold padding"
    expected = bert_hidden_states(checkpoint.weights, read_config(directory), token_ids)
    hidden = keras.ops.convert_to_numpy(loaded_encoder(checkpoint)(token_ids, training=False)["hidden_states"])
    real = token_ids != 0
    difference = np.abs(hidden[real] - expected[real]).max()
    print(f"MiniLM vs float64 NumPy BERT: max |Δ| {difference:.2e} over {int(real.sum())} positions")
    assert difference < 1e-4


def test_an_encoder_never_starts_from_random_weights_unless_asked(tmp_path):
    write_tiny_bert_checkpoint(tmp_path / "tiny")
    checkpoint = read_checkpoint(tmp_path / "tiny")
    with pytest.raises(ValueError, match="`EncoderSettings` hold no weights: pass the checkpoint"):
        build_pretrained_encoder(checkpoint.settings)
    expected = checkpoint.weights["encoder.layer.1.output.dense.weight"].T
    # A directory, a `Checkpoint`, and the same after `load_encoder_weights`: one set of weights.
    by_path = build_pretrained_encoder(str(tmp_path / "tiny"))
    by_checkpoint = build_pretrained_encoder(checkpoint)
    by_hand = build_pretrained_encoder(checkpoint.settings, random_weights=True)
    load_encoder_weights(by_hand, checkpoint)
    for encoder in (by_path, by_checkpoint, by_hand):
        kernel = encoder.get_layer("encoder_block_1").feed_forward.output_dense.kernel
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(kernel), expected)
    random = build_pretrained_encoder(checkpoint, random_weights=True)
    kernel = random.get_layer("encoder_block_1").feed_forward.output_dense.kernel
    assert not np.allclose(keras.ops.convert_to_numpy(kernel), expected)
