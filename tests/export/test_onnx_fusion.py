"""The fused ONNX graphs (export/onnx_fusion.py): the same answers as tf2onnx's graph, in
fewer nodes, with what each file fused recorded in config.json."""

import collections
import json
import os

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto
from onnx import helper
from onnx import numpy_helper

from export.classifier.onnx_graph import classifier_function
from export.classifier.onnx_graph import name_dynamic_axes
from export.onnx_conversion import convert_function
from export.onnx_fusion import MICROSOFT_DOMAIN
from export.onnx_fusion import fuse_onnxruntime_ops
from export.onnx_fusion import fuse_standard_ops
from export_fixtures import TINY_MODEL

SPELLED_OUT_LAYER_NORM = {"ReduceMean", "Sqrt", "Reciprocal", "Neg"}


def op_counts(model):
    return collections.Counter(node.op_type for node in model.graph.node)


def session(model):
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    return onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def padded_token_ids(rows, columns, vocabulary_size, seed=0):
    """Random ids, each row cut to a random length with 0s; the last row fully padded."""
    rng = np.random.default_rng(seed)
    token_ids = rng.integers(1, vocabulary_size, size=(rows, columns)).astype(np.int32)
    for row, length in enumerate(rng.integers(1, columns + 1, size=rows)):
        token_ids[row, length:] = 0
    token_ids[-1] = 0
    return token_ids


def probabilities(model, token_ids):
    feeds = {"token_ids": token_ids, "attention_mask": (token_ids != 0).astype(np.int32)}
    return session(model).run(["probabilities"], feeds)[0]


def test_both_fused_graphs_answer_as_the_tf2onnx_graph(classifier_run, tmp_path):
    path = str(tmp_path / "tf2onnx.onnx")
    convert_function(classifier_function(classifier_run.model), path, edit=name_dynamic_axes)
    original = onnx.load(path)
    standard, fused = onnx.load(path), onnx.load(path)
    standard_fusions, fused_fusions = fuse_standard_ops(standard), fuse_onnxruntime_ops(fused)
    blocks = TINY_MODEL["num_blocks"]
    assert standard_fusions["LayerNormalization"] == 2 * blocks
    assert fused_fusions["Attention"] == blocks and fused_fusions["SkipLayerNormalization"] == 2 * blocks
    vocabulary_size = classifier_run.tokenizer.vocabulary_size
    # -1 is a real id too: tf2onnx's graph wraps it to the last row, as ONNX Gather does.
    negative = np.array([[5, -1, 7, 0]], dtype=np.int32)
    for token_ids in (padded_token_ids(6, 11, vocabulary_size), padded_token_ids(1, 3, vocabulary_size)[:1], negative):
        expected = probabilities(original, token_ids)
        for model in (standard, fused):
            np.testing.assert_allclose(probabilities(model, token_ids), expected, rtol=0, atol=1e-6)


def test_config_records_what_each_file_fused(version_dir):
    onnx_dir = os.path.join(version_dir, "onnx")
    with open(os.path.join(onnx_dir, "config.json"), encoding="utf-8") as file:
        config = json.load(file)
    blocks = TINY_MODEL["num_blocks"]
    standard = onnx.load(os.path.join(onnx_dir, config["model_file"]))
    fused = onnx.load(os.path.join(onnx_dir, config["onnxruntime_model_file"]))
    fusions = config["fusions"]
    assert fusions[config["model_file"]]["nodes"] == len(standard.graph.node)
    assert fusions[config["onnxruntime_model_file"]]["nodes"] == len(fused.graph.node)
    assert fusions[config["model_file"]]["fused"]["LayerNormalization"] == 2 * blocks
    contrib_fusions = fusions[config["onnxruntime_model_file"]]["fused"]
    assert contrib_fusions == {"Attention": blocks, "SkipLayerNormalization": 2 * blocks}
    assert len(fused.graph.node) < len(standard.graph.node) < fusions["tf2onnx"]["nodes"]

    standard_ops = op_counts(standard)
    assert {node.domain for node in standard.graph.node} <= {""}  # any ONNX runtime runs it
    assert standard_ops["LayerNormalization"] == 2 * blocks and not SPELLED_OUT_LAYER_NORM & set(standard_ops)
    constants = {tensor.name: numpy_helper.to_array(tensor) for tensor in standard.graph.initializer}
    shapes = [constants.get(node.input[1]) for node in standard.graph.node if node.op_type == "Reshape"]
    assert not any(shape is not None and shape.tolist()[:1] == [-1] for shape in shapes)  # no [-1, K] flattening

    fused_ops = op_counts(fused)
    assert fused_ops["Attention"] == blocks and fused_ops["SkipLayerNormalization"] == 2 * blocks
    assert "LayerNormalization" not in fused_ops  # sinusoidal positions: no embedding layer norm
    assert {node.domain for node in fused.graph.node if node.op_type == "Attention"} == {MICROSOFT_DOMAIN}


def test_onnxruntime_fuses_none_of_this_itself(classifier_run, tmp_path):
    """What onnxruntime's own ORT_ENABLE_ALL makes of tf2onnx's graph at load: no layer
    norm, attention or skip-layer-norm fusion, the reason the export fuses them."""
    path = str(tmp_path / "tf2onnx.onnx")
    convert_function(classifier_function(classifier_run.model), path, edit=name_dynamic_axes)
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.optimized_model_filepath = str(tmp_path / "loaded.onnx")
    onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    loaded = op_counts(onnx.load(options.optimized_model_filepath))
    assert not {"LayerNormalization", "SkipLayerNormalization", "Attention", "MultiHeadAttention"} & set(loaded)
    assert SPELLED_OUT_LAYER_NORM <= set(loaded)


def dense_graph(shape_source):
    """tf2onnx's Dense: Reshape(x, [-1, 4]) → MatMul → Reshape to concat(shape(source)[:2], [3])."""
    nodes = [
        helper.make_node("Reshape", ["x", "flat"], ["x2"]),
        helper.make_node("MatMul", ["x2", "w"], ["y2"]),
        helper.make_node("Shape", [shape_source], ["shape"]),
        helper.make_node("Slice", ["shape", "zero", "two"], ["leading"]),
        helper.make_node("Concat", ["leading", "width"], ["target"], axis=0),
        helper.make_node("Reshape", ["y2", "target"], ["y"]),
    ]
    constants = {
        "flat": np.array([-1, 4], np.int64), "w": np.ones((4, 3), np.float32), "zero": np.array([0], np.int64),
        "two": np.array([2], np.int64), "width": np.array([3], np.int64),
    }
    graph = helper.make_graph(
        nodes, "dense",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", "s", 4]),
         helper.make_tensor_value_info("z", TensorProto.FLOAT, ["c", "t", 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(value, name) for name, value in constants.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8)


def test_a_dense_reshaped_to_another_tensors_shape_is_left_alone():
    x, z = np.ones((2, 3, 4), np.float32), np.ones((3, 2, 2), np.float32)
    same = dense_graph("x")
    assert fuse_standard_ops(same) == {"MatMul without reshapes": 1}
    assert op_counts(same) == {"MatMul": 1}
    other = dense_graph("z")  # (b, s) need not be (c, t): [6, 3] rows reshaped to (3, 2, 3)
    before = session(other).run(None, {"x": x, "z": z})[0]
    # The Dense stays two reshapes around a MatMul; only its shape arithmetic may be refolded.
    assert "MatMul without reshapes" not in fuse_standard_ops(other)
    assert op_counts(other)["Reshape"] == 2 and op_counts(other)["MatMul"] == 1
    np.testing.assert_array_equal(session(other).run(None, {"x": x, "z": z})[0], before)
