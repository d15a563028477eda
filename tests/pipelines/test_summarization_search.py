"""Greedy and beam search on hand-made next-token distributions (no model).

A "step" here returns fixed log-probabilities: by position (a table per row
and step) or by the last token (a bigram model), so the best sequences are
known in advance.
"""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from pipelines.summarization.beam_search import beam_search
from pipelines.summarization.greedy_search import greedy_search
from pipelines.summarization.search_constraints import repeated_ngram_tokens

PAD, UNK, BOS, EOS, A, B, C = range(7)
VOCABULARY_SIZE = 7
SPECIAL_IDS = dict(start_id=BOS, end_id=EOS, pad_id=PAD)


def positional_step(table):
    """Logits `table[row, index]` for a float array `(rows, max_length, vocabulary)`."""
    table = tf.constant(np.log(np.asarray(table, np.float32) + 1e-9))

    def step(sequences, index, state):
        return table[:, index], state

    return step


def bigram_step(transitions):
    """Logits `log transitions[last token]` (rows normalized), rows independent."""
    transitions = np.asarray(transitions, np.float64)
    transitions = transitions / transitions.sum(axis=1, keepdims=True)
    log_transitions = tf.constant(np.log(transitions).astype(np.float32))

    def step(sequences, index, state):
        return tf.gather(log_transitions, tf.gather(sequences, index, axis=1)), state

    return step


def one_hot_rows(tokens_per_row, max_length):
    """Distributions that put 0.9 on the given token at each step."""
    table = np.full((len(tokens_per_row), max_length, VOCABULARY_SIZE), 0.1 / (VOCABULARY_SIZE - 1))
    for row, tokens in enumerate(tokens_per_row):
        for index in range(max_length):
            table[row, index, tokens[min(index, len(tokens) - 1)]] = 0.9
    return table


def greedy(step, rows, max_length, **options):
    return greedy_search(step, (), rows, max_length, **SPECIAL_IDS, **options).numpy()


def beam(step, batch_size, beams, max_length, **options):
    sequences, scores = beam_search(
        step, (), batch_size, beams, max_length, VOCABULARY_SIZE, **SPECIAL_IDS, **options
    )
    return sequences.numpy(), scores.numpy()


def test_greedy_stops_at_the_end_token_and_pads_after_it():
    step = positional_step(one_hot_rows([[A, B, EOS], [C, C, C, C, C, C]], max_length=6))
    assert greedy(step, rows=2, max_length=6).tolist() == [
        [A, B, EOS, PAD, PAD, PAD],
        [C, C, C, C, C, C],  # no end within max_length: exactly max_length tokens
    ]


def test_min_length_forbids_an_early_end():
    step = positional_step(one_hot_rows([[EOS]], max_length=6))
    assert greedy(step, rows=1, max_length=6, min_length=3).tolist()[0][3] == EOS
    assert greedy(step, rows=1, max_length=6).tolist()[0][0] == EOS
    tiled_step = positional_step(one_hot_rows([[EOS]] * 2, max_length=6))  # one row per beam
    sequences, _ = beam(tiled_step, batch_size=1, beams=2, max_length=6, min_length=3)
    assert sequences[0].tolist().index(EOS) == 3


def test_start_and_padding_tokens_are_never_generated():
    table = one_hot_rows([[BOS, PAD, A, EOS]], max_length=5)
    assert greedy(positional_step(table), rows=1, max_length=5).tolist()[0][2:4] == [A, EOS]
    assert BOS not in greedy(positional_step(table), rows=1, max_length=5)[0][:2]


def beam_beats_greedy_transitions():
    """Greedy takes A (0.55) then must end at 0.34: p = 0.187. Beam finds B then
    the end token at 0.98: p = 0.441."""
    transitions = np.full((VOCABULARY_SIZE, VOCABULARY_SIZE), 1e-6)
    transitions[BOS, [A, B]] = [0.55, 0.45]
    transitions[A, [EOS, A, C]] = [0.34, 0.33, 0.33]
    transitions[B, [EOS, C]] = [0.98, 0.02]
    transitions[C, EOS] = 0.9
    transitions[EOS, EOS] = 1.0
    return transitions


def test_beam_search_finds_a_more_probable_summary_than_greedy():
    step = bigram_step(beam_beats_greedy_transitions())
    assert greedy(step, rows=1, max_length=4).tolist() == [[A, EOS, PAD, PAD]]
    sequences, scores = beam(step, batch_size=1, beams=2, max_length=4, length_penalty=0.0)
    assert sequences.tolist() == [[B, EOS, PAD, PAD]]
    assert scores[0] == pytest.approx(np.log(0.45 * 0.98), abs=1e-4)


def test_length_penalty_can_prefer_a_longer_summary():
    transitions = np.full((VOCABULARY_SIZE, VOCABULARY_SIZE), 1e-6)
    transitions[BOS, [EOS, A]] = [0.5, 0.5]
    transitions[A, [B]] = [0.999]
    transitions[B, [EOS]] = [0.9]
    step = bigram_step(transitions)
    # Total log-probability: [EOS] 0.5 beats A B [EOS] 0.45; per token (penalty 1), the long one wins.
    short, _ = beam(step, batch_size=1, beams=2, max_length=4, length_penalty=0.0)
    long, _ = beam(step, batch_size=1, beams=2, max_length=4, length_penalty=1.0)
    assert short.tolist() == [[EOS, PAD, PAD, PAD]]
    assert long.tolist() == [[A, B, EOS, PAD]]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beam_search_with_one_beam_equals_greedy(seed):
    rng = np.random.default_rng(seed)
    transitions = rng.dirichlet(np.full(VOCABULARY_SIZE, 0.3), size=VOCABULARY_SIZE)
    step = bigram_step(transitions)
    options = dict(min_length=2, no_repeat_ngram_size=2, max_length=6)
    greedy_tokens = greedy(step, rows=4, **options)
    beam_tokens, _ = beam(step, batch_size=4, beams=1, **options)
    np.testing.assert_array_equal(beam_tokens, greedy_tokens)


def test_beam_search_rows_do_not_mix_documents():
    table = one_hot_rows([[A, EOS], [B, B, EOS], [C, EOS]], max_length=5)
    sequences, _ = beam(positional_step(table), batch_size=3, beams=1, max_length=5)
    np.testing.assert_array_equal(sequences, greedy(positional_step(table), rows=3, max_length=5))
    # With 3 beams the state and buffers are reordered per document too.
    tiled = np.repeat(table, 3, axis=0)
    sequences, _ = beam(positional_step(tiled), batch_size=3, beams=3, max_length=5)
    assert sequences.tolist() == [[A, EOS, 0, 0, 0], [B, B, EOS, 0, 0], [C, EOS, 0, 0, 0]]


def has_repeated_ngram(tokens, size):
    tokens = [token for token in tokens if token not in (PAD, EOS)]
    ngrams = [tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1)]
    return len(ngrams) != len(set(ngrams))


@pytest.mark.parametrize("size", [1, 2, 3])
def test_no_repeat_ngram_size_removes_repeats(size):
    transitions = np.full((VOCABULARY_SIZE, VOCABULARY_SIZE), 0.01)
    transitions[BOS, A] = transitions[A, B] = transitions[B, A] = 0.9  # A B A B ...
    step = bigram_step(transitions)
    unconstrained = greedy(step, rows=1, max_length=8)[0]
    assert has_repeated_ngram(unconstrained, size)
    constrained = greedy(step, rows=1, max_length=8, no_repeat_ngram_size=size)[0]
    assert not has_repeated_ngram(constrained, size)
    sequences, _ = beam(step, batch_size=1, beams=3, max_length=8, no_repeat_ngram_size=size)
    assert not has_repeated_ngram(sequences[0], size)


def test_repeated_ngram_tokens_against_brute_force():
    rng = np.random.default_rng(0)
    generated = rng.integers(4, 7, (5, 9))
    sequences = np.concatenate([np.full((5, 1), BOS), generated], axis=1).astype(np.int32)
    for size, index in itertools.product([1, 2, 3], [0, 2, 5, 9]):
        forbidden = repeated_ngram_tokens(tf.constant(sequences), index, size, VOCABULARY_SIZE)
        for row in range(5):
            generated = sequences[row, 1 : index + 1].tolist()
            prefix = tuple(generated[len(generated) - size + 1 :]) if size > 1 else ()
            expected = {
                generated[j + size - 1]
                for j in range(len(generated) - size + 1)
                if len(generated) >= size - 1 and tuple(generated[j : j + size - 1]) == prefix
            } if index >= size - 1 else set()
            assert set(np.flatnonzero(forbidden.numpy()[row]).tolist()) == expected, (size, index, row)
