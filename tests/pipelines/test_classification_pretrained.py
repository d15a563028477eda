"""`train --init-from`: a classifier fine-tuned from a pretrained BERT-family checkpoint.

Most tests use a tiny random checkpoint written by `tiny_bert` (letters and word
pieces of letters in its vocabulary, so every English word tokenizes); one runs
a short fine-tune of the real MiniLM checkpoint.
"""

import hashlib
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from pipelines.classification.cli import build_parser
from pipelines.classification.cli import config_from_arguments
from pipelines.classification.cli import main
from pipelines.classification.config import ClassifierConfig
from pipelines.classification.text_classifier import TextClassifier
from pipelines.classification.trained import TrainedClassifier
from pipelines.classification.training import sample_rows
from pipelines.classification.training import train_classifier
from pipelines.common.run_directory import RunDirectory
from pipelines.common.run_tokenizer import load_tokenizer
from pipelines.pretrained.checkpoint import read_checkpoint
from pipelines.pretrained.tokenizer import CheckpointTokenizer
from tiny_bert import write_tiny_bert_checkpoint


def pretrained_command(data, out, init_from, *extra):
    return [
        "train", "--init-from", str(init_from),
        "--train", data["train"], "--valid", data["valid"], "--test", data["test"],
        "--text-column", "sentence", "--label-column", "label",
        "--out", str(out), "--epochs", "1", "--max-length", "32", "--verbose", "0",
        *extra,
    ]


@pytest.fixture(scope="session")
def pretrained_run(tiny_data, tiny_bert_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "pretrained"
    assert main(pretrained_command(tiny_data, out, tiny_bert_dir, "--learning-rate", "1e-3")) == 0
    return str(out)


def sha256_of(path):
    with open(path, "rb") as file:
        return hashlib.sha256(file.read()).hexdigest()


def test_config_records_the_checkpoint_and_its_architecture(pretrained_run, tiny_bert_dir):
    config = ClassifierConfig.load(RunDirectory(pretrained_run).config_path)
    assert config.model.init_from == tiny_bert_dir
    assert config.model.checkpoint == {
        "path": os.path.abspath(tiny_bert_dir),
        "name": "tiny/bert",
        "sha256": sha256_of(os.path.join(tiny_bert_dir, "model.safetensors")),
        "licence": "apache-2.0",
        "model_type": "bert",
    }
    model = config.model
    assert (model.vocabulary_size, model.embedding_dim, model.num_blocks, model.num_heads) == (100, 16, 2, 2)
    assert model.encoder["activation"] == "gelu_exact" and model.encoder["layer_norm_epsilon"] == 1e-12
    # The fine-tuning defaults, except what the command set.
    assert (config.training.batch_size, config.training.label_smoothing, config.training.warmup_fraction) == (
        32, 0.0, 0.1,
    )
    assert config.training.learning_rate == 1e-3 and config.tokenizer.max_length == 32


def test_run_uses_the_checkpoint_tokenizer(pretrained_run):
    tokenizer = load_tokenizer(RunDirectory(pretrained_run).tokenizer_dir)
    assert isinstance(tokenizer, CheckpointTokenizer)
    token_ids = tokenizer.tokenize(["a good film"]).numpy()[0]
    assert token_ids[0] == tokenizer.cls_id and token_ids[-1] == tokenizer.sep_id


def test_predict_evaluate_and_explain_work_on_the_run(pretrained_run, tiny_data, tmp_path, capsys):
    assert main(["predict", pretrained_run, "a good film", "a dull film", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["text"] for line in lines] == ["a good film", "a dull film"]
    assert main(["evaluate", pretrained_run, "--data", tiny_data["test"]]) == 0
    capsys.readouterr()
    explanation = TrainedClassifier.load(pretrained_run).explain("a good film")
    assert explanation.tokens[0] == "[CLS]" and explanation.tokens[-1] == "[SEP]"
    np.testing.assert_allclose(explanation.weights.sum(axis=-1), 1.0, rtol=1e-5)
    assert main(["explain", pretrained_run, "a good film", "--out", str(tmp_path / "why.png")]) == 0


class StartingWeights(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.model_class = type(self.model)
        embedding = self.model.get_layer("embedding")
        self.word_embeddings = np.array(embedding.token_embedding.embeddings)
        block = self.model.get_layer("encoder_block_1")
        self.last_output_kernel = np.array(block.feed_forward.output_dense.kernel)


def test_training_starts_from_the_checkpoint_weights(tiny_data, tiny_bert_dir, tmp_path):
    command = pretrained_command(tiny_data, tmp_path / "run", tiny_bert_dir)
    config = config_from_arguments(build_parser().parse_args(command))
    recorder = StartingWeights()
    train_classifier(config, str(tmp_path / "run"), callbacks=[recorder], verbose=0, log=lambda _: None)
    assert recorder.model_class is TextClassifier  # the one way to build a fine-tuned classifier
    weights = read_checkpoint(tiny_bert_dir).weights
    np.testing.assert_array_equal(recorder.word_embeddings, weights["embeddings.word_embeddings.weight"])
    np.testing.assert_array_equal(recorder.last_output_kernel, weights["encoder.layer.1.output.dense.weight"].T)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--embedding-dim", "32"], "--embedding-dim is fixed by the checkpoint"),
        (["--num-heads", "4"], "--num-heads is fixed by the checkpoint"),
        (["--max-length", "65"], "exceeds the checkpoint's 64 positions"),
        (["--pooling-heads", "3"], "--pooling-heads 3 does not divide the checkpoint's width 16"),
    ],
)
def test_settings_the_checkpoint_fixes_are_one_line_errors(tiny_data, tiny_bert_dir, tmp_path, capsys, extra, message):
    out = tmp_path / "run"
    assert main(pretrained_command(tiny_data, out, tiny_bert_dir, *extra)) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1
    assert not out.exists()  # nothing left behind


def test_an_unusable_checkpoint_leaves_no_run_directory(tiny_data, tmp_path, capsys):
    checkpoint = tmp_path / "only_pickle"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text(json.dumps({"model_type": "bert"}))
    out = tmp_path / "run"
    assert main(pretrained_command(tiny_data, out, tmp_path / "nowhere")) == 2
    assert "not found" in capsys.readouterr().err
    write_tiny_bert_checkpoint(checkpoint)
    os.remove(checkpoint / "model.safetensors")
    (checkpoint / "pytorch_model.bin").write_bytes(b"pickle")
    assert main(pretrained_command(tiny_data, out, checkpoint)) == 2
    error = capsys.readouterr().err.strip()
    assert "pickle" in error and len(error.splitlines()) == 1
    assert not out.exists()


class SimulatedKill(Exception):
    pass


class KillAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.weights = [np.array(w) for w in self.model.get_weights()]
        raise SimulatedKill()


class FirstWeights(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if not hasattr(self, "weights"):
            self.weights = [np.array(w) for w in self.model.get_weights()]


def test_an_interrupted_fine_tune_resumes_from_its_backup(tiny_data, tiny_bert_dir, tmp_path):
    out = tmp_path / "run"
    command = pretrained_command(tiny_data, out, tiny_bert_dir, "--epochs", "2")
    killer = KillAfterFirstEpoch()
    with pytest.raises(SimulatedKill):
        train_classifier(
            config_from_arguments(build_parser().parse_args(command)), str(out), callbacks=[killer], verbose=0,
            log=lambda _: None,
        )
    resumed = FirstWeights()
    messages = []
    train_classifier(
        config_from_arguments(build_parser().parse_args(command)), str(out), callbacks=[resumed], verbose=0,
        log=messages.append,
    )
    assert any(message.startswith("resuming") for message in messages)
    for restored, saved in zip(resumed.weights, killer.weights):  # the backup, not the checkpoint
        np.testing.assert_array_equal(restored, saved)
    assert RunDirectory(out).is_finished()


def test_help_states_both_defaults():
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.classification", "train", "--help"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0
    help_text = " ".join(result.stdout.split())
    assert "--init-from" in help_text
    assert "(default: 0.001; 5e-05 with --init-from)" in help_text
    assert "fixed by the checkpoint with --init-from" in help_text
    assert "None" not in help_text


def test_minilm_fine_tunes_a_few_steps(tiny_data, tmp_path):
    """The real checkpoint end to end: its tokenizer, weights and a finished run."""
    out = tmp_path / "minilm"
    assert main(pretrained_command(tiny_data, out, "minilm", "--max-length", "16", "--batch-size", "64")) == 0
    metrics = json.load(open(RunDirectory(out).metrics_path))
    assert np.isfinite(json.load(open(RunDirectory(out).history_path))["epochs"][0]["loss"])
    assert metrics["test"]["examples"] == 60
    config = ClassifierConfig.load(RunDirectory(out).config_path)
    assert config.model.checkpoint["sha256"].startswith("53aa5117")
    assert config.model.checkpoint["name"] == "sentence-transformers/all-MiniLM-L6-v2"


def test_cls_pooling_trains_and_explain_says_why_it_cannot(tiny_data, tiny_bert_dir, tmp_path, capsys):
    out = tmp_path / "cls"
    assert main(pretrained_command(tiny_data, out, tiny_bert_dir, "--pooling", "cls")) == 0
    model = TrainedClassifier.load(str(out)).model
    assert all(layer.name != "attention_pooling" for layer in model.layers)
    assert main(["explain", str(out), "a good film", "--out", str(tmp_path / "why.png")]) == 2
    assert "pools the [CLS] vector" in capsys.readouterr().err


def test_cls_pooling_without_a_checkpoint_is_refused(tiny_data, tmp_path, capsys):
    from synthetic_data import train_command

    assert main(train_command(tiny_data, tmp_path / "run", "--pooling", "cls")) == 2
    assert "--pooling cls pools a pretrained checkpoint's [CLS] token" in capsys.readouterr().err


def test_frozen_token_embeddings_keep_the_checkpoint_values(tiny_data, tiny_bert_dir, tmp_path):
    out = tmp_path / "frozen"
    command = pretrained_command(
        tiny_data, out, tiny_bert_dir, "--freeze-token-embeddings", "--learning-rate", "1e-2", "--train-sample", "120"
    )
    messages = []
    train_classifier(config_from_arguments(build_parser().parse_args(command)), str(out), verbose=0, log=messages.append)
    embedding = TrainedClassifier.load(str(out)).model.get_layer("embedding")
    weights = read_checkpoint(tiny_bert_dir).weights
    np.testing.assert_array_equal(np.array(embedding.token_embedding.embeddings), weights["embeddings.word_embeddings.weight"])
    # Everything else still trains.
    assert not np.array_equal(np.array(embedding.norm.gamma), weights["embeddings.LayerNorm.weight"])
    assert any(message.startswith(f"word-piece embeddings fixed: {100 * 16} of") for message in messages)
    config = ClassifierConfig.load(RunDirectory(out).config_path)
    assert config.training.freeze_token_embeddings is True and config.data.train_sample == 120
    assert json.load(open(RunDirectory(out).metrics_path))["training"]["train_examples"] == 120


def test_freezing_embeddings_without_a_checkpoint_is_refused(tiny_data, tmp_path, capsys):
    from synthetic_data import train_command

    out = tmp_path / "run"
    assert main(train_command(tiny_data, out, "--freeze-token-embeddings")) == 2
    error = capsys.readouterr().err.strip()
    assert "--freeze-token-embeddings keeps pretrained embeddings fixed; add --init-from" in error
    assert len(error.splitlines()) == 1 and not out.exists()


def test_train_sample_is_a_seeded_subset_in_file_order():
    texts, labels = [f"text {index}" for index in range(300)], np.arange(300) % 2
    messages = []
    first = sample_rows((texts, labels), 100, seed=7, log=messages.append)
    again = sample_rows((texts, labels), 100, seed=7, log=lambda _: None)
    other = sample_rows((texts, labels), 100, seed=8, log=lambda _: None)
    assert first[0] == again[0] and first[0] != other[0]
    indices = [int(text.split()[1]) for text in first[0]]
    assert indices == sorted(set(indices)) and len(indices) == 100
    np.testing.assert_array_equal(first[1], labels[indices])
    assert messages == ["training on a random sample of 100 of 300 rows (--train-sample, seed 7)"]
    assert sample_rows((texts, labels), 300, seed=7, log=messages.append)[0] is texts
    assert "only 300 rows; using all" in messages[-1]
