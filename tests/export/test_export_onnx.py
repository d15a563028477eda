"""The ONNX classifier: names, opset, dynamic axes, masks, no NaN, and no TensorFlow at run time."""

import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime
import tensorflow as tf

from export.classifier.onnx_runner import OnnxClassifier

REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def test_graph_has_named_inputs_outputs_opset_and_dynamic_axes(version_dir):
    model = onnx.load(os.path.join(version_dir, "onnx", "classifier.onnx"))
    onnx.checker.check_model(model)
    assert [value.name for value in model.graph.input] == ["token_ids", "attention_mask"]
    assert [value.name for value in model.graph.output] == ["probabilities"]
    assert {opset.version for opset in model.opset_import if opset.domain in ("", "ai.onnx")} == {18}
    for value in model.graph.input:
        assert [dim.dim_param for dim in value.type.tensor_type.shape.dim] == ["batch", "sequence"]
        assert value.type.tensor_type.elem_type == onnx.TensorProto.INT32
    assert model.graph.output[0].type.tensor_type.shape.dim[1].dim_value == 2


def test_fully_padded_rows_give_finite_probabilities(onnx_classifier):
    probabilities = onnx_classifier.predict_token_ids(np.zeros((3, 7), dtype=np.int32))
    assert np.all(np.isfinite(probabilities))
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, atol=1e-6)


def test_attention_mask_zero_ignores_the_ids_under_it(onnx_classifier, classifier_run):
    real = classifier_run.tokenizer.tokenize(["a gorgeous , witty film"]).numpy()
    noisy = np.concatenate([real, np.full((1, 5), 9, dtype=np.int32)], axis=1)
    mask = np.concatenate([(real != 0), np.zeros((1, 5), dtype=bool)], axis=1).astype(np.int32)
    session = onnx_classifier.session
    masked = session.run(None, {"token_ids": noisy, "attention_mask": mask})[0]
    unmasked = session.run(None, {"token_ids": noisy, "attention_mask": np.ones_like(mask)})[0]
    np.testing.assert_allclose(masked, onnx_classifier.predict_token_ids(real), atol=1e-6)
    assert np.abs(unmasked - masked).max() > 1e-6  # the extra ids do matter when unmasked


def test_matches_the_saved_model_on_texts(onnx_classifier, saved_model):
    texts = ["a gorgeous , witty film", "flat and dull", "", "ok"]
    expected = saved_model.signatures["serving_default"](texts=tf.constant(texts))
    predictions = onnx_classifier.predict(texts)
    assert [p["label"] for p in predictions] == [label.decode() for label in expected["label"].numpy()]
    probabilities = np.array([list(p["probabilities"].values()) for p in predictions])
    np.testing.assert_allclose(probabilities, expected["probabilities"].numpy(), atol=1e-5)


def test_onnx_runtime_imports_no_tensorflow(version_dir):
    script = (
        "import sys\n"
        "from export.classifier.onnx_runner import OnnxClassifier\n"
        f"classifier = OnnxClassifier.load({os.path.join(version_dir, 'onnx')!r})\n"
        "prediction = classifier.predict(['a gorgeous , witty film'])[0]\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tensorflow_text', 'tf2onnx'))\n"
        "print(prediction['label'], heavy)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=REPOSITORY, capture_output=True, text=True, check=True
    )
    label, heavy = completed.stdout.strip().split(" ", 1)
    assert label in ("0", "1")
    assert heavy == "[]"


def test_load_reads_labels_from_config(version_dir):
    classifier = OnnxClassifier.load(os.path.join(version_dir, "onnx"), intra_op_threads=2, optimization="basic")
    assert classifier.labels == ["0", "1"]
    options = classifier.session.get_session_options()
    assert options.intra_op_num_threads == 2
    assert options.graph_optimization_level == onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
