"""ONNX files that explain themselves: metadata_props round trip, axis names."""

import json
import os

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto
from onnx import helper

from export.onnx_metadata import read_metadata
from export.onnx_metadata import rename_dimensions
from export.onnx_metadata import set_metadata
from export.onnx_metadata import unnamed_dimensions


def tiny_graph():
    """ids (unk__1, unk__2) → doubled ids with the same axes, plus a fixed-size output."""
    ids = helper.make_tensor_value_info("token_ids", TensorProto.FLOAT, ["unk__1", "unk__2"])
    doubled = helper.make_tensor_value_info("doubled", TensorProto.FLOAT, ["unk__1", "unk__2"])
    first = helper.make_tensor_value_info("first", TensorProto.FLOAT, ["unk__1", 1])
    nodes = [
        helper.make_node("Add", ["token_ids", "token_ids"], ["doubled"]),
        helper.make_node("Slice", ["token_ids", "starts", "ends", "axes"], ["first"]),
    ]
    initializers = [
        helper.make_tensor(name, TensorProto.INT64, [1], [value])
        for name, value in (("starts", 0), ("ends", 1), ("axes", 1))
    ]
    graph = helper.make_graph(nodes, "tiny", [ids], [doubled, first], initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9)


def test_metadata_is_stored_as_strings_and_read_back_by_onnxruntime(tmp_path):
    model = set_metadata(tiny_graph(), {"task": "classification", "labels": ["neg", "pos"], "max_length": 128})
    path = str(tmp_path / "tiny.onnx")
    onnx.save(model, path)
    session_metadata = onnxruntime.InferenceSession(path).get_modelmeta().custom_metadata_map
    assert session_metadata == read_metadata(onnx.load(path))
    assert json.loads(session_metadata["labels"]) == ["neg", "pos"]
    assert session_metadata["task"] == "classification" and json.loads(session_metadata["max_length"]) == 128


def test_renamed_axes_follow_every_use_and_leave_the_answers_alone(tmp_path):
    model = tiny_graph()
    assert sorted(unnamed_dimensions(model)) == [("doubled", 0), ("doubled", 1), ("first", 0), ("token_ids", 0), ("token_ids", 1)]
    rename_dimensions(model, {("token_ids", 0): "batch", ("token_ids", 1): "sequence"})
    assert unnamed_dimensions(model) == []
    shapes = {value.name: [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]
              for value in list(model.graph.output)}
    assert shapes == {"doubled": ["batch", "sequence"], "first": ["batch", 1]}
    path = str(tmp_path / "named.onnx")
    onnx.save(model, path)
    ids = np.arange(6, dtype=np.float32).reshape(2, 3)
    doubled, first = onnxruntime.InferenceSession(path).run(None, {"token_ids": ids})
    np.testing.assert_array_equal(doubled, 2 * ids)
    np.testing.assert_array_equal(first, ids[:, :1])


@pytest.mark.parametrize(
    "names, message",
    [
        ({("ids", 0): "batch"}, "no input or output 'ids'"),
        ({("first", 1): "width"}, "no free axis 1"),
        ({("token_ids", 0): "batch", ("doubled", 0): "rows"}, "named both 'batch' and 'rows'"),
    ],
)
def test_a_wrong_axis_name_request_says_what_is_wrong(names, message):
    with pytest.raises(ValueError, match=message):
        rename_dimensions(tiny_graph(), names)


def test_exported_classifier_onnx_describes_itself(version_dir, classifier_run_dir):
    from pipelines.common.run_files import files_sha256

    onnx_dir = os.path.join(version_dir, "onnx")
    with open(os.path.join(onnx_dir, "config.json"), encoding="utf-8") as file:
        config = json.load(file)
    model = onnx.load(os.path.join(onnx_dir, "classifier.onnx"))
    metadata = read_metadata(model)
    assert metadata["task"] == "classification" and metadata["exporter"] == "keras-attention-kit"
    assert json.loads(metadata["labels"]) == config["labels"]
    assert json.loads(metadata["max_length"]) == config["max_length"]
    assert json.loads(metadata["opset"]) == config["opset"] == model.opset_import[0].version
    assert os.path.isfile(os.path.join(onnx_dir, metadata["tokenizer_file"]))
    assert metadata["run_model_sha256"] == files_sha256([os.path.join(classifier_run_dir, "model.keras")])
    assert unnamed_dimensions(model) == []


def test_runner_options_choose_providers_and_threads(version_dir):
    from export.classifier.onnx_runner import OnnxClassifier
    from pipelines.common.errors import UserInputError

    onnx_dir = os.path.join(version_dir, "onnx")
    texts = ["a gorgeous film", "a dull, lifeless mess"]
    default = OnnxClassifier.load(onnx_dir).predict_probabilities(texts)
    chosen = OnnxClassifier.load(
        onnx_dir, providers=["CPUExecutionProvider"], intra_op_threads=2, inter_op_threads=2
    )
    assert chosen.session.get_providers() == ["CPUExecutionProvider"]
    np.testing.assert_allclose(chosen.predict_probabilities(texts), default, atol=1e-6)
    with pytest.raises(UserInputError, match=r"\['NoSuchExecutionProvider'\] are not available.*choose from"):
        OnnxClassifier.load(onnx_dir, providers=["NoSuchExecutionProvider"])
    with pytest.raises(ValueError, match="inter_op_threads"):
        OnnxClassifier.load(onnx_dir, inter_op_threads=0)
