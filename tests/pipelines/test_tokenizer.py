import numpy as np
import pytest
import tensorflow as tf

from pipelines.common.tokenizer import PAD_TOKEN
from pipelines.common.tokenizer import RESERVED_TOKENS
from pipelines.common.tokenizer import WordPieceTokenizer
from pipelines.common.tokenizer import build_tokenizer

TEXTS = ["A good film.", "a GOOD, good film", "the films were dull", "dull and boring"] * 5


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer(TEXTS, vocabulary_size=200, max_length=4)


def test_vocabulary_starts_with_reserved_tokens_and_padding_is_zero(tokenizer):
    assert tokenizer.vocabulary[: len(RESERVED_TOKENS)] == list(RESERVED_TOKENS)
    assert tokenizer.vocabulary[0] == PAD_TOKEN
    assert "good" in tokenizer.vocabulary and "GOOD" not in tokenizer.vocabulary


def test_lower_cases_splits_punctuation_and_pads_with_zero(tokenizer):
    ids = tokenizer.tokenize(["A GOOD film", "Good."]).numpy()
    tokens = [[tokenizer.vocabulary[i] for i in row if i] for row in ids]
    assert tokens == [["a", "good", "film"], ["good", "."]]
    assert ids.dtype == np.int32
    assert ids.shape == (2, 3) and ids[1, 2] == 0


def test_truncates_to_max_length_and_pads_to_a_fixed_length(tokenizer):
    assert tokenizer.tokenize(["a good film , a good film"]).shape == (1, 4)
    assert tokenizer.tokenize(["good"], sequence_length=6).shape == (1, 6)


def test_empty_text_gives_one_fully_masked_column(tokenizer):
    ids = tokenizer.tokenize([""]).numpy()
    assert ids.tolist() == [[0]]


def test_words_with_unseen_characters_map_to_unk(tokenizer):
    ids = tokenizer.tokenize(["zzzq good"]).numpy()  # no z or q in TEXTS
    assert [tokenizer.vocabulary[i] for i in ids[0, :2]] == ["[UNK]", "good"]


def test_same_ids_eagerly_in_tf_function_and_in_tf_data(tokenizer):
    texts = ["A good film.", "dull"]
    eager = tokenizer.tokenize(texts).numpy()
    in_function = tf.function(lambda t: tokenizer.tokenize(t))(tf.constant(texts)).numpy()
    dataset = tf.data.Dataset.from_tensor_slices(texts).batch(2).map(tokenizer.tokenize)
    in_dataset = next(iter(dataset)).numpy()
    np.testing.assert_array_equal(eager, in_function)
    np.testing.assert_array_equal(eager, in_dataset)


def test_save_and_load_round_trip(tokenizer, tmp_path):
    tokenizer.save(str(tmp_path))
    loaded = WordPieceTokenizer.load(str(tmp_path))
    assert loaded.vocabulary == tokenizer.vocabulary
    assert loaded.max_length == tokenizer.max_length
    np.testing.assert_array_equal(
        loaded.tokenize(TEXTS).numpy(), tokenizer.tokenize(TEXTS).numpy()
    )


def test_vocabulary_without_padding_first_is_rejected():
    with pytest.raises(ValueError, match=r"must start with '\[PAD\]'"):
        WordPieceTokenizer(["[UNK]", "[PAD]", "good"], max_length=4)
