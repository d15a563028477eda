"""The onnxruntime-side tokenizer gives tensorflow-text's token ids."""

import os

import numpy as np
import tensorflow as tf

from export_fixtures import SAMSUM_DIR
from export_fixtures import sst2_path
from export.text_tokenizer import LONGEST_WORD
from export.text_tokenizer import build_text_tokenizer
from export.text_tokenizer import encode_batch
from pipelines.common.tables import read_table
from pipelines.common.tokenizer import WordPieceTokenizer

EDGE_TEXTS = [
    "İstanbul ΣΑΣ ΟΔΟΣ ΌΣΟΣ",  # full case mapping, final sigma
    "Straße ǅ ﬁ ﬀ 𝐀𝐁 Ⅻ",
    "你好世界 good",  # CJK ideographs split one by one
    "naïve café \u0301accent",  # accents kept
    "a\u00a0b\u2003c\u200bd tab\there\r\n\u2028x",
    "emoji 😀👍🏽 ok",
    "ab—cd…ef «gh» $5 ~ ^ ` | + = <>",
    "x" * 150,  # longer than a word may be: [UNK]
    "good\x00ignored after a NUL",
    "",
]


def tensorflow_text_ids(tokenizer, texts):
    return tokenizer.tokenize_ragged(tf.constant(texts)).to_list()


def text_tokenizer_ids(tokenizer, texts):
    return [row[row != 0].tolist() for row in encode_batch(tokenizer, texts)]


def both(classifier_run, texts, max_length):
    vocabulary = classifier_run.tokenizer.vocabulary
    reference = WordPieceTokenizer(vocabulary, max_length)
    candidate = build_text_tokenizer(vocabulary, max_length)
    return tensorflow_text_ids(reference, texts), text_tokenizer_ids(candidate, texts)


def first_difference(expected, actual, texts):
    for text, left, right in zip(texts, expected, actual):
        if left != right:
            return f"{text!r}: tensorflow-text {left} vs tokenizers {right}"
    return None


def test_same_ids_on_the_whole_sst2_test_set(classifier_run):
    texts = read_table(sst2_path("test"), "sentence").texts
    assert len(texts) == 872
    expected, actual = both(classifier_run, texts, classifier_run.max_length)
    assert sum(map(len, expected)) > 5 * len(texts)  # real tokens, not empty rows
    assert first_difference(expected, actual, texts) is None


def test_same_ids_on_every_samsum_test_dialogue(classifier_run):
    texts = read_table(os.path.join(SAMSUM_DIR, "test.csv"), "dialogue").texts
    assert len(texts) == 819
    expected, actual = both(classifier_run, texts, 4096)  # no truncation: every token compared
    assert first_difference(expected, actual, texts) is None


def test_same_ids_on_unicode_edge_cases(classifier_run):
    expected, actual = both(classifier_run, EDGE_TEXTS, 64)
    assert first_difference(expected, actual, EDGE_TEXTS) is None


def test_documented_difference_long_multibyte_word(classifier_run):
    # tensorflow-text limits a word to 100 bytes, tokenizers to 100 characters.
    word = "é" * (LONGEST_WORD - 20)
    expected, actual = both(classifier_run, [word], 128)
    assert expected == [[1]] and actual[0] != [1]


def test_batches_are_zero_padded_with_at_least_one_column(classifier_run):
    tokenizer = build_text_tokenizer(classifier_run.tokenizer.vocabulary, 8)
    token_ids = encode_batch(tokenizer, ["", ""])
    assert token_ids.shape == (2, 1) and token_ids.dtype == np.int32 and not token_ids.any()
    token_ids = encode_batch(tokenizer, ["good film , really good", "good"])
    assert token_ids.shape[1] == (token_ids[0] != 0).sum() and token_ids[1, 1:].tolist() == [0] * (token_ids.shape[1] - 1)
