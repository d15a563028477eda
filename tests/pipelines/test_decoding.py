"""Greedy and beam search, TensorFlow and NumPy side by side, on next-token scores without a model.

A "step" here returns fixed logits: by position (a table per row and step), by
the last token (a bigram model), or from a random scorer over the last two
tokens and a per-row state. Every behaviour test runs on both sides; the
shared test asserts that both give identical tokens on the same scores.
"""

import dataclasses
import itertools
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_attention.ops import large_negative
from pipelines.decoding import numpy_search
from pipelines.decoding import tf_search
from pipelines.decoding.settings import FORBIDDEN_SCORE
from pipelines.decoding.settings import DecodingSettings
from pipelines.decoding.settings import SpecialIds
from pipelines.summarization.config import GenerationConfig
from pipelines.summarization.config import SummarizerConfig

REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PAD, UNK, BOS, EOS, A, B, C = range(7)
VOCABULARY_SIZE = 7
SPECIAL_IDS = SpecialIds(pad=PAD, start=BOS, end=EOS)
SIDES = ("tensorflow", "numpy")


def run_search(side, logits_of, batch_size, beam_search=None, initial_state=None, **settings):
    """`(sequences, scores)` of one side's search.

    `logits_of(sequences, index, state, ops)` computes the next-token logits
    and the next state with `ops` (`OPS[side]`), so both sides score with the
    same function. The TensorFlow side runs as a graph, as generation does.
    """
    settings = DecodingSettings(**settings)
    module = tf_search if side == "tensorflow" else numpy_search
    search = module.search_for(settings, SPECIAL_IDS, beam_search)
    rows = batch_size * search.rows_per_document
    state = np.zeros((rows, 1), np.float32) if initial_state is None else initial_state(rows)
    ops = OPS[side]

    def step(sequences, index, state):
        return logits_of(sequences, index, state, ops)

    if side == "numpy":
        return search.run_loop(step, state, batch_size)
    sequences, scores = tf.function(lambda state: search.run_loop(step, state, batch_size))(tf.constant(state))
    return sequences.numpy(), None if scores is None else scores.numpy()


class NumpyOps:
    asarray = staticmethod(np.asarray)
    concatenate = staticmethod(np.concatenate)
    maximum = staticmethod(np.maximum)

    @staticmethod
    def take(values, indices, axis=0):
        return np.take(values, indices, axis=axis)

    @staticmethod
    def one_hot(tokens, depth):
        return np.eye(depth, dtype=np.float32)[tokens]


class TensorFlowOps:
    asarray = staticmethod(tf.constant)
    concatenate = staticmethod(tf.concat)
    maximum = staticmethod(tf.maximum)
    one_hot = staticmethod(tf.one_hot)

    @staticmethod
    def take(values, indices, axis=0):
        return tf.gather(values, indices, axis=axis)


OPS = {"tensorflow": TensorFlowOps, "numpy": NumpyOps}


def positional_scorer(table):
    """Logits `log table[row, index]` for a float array `(rows, max_length, vocabulary)`."""
    log_table = np.log(np.asarray(table, np.float32) + 1e-9).astype(np.float32)

    def logits_of(sequences, index, state, ops):
        return ops.asarray(log_table)[:, index], state

    return logits_of


def bigram_scorer(transitions):
    """Logits `log transitions[last token]` (rows normalized), rows independent."""
    transitions = np.asarray(transitions, np.float64)
    log_transitions = np.log(transitions / transitions.sum(axis=1, keepdims=True)).astype(np.float32)

    def logits_of(sequences, index, state, ops):
        last = ops.take(sequences, index, axis=1)
        return ops.take(ops.asarray(log_transitions), last), state

    return logits_of


def one_hot_rows(tokens_per_row, max_length):
    """Distributions that put 0.9 on the given token at each step."""
    table = np.full((len(tokens_per_row), max_length, VOCABULARY_SIZE), 0.1 / (VOCABULARY_SIZE - 1))
    for row, tokens in enumerate(tokens_per_row):
        for index in range(max_length):
            table[row, index, tokens[min(index, len(tokens) - 1)]] = 0.9
    return table


@pytest.fixture(params=SIDES)
def side(request):
    return request.param


def greedy(side, scorer, rows, max_length, **settings):
    return run_search(side, scorer, rows, max_length=max_length, **settings)[0]


def beam(side, scorer, batch_size, beams, max_length, **settings):
    return run_search(side, scorer, batch_size, beams=beams, max_length=max_length, **settings)


def test_greedy_stops_at_the_end_token_and_pads_after_it(side):
    scorer = positional_scorer(one_hot_rows([[A, B, EOS], [C, C, C, C, C, C]], max_length=6))
    assert greedy(side, scorer, rows=2, max_length=6).tolist() == [
        [A, B, EOS, PAD, PAD, PAD],
        [C, C, C, C, C, C],  # no end within max_length: exactly max_length tokens
    ]


def test_min_length_forbids_an_early_end(side):
    scorer = positional_scorer(one_hot_rows([[EOS]], max_length=6))
    assert greedy(side, scorer, rows=1, max_length=6, min_length=3).tolist()[0][3] == EOS
    assert greedy(side, scorer, rows=1, max_length=6).tolist()[0][0] == EOS
    tiled = positional_scorer(one_hot_rows([[EOS]] * 2, max_length=6))  # one row per beam
    sequences, _ = beam(side, tiled, batch_size=1, beams=2, max_length=6, min_length=3)
    assert sequences[0].tolist().index(EOS) == 3


def test_start_and_padding_tokens_are_never_generated(side):
    table = one_hot_rows([[BOS, PAD, A, EOS]], max_length=5)
    generated = greedy(side, positional_scorer(table), rows=1, max_length=5)
    assert generated.tolist()[0][2:4] == [A, EOS]
    assert BOS not in generated[0][:2] and PAD not in generated[0][:2]


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


def test_beam_search_finds_a_more_probable_summary_than_greedy(side):
    scorer = bigram_scorer(beam_beats_greedy_transitions())
    assert greedy(side, scorer, rows=1, max_length=4).tolist() == [[A, EOS, PAD, PAD]]
    sequences, scores = beam(side, scorer, batch_size=1, beams=2, max_length=4, length_penalty=0.0)
    assert sequences.tolist() == [[B, EOS, PAD, PAD]]
    assert scores[0] == pytest.approx(np.log(0.45 * 0.98), abs=1e-4)


def test_length_penalty_can_prefer_a_longer_summary(side):
    transitions = np.full((VOCABULARY_SIZE, VOCABULARY_SIZE), 1e-6)
    transitions[BOS, [EOS, A]] = [0.5, 0.5]
    transitions[A, [B]] = [0.999]
    transitions[B, [EOS]] = [0.9]
    scorer = bigram_scorer(transitions)
    # Total log-probability: [EOS] 0.5 beats A B [EOS] 0.45; per token (penalty 1), the long one wins.
    short, _ = beam(side, scorer, batch_size=1, beams=2, max_length=4, length_penalty=0.0)
    long, _ = beam(side, scorer, batch_size=1, beams=2, max_length=4, length_penalty=1.0)
    assert short.tolist() == [[EOS, PAD, PAD, PAD]]
    assert long.tolist() == [[A, B, EOS, PAD]]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beam_search_with_one_beam_equals_greedy(side, seed):
    rng = np.random.default_rng(seed)
    scorer = bigram_scorer(rng.dirichlet(np.full(VOCABULARY_SIZE, 0.3), size=VOCABULARY_SIZE))
    settings = dict(min_length=2, no_repeat_ngram_size=2, max_length=6)
    greedy_tokens = greedy(side, scorer, rows=4, **settings)
    beam_tokens, _ = beam(side, scorer, batch_size=4, beams=1, beam_search=True, **settings)
    np.testing.assert_array_equal(beam_tokens, greedy_tokens)


def test_beam_search_rows_do_not_mix_documents(side):
    table = one_hot_rows([[A, EOS], [B, B, EOS], [C, EOS]], max_length=5)
    sequences, _ = beam(side, positional_scorer(table), batch_size=3, beams=1, beam_search=True, max_length=5)
    np.testing.assert_array_equal(sequences, greedy(side, positional_scorer(table), rows=3, max_length=5))
    # With 3 beams the state and buffers are reordered per document too.
    tiled = np.repeat(table, 3, axis=0)
    sequences, _ = beam(side, positional_scorer(tiled), batch_size=3, beams=3, max_length=5)
    assert sequences.tolist() == [[A, EOS, 0, 0, 0], [B, B, EOS, 0, 0], [C, EOS, 0, 0, 0]]


def has_repeated_ngram(tokens, size):
    tokens = [token for token in tokens if token not in (PAD, EOS)]
    ngrams = [tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1)]
    return len(ngrams) != len(set(ngrams))


@pytest.mark.parametrize("size", [1, 2, 3])
def test_no_repeat_ngram_size_removes_repeats(side, size):
    transitions = np.full((VOCABULARY_SIZE, VOCABULARY_SIZE), 0.01)
    transitions[BOS, A] = transitions[A, B] = transitions[B, A] = 0.9  # A B A B ...
    scorer = bigram_scorer(transitions)
    unconstrained = greedy(side, scorer, rows=1, max_length=8)[0]
    assert has_repeated_ngram(unconstrained, size)
    constrained = greedy(side, scorer, rows=1, max_length=8, no_repeat_ngram_size=size)[0]
    assert not has_repeated_ngram(constrained, size)
    sequences, _ = beam(side, scorer, batch_size=1, beams=3, max_length=8, no_repeat_ngram_size=size)
    assert not has_repeated_ngram(sequences[0], size)


def test_repeat_previous_token_false_forbids_a_token_after_itself(side):
    transitions = np.full((VOCABULARY_SIZE, VOCABULARY_SIZE), 0.01)
    transitions[BOS, A] = transitions[A, A] = 0.9  # A A A ...
    transitions[A, B] = transitions[B, A] = 0.5  # then A B A B
    scorer = bigram_scorer(transitions)
    assert greedy(side, scorer, rows=1, max_length=4)[0].tolist() == [A, A, A, A]
    assert greedy(side, scorer, rows=1, max_length=4, repeat_previous_token=False)[0].tolist() == [A, B, A, B]
    sequences, _ = beam(side, scorer, batch_size=1, beams=3, max_length=6, repeat_previous_token=False)
    tokens = [token for token in sequences[0].tolist() if token not in (PAD, EOS)]
    assert tokens and all(first != second for first, second in zip(tokens, tokens[1:]))


def brute_force_repeated_tokens(generated, size):
    """The tokens that would complete an n-gram already in `generated`."""
    if len(generated) < size - 1:
        return set()
    prefix = tuple(generated[len(generated) - size + 1 :]) if size > 1 else ()
    return {
        generated[j + size - 1]
        for j in range(len(generated) - size + 1)
        if tuple(generated[j : j + size - 1]) == prefix
    }


def test_repeated_ngram_tokens_against_brute_force():
    rng = np.random.default_rng(0)
    generated = rng.integers(4, 7, (5, 9))
    sequences = np.concatenate([np.full((5, 1), BOS), generated], axis=1).astype(np.int32)
    for size, index in itertools.product([1, 2, 3], [0, 2, 5, 9]):
        graph = tf_search.repeated_ngram_tokens(tf.constant(sequences), index, size, VOCABULARY_SIZE).numpy()
        rows, tokens = numpy_search.repeated_ngram_tokens(sequences, index, size)
        for row in range(5):
            expected = brute_force_repeated_tokens(sequences[row, 1 : index + 1].tolist(), size)
            assert set(np.flatnonzero(graph[row]).tolist()) == expected, (size, index, row)
            assert set(tokens[rows == row].tolist()) == expected, (size, index, row)


# The shared test: both sides on the same scores give identical tokens.

SCORER_VOCABULARY = 12


def random_scorer(seed, documents=5):
    """Logits from the last two tokens, the position and a per-row state (a
    bias of the document, then a decaying count of the tokens generated), all
    float32; the special tokens score high at times, so the rules have work to do."""
    rng = np.random.default_rng(seed)
    after_last = rng.normal(0, 2, (SCORER_VOCABULARY, SCORER_VOCABULARY)).astype(np.float32)
    after_previous = rng.normal(0, 1, (SCORER_VOCABULARY, SCORER_VOCABULARY)).astype(np.float32)
    by_position = rng.normal(0, 1, (16, SCORER_VOCABULARY)).astype(np.float32)
    by_position[:, [PAD, BOS, EOS]] += 1.5
    by_position[:3, EOS] += 2.0  # an early end, for min_length to forbid
    document_bias = rng.normal(0, 1.5, (documents, SCORER_VOCABULARY)).astype(np.float32)

    def logits_of(sequences, index, state, ops):
        last = ops.take(sequences, index, axis=1)
        previous = ops.take(sequences, ops.maximum(index - 1, 0), axis=1)
        bias, counts = state[:, :SCORER_VOCABULARY], state[:, SCORER_VOCABULARY:]
        counts = counts * np.float32(0.5) + ops.one_hot(last, SCORER_VOCABULARY)
        logits = (
            ops.take(ops.asarray(after_last), last)
            + ops.take(ops.asarray(after_previous), previous)
            + ops.take(ops.asarray(by_position), index)
            + bias
            - counts
        )
        return logits, ops.concatenate([bias, counts], axis=1)

    def initial_state(rows):
        bias = np.repeat(document_bias, rows // documents, axis=0)  # the beams of a document alike
        return np.concatenate([bias, np.zeros_like(bias)], axis=1)

    return logits_of, initial_state


RULES = dict(max_length=10, min_length=3, no_repeat_ngram_size=2, repeat_previous_token=False)


SEARCHES = {
    "greedy": dict(beams=1),
    "beam1": dict(beams=1, beam_search=True),
    "beam3-penalty0": dict(beams=3, length_penalty=0.0),
    "beam3-penalty1": dict(beams=3, length_penalty=1.0),
    "beam4-penalty2": dict(beams=4, length_penalty=2.0),
}


@pytest.mark.parametrize("search", SEARCHES.values(), ids=SEARCHES.keys())
@pytest.mark.parametrize("seed", range(4))
def test_tensorflow_and_numpy_searches_give_identical_tokens(seed, search):
    logits_of, initial_state = random_scorer(seed)
    answers = {
        side: run_search(side, logits_of, 5, initial_state=initial_state, **RULES, **search)
        for side in SIDES
    }
    (tf_tokens, tf_scores), (np_tokens, np_scores) = answers["tensorflow"], answers["numpy"]
    np.testing.assert_array_equal(tf_tokens, np_tokens)
    if search.get("beam_search") or search["beams"] > 1:
        np.testing.assert_allclose(tf_scores, np_scores, rtol=1e-5)
    for row in np_tokens.tolist():
        ended = row.index(EOS) if EOS in row else len(row)
        assert ended >= RULES["min_length"]
        assert PAD not in row[:ended] and BOS not in row and not has_repeated_ngram(row, 2)
        assert all(first != second for first, second in zip(row[:ended], row[1:ended]))


def test_the_rules_change_the_shared_tests_tokens():
    """The shared test's scorer needs every rule: without it the tokens differ."""
    free = dict(max_length=RULES["max_length"])
    for rule in ("min_length", "no_repeat_ngram_size", "repeat_previous_token"):
        changed = 0
        for seed in range(4):
            logits_of, initial_state = random_scorer(seed)
            with_rule, _ = run_search("numpy", logits_of, 5, initial_state=initial_state, **RULES)
            others = {name: value for name, value in RULES.items() if name not in ("max_length", rule)}
            without, _ = run_search("numpy", logits_of, 5, initial_state=initial_state, **free, **others)
            changed += int((with_rule != without).any())
        assert changed > 0, rule
    changed_by_penalty = 0
    for seed in range(4):
        logits_of, initial_state = random_scorer(seed)
        tokens = [
            run_search(
                "numpy", logits_of, 5, initial_state=initial_state, beams=3, length_penalty=penalty, **RULES
            )[0]
            for penalty in (0.0, 2.0)
        ]
        changed_by_penalty += int((tokens[0] != tokens[1]).any())
    assert changed_by_penalty > 0  # the length penalty changes the beam's choice for some seed


def test_beam_search_compiles_with_xla():
    logits_of, initial_state = random_scorer(0)
    search = tf_search.search_for(DecodingSettings(beams=3, **RULES), SPECIAL_IDS)
    def step(sequences, index, state):
        return logits_of(sequences, index, state, TensorFlowOps)

    compiled = tf.function(lambda state: search(step, state, 5), jit_compile=True)
    tokens = compiled(tf.constant(initial_state(15))).numpy()
    expected, _ = run_search("numpy", logits_of, 5, initial_state=initial_state, beams=3, **RULES)
    np.testing.assert_array_equal(tokens, expected)


def test_numpy_side_and_onnx_runner_import_without_tensorflow():
    script = (
        "import sys\n"
        "for name in ('tensorflow', 'tensorflow_text', 'keras', 'tf2onnx'):\n"
        "    sys.modules[name] = None  # any import of them fails\n"
        "import numpy as np\n"
        "import export.summarizer.onnx_runner\n"
        "from pipelines.decoding.numpy_search import search_for\n"
        "from pipelines.decoding.settings import DecodingSettings, SpecialIds\n"
        "from pipelines.summarization.postprocessing.python_text import detokenize, restore_document_form\n"
        "search = search_for(DecodingSettings(beams=2, max_length=3), SpecialIds(pad=0, start=2, end=3))\n"
        "step = lambda sequences, index, state: (np.eye(6, dtype=np.float32)[[5, 5, 5, 5]] * 9, state)\n"
        "ids = search(step, np.zeros((4, 1)), 2)\n"
        "vocabulary = ['[PAD]', '[UNK]', '[BOS]', '[EOS]', '[NL]', 'ok']\n"
        "print(restore_document_form(detokenize(ids[0], vocabulary), 'Ann: ok'))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=REPOSITORY, capture_output=True, text=True
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "Ok ok ok"


def test_forbidden_score_is_keras_attentions_large_negative():
    assert FORBIDDEN_SCORE == large_negative("float32")


def test_decoding_settings_reject_bad_values_with_the_value():
    with pytest.raises(ValueError, match="Received: beams=0"):
        DecodingSettings(beams=0)
    with pytest.raises(ValueError, match="min_length=5, max_length=5"):
        DecodingSettings(min_length=5, max_length=5)
    with pytest.raises(ValueError, match=r"unknown decoding settings \['beam_width'\]"):
        DecodingSettings.from_dict({"beam_width": 4})


def test_overrides_lower_min_length_below_a_shorter_max_length():
    settings = GenerationConfig().with_overrides(max_length=4, beams=None)
    assert (settings.max_length, settings.min_length, settings.beams) == (4, 3, 4)
    assert type(settings) is DecodingSettings


def test_an_older_runs_generation_section_still_loads(tmp_path):
    """config.json written before `batch_size` existed, and the SAMSum defaults."""
    older = {"beams": 2, "max_length": 40, "min_length": 2, "length_penalty": 0.8, "no_repeat_ngram_size": 3}
    config = SummarizerConfig.from_dict({"generation": older})
    assert isinstance(config.generation, DecodingSettings)
    # A partial --config file gets today's defaults for what it leaves out ...
    assert dataclasses.asdict(config.generation) == dict(older, batch_size=16, repeat_previous_token=False)
    # ... a run's own config.json the rules it was written with.
    run_file = SummarizerConfig.from_run_file({"generation": older})
    assert dataclasses.asdict(run_file.generation) == dict(older, batch_size=16, repeat_previous_token=True)
    assert SummarizerConfig().generation.to_dict() == {
        "beams": 4, "max_length": 128, "min_length": 5, "length_penalty": 1.0,
        "no_repeat_ngram_size": 3, "repeat_previous_token": False, "batch_size": 16,
    }
    # The ONNX runner reads an older export's `generation` (no batch_size) the same way.
    assert DecodingSettings.from_dict(older).to_dict() == dict(older, batch_size=16, repeat_previous_token=True)
