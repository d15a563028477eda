import csv
import os

import pytest

from pipelines.classification.heldout import sentence_holdout

# Two sentences with their labelled sub-phrases, SST-style. "film about" and
# "a" occur inside both sentences; the other sub-phrases belong to one.
FIRST = "a warm and moving film about love and loss ."
SECOND = "a dull and tired film about nothing at all ."
ROWS = [
    FIRST,
    "warm and moving",
    "moving",
    "love and loss",
    "film about",
    "a",
    SECOND,
    "dull and tired",
    "nothing at all",
    "tired film",
    SECOND,  # a repeated row
]


def split(rows, **kwargs):
    train, heldout = sentence_holdout(rows, count=1, min_words=8, **kwargs)
    return [rows[index] for index in train], [rows[index] for index in heldout]


@pytest.mark.parametrize("seed", range(6))
def test_a_held_out_sentence_and_its_own_phrases_leave_training(seed):
    train, heldout = split(ROWS, seed=seed)
    assert len(heldout) == 1
    (sentence,) = heldout
    other = SECOND if sentence == FIRST else FIRST
    own = [row for row in ROWS if f" {row} " in f" {sentence} " and f" {row} " not in f" {other} "]
    assert own  # the sentence itself at least
    assert not set(own) & set(train)
    # Phrases shared with the kept sentence stay, and so does all of the kept one.
    assert {"film about", "a"} <= set(train)
    kept = [row for row in ROWS if f" {row} " in f" {other} "]
    assert train.count(other) == ROWS.count(other)
    assert set(kept) <= set(train)


def test_only_rows_no_other_row_contains_are_held_out():
    # "warm and moving film about love" is long enough but lies inside FIRST.
    rows = ROWS + ["warm and moving film about love and"]
    for seed in range(10):
        _, heldout = split(rows, seed=seed)
        assert heldout[0] in (FIRST, SECOND)


def test_a_sentence_of_short_words_counts_whatever_the_character_lengths():
    # Fewer characters than the long-worded phrase, but enough words.
    rows = ["extraordinarily magnificent performances throughout", "it is a b c d e f ."]
    _, heldout = sentence_holdout(rows, count=1, min_words=8)
    assert [rows[index] for index in heldout] == ["it is a b c d e f ."]


def test_a_repeated_sentence_is_held_out_once():
    for seed in range(10):
        _, heldout = split(ROWS, seed=seed)
        if heldout == [SECOND]:
            return
    pytest.fail("no seed held out SECOND")


def test_the_same_sentences_whatever_the_row_order():
    for seed in range(4):
        _, heldout = split(ROWS, seed=seed)
        _, heldout_reversed = split(ROWS[::-1], seed=seed)
        assert heldout == heldout_reversed


def test_too_few_sentences_is_a_clear_error():
    with pytest.raises(ValueError, match="only 2 rows of at least 8 words are whole sentences"):
        sentence_holdout(ROWS, count=3, min_words=8)


SST2_DIR = os.path.join(
    os.environ.get("KERAS_ATTENTION_DATA", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data")),
    "sst2",
)


def test_sst2_split_keeps_no_row_found_only_inside_held_out_sentences():
    rows = []
    for name in ("train.tsv", "dev.tsv"):
        with open(os.path.join(SST2_DIR, name), newline="") as file:
            reader = csv.reader(file, delimiter="\t", quoting=csv.QUOTE_NONE)
            next(reader)
            rows += [" ".join(row[0].split()) for row in reader]
    train, heldout = sentence_holdout(rows, count=200)
    held = {rows[index] for index in heldout}
    assert len(held) == 200 and all(len(text.split()) >= 8 for text in held)
    train_texts = {rows[index] for index in train}
    assert not held & train_texts
    held_text = "\n".join(f" {text} " for text in held)
    inside = {text for text in train_texts if f" {text} " in held_text}
    assert inside  # shared phrases such as "the film" exist
    # Each of those also occurs inside a training row outside every held-out sentence.
    outside = "\n".join(f" {text} " for text in train_texts - inside)
    assert all(f" {text} " in outside for text in inside)
