"""The summarizer end to end: masks, the cached decoder step, compiled generation,
and a tiny run trained, saved, reloaded, used and scored through the command line.
What depends on the copy attention runs for each (`copy_attention`: the copy
head's own, or the decoder's last cross-attention averaged over its heads).

The data are synthetic dialogues from templates (no download, no dataset beside
the repository); the model is tiny and trains for a few steps.
"""

import csv
import json
import os
import random
import subprocess
import sys

import keras
import numpy as np
import pytest

from pipelines.decoding.settings import DecodingSettings
from pipelines.summarization.cli import main
from pipelines.summarization.config import COPY_ATTENTIONS
from pipelines.summarization.config import ModelConfig
from pipelines.summarization.generation import Generator
from pipelines.summarization.inference import InferenceModel
from pipelines.summarization.model import build_summarizer
from pipelines.summarization.tokenizer import END_ID
from pipelines.summarization.tokenizer import PAD_ID
from pipelines.summarization.tokenizer import START_ID
from pipelines.summarization.trained import Summarizer
from pipelines.summarization.trained import generate

NAMES = ["Amanda", "Jerry", "Hannah", "Larry", "Olivia", "Tom", "Betty", "Mark"]
PLANS = [("lunch", "the cafe"), ("a movie", "the cinema"), ("a run", "the park"),
         ("dinner", "Luigi's"), ("coffee", "the station")]
TINY_MODEL_OPTIONS = [
    "--vocabulary-size", "200", "--hidden-dim", "32", "--intermediate-dim", "64",
    "--num-heads", "2", "--encoder-layers", "1", "--decoder-layers", "1",
    "--max-document-length", "64", "--max-summary-length", "24",
    "--batch-size", "8", "--epochs", "3", "--warmup-steps", "4", "--learning-rate", "0.003",
    "--beams", "2",
]


def make_dialogues(count, seed):
    """(dialogue, summary) rows: two people agree on a plan."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        first, second = rng.sample(NAMES, 2)
        plan, place = rng.choice(PLANS)
        hour = rng.randint(1, 9)
        dialogue = (
            f"{first}: are we still on for {plan} at {hour}?\n"
            f"{second}: yes! see you at {place}\n{first}: great :)"
        )
        rows.append((dialogue, f"{first} and {second} will meet for {plan} at {place} at {hour}."))
    return rows


def write_pairs(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["id", "dialogue", "summary"])
        writer.writerows((index, dialogue, summary) for index, (dialogue, summary) in enumerate(rows))
    return str(path)


@pytest.fixture(scope="module")
def dialogue_files(tmp_path_factory):
    directory = tmp_path_factory.mktemp("dialogues")
    return {
        "train": write_pairs(directory / "train.csv", make_dialogues(40, seed=1)),
        "valid": write_pairs(directory / "valid.csv", make_dialogues(10, seed=2)),
        "test": write_pairs(directory / "test.csv", make_dialogues(10, seed=3)),
    }


def train_tiny_run(dialogue_files, tmp_path_factory, *options):
    out = str(tmp_path_factory.mktemp("runs") / "tiny")
    status = main([
        "train", "--train", dialogue_files["train"], "--valid", dialogue_files["valid"],
        "--test", dialogue_files["test"], "--document-column", "dialogue",
        "--summary-column", "summary", "--out", out, *TINY_MODEL_OPTIONS, *options,
    ])
    assert status == 0
    return out


@pytest.fixture(scope="module")
def tiny_run(dialogue_files, tmp_path_factory):
    """A run directory trained through the command line."""
    return train_tiny_run(dialogue_files, tmp_path_factory)


@pytest.fixture(scope="module", params=COPY_ATTENTIONS)
def copy_run(request, dialogue_files, tmp_path_factory):
    """`tiny_run` (new runs copy with the cross-attention), then one trained with
    `--copy-attention head`."""
    if request.param == "cross_attention":
        run = request.getfixturevalue("tiny_run")
    else:
        run = train_tiny_run(dialogue_files, tmp_path_factory, "--copy-attention", "head")
    assert Summarizer.load(run).config.model.copy_attention == request.param
    return run


@pytest.fixture(scope="module", params=COPY_ATTENTIONS)
def random_model(request):
    keras.utils.set_random_seed(7)
    config = ModelConfig(
        vocabulary_size=40, hidden_dim=16, intermediate_dim=32, num_heads=2,
        encoder_layers=2, decoder_layers=2, dropout=0.0, copy_attention=request.param,
    )
    return build_summarizer(config)


def random_ids(rng, rows, length, vocabulary_size=40):
    return rng.integers(5, vocabulary_size, (rows, length)).astype("int32")


def test_padding_changes_no_logit_of_a_real_token(random_model):
    rng = np.random.default_rng(0)
    encoder_ids, decoder_ids = random_ids(rng, 1, 7), random_ids(rng, 1, 5)
    logits = random_model({"encoder_ids": encoder_ids, "decoder_ids": decoder_ids}).numpy()
    padded = random_model({
        "encoder_ids": np.pad(encoder_ids, [(0, 0), (0, 9)]),
        "decoder_ids": np.pad(decoder_ids, [(0, 0), (0, 3)]),
    }).numpy()
    np.testing.assert_allclose(padded[:, :5], logits, atol=1e-5)


def test_a_later_decoder_token_changes_no_earlier_logit(random_model):
    rng = np.random.default_rng(1)
    encoder_ids, decoder_ids = random_ids(rng, 2, 6), random_ids(rng, 2, 6)
    changed = decoder_ids.copy()
    changed[:, 4:] = random_ids(rng, 2, 2)
    before = random_model({"encoder_ids": encoder_ids, "decoder_ids": decoder_ids}).numpy()
    after = random_model({"encoder_ids": encoder_ids, "decoder_ids": changed}).numpy()
    np.testing.assert_allclose(after[:, :4], before[:, :4], atol=1e-5)
    assert np.abs(after[:, 4:] - before[:, 4:]).max() > 1e-3


def test_cached_decoder_steps_equal_the_full_pass(random_model):
    rng = np.random.default_rng(2)
    encoder_ids, decoder_ids = random_ids(rng, 3, 8), random_ids(rng, 3, 6)
    encoder_ids[1, 5:] = 0
    full = random_model({"encoder_ids": encoder_ids, "decoder_ids": decoder_ids}).numpy()
    inference = InferenceModel(random_model)
    encoder_outputs, padding_mask = inference.encode(encoder_ids)
    state = inference.initial_state(encoder_outputs, padding_mask, max_length=6, encoder_ids=encoder_ids)
    steps = []
    for index in range(6):
        logits, state = inference.decode_step(decoder_ids[:, index : index + 1], index, state)
        steps.append(logits.numpy())
    np.testing.assert_allclose(np.stack(steps, axis=1), full, atol=1e-5)


@pytest.fixture(scope="module")
def trained(copy_run):
    """The tiny run's model and tokenized unseen dialogues, with memoized generations."""
    summarizer = Summarizer.load(copy_run)
    dialogues = [dialogue for dialogue, _ in make_dialogues(6, seed=4)]
    document_ids = summarizer.tokenizer.tokenize(dialogues).to_list()
    results = {}

    def generate_ids(use_cache=True, jit_compile=False, beam_search=None, **options):
        key = (tuple(sorted(options.items())), use_cache, jit_compile, beam_search)
        if key not in results:
            generator = Generator(
                summarizer.model, DecodingSettings(**options), max_document_length=32,
                batch_size=8, use_cache=use_cache, jit_compile=jit_compile, beam_search=beam_search,
            )
            results[key] = (generator.generate_ids(document_ids), generator)
        return results[key]

    return generate_ids


GREEDY = dict(max_length=10, min_length=3, no_repeat_ngram_size=2)
BEAM = dict(GREEDY, beams=3)


def assert_ends_within_bounds(generated, min_length, max_length):
    assert generated.shape[1] == max_length
    for row in generated.tolist():
        ends = [i for i, token in enumerate(row) if token == END_ID]
        real = len(row) if not ends else ends[0]
        assert real >= min_length  # no [EOS] before min_length tokens
        assert PAD_ID not in row[:real]
        assert all(token == PAD_ID for token in row[real + 1 :])  # nothing after [EOS]


@pytest.mark.parametrize("options", [GREEDY, BEAM], ids=["greedy", "beam3"])
def test_cached_generation_returns_the_tokens_of_uncached_generation(trained, options):
    cached, _ = trained(use_cache=True, **options)
    uncached, _ = trained(use_cache=False, **options)
    np.testing.assert_array_equal(cached, uncached)
    assert len(np.unique(cached)) > 3  # real token choices, not one repeated id
    assert_ends_within_bounds(cached, options["min_length"], options["max_length"])


def test_beam_search_with_one_beam_equals_greedy_on_a_model(trained):
    greedy, _ = trained(**GREEDY)
    one_beam, _ = trained(beams=1, beam_search=True, **GREEDY)
    np.testing.assert_array_equal(one_beam, greedy)


def test_xla_generation_is_traced_once_per_shape_and_matches_graph_mode(trained, copy_run):
    compiled, generator = trained(jit_compile=True, **BEAM)
    graph_mode, _ = trained(jit_compile=False, **BEAM)
    np.testing.assert_array_equal(compiled, graph_mode)
    assert generator.tracing_count() == 1
    tokenizer = Summarizer.load(copy_run).tokenizer
    others = tokenizer.tokenize([d for d, _ in make_dialogues(5, seed=9)]).to_list()
    generator.generate_ids(others)  # other documents, padded to the same shape
    assert generator.tracing_count() == 1


def test_train_writes_a_complete_run_directory(tiny_run):
    for name in ("config.json", "model.keras", "metrics.json", "history.json",
                 "training_curves.png", "sample_predictions.jsonl", "logs",
                 "tokenizer/vocabulary.txt", "tokenizer/tokenizer.json"):
        assert os.path.exists(os.path.join(tiny_run, name)), name
    assert not os.path.exists(os.path.join(tiny_run, "backup"))
    with open(os.path.join(tiny_run, "metrics.json"), encoding="utf-8") as file:
        metrics = json.load(file)
    for key in ("rouge1", "rouge2", "rougeLsum"):
        assert 0.0 <= metrics["test"][key] <= 100.0
    assert metrics["test"]["examples"] == 10 and metrics["test"]["search"]["beams"] == 2
    assert metrics["training"]["steps"] == 15 and metrics["training"]["tokens_per_second"] > 0
    with open(os.path.join(tiny_run, "history.json"), encoding="utf-8") as file:
        epochs = json.load(file)["epochs"]
    assert [epoch["epoch"] for epoch in epochs] == [1, 2, 3]
    assert epochs[-1]["loss"] < epochs[0]["loss"] and "val_accuracy" in epochs[-1]
    assert epochs[0]["learning_rate"] > 0
    with open(os.path.join(tiny_run, "sample_predictions.jsonl"), encoding="utf-8") as file:
        samples = [json.loads(line) for line in file]
    assert len(samples) == 10 and {"prediction", "reference", "document"} <= set(samples[0])


def test_reloaded_model_is_the_trained_model(copy_run, dialogue_files):
    summarizer = Summarizer.load(copy_run)  # safe_mode=True
    weights = summarizer.model.get_weights()
    summarizer.model.load_weights(os.path.join(copy_run, "checkpoints", "best.weights.h5"))
    for loaded, best in zip(weights, summarizer.model.get_weights()):
        np.testing.assert_array_equal(loaded, best)
    summaries = generate(summarizer, ["Tom: lunch at 5?\nMark: yes!"], beams=1, max_length=12)
    assert len(summaries) == 1 and isinstance(summaries[0], str)


def test_summarize_command_prints_one_summary_per_text(tiny_run):
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.summarization", "summarize", tiny_run,
         r"Tom: lunch at 5?\nMark: yes! see you at the cafe", "Betty: a movie at 3?",
         "--beams", "2", "--max-length", "12"],
        capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(result.stdout.strip().split("\n\n")) == 2


def test_evaluate_command_writes_rouge_and_predictions(tiny_run, dialogue_files, capsys):
    status = main(
        ["evaluate", tiny_run, "--data", dialogue_files["valid"], "--beams", "1", "--batch-size", "4"]
    )
    assert status == 0
    assert "ROUGE-1" in capsys.readouterr().out
    report_path = os.path.join(tiny_run, "evaluation", "valid.beams1.rouge.json")
    with open(report_path, encoding="utf-8") as file:
        report = json.load(file)
    assert set(report) >= {"rouge1", "rouge2", "rougeLsum", "search", "bad_rows"}
    with open(report_path.replace(".rouge.json", ".predictions.jsonl"), encoding="utf-8") as file:
        rows = [json.loads(line) for line in file]
    assert [row["reference"] for row in rows] == [summary for _, summary in make_dialogues(10, seed=2)]


def test_user_mistakes_exit_with_one_line(tiny_run, dialogue_files, capsys, tmp_path):
    common = ["--train", dialogue_files["train"], "--valid", dialogue_files["valid"],
              "--summary-column", "summary", "--out", tiny_run]
    assert main(["train", *common, "--document-column", "dialogue"]) == 2
    assert "finished run; pass --overwrite" in capsys.readouterr().err
    assert main(["train", *common[:-1], tiny_run + "-new", "--document-column", "text"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--document-column" in error
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model": {"copy_attention": "cross"}}))
    assert main(["train", *common[:-1], tiny_run + "-new", "--document-column", "dialogue",
                 "--config", str(config)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "copy_attention 'cross' is unknown; use head or cross_attention" in error
    assert main(["summarize", tiny_run]) == 2
    assert "TEXT arguments or --file" in capsys.readouterr().err
    assert main(["evaluate", tiny_run + "-missing", "--data", dialogue_files["valid"]]) == 2


def test_summarize_json_prints_one_object_per_text(tiny_run, capsys):
    documents = ["Tom: lunch at 5?\nMark: yes! see you at the cafe", "Betty: a movie at 3?"]
    arguments = [r"Tom: lunch at 5?\nMark: yes! see you at the cafe", "Betty: a movie at 3?"]
    assert main(["summarize", tiny_run, *arguments, "--json", "--beams", "1", "--max-length", "12"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    expected = generate(Summarizer.load(tiny_run), documents, beams=1, max_length=12)
    assert records == [{"text": text, "summary": summary} for text, summary in zip(documents, expected)]


def test_train_config_file_reproduces_a_run_and_flags_override_it(tiny_run, tmp_path):
    from pipelines.summarization.cli import build_parser
    from pipelines.summarization.cli import config_from_args

    saved_path = os.path.join(tiny_run, "config.json")
    with open(saved_path, encoding="utf-8") as file:
        saved = json.load(file)
    saved.pop("task", None)
    out = str(tmp_path / "again")
    same = config_from_args(build_parser().parse_args(["train", "--config", saved_path, "--out", out]))
    assert set(saved) == {"tokenizer", "model", "training", "generation", "data"}
    for section, values in saved.items():
        assert getattr(same, section).__dict__ == values, section
    changed = config_from_args(build_parser().parse_args(
        ["train", "--config", saved_path, "--out", out, "--epochs", "5", "--heads", "4"]
    ))
    assert (changed.training.epochs, changed.model.num_heads) == (5, 4)
    changed.training.epochs, changed.model.num_heads = same.training.epochs, same.model.num_heads
    assert changed.to_dict() == same.to_dict()


def test_explain_writes_what_the_models_own_outputs_say(copy_run, tmp_path, capsys):
    dialogue, _ = make_dialogues(1, seed=11)[0]
    out = tmp_path / "explained"
    assert main(["summarize", copy_run, dialogue, "--beams", "1", "--explain", str(out)]) == 0
    printed = capsys.readouterr().out.strip()
    explanation = json.loads((out / "explain_1.json").read_text())
    assert (out / "explain_1.png").stat().st_size > 0
    summarizer = Summarizer.load(copy_run)
    assert explanation["copy_attention_kind"] == summarizer.config.model.copy_attention
    assert explanation["summary"].lower() == printed.lower()
    ids = [token["id"] for token in explanation["tokens"]]
    encoder_ids = np.array(summarizer.tokenizer.tokenize([dialogue]).to_list(), np.int32)
    decoder_ids = np.array([[START_ID] + ids[:-1]], np.int32)
    inputs = {"encoder_ids": encoder_ids, "decoder_ids": decoder_ids}
    log_probs = summarizer.model(inputs).numpy()[0].astype(np.float64)
    steps = np.arange(len(ids))
    probabilities = np.exp(log_probs[steps, ids])
    np.testing.assert_allclose([token["probability"] for token in explanation["tokens"]], probabilities, rtol=1e-5)
    # The same weights without the copy head give the vocabulary side of the mixture:
    # p = p_gen · vocabulary + (1 − p_gen) · Σ attention on the token's positions.
    config = dict(summarizer.config.model.__dict__, copy=False)
    plain = build_summarizer(ModelConfig(**config))
    for layer in plain.layers:
        layer.set_weights(summarizer.model.get_layer(layer.name).get_weights())
    vocabulary = np.exp(plain(inputs).numpy()[0].astype(np.float64))
    vocabulary /= vocabulary.sum(-1, keepdims=True)
    attention = np.array(explanation["copy_attention"])
    np.testing.assert_allclose(attention.sum(-1), 1.0, atol=1e-5)
    copied = np.array([attention[step, encoder_ids[0] == token].sum() for step, token in enumerate(ids)])
    p_gen = np.array([token["p_gen"] for token in explanation["tokens"]])
    np.testing.assert_allclose(p_gen * vocabulary[steps, ids] + (1 - p_gen) * copied, probabilities, rtol=1e-4)
    shares = np.array([token["copied_share"] for token in explanation["tokens"]])
    np.testing.assert_allclose(shares, (1 - p_gen) * copied / probabilities, rtol=1e-4, atol=1e-6)


def test_evaluate_json_prints_one_object_and_its_progress_in_plain_lines_on_stderr(
    tiny_run, dialogue_files, capsys
):
    data = dialogue_files["valid"]
    assert main(["evaluate", tiny_run, "--json", "--data", data, "--beams", "1", "--batch-size", "4"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)  # the whole of standard output: one JSON object
    with open(os.path.join(tiny_run, "evaluation", "valid.beams1.rouge.json"), encoding="utf-8") as file:
        assert report == json.load(file)
    assert report["examples"] == 10 and {"rouge1", "rouge2", "rougeLsum"} <= set(report)
    # Standard error is not a terminal here: progress comes as plain lines, never redrawn.
    assert "documents 10/10 (100%)" in captured.err and "10 pairs to score" in captured.err
    assert "\r" not in captured.err and "\x1b" not in captured.err


def test_summarize_takes_its_options_between_the_texts(tiny_run, capsys):
    words = ["--beams", "1", "Tom: lunch at 5?", "--json", "Betty: a movie at 3?", "--batch-size", "2"]
    assert main(["summarize", tiny_run, *words, "--", "- Tom: hi"]) == 0
    captured = capsys.readouterr()
    records = [json.loads(line) for line in captured.out.splitlines()]  # progress stays off stdout
    assert [record["text"] for record in records] == ["Tom: lunch at 5?", "Betty: a movie at 3?", "- Tom: hi"]
    assert all(isinstance(record["summary"], str) for record in records)
    assert "documents 3/3 (100%)" in captured.err
