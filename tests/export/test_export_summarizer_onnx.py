"""The summarizer's encoder and cached decoder step convert to ONNX and match TensorFlow."""

import numpy as np
import onnx
import pytest
import tensorflow as tf

import keras_attention  # noqa: F401
from export.onnx_conversion import OnnxExportError
from export.summarizer.onnx_graph import check_against_tensorflow
from export.summarizer.onnx_graph import convert_summarizer
from export.summarizer.onnx_graph import decoder_step_function
from export.summarizer.onnx_graph import encoder_function
from pipelines.summarization.config import COPY_ATTENTIONS
from pipelines.summarization.config import ModelConfig
from pipelines.summarization.inference import InferenceModel
from pipelines.summarization.model import COPY_HEAD
from pipelines.summarization.model import build_summarizer

MAX_LENGTH = 12


# What the decoder step reads besides its caches: a copy head that copies with the
# cross-attention has no keys of its own.
COPY_INPUTS = {
    "head": ["copy_source_ids", "copy_keys", "copy_encoder_outputs"],
    "cross_attention": ["copy_source_ids", "copy_encoder_outputs"],
    None: [],  # the plain decoder
}


def tiny_config(copy=True, copy_attention="head"):
    return ModelConfig(vocabulary_size=120, hidden_dim=16, intermediate_dim=32, num_heads=2, encoder_layers=1,
                       decoder_layers=2, max_summary_length=MAX_LENGTH, copy=copy, copy_attention=copy_attention)


def convert_tiny_summarizer(directory, copy, copy_attention="head"):
    tf.keras.utils.set_random_seed(3)
    model = build_summarizer(tiny_config(copy, copy_attention))
    encoder, step = convert_summarizer(model, str(directory), MAX_LENGTH)
    return model, directory, encoder, step


def copy_attention_of(model):
    return model.get_layer(COPY_HEAD).copy_attention if COPY_HEAD in [layer.name for layer in model.layers] else None


@pytest.fixture(scope="module", params=COPY_ATTENTIONS)
def converted(request, tmp_path_factory):
    """A copying summarizer (the default) in ONNX, with each copy attention."""
    directory = tmp_path_factory.mktemp("summarizer_onnx")
    return convert_tiny_summarizer(directory, copy=True, copy_attention=request.param)


def check_named_inputs_and_outputs_and_no_xla_ops(model, directory, encoder, step):
    copy_attention = copy_attention_of(model)
    copy_names = COPY_INPUTS[copy_attention]
    assert [i.name for i in encoder.get_inputs()] == ["encoder_ids"]
    assert sorted(o.name for o in encoder.get_outputs()) == sorted(
        ["cross_key_values_0", "cross_key_values_1", "encoder_padding_mask"] + copy_names
    )
    assert [i.name for i in step.get_inputs()] == [
        "token_ids", "index", "encoder_padding_mask", "past_key_values_0", "past_key_values_1",
        "cross_key_values_0", "cross_key_values_1",
    ] + copy_names
    assert sorted(o.name for o in step.get_outputs()) == ["logits", "present_key_values_0", "present_key_values_1"]
    graph = onnx.load(str(directory / "decoder_step.onnx")).graph
    assert {node.domain for node in graph.node} <= {"", "ai.onnx"}
    scatters = {dict((a.name, a.s) for a in node.attribute).get("reduction", b"none")
                for node in graph.node if node.op_type == "ScatterND"}
    # The cache write replaces; the copy distribution adds (repeated source tokens sum).
    assert scatters == ({b"none"} if copy_attention is None else {b"none", b"add"})


def test_files_have_named_inputs_and_outputs_and_no_xla_ops(converted):
    check_named_inputs_and_outputs_and_no_xla_ops(*converted)


def test_plain_decoder_files_have_named_inputs_and_outputs_and_no_xla_ops(tmp_path):
    check_named_inputs_and_outputs_and_no_xla_ops(*convert_tiny_summarizer(tmp_path, copy=False))


def test_repeated_source_tokens_sum_in_onnxruntime_as_in_tensorflow(converted):
    model, _, encoder, step = converted
    inference_model = InferenceModel(model)
    # One name many times: a last-write-wins scatter would lose all but one of its weights.
    encoder_ids = np.array([[9, 40, 9, 41, 9, 9, 42, 9], [9, 9, 9, 9, 9, 9, 9, 0]], np.int32)
    check_against_tensorflow(
        encoder, step, encoder_function(inference_model, MAX_LENGTH),
        decoder_step_function(inference_model, MAX_LENGTH), encoder_ids, steps=MAX_LENGTH,
    )
    feeds = dict(zip([o.name for o in encoder.get_outputs()], encoder.run(None, {"encoder_ids": encoder_ids})))
    past = {f"past_key_values_{i}": np.zeros((2, 2, MAX_LENGTH, 2, 8), np.float32) for i in range(2)}
    logits = step.run(["logits"], {"token_ids": np.full((2, 1), 2, np.int32), "index": np.array(0, np.int32),
                                   **past, **feeds})[0]
    # Were the repeated ids' weights not summed, the copy share would fall short of 1 − p_gen.
    np.testing.assert_allclose(np.exp(logits.astype(np.float64)).sum(axis=-1), 1.0, atol=1e-5)


def test_attention_products_stay_single_nodes(converted):
    # tf2onnx would otherwise decompose each einsum into ~20 shape-computing nodes.
    # The explicit attention path (the default) writes each product as one MatMul
    # of two activations, the fused path as one Einsum.
    from tf2onnx import optimizer as tf2onnx_optimizer

    model, directory, _, _ = converted
    graph = onnx.load(str(directory / "decoder_step.onnx")).graph
    constants = {tensor.name for tensor in graph.initializer}
    constants |= {output for node in graph.node if node.op_type == "Constant" for output in node.output}
    products = [
        node for node in graph.node
        if node.op_type in ("Einsum", "MatMul") and not any(name in constants for name in node.input)
    ]
    # Two products (scores, weighted values) per attention, self and cross, per decoder
    # layer, and the copy head's two (its scores and context), or its context alone when
    # it copies with the cross-attention.
    copy_products = {"head": 2, "cross_attention": 1}[copy_attention_of(model)]
    assert len(products) == 2 * 2 * 2 + copy_products
    assert "einsum_optimizer" in tf2onnx_optimizer._optimizers  # restored after the conversion


def test_greedy_steps_match_tensorflow_on_a_longer_padded_batch(converted):
    model, _, encoder, step = converted
    inference_model = InferenceModel(model)
    encoder_ids = np.array([[5, 6, 7, 8, 9, 10, 11, 12, 13], [20, 21, 22, 0, 0, 0, 0, 0, 0], [0] * 9], np.int32)
    check_against_tensorflow(
        encoder, step, encoder_function(inference_model, MAX_LENGTH),
        decoder_step_function(inference_model, MAX_LENGTH), encoder_ids, steps=MAX_LENGTH,
    )


def test_check_fails_when_the_graphs_disagree(converted):
    model, _, encoder, step = converted
    other = build_summarizer(tiny_config(copy_attention=copy_attention_of(model)))
    inference_model = InferenceModel(other)  # same shapes, other weights
    with pytest.raises(OnnxExportError, match="differs from TensorFlow"):
        check_against_tensorflow(
            encoder, step, encoder_function(inference_model, MAX_LENGTH),
            decoder_step_function(inference_model, MAX_LENGTH), np.array([[5, 6, 7]], np.int32),
        )
