"""The checkpoint tokenizer gives the checkpoint's own Hugging Face ids, in TF and in ONNX.

Three tokenizers must agree id for id on every SST-2 and SAMSum test text: the
tensorflow-text `CheckpointTokenizer` (training, SavedModel), the checkpoint's
own `tokenizer.json` loaded as-is with `tokenizers`, and what the export builds
from the run's saved files (`text_tokenizer_from_settings`, the ONNX side).
"""

import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
import tokenizers

from export.text_tokenizer import build_text_tokenizer
from export.text_tokenizer import encode_batch
from export.text_tokenizer import load_text_tokenizer
from export.text_tokenizer import save_text_tokenizer
from export.text_tokenizer import text_tokenizer_from_settings
from pipelines.classification.data import make_dataset
from pipelines.common.errors import UserInputError
from pipelines.common.tables import read_table
from pipelines.common.tokenizer import SETTINGS_FILE
from pipelines.common.tokenizer import VOCABULARY_FILE
from pipelines.common.tokenizer import WordPieceTokenizer
from pipelines.common.run_tokenizer import load_tokenizer
from pipelines.pretrained.known_checkpoints import resolve_checkpoint_dir
from pipelines.pretrained.tokenizer import CHECKPOINT_TOKENIZER_FILE
from pipelines.pretrained.tokenizer import CheckpointTokenizer
from pipelines.pretrained.tokenizer_layer import CheckpointTokenizerLayer

DATA_DIR = os.environ.get(
    "KERAS_ATTENTION_DATA", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data")
)
SST2_TEST = os.path.join(DATA_DIR, "sst2", "test.tsv")
SAMSUM_TEST = os.path.join(DATA_DIR, "samsum", "test.csv")
TEST_TEXTS = 872 + 819 + 819  # SST-2 sentences, SAMSum dialogues and summaries
# 1024 holds every test text whole (the longest dialogue is ~700 ids); 512 is the
# checkpoint's own limit (it cuts a few dialogues); 16 cuts most texts.
MAX_LENGTHS = (1024, 512, 16)
# Checkpoint files other than the vocabulary ones.
CONFIG_FILES = ("config.json", "tokenizer_config.json", "special_tokens_map.json")

# Each one once made tensorflow-text and `tokenizers` disagree, or could.
EDGE_TEXTS = [
    "Café NAÏVE",  # accents stripped (NFD, marks dropped), then lower-cased
    "İstanbul ΣΑΣ ΟΔΟΣ ς",  # Σ is σ character by character (ICU would write ς)
    "Straße ǅ ﬁ ① Ⅻ … （x）",  # no compatibility folding (FastBertTokenizer would)
    "a\x00b c",  # NUL dropped (clean_text), not the end of the text
    "a\ufffdb a\x07b a\u200bb \ue000c",  # U+FFFD, controls, format, private use: dropped
    "x\u00a0y\u3000z tab\there\r\nnl\u2028line \x85next",  # every kind of whitespace
    "中文字符 テスト 한국어 \U0002b820\U0002b920",  # CJK split, save tokenizers' skipped range
    "[CLS] hi [SEP]x[PAD] [MASK]ed [cls] [SE\x00P] [UNK]",  # special tokens, whole
    "я" * 60 + " " + "я" * 101,  # words limited by characters (100), not bytes
    "x" * 150 + " é" * 3,
    "emoji 😀👍🏽 ok ab—cd «gh» $5 ~ ^ ` | + = <>",
    "",
    "   ",
]


@pytest.fixture(scope="module")
def checkpoint_dir():
    return resolve_checkpoint_dir("minilm")  # `make install` installs it


@pytest.fixture(scope="module")
def texts():
    return (
        read_table(SST2_TEST, "sentence").texts
        + read_table(SAMSUM_TEST, "dialogue").texts
        + read_table(SAMSUM_TEST, "summary").texts
    )


@pytest.fixture(scope="module")
def tokenizer(checkpoint_dir):
    return CheckpointTokenizer.from_checkpoint(checkpoint_dir, max_length=512)


def checkpoint_huggingface(checkpoint_dir, max_length):
    """The checkpoint's own tokenizer.json, padding off, truncation at `max_length`."""
    huggingface = tokenizers.Tokenizer.from_file(os.path.join(checkpoint_dir, "tokenizer.json"))
    huggingface.no_padding()
    huggingface.enable_truncation(max_length)
    return huggingface


def tensorflow_ids(tokenizer, texts):
    return tokenizer.tokenize_ragged(tf.constant(texts)).to_list()


def huggingface_ids(huggingface, texts):
    return [encoding.ids for encoding in huggingface.encode_batch(texts)]


def first_difference(left, right, texts):
    for text, left_ids, right_ids in zip(texts, left, right):
        if left_ids != right_ids:
            return f"{text[:80]!r}: {left_ids[:20]} != {right_ids[:20]}"
    return None


def run_files(tokenizer, directory):
    tokenizer.save(str(directory))
    return os.path.join(directory, VOCABULARY_FILE), os.path.join(directory, SETTINGS_FILE)


@pytest.mark.parametrize("max_length", MAX_LENGTHS)
def test_same_ids_as_the_checkpoints_tokenizer_on_every_test_text(checkpoint_dir, texts, max_length, tmp_path):
    assert len(texts) == TEST_TEXTS
    tokenizer = CheckpointTokenizer.from_checkpoint(checkpoint_dir, max_length)
    all_texts = texts + EDGE_TEXTS
    expected = huggingface_ids(checkpoint_huggingface(checkpoint_dir, max_length), all_texts)
    ids = tensorflow_ids(tokenizer, all_texts)
    assert ids == expected, first_difference(ids, expected, all_texts)
    # The ONNX side: the tokenizer the export builds from the run's saved files.
    exported = text_tokenizer_from_settings(*run_files(tokenizer, tmp_path))
    np.testing.assert_array_equal(encode_batch(exported, all_texts), tokenizer.tokenize(all_texts).numpy())
    assert all(row[0] == tokenizer.cls_id and row[-1] == tokenizer.sep_id for row in ids)
    longest = max(len(row) for row in ids)
    assert longest == max_length if max_length < 1024 else longest < max_length
    print(f"max_length {max_length}: {len(all_texts)} texts ({len(texts)} test texts), identical ids")


def test_accents_are_stripped_and_case_folded(tokenizer):
    ids = tokenizer.tokenize(["Café NAÏVE"])
    tokens = [token.decode() for token in tokenizer.id_to_token(ids).numpy()[0]]
    assert tokens == ["[CLS]", "cafe", "naive", "[SEP]"]
    assert tokenizer.lower_case and tokenizer.strip_accents


def test_special_tokens_spelled_out_in_a_text_stay_whole(tokenizer):
    row = tensorflow_ids(tokenizer, ["a [SEP] b[MASK]"])[0]
    assert [tokenizer.vocabulary[index] for index in row] == ["[CLS]", "a", "[SEP]", "b", "[MASK]", "[SEP]"]


def test_exported_tokenizer_file_gives_the_same_ids(tokenizer, texts, tmp_path):
    """What `export` writes to onnx/tokenizer.json and `OnnxClassifier` reads back."""
    exported = text_tokenizer_from_settings(*run_files(tokenizer, tmp_path / "run"))
    save_text_tokenizer(exported, tmp_path / "tokenizer.json")
    reloaded = load_text_tokenizer(tmp_path / "tokenizer.json")
    sample = texts[::10] + EDGE_TEXTS
    np.testing.assert_array_equal(encode_batch(reloaded, sample), tokenizer.tokenize(sample).numpy())


def test_from_scratch_text_tokenizer_gives_exactly_the_ids_it_gave_before(tokenizer, texts):
    """`encode_batch` now asks for special tokens; the from-scratch tokenizer has none to
    add, and still stops at a NUL as its tensorflow-text twin does."""
    scratch = build_text_tokenizer(tokenizer.vocabulary, 64)
    sample = texts[::5] + EDGE_TEXTS
    before = [
        encoding.ids
        for encoding in scratch.encode_batch([text.split("\0", 1)[0] for text in sample], add_special_tokens=False)
    ]
    token_ids = encode_batch(scratch, sample)
    assert token_ids.shape == (len(sample), max(len(ids) for ids in before))
    assert [row[: len(ids)].tolist() for row, ids in zip(token_ids, before)] == before


def test_save_and_load_round_trip(tokenizer, checkpoint_dir, tmp_path):
    tokenizer.save(str(tmp_path))
    with open(tmp_path / SETTINGS_FILE, encoding="utf-8") as file:
        settings = json.load(file)
    assert settings["type"] == "checkpoint_wordpiece"
    assert settings["max_length"] == 512 and settings["lower_case"] and settings["strip_accents"]
    with open(os.path.join(checkpoint_dir, "tokenizer.json"), "rb") as file:
        assert (tmp_path / CHECKPOINT_TOKENIZER_FILE).read_bytes() == file.read()
    loaded = load_tokenizer(str(tmp_path))
    assert isinstance(loaded, CheckpointTokenizer)
    assert loaded.vocabulary == tokenizer.vocabulary
    assert loaded.settings() == tokenizer.settings()
    np.testing.assert_array_equal(loaded.tokenize(EDGE_TEXTS).numpy(), tokenizer.tokenize(EDGE_TEXTS).numpy())


def test_load_tokenizer_reads_wordpiece_runs_and_rejects_unknown_types(tmp_path):
    scratch = WordPieceTokenizer(["[PAD]", "[UNK]", "good", "film"], 8)
    scratch.save(str(tmp_path))
    assert isinstance(load_tokenizer(str(tmp_path)), WordPieceTokenizer)
    (tmp_path / SETTINGS_FILE).write_text(json.dumps({"type": "sentencepiece"}), encoding="utf-8")
    with pytest.raises(UserInputError, match="unknown tokenizer type 'sentencepiece'"):
        load_tokenizer(str(tmp_path))


def test_same_ids_inside_tf_data(tokenizer, texts):
    sample = texts[:40] + EDGE_TEXTS
    expected = tensorflow_ids(tokenizer, sample)
    batches = make_dataset(sample, tokenizer=tokenizer, batch_size=16)  # the classifier's own pipeline
    rows = [row for batch in batches for row in batch.numpy()]
    # Compared by length, not by dropping zeros: a spelled-out [PAD] is an id 0 inside a row.
    assert [row[: len(ids)].tolist() for row, ids in zip(rows, expected)] == expected
    assert all(not row[len(ids) :].any() for row, ids in zip(rows, expected))
    one_by_one = tf.data.Dataset.from_tensor_slices(sample).map(
        lambda text: tokenizer.tokenize_ragged(tf.reshape(text, [1])).flat_values
    )
    assert [ids.numpy().tolist() for ids in one_by_one] == expected


def test_same_ids_inside_a_reloaded_saved_model(checkpoint_dir, texts, tmp_path):
    module = tf.Module()
    module.tokenizer = CheckpointTokenizer.from_checkpoint(checkpoint_dir, 16)
    module.tokenize = tf.function(
        module.tokenizer.tokenize, input_signature=[tf.TensorSpec([None], tf.string)]
    )
    tf.saved_model.save(module, str(tmp_path))
    reloaded = tf.saved_model.load(str(tmp_path))
    sample = texts[::20] + EDGE_TEXTS
    np.testing.assert_array_equal(
        reloaded.tokenize(tf.constant(sample)).numpy(), module.tokenizer.tokenize(sample).numpy()
    )


def test_a_scalar_text_is_a_clean_error(tokenizer):
    with pytest.raises(tf.errors.InvalidArgumentError, match="texts_must_be_1d"):
        tokenizer.tokenize(tf.constant("one text"))


def test_a_vocabulary_without_pad_at_id_zero_is_rejected(tokenizer, checkpoint_dir, tmp_path):
    vocabulary = tokenizer.vocabulary[1:] + ["[PAD]"]
    with pytest.raises(ValueError, match=r"id 0 is '\[unused0\]', not '\[PAD\]'"):
        CheckpointTokenizer(vocabulary, 16)
    (tmp_path / "vocab.txt").write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    with pytest.raises(UserInputError, match=r"id 0 is '\[unused0\]', not '\[PAD\]'") as error:
        CheckpointTokenizer.from_checkpoint(str(tmp_path), 16)
    assert "\n" not in str(error.value)


def copy_checkpoint(checkpoint_dir, destination, files):
    destination.mkdir()
    for name in files:
        shutil.copy(os.path.join(checkpoint_dir, name), destination / name)
    return str(destination)


@pytest.mark.parametrize("vocabulary_file", ["tokenizer.json", "vocab.txt"])
def test_a_checkpoint_with_one_vocabulary_file_gives_the_same_ids(
    tokenizer, checkpoint_dir, texts, tmp_path, vocabulary_file
):
    directory = copy_checkpoint(checkpoint_dir, tmp_path / "checkpoint", CONFIG_FILES + (vocabulary_file,))
    alone = CheckpointTokenizer.from_checkpoint(directory, max_length=512)
    assert alone.vocabulary == tokenizer.vocabulary
    assert alone.settings() == tokenizer.settings()
    all_texts = texts + EDGE_TEXTS
    ids = tensorflow_ids(alone, all_texts)
    expected = tensorflow_ids(tokenizer, all_texts)
    assert ids == expected, first_difference(ids, expected, all_texts)
    # Without a tokenizer.json, the run's file is built with `tokenizers`; it must agree too.
    exported = text_tokenizer_from_settings(*run_files(alone, tmp_path / "run"))
    np.testing.assert_array_equal(encode_batch(exported, all_texts), alone.tokenize(all_texts).numpy())


def test_tokenizer_config_overrides_the_normalizer_as_transformers_does(checkpoint_dir, texts, tmp_path):
    directory = copy_checkpoint(checkpoint_dir, tmp_path / "checkpoint", CONFIG_FILES + ("tokenizer.json",))
    config_path = os.path.join(directory, "tokenizer_config.json")
    with open(config_path, encoding="utf-8") as file:
        config = json.load(file)
    with open(config_path, "w", encoding="utf-8") as file:
        json.dump(dict(config, do_lower_case=False), file)
    cased = CheckpointTokenizer.from_checkpoint(directory, max_length=64)
    assert not cased.lower_case and not cased.strip_accents
    sample = texts[:100] + EDGE_TEXTS
    exported = text_tokenizer_from_settings(*run_files(cased, tmp_path / "run"))
    np.testing.assert_array_equal(encode_batch(exported, sample), cased.tokenize(sample).numpy())
    assert cased.tokenize(["Good"]).numpy()[0, 1] == cased.vocabulary.index("[UNK]")  # the vocabulary is uncased


@pytest.mark.parametrize(
    "config_change, message",
    [
        ({"tokenize_chinese_chars": False}, "tokenize_chinese_chars=false is not supported"),
    ],
)
def test_unsupported_checkpoint_settings_are_one_line_errors(checkpoint_dir, tmp_path, config_change, message):
    directory = copy_checkpoint(checkpoint_dir, tmp_path / "checkpoint", CONFIG_FILES + ("vocab.txt",))
    config_path = os.path.join(directory, "tokenizer_config.json")
    with open(config_path, encoding="utf-8") as file:
        config = json.load(file)
    with open(config_path, "w", encoding="utf-8") as file:
        json.dump(dict(config, **config_change), file)
    with pytest.raises(UserInputError, match=message) as error:
        CheckpointTokenizer.from_checkpoint(directory, 16)
    assert "\n" not in str(error.value)


def test_same_ids_for_every_character_of_the_common_unicode_blocks(checkpoint_dir):
    """Latin to Cyrillic, punctuation, symbols, CJK punctuation and kana, fullwidth forms, emoji."""
    blocks = [(0x0000, 0x0530), (0x2000, 0x2C00), (0x3000, 0x3100), (0xFF00, 0xFFF0), (0x1F300, 0x1F650)]
    characters = [chr(code) for start, stop in blocks for code in range(start, stop)]
    sample = [f"a{character}b" for character in characters] + characters
    ids = tensorflow_ids(CheckpointTokenizer.from_checkpoint(checkpoint_dir, 16), sample)
    expected = huggingface_ids(checkpoint_huggingface(checkpoint_dir, 16), sample)
    assert ids == expected, first_difference(ids, expected, sample)


def test_the_keras_layer_gives_the_checkpoints_ids_on_every_test_text(checkpoint_dir, texts):
    layer = CheckpointTokenizerLayer.from_checkpoint(checkpoint_dir, max_length=512)
    all_texts = texts + EDGE_TEXTS
    expected = huggingface_ids(checkpoint_huggingface(checkpoint_dir, 512), all_texts)
    ids = np.asarray(layer(all_texts))
    assert [row[: len(row_ids)].tolist() for row, row_ids in zip(ids, expected)] == expected
    assert all(not row[len(row_ids) :].any() for row, row_ids in zip(ids, expected))
    assert ids.shape[1] == max(len(row_ids) for row_ids in expected)  # padded to the longest


def test_the_keras_layer_maps_over_tf_data_batched_and_one_by_one(checkpoint_dir, texts):
    layer = CheckpointTokenizerLayer.from_checkpoint(checkpoint_dir, max_length=64, sequence_length=64)
    sample = texts[:40] + EDGE_TEXTS
    expected = huggingface_ids(checkpoint_huggingface(checkpoint_dir, 64), sample)
    batched = tf.data.Dataset.from_tensor_slices(sample).batch(16).map(layer)
    rows = [row for batch in batched for row in batch.numpy()]
    one_by_one = [row.numpy() for row in tf.data.Dataset.from_tensor_slices(sample).map(layer)]
    for found in (rows, one_by_one):
        assert all(row.shape == (64,) for row in found)
        assert [row[: len(row_ids)].tolist() for row, row_ids in zip(found, expected)] == expected


def test_a_model_with_the_keras_layer_reloads_in_safe_mode_without_the_checkpoint(texts, tmp_path):
    from tiny_bert import write_tiny_bert_checkpoint

    checkpoint = tmp_path / "tiny_bert"
    write_tiny_bert_checkpoint(checkpoint, vocabulary_size=100)
    layer = CheckpointTokenizerLayer.from_checkpoint(str(checkpoint), max_length=32, name="tokenizer")
    strings = keras.Input(shape=(), dtype="string", name="text")
    ids = layer(strings)
    assert tuple(ids.shape) == (None, None) and ids.dtype == "int32"
    pooled = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(100, 4)(ids))
    model = keras.Model(strings, keras.layers.Dense(2, activation="softmax")(pooled))
    sample = tf.constant(texts[:20] + EDGE_TEXTS)
    expected = model(sample).numpy()
    model.save(tmp_path / "model.keras")
    shutil.rmtree(checkpoint)  # the vocabulary travels inside model.keras
    reloaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    np.testing.assert_array_equal(reloaded(sample).numpy(), expected)
    np.testing.assert_array_equal(
        reloaded.get_layer("tokenizer")(sample).numpy(), layer(sample).numpy()
    )
    assert "vocabulary" not in json.dumps(reloaded.get_layer("tokenizer").get_config())


def test_the_keras_layer_feeds_tf_data_on_jax(checkpoint_dir, texts):
    """On JAX, where string tensors do not exist, the layer runs in `tf.data` and its ids
    reach a JAX model unchanged."""
    sample = texts[:8] + EDGE_TEXTS
    script = (
        "import json, sys, numpy as np, tensorflow as tf, keras\n"
        "from pipelines.pretrained.tokenizer_layer import CheckpointTokenizerLayer\n"
        "assert keras.backend.backend() == 'jax'\n"
        "texts = json.load(sys.stdin)\n"
        f"layer = CheckpointTokenizerLayer.from_checkpoint({checkpoint_dir!r}, max_length=32, sequence_length=32)\n"
        "rows = [b for batch in tf.data.Dataset.from_tensor_slices(texts).batch(4).map(layer) for b in batch.numpy()]\n"
        "eager = layer(texts)\n"
        "assert type(eager).__module__.startswith('jax'), type(eager)\n"
        "assert (np.asarray(eager) == np.stack(rows)).all()\n"
        "print(json.dumps(np.stack(rows).tolist()))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], input=json.dumps(sample), capture_output=True, text=True,
        env={**os.environ, "KERAS_BACKEND": "jax"}, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    ids = json.loads(result.stdout.strip().splitlines()[-1])
    expected = CheckpointTokenizer.from_checkpoint(checkpoint_dir, 32).tokenize(sample, 32).numpy().tolist()
    assert ids == expected


def test_the_keras_layer_without_a_vocabulary_says_how_to_get_one():
    layer = CheckpointTokenizerLayer(name="empty")
    with pytest.raises(ValueError, match="'empty' has no vocabulary; build it with `from_checkpoint"):
        layer(["a film"])
