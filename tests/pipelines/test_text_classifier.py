"""`TextClassifier`: a fine-tuned checkpoint as a Keras object, on raw strings.

Every test uses a tiny random checkpoint (`tiny_bert`); the real MiniLM one is the
docstring example's.
"""

import json
import os
import shutil
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from pipelines.classification.cli import main
from pipelines.classification.labels import LabelEncoder
from pipelines.classification.text_classifier import TextClassifier
from pipelines.classification.trained import TrainedClassifier
from pipelines.common.errors import UserInputError
from pipelines.common.tables import read_table
from tiny_bert import CLASSIFIER_CHECKPOINT
from tiny_bert import write_tiny_bert_checkpoint

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAX_LENGTH = 32
EDGE_TEXTS = ["", "a", "the film is good " * 20]


@pytest.fixture(scope="module")
def splits(tiny_data):
    """{split: (texts, class ids)} of the tiny tables, classes as `train` numbers them."""
    tables = {split: read_table(tiny_data[split], "sentence", "label") for split in ("train", "valid", "test")}
    labels = LabelEncoder.fit(tables["train"].labels)
    return {split: labels.encode_table(table) for split, table in tables.items()}


@pytest.fixture(scope="module")
def classifier(splits, tmp_path_factory):
    """Fine-tuned for one epoch with `fit`'s defaults, from a checkpoint deleted once it
    is built: nothing below reads the checkpoint again."""
    checkpoint = tmp_path_factory.mktemp("checkpoint") / "tiny_bert"
    write_tiny_bert_checkpoint(checkpoint, **CLASSIFIER_CHECKPOINT)
    keras.utils.set_random_seed(3)
    classifier = TextClassifier.from_checkpoint(str(checkpoint), num_classes=2, max_length=MAX_LENGTH)
    shutil.rmtree(checkpoint)
    classifier.fit(*splits["train"], epochs=1, verbose=0)
    return classifier


def test_fit_evaluate_and_predict_take_raw_strings(classifier, splits):
    texts, label_ids = splits["valid"]
    probabilities = classifier.predict(texts, verbose=0)
    assert probabilities.shape == (len(texts), 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    loss, accuracy = classifier.evaluate(texts, label_ids, verbose=0)
    assert accuracy == pytest.approx(np.mean(probabilities.argmax(axis=1) == label_ids), abs=1e-6)
    assert np.isfinite(loss)


def test_predict_answers_in_input_order_each_text_as_alone(classifier, splits):
    texts = EDGE_TEXTS[::-1] + splits["valid"][0][:1]  # batches are sorted by length inside
    together = classifier.predict(texts, verbose=0)
    alone = np.concatenate([classifier.predict([text], verbose=0) for text in texts])
    np.testing.assert_allclose(together, alone, atol=1e-6)
    assert np.isfinite(together).all()
    assert classifier.predict([], verbose=0).shape == (0, 2)


def test_a_dataset_of_texts_is_tokenized_by_the_preprocessor_in_tf_data(classifier, splits):
    texts, label_ids = splits["valid"]
    dataset = tf.data.Dataset.from_tensor_slices((texts, label_ids)).batch(16)
    np.testing.assert_allclose(
        classifier.predict(dataset.map(lambda batch, _: batch), verbose=0),
        classifier.predict(texts, verbose=0),
        atol=1e-6,
    )
    loss, accuracy = classifier.evaluate(dataset, verbose=0)
    assert [loss, accuracy] == pytest.approx(classifier.evaluate(texts, label_ids, verbose=0), abs=1e-5)
    with pytest.raises(UserInputError, match=r"must yield batches \(1-D strings\).*dataset.batch\(32\)"):
        classifier.predict(tf.data.Dataset.from_tensor_slices(texts), verbose=0)


def test_fit_compiles_with_the_fine_tuning_defaults_of_train(classifier):
    optimizer = classifier.optimizer
    assert isinstance(optimizer, keras.optimizers.AdamW) and optimizer.clipnorm == 1.0
    assert optimizer.weight_decay == pytest.approx(0.01)
    schedule = optimizer.get_config()["learning_rate"]
    assert schedule["class_name"] == "CosineDecay"
    total = schedule["config"]["warmup_steps"] + schedule["config"]["decay_steps"]
    assert schedule["config"]["warmup_target"] == pytest.approx(5e-5)
    assert schedule["config"]["warmup_steps"] == int(0.1 * total)
    # The schedule spans exactly the steps the fit took, and ended at 0.
    assert total == int(optimizer.iterations) and float(optimizer.learning_rate) == 0.0
    assert classifier.loss.get_config()["label_smoothing"] == 0.0
    training = classifier.training_config
    assert (training.epochs, training.batch_size, training.learning_rate) == (1, 32, 5e-5)


def test_a_compile_of_your_own_is_kept_and_trains(splits, tiny_bert_dir):
    keras.utils.set_random_seed(4)
    classifier = TextClassifier.from_checkpoint(tiny_bert_dir, num_classes=2, max_length=MAX_LENGTH)
    optimizer = keras.optimizers.Adam(3e-3)
    classifier.compile(optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"])
    history = classifier.fit(*splits["train"], epochs=2, batch_size=64, verbose=0)
    assert classifier.optimizer is optimizer
    assert history.history["loss"][1] < history.history["loss"][0]
    assert classifier.training_config is None  # `fit` chose nothing


def test_save_and_load_model_round_trip_without_the_checkpoint(classifier, splits, tmp_path):
    texts = splits["valid"][0][:8] + EDGE_TEXTS
    path = str(tmp_path / "classifier.keras")
    classifier.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(reloaded, TextClassifier) and reloaded.get_config() == classifier.get_config()
    np.testing.assert_array_equal(reloaded.predict(texts, verbose=0), classifier.predict(texts, verbose=0))
    # `fit`'s own compile was saved as such: the next fit compiles afresh, as it would have.
    loaded_optimizer = reloaded.optimizer
    reloaded.fit(texts[:8], splits["valid"][1][:8], verbose=0)
    assert reloaded.optimizer is not loaded_optimizer


def test_a_reloaded_compile_of_your_own_is_kept(splits, tiny_bert_dir, tmp_path):
    texts, label_ids = (part[:20] for part in splits["valid"])
    path = str(tmp_path / "compiled.keras")
    classifier = TextClassifier.from_checkpoint(tiny_bert_dir, num_classes=2, max_length=MAX_LENGTH)
    classifier.compile(optimizer=keras.optimizers.SGD(1e-3), loss="categorical_crossentropy", metrics=["accuracy"])
    classifier.save(path)
    reloaded = keras.saving.load_model(path)
    loaded_optimizer = reloaded.optimizer
    reloaded.fit(texts, label_ids, verbose=0)
    assert reloaded.optimizer is loaded_optimizer and isinstance(loaded_optimizer, keras.optimizers.SGD)


def test_the_command_lines_run_directory_is_written_from_python(classifier, splits, tiny_data, tmp_path, capsys):
    test = read_table(tiny_data["test"], "sentence", "label")
    valid = read_table(tiny_data["valid"], "sentence", "label")  # one row has a label training never saw
    out = classifier.save_run(tmp_path / "run", class_names=["neg", "pos"], valid=valid, test=test)
    assert out == str(tmp_path / "run")
    assert valid.bad_rows.total == 0  # the caller's table is left as it was

    config = json.load(open(os.path.join(out, "config.json")))
    assert config["task"] == "classification"
    assert config["data"]["test"] == os.path.abspath(tiny_data["test"])
    assert (config["data"]["text_column"], config["data"]["class_names"]) == ("sentence", ["neg", "pos"])
    assert config["model"] == json.loads(json.dumps(classifier.get_config()["model_config"]))
    with zipfile.ZipFile(os.path.join(out, "model.keras")) as archive:  # the file `train` writes
        assert json.loads(archive.read("config.json"))["class_name"] == "Functional"
    metrics = json.load(open(os.path.join(out, "metrics.json")))
    _, accuracy = classifier.evaluate(*splits["test"], verbose=0)
    assert metrics["test"]["accuracy"] == pytest.approx(accuracy, abs=1e-6)
    assert metrics["bad_rows"]["valid"]["counts"]["unknown_label"] == 1

    assert main(["evaluate", out, "--data", tiny_data["test"], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == pytest.approx(accuracy, abs=1e-6)
    texts = splits["test"][0][:3]
    assert main(["predict", out, *texts, "--json"]) == 0
    answers = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    expected = classifier.predict(texts, verbose=0)
    for answer, row in zip(answers, expected):
        assert answer["label"] == ["neg", "pos"][int(row.argmax())]
        assert answer["probabilities"]["pos"] == pytest.approx(row[1], abs=1e-6)
    assert main(["explain", out, texts[0], "--out", str(tmp_path / "why.png")]) == 0
    assert "[CLS]" in capsys.readouterr().out


def test_save_run_refuses_a_directory_in_use(classifier, tmp_path):
    out = classifier.save_run(tmp_path / "run")
    with pytest.raises(UserInputError, match="is not empty; choose another directory or pass overwrite=True"):
        classifier.save_run(out)
    assert classifier.save_run(out, overwrite=True) == out
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "mine.txt").write_text("keep me")
    with pytest.raises(UserInputError, match="holds files but no run; refusing to delete them"):
        classifier.save_run(tmp_path / "notes", overwrite=True)
    assert (tmp_path / "notes" / "mine.txt").exists()


@pytest.mark.parametrize(
    "x, y, message",
    [
        (["a good film"], ["pos"], r"labels must be class ids 0..1, got 'pos'.*LabelEncoder.fit\(labels\)"),
        (["a good film"], [2], r"label 2 is not a class id of this 2-class classifier \(0..1\)"),
        (["a good film", "a bad film"], [1], r"got 2 texts and labels of shape \(1,\); pass one class id per text"),
        ("a good film", [1], r"got one string; pass a list: \[text\]"),
        (["a good film"], None, r"fit needs labels: fit\(texts, class_ids\)"),
    ],
)
def test_bad_training_data_is_a_one_line_error(classifier, x, y, message):
    with pytest.raises(UserInputError, match=message) as error:
        classifier.fit(x, y, verbose=0)
    assert len(str(error.value).splitlines()) == 1


@pytest.mark.parametrize(
    "arguments, error, message",
    [
        ({"num_classes": 1}, ValueError, r"`num_classes` must be an integer of at least 2. Received: num_classes=1"),
        ({"max_length": 65}, UserInputError, r"max_length=65 exceeds the checkpoint's 64 positions; pass max_length=64"),
        ({"pooling_heads": 3}, UserInputError, r"pooling_heads=3 does not divide the checkpoint's width 16"),
        ({"dropout": 1.5}, ValueError, r"`dropout` must be a number in \[0, 1\). Received: dropout=1.5"),
        ({"pooling": "mean"}, ValueError, r"`pooling` must be one of \('attention', 'cls'\)"),
    ],
)
def test_bad_settings_name_the_argument(tiny_bert_dir, arguments, error, message):
    with pytest.raises(error, match=message):
        TextClassifier.from_checkpoint(tiny_bert_dir, **{"num_classes": 2, "max_length": MAX_LENGTH, **arguments})


# Run in a child process: op determinism cannot be switched off again in this one.
PARITY_SCRIPT = """
import json, sys
import keras, tensorflow as tf
from pipelines.classification.cli import main
from pipelines.classification.labels import LabelEncoder
from pipelines.classification.text_classifier import TextClassifier
from pipelines.common.tables import read_table

checkpoint, train_file, valid_file, out, seed = sys.argv[1:]
tf.config.experimental.enable_op_determinism()
command = ["train", "--init-from", checkpoint, "--train", train_file, "--valid", valid_file,
           "--text-column", "sentence", "--label-column", "label", "--out", out, "--epochs", "1",
           "--max-length", "32", "--seed", seed, "--progress", "none"]
assert main(command) == 0

keras.utils.set_random_seed(int(seed))
train, valid = (read_table(path, "sentence", "label") for path in (train_file, valid_file))
labels = LabelEncoder.fit(train.labels)
valid_texts, valid_ids = labels.encode_table(valid)
classifier = TextClassifier.from_checkpoint(checkpoint, num_classes=2, max_length=32)
untrained = classifier.predict(valid_texts, verbose=0)
classifier.fit(train.texts, labels.encode(train.labels), epochs=1, seed=int(seed), verbose=0)
print(json.dumps({
    "accuracy": classifier.evaluate(valid_texts, valid_ids, return_dict=True, verbose=0)["accuracy"],
    "probabilities": classifier.predict(valid_texts, verbose=0).tolist(),
    "untrained": untrained.tolist(),
    "model_config": classifier.get_config()["model_config"],
}))
"""


def test_a_fine_tune_from_python_equals_train_init_from(tiny_bert_dir, tiny_data, tmp_path):
    out = tmp_path / "cli_run"
    result = subprocess.run(
        [sys.executable, "-c", PARITY_SCRIPT, tiny_bert_dir, tiny_data["train"], tiny_data["valid"], str(out), "5"],
        capture_output=True, text=True, timeout=1800, cwd=REPOSITORY,
        env={**os.environ, "KERAS_BACKEND": "tensorflow", "PYTHONPATH": REPOSITORY},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    python = json.loads(result.stdout.strip().splitlines()[-1])
    metrics = json.load(open(out / "metrics.json"))
    assert round(python["accuracy"], 4) == round(metrics["valid"]["accuracy"], 4)
    # Closer than the accuracy shows: the same steps, in the same order, from the same start.
    run = TrainedClassifier.load(str(out))
    valid = read_table(tiny_data["valid"], "sentence", "label")
    cli_probabilities = run.predict_probabilities(run.labels.encode_table(valid)[0])
    np.testing.assert_allclose(python["probabilities"], cli_probabilities, atol=1e-6)
    assert np.abs(np.array(python["probabilities"]) - python["untrained"]).max() > 1e-4  # the fit moved them
    assert python["model_config"] == json.load(open(out / "config.json"))["model"]


JAX_SCRIPT = """
import json, sys
import keras, numpy as np, tensorflow as tf
from pipelines.classification.text_classifier import TextClassifier

assert keras.backend.backend() == "jax"
checkpoint, path = sys.argv[1:]
texts = ["a good film", "a dull film", "it is great .", "boring and flat", "", "the acting is funny"] * 4
label_ids = [1, 0, 1, 0, 0, 1] * 4
classifier = TextClassifier.from_checkpoint(checkpoint, num_classes=2, max_length=32)
history = classifier.fit(texts, label_ids, epochs=2, batch_size=8, verbose=0)
loss, accuracy = classifier.evaluate(texts, label_ids, verbose=0)
dataset = tf.data.Dataset.from_tensor_slices(texts).batch(5)
expected = classifier.predict(texts, verbose=0)
classifier.save(path)
reloaded = keras.saving.load_model(path, safe_mode=True)
print(json.dumps({
    "losses": history.history["loss"] + [loss],
    "reloaded_equal": bool((reloaded.predict(texts, verbose=0) == expected).all()),
    "dataset_difference": float(np.abs(classifier.predict(dataset, verbose=0) - expected).max()),
}))
"""


def test_fit_predict_save_and_load_on_jax(tiny_bert_dir, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", JAX_SCRIPT, tiny_bert_dir, str(tmp_path / "jax.keras")],
        capture_output=True, text=True, timeout=1800, cwd=REPOSITORY,
        env={**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": REPOSITORY},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert np.isfinite(answer["losses"]).all()
    assert answer["reloaded_equal"]
    assert answer["dataset_difference"] < 1e-6


def test_the_package_exports_every_name_from_its_home_module():
    import importlib

    import pipelines.classification as package

    assert "TextClassifier" in package.__all__ and package.TextClassifier is TextClassifier
    for name in package.__all__:
        value = getattr(package, name)
        assert value is getattr(importlib.import_module(package._EXPORTS[name]), name)
        assert value.__module__ == package._EXPORTS[name]  # its definition, not a re-import
