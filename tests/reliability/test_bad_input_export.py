"""Bad input to the exported artifacts: the SavedModel signatures, the onnxruntime wrapper,
and missing or truncated SavedModel and ONNX files.

Covered elsewhere: REST bodies of the wrong shape (tests/export/test_export_rest.py), a
fully padded row in ONNX (test_export_onnx.py), the empty text in serving_default
(test_export_saved_model.py), a summarization run given to export and a missing run
directory (test_export_command.py).
"""

import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from export.classifier.onnx_runner import OnnxClassifier
from export.serving import load_saved_model
from pipelines.common.errors import UserInputError
from reliability_helpers import truncate
from rest_mapping import predict as rest_predict

EMOJI_CJK = "😀 这部电影很好 🎬 a film ✨"
ONE_MEGABYTE = "a good , witty film . " * 50_000
TEXTS = ["a gorgeous , witty film", "", "   ", EMOJI_CJK, ONE_MEGABYTE, "flat and dull"]


@pytest.fixture(scope="module")
def saved_model(exported_version):
    return load_saved_model(exported_version)


@pytest.fixture(scope="module")
def onnx_classifier(exported_version):
    return OnnxClassifier.load(os.path.join(exported_version, "onnx"))


def serve(saved_model, texts):
    return saved_model.signatures["serving_default"](texts=tf.constant(texts))["probabilities"].numpy()


def predict_ids(saved_model, token_ids):
    return saved_model.signatures["predict_token_ids"](token_ids=token_ids)["probabilities"].numpy()


# -- answers ------------------------------------------------------------------------


def test_odd_texts_get_the_same_probabilities_from_every_runtime(saved_model, onnx_classifier, trained_classifier):
    served = serve(saved_model, TEXTS)
    assert np.all(np.isfinite(served))
    np.testing.assert_allclose(served.sum(axis=-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(onnx_classifier.predict_probabilities(TEXTS), served, atol=1e-5)
    np.testing.assert_allclose(trained_classifier.predict_probabilities(TEXTS), served, atol=1e-5)
    for index, text in enumerate(TEXTS):  # a batch of one answers like the batch
        np.testing.assert_allclose(serve(saved_model, [text])[0], served[index], atol=1e-6)
    assert onnx_classifier.tokenize([ONE_MEGABYTE]).shape == (1, trained_classifier.tokenizer.max_length)


def test_invalid_utf8_bytes_are_served_as_unknown_tokens(saved_model, trained_classifier):
    ids = saved_model.signatures["tokenize"](texts=tf.constant([b"\xff\xfe good"]))["token_ids"].numpy()
    vocabulary = trained_classifier.tokenizer.vocabulary
    assert ids.shape[0] == 1 and vocabulary[ids[0, 0]] == "[UNK]"
    assert np.all(np.isfinite(serve(saved_model, [b"\xff\xfe good"])))


def test_empty_batches_and_empty_sequences(saved_model, onnx_classifier):
    assert serve(saved_model, tf.constant([], tf.string)).shape == (0, 2)
    assert predict_ids(saved_model, tf.zeros((0, 4), tf.int32)).shape == (0, 2)
    assert onnx_classifier.predict([]) == []
    assert onnx_classifier.predict_token_ids(np.zeros((0, 4), np.int32)).shape == (0, 2)
    empty_text = serve(saved_model, [""])
    np.testing.assert_allclose(predict_ids(saved_model, tf.zeros((2, 0), tf.int32)), np.repeat(empty_text, 2, 0), atol=1e-6)
    np.testing.assert_allclose(onnx_classifier.predict_token_ids(np.zeros((2, 0), np.int32)), np.repeat(empty_text, 2, 0), atol=1e-5)


# -- errors: the SavedModel signatures ------------------------------------------------------


@pytest.mark.parametrize(
    "signature, inputs, message",
    [
        ("serving_default", {"texts": tf.constant("one scalar")}, r"Shape of tensor texts \[\] is not compatible with expected shape \[\?\]"),
        ("tokenize", {"texts": tf.constant([["a"], ["b"]])}, r"texts \[2,1\] is not compatible with expected shape \[\?\]"),
        ("serving_default", {"texts": tf.constant([1, 2])}, "expected to be a string tensor but is a int32 tensor"),
        ("predict_token_ids", {"token_ids": tf.constant([[1.0]])}, "expected to be a int32 tensor but is a float tensor"),
        ("predict_token_ids", {"token_ids": tf.constant([3, 4])}, r"token_ids \[2\] is not compatible with expected shape \[\?,\?\]"),
        ("predict_token_ids", {"token_ids": tf.fill((1, 3), 10**6)}, r"token_ids must be in \[0, \d+\): tokenize with assets/vocabulary.txt"),
        ("predict_token_ids", {"token_ids": tf.fill((1, 3), -2)}, r"token_ids must be in \[0, \d+\)"),
    ],
    ids=["scalar-text", "rank-2-texts", "int-texts", "float-ids", "rank-1-ids", "id-past-vocabulary", "negative-id"],
)
def test_wrong_dtype_rank_or_range_is_an_error_naming_the_input(saved_model, signature, inputs, message):
    """Never a crash (a scalar used to kill the process inside the tokenizer op) or an answer."""
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        saved_model.signatures[signature](**inputs)


def test_more_ids_than_the_learned_position_table_is_an_error_naming_the_limit(saved_model, onnx_classifier, trained_classifier):
    longest = trained_classifier.config.model.max_length
    ids = np.full((2, longest + 1), 5, np.int32)
    with pytest.raises(tf.errors.InvalidArgumentError, match=rf"at most {longest} columns \(the learned position table\)"):
        predict_ids(saved_model, ids)
    with pytest.raises(UserInputError, match=rf"more than the model's learned position table of {longest}"):
        onnx_classifier.predict_token_ids(ids)
    answers = predict_ids(saved_model, ids[:, :longest])  # the longest allowed is answered
    np.testing.assert_allclose(onnx_classifier.predict_token_ids(ids[:, :longest]), answers, atol=1e-5)
    np.testing.assert_allclose(trained_classifier.model(ids[:, :longest]).numpy(), answers, atol=1e-5)


def test_rest_errors_carry_the_line_that_names_the_problem(saved_model):
    response = rest_predict(saved_model, {"signature_name": "predict_token_ids", "instances": [[1, 10**6]]})
    assert set(response) == {"error"} and response["error"].startswith("assertion failed: [token_ids must be in [0, ")


# -- errors: the onnxruntime wrapper ------------------------------------------------------


@pytest.mark.parametrize(
    "token_ids, message",
    [
        (np.ones(4, np.int32), r"token_ids must be 2-D \(batch, sequence\); got shape \(4,\)"),
        (np.ones((1, 2, 4), np.int32), r"must be 2-D"),
        (np.full((1, 4), 1.7), r"token_ids must be integers; got dtype float64"),
        (np.full((1, 4), -1), r"token ids must be in \[0, \d+\) \(the vocabulary\); got -1 to -1"),
        (np.full((1, 4), 10**6), r"got 1000000 to 1000000 — tokenize with this version's tokenizer.json"),
    ],
    ids=["rank-1", "rank-3", "float", "negative", "past-vocabulary"],
)
def test_onnx_token_ids_of_the_wrong_rank_dtype_or_range_are_refused(onnx_classifier, token_ids, message):
    with pytest.raises(UserInputError, match=message):
        onnx_classifier.predict_token_ids(token_ids)


def test_onnx_ids_up_to_the_last_vocabulary_entry_are_answered(onnx_classifier, saved_model):
    last = onnx_classifier.vocabulary_size - 1
    ids = np.array([[last, 5, 0]], np.int32)
    np.testing.assert_allclose(onnx_classifier.predict_token_ids(ids), predict_ids(saved_model, ids), atol=1e-5)


@pytest.mark.parametrize(
    "texts, message",
    [
        ("a good film", "got one string; pass a list"),
        ([b"\xff good"], "text 1 is not valid UTF-8"),
        (["ok", 3], "text 2 is a int, not a string"),
    ],
)
def test_onnx_texts_that_are_not_a_list_of_strings_are_refused(onnx_classifier, texts, message):
    with pytest.raises(UserInputError, match=message):
        onnx_classifier.predict(texts)


# -- missing and truncated artifacts --------------------------------------------------------


@pytest.fixture
def version_copy(exported_version, tmp_path):
    destination = tmp_path / "1"
    shutil.copytree(exported_version, destination)
    return str(destination)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: truncate(os.path.join(d, "onnx", "classifier.onnx")), r"classifier.onnx: not a loadable ONNX model \(.*\); it is truncated or corrupted — export the run again"),
        (lambda d: os.remove(os.path.join(d, "onnx", "classifier.onnx")), r"classifier.onnx not found; copy the whole onnx/ folder"),
        (lambda d: truncate(os.path.join(d, "onnx", "tokenizer.json")), r"tokenizer.json: cannot be loaded .*; export the run again"),
        (lambda d: truncate(os.path.join(d, "onnx", "config.json")), r"config.json: not valid JSON"),
        (lambda d: shutil.rmtree(os.path.join(d, "onnx")), r"config.json not found; pass the onnx/ folder of an exported version"),
    ],
    ids=["truncated-model", "missing-model", "truncated-tokenizer", "truncated-config", "missing-folder"],
)
def test_a_broken_onnx_folder_is_a_one_line_error(version_copy, damage, message):
    damage(version_copy)
    with pytest.raises(UserInputError, match=message) as error:
        OnnxClassifier.load(os.path.join(version_copy, "onnx"))
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: truncate(os.path.join(d, "saved_model.pb")), r"not a loadable SavedModel \(Cannot parse file"),
        (lambda d: os.remove(os.path.join(d, "saved_model.pb")), r"not a loadable SavedModel \(SavedModel file does not exist"),
        (lambda d: truncate(os.path.join(d, "variables", "variables.data-00000-of-00001")), r"not a loadable SavedModel"),
    ],
    ids=["truncated-graph", "missing-graph", "truncated-variables"],
)
def test_a_broken_saved_model_is_a_one_line_error(version_copy, damage, message):
    damage(version_copy)
    with pytest.raises(UserInputError, match=message) as error:
        load_saved_model(version_copy)
    assert "\n" not in str(error.value) and "export the run again" in str(error.value)
