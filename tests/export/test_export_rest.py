"""REST bodies in `instances` and `inputs` form map to signature calls with the documented responses."""

import pytest
import tensorflow as tf

from rest_mapping import predict

TEXTS = ["a gorgeous , witty film", "flat and dull"]


def test_row_format_gives_one_object_per_instance(saved_model, classifier_run):
    response = predict(saved_model, {"instances": TEXTS})
    predictions = response["predictions"]
    assert len(predictions) == 2
    for prediction in predictions:
        assert set(prediction) == {"probabilities", "label", "label_id"}
        assert len(prediction["probabilities"]) == 2
        assert prediction["label"] == classifier_run.labels[prediction["label_id"]]
        assert isinstance(prediction["label"], str)


def test_row_format_with_named_inputs_matches_bare_values(saved_model):
    named = predict(saved_model, {"instances": [{"texts": text} for text in TEXTS]})
    assert named == predict(saved_model, {"instances": TEXTS})


def test_columnar_format_gives_one_list_per_output(saved_model):
    response = predict(saved_model, {"signature_name": "serving_default", "inputs": {"texts": TEXTS}})
    outputs = response["outputs"]
    assert set(outputs) == {"probabilities", "label", "label_id"}
    assert len(outputs["probabilities"]) == 2 and len(outputs["label"]) == 2
    rows = predict(saved_model, {"instances": TEXTS})["predictions"]
    assert [row["label_id"] for row in rows] == outputs["label_id"]
    assert predict(saved_model, {"inputs": TEXTS}) == response  # bare value for the single input


def test_token_id_signature_over_rest(saved_model):
    token_ids = saved_model.signatures["tokenize"](texts=tf.constant(TEXTS))["token_ids"].numpy().tolist()
    by_ids = predict(saved_model, {"signature_name": "predict_token_ids", "instances": token_ids})
    by_texts = predict(saved_model, {"instances": TEXTS})
    assert [p["label"] for p in by_ids["predictions"]] == [p["label"] for p in by_texts["predictions"]]
    assert by_ids["predictions"][0]["probabilities"] == pytest.approx(by_texts["predictions"][0]["probabilities"], abs=1e-6)
    tokens = predict(saved_model, {"signature_name": "tokenize", "inputs": TEXTS})
    assert tokens == {"outputs": token_ids}  # a single output is returned bare


@pytest.mark.parametrize(
    "body, message",
    [
        ({"instances": TEXTS, "inputs": TEXTS}, "exactly one of"),
        ({"signature_name": "nope", "instances": TEXTS}, "not found"),
        ({"instances": [{"text": "x"}]}, "inputs ['texts']"),
        ({"signature_name": "predict_token_ids", "instances": [[1, 2], [3]]}, "token_ids"),
    ],
)
def test_bad_requests_get_an_error_object(saved_model, body, message):
    response = predict(saved_model, body)
    assert set(response) == {"error"} and message in response["error"]
