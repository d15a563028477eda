"""Summary post-processing: the Python and TensorFlow-graph sides give identical strings on SAMSum.

Detokenization of real test summaries (tokenized with a small vocabulary
learned from training summaries, so words split into `##` pieces and
`[UNK]`s) and of random ids; the document's spelling and capitals
(`restore_document_form`) on every detokenized test summary from its
dialogue, plus edge cases (Unicode case mapping, line separators,
placeholders, hyphenated names, initials, times).
"""

import doctest
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
# (dialogue, the summary as written): a summary written with the dialogue's words
# with punctuation inside, which detokenization alone spaces wrongly.
SPELLING_CASES = [
    ("#Person1#: Can you call #Person2# at 3:30pm?\n#Person2#: Sure.",
     "#Person1# asks #Person2# to call at 3:30pm. #Person2# agrees."),
    ("Mary-Jane: I met J.K. Rowling at the e-mail desk\nO'Neil: ok",
     "Mary-Jane met J.K. Rowling. O'Neil is ok with Mary-Jane's e-mail."),
    ("Bob: Don't forget the 10:15 train, it's the T-Rex line\nAnn: ok",
     "Ann shouldn't forget the 10:15 train on the T-Rex line."),
    ("Tom: we meet #Person2# at #Address# (U.S.A.) at 5-6pm",
     "Tom and #Person2# meet at #Address# in the U.S.A at 5-6pm."),
]


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


def detokenized(summaries):
    """`summaries` as the model writes them: lower-case, spaced by detokenization, with
    a vocabulary learned from these summaries (no `[UNK]`)."""
    tokenizer = SummarizationTokenizer(learn_vocabulary(list(summaries), 2000))
    ids = tokenizer.tokenize(summaries).to_list()
    return [python_text.detokenize(row, tokenizer.vocabulary) for row in ids]


def graph_document_forms(summaries, documents):
    texts = tf.function(graph_text.restore_document_form_batch)(tf.constant(summaries), tf.constant(documents))
    return [text.decode("utf-8") for text in texts.numpy()]


@pytest.fixture(scope="module")
def samsum_model_texts():
    """The SAMSum test references as the model writes them."""
    return detokenized(samsum("test", "summary"))


def test_restore_document_form_gives_the_graphs_text_on_samsum_summaries(samsum_model_texts):
    documents = samsum("test", "dialogue") + EDGE_DIALOGUES
    summaries = samsum_model_texts + EDGE_SUMMARIES
    expected = [python_text.restore_document_form(summary, document) for summary, document in zip(summaries, documents)]
    assert graph_document_forms(summaries, documents) == expected
    assert sum(text != summary for text, summary in zip(expected, summaries)) > 500
    cased = [python_text.restore_case(summary, document) for summary, document in zip(summaries, documents)]
    assert sum(text != case_only for text, case_only in zip(expected, cased)) > 10  # spellings restored


@pytest.mark.parametrize("dialogue, written", SPELLING_CASES)
def test_summaries_keep_the_dialogues_spelling(dialogue, written):
    """Placeholders, hyphenated names, initials and times come back as the dialogue
    writes them, on both sides; detokenization alone does not give them."""
    [model_text] = detokenized([written])
    assert python_text.restore_case(model_text, dialogue) != written
    assert python_text.restore_document_form(model_text, dialogue) == written
    assert graph_document_forms([model_text], [dialogue]) == [written]


def test_restored_spelling_stays_out_of_longer_words():
    dialogue = "Ann: see you at 3:30, or at the a.m. shift"
    for summary in ("ann says 13: 300 and a. mo", "at 3: 30pm"):
        assert python_text.restore_spelling(summary, dialogue) == summary
        assert graph_document_forms([summary], [dialogue]) == [python_text.restore_document_form(summary, dialogue)]
    assert python_text.restore_spelling("at 3: 30, a. m. shift", dialogue) == "at 3:30, a.m. shift"


def test_restore_spelling_reproduces_the_references_words_on_samsum(samsum_model_texts):
    """The reference summaries' words with punctuation inside that their dialogue
    also writes: nearly all come back as written, far more than with capitals alone."""
    documents, references = samsum("test", "dialogue"), samsum("test", "summary")
    texts = samsum_model_texts
    counts = {"words": 0, "capitals only": 0, "document form": 0}
    for reference, document, text in zip(references, documents, texts):
        words = [word for word in python_text.source_words(reference).values() if word in document]
        case_only = python_text.restore_case(text, document)
        restored = python_text.restore_document_form(text, document)
        counts["words"] += len(words)
        # Any case: a sentence start rightly capitalizes "it's" as "It's".
        counts["capitals only"] += sum(word.lower() in case_only.lower() for word in words)
        counts["document form"] += sum(word.lower() in restored.lower() for word in words)
    assert counts["words"] > 100
    assert counts["document form"] >= 0.95 * counts["words"] > counts["capitals only"] + 15, counts


def test_python_text_examples_run():
    results = doctest.testmod(python_text)
    assert results.attempted >= 3 and results.failed == 0
