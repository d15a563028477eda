"""The SavedModel's contract with TF Serving: signatures, dtypes, named outputs."""

import os
import subprocess
import sys

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import types_pb2

SIGNATURES = {
    "serving_default": ({"texts": tf.string}, {"probabilities": tf.float32, "label": tf.string, "label_id": tf.int32}),
    "predict_token_ids": ({"token_ids": tf.int32}, {"probabilities": tf.float32, "label": tf.string, "label_id": tf.int32}),
    "tokenize": ({"texts": tf.string}, {"token_ids": tf.int32}),
}
TEXTS = ["a gorgeous , witty film", "flat , dull and far too long", ""]


def test_layout_is_what_tf_serving_expects(version_dir):
    for path in ("saved_model.pb", "variables/variables.index", "assets/vocabulary.txt",
                 "assets.extra/tf_serving_warmup_requests"):
        assert os.path.isfile(os.path.join(version_dir, path)), path
    assert os.path.basename(version_dir) == "1"


def test_signatures_have_named_inputs_outputs_and_dtypes(saved_model):
    assert set(SIGNATURES) <= set(saved_model.signatures)
    for name, (inputs, outputs) in SIGNATURES.items():
        signature = saved_model.signatures[name]
        specs = signature.structured_input_signature[1]
        assert {key: spec.dtype for key, spec in specs.items()} == inputs, name
        assert {key: spec.dtype for key, spec in signature.structured_outputs.items()} == outputs, name
        assert all(spec.shape[0] is None for spec in specs.values()), "batch must be dynamic"


def test_serving_default_answers_texts(saved_model, classifier_run):
    outputs = saved_model.signatures["serving_default"](texts=tf.constant(TEXTS))
    probabilities = outputs["probabilities"].numpy()
    label_id = outputs["label_id"].numpy()
    assert probabilities.shape == (3, 2)
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, atol=1e-6)
    assert label_id.tolist() == probabilities.argmax(axis=-1).tolist()
    assert [label.decode() for label in outputs["label"].numpy()] == [classifier_run.labels[i] for i in label_id]
    token_ids = classifier_run.tokenizer.tokenize(TEXTS)
    np.testing.assert_allclose(probabilities, classifier_run.model(token_ids).numpy(), atol=1e-6)


def test_token_id_and_tokenize_signatures_agree_with_serving_default(saved_model):
    token_ids = saved_model.signatures["tokenize"](texts=tf.constant(TEXTS))["token_ids"]
    assert token_ids.shape[0] == 3 and not token_ids.numpy()[2].any()  # empty text: padded row
    from_ids = saved_model.signatures["predict_token_ids"](token_ids=token_ids)
    from_texts = saved_model.signatures["serving_default"](texts=tf.constant(TEXTS))
    np.testing.assert_allclose(from_ids["probabilities"], from_texts["probabilities"], atol=1e-7)


def test_saved_model_cli_lists_signatures_and_dtypes(version_dir):
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    shown = subprocess.run(
        [cli, "show", "--dir", version_dir, "--all"],
        capture_output=True, text=True, check=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    ).stdout
    blocks = {block.split("']", 1)[0]: block for block in shown.split("signature_def['")[1:]}
    assert set(SIGNATURES) <= set(blocks)
    for name, (inputs, outputs) in SIGNATURES.items():
        for key, dtype in {**inputs, **outputs}.items():
            kind = "inputs" if key in inputs else "outputs"
            assert f"{kind}['{key}'] tensor_info:\n        dtype: {types_pb2.DataType.Name(dtype.as_datatype_enum)}" in blocks[name], (name, key)
        assert "tensorflow/serving/predict" in blocks[name]
    assert "output_0" not in shown
