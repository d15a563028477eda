"""Summary post-processing: the Python and TensorFlow-graph sides give identical strings on SAMSum.

Detokenization of real test summaries (tokenized with a small vocabulary
learned from training summaries, so words split into `##` pieces and
`[UNK]`s) and of random ids; truecasing of every lower-cased test summary
from its dialogue, plus edge cases (Unicode case mapping, line separators).
"""

import os

import numpy as np
import pytest
import tensorflow as tf

from pipelines.common.tables import read_table
from pipelines.summarization.postprocessing import graph_text
from pipelines.summarization.postprocessing import python_text
from pipelines.summarization.special_tokens import END_ID
from pipelines.summarization.special_tokens import NEWLINE_ID
from pipelines.summarization.special_tokens import PAD_ID
from pipelines.summarization.special_tokens import START_ID
from pipelines.summarization.tokenizer import SummarizationTokenizer
from pipelines.summarization.tokenizer import learn_vocabulary

DATA_DIR = os.environ.get(
    "KERAS_ATTENTION_DATA", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data")
)
EDGE_DIALOGUES = ["", "  Bob:  hi\r\n\n Ann: a\u2028b\x00c", "ß İ ǅ Ⅻ"]
EDGE_SUMMARIES = ["", "bob and i. ann… ok\nb", "i"]


def samsum(split, column):
    return read_table(os.path.join(DATA_DIR, "samsum", f"{split}.csv"), column).texts


@pytest.fixture(scope="module")
def tokenizer():
    return SummarizationTokenizer(learn_vocabulary(samsum("train", "summary")[:1500], 400))


def graph_detokenize(tokenizer, ids):
    return [text.decode("utf-8") for text in tokenizer.detokenize(ids).numpy()]


def test_detokenize_gives_the_graphs_text_on_samsum_summaries(tokenizer):
    summaries = samsum("test", "summary")
    rows = tokenizer.tokenize(summaries).to_list()
    width = max(len(row) for row in rows) + 3
    ids = np.full((len(rows), width), PAD_ID, np.int32)
    for index, row in enumerate(rows):
        # Odd rows start with [BOS], even ones go on after [EOS]: both are dropped.
        prefix, suffix = ([START_ID], [END_ID]) if index % 2 else ([], [END_ID, 7])
        ids[index, : len(row) + 2] = prefix + row + suffix
    expected = graph_detokenize(tokenizer, ids)
    assert [python_text.detokenize(row, tokenizer.vocabulary) for row in ids] == expected
    pieces = [[tokenizer.vocabulary[i] for i in row] for row in rows]
    assert sum(any(token.startswith("##") for token in row) for row in pieces) > 100  # words joined
    assert sum(text == summary.lower() for text, summary in zip(expected, summaries)) > 100


def test_detokenize_gives_the_graphs_text_on_random_ids(tokenizer):
    rng = np.random.default_rng(0)
    ids = rng.integers(0, tokenizer.vocabulary_size, (500, 14)).astype(np.int32)
    ids[rng.random(ids.shape) < 0.15] = NEWLINE_ID
    expected = graph_detokenize(tokenizer, ids)
    assert [python_text.detokenize(row, tokenizer.vocabulary) for row in ids] == expected
    assert any("\n" in text for text in expected)


def test_restore_case_gives_the_graphs_text_on_samsum_summaries():
    documents = samsum("test", "dialogue") + EDGE_DIALOGUES
    summaries = [summary.lower() for summary in samsum("test", "summary")] + EDGE_SUMMARIES
    expected = [python_text.restore_case(summary, document) for summary, document in zip(summaries, documents)]
    graph = tf.function(graph_text.restore_case_batch)(tf.constant(summaries), tf.constant(documents))
    assert [text.decode("utf-8") for text in graph.numpy()] == expected
    assert sum(text != summary for text, summary in zip(expected, summaries)) > 500
