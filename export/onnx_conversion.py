"""Converting the classifier to ONNX with tf2onnx, and proving onnxruntime accepts the file.

The graph: `token_ids` (int32, [batch, sequence]) and `attention_mask` (int32,
[batch, sequence], 1 = real token) → `probabilities` (float32, [batch,
classes]). The Keras model masks id 0 (`[PAD]`); the mask input is honoured by
zeroing the ids where it is 0, so a padded position is ignored whatever id it
holds. Opset 18 (tf2onnx's maximum), dynamic batch and sequence axes.

tf2onnx writes files that onnxruntime then rejects (an op it could not convert
is left in place, e.g. `Erfc` from exact GELU), so every file is loaded and
run in onnxruntime right after writing, on a real row and a fully padded one.
"""

import numpy as np
import onnx
import tensorflow as tf
import tf2onnx

from export.onnx_runtime import ATTENTION_MASK_INPUT
from export.onnx_runtime import PROBABILITIES_OUTPUT
from export.onnx_runtime import TOKEN_IDS_INPUT
from export.onnx_runtime import create_session
from export.tf2onnx_fixes import tf2onnx_settings

DEFAULT_OPSET = 18
SUPPORTED_OPSETS = (17, 18)
DYNAMIC_AXES = ("batch", "sequence")


class OnnxExportError(RuntimeError):
    """An ONNX file that onnxruntime rejects or that answers wrongly."""


def classifier_function(model):
    """A `tf.function` with the ONNX graph's named inputs and outputs."""
    spec = tf.TensorSpec([None, None], tf.int32)

    @tf.function(
        input_signature=[
            tf.TensorSpec.from_spec(spec, name=TOKEN_IDS_INPUT),
            tf.TensorSpec.from_spec(spec, name=ATTENTION_MASK_INPUT),
        ]
    )
    def classify(token_ids, attention_mask):
        token_ids = tf.where(attention_mask > 0, token_ids, tf.zeros_like(token_ids))
        return {PROBABILITIES_OUTPUT: model(token_ids, training=False)}

    return classify


def convert_classifier(model, path, opset=DEFAULT_OPSET):
    """Writes the classifier's ONNX file to `path`, checks it in onnxruntime, returns it."""
    if opset not in SUPPORTED_OPSETS:
        raise ValueError(f"`opset` must be one of {SUPPORTED_OPSETS}. Received: opset={opset}")
    function = classifier_function(model)
    with tf2onnx_settings():
        model_proto, _ = tf2onnx.convert.from_function(
            function, input_signature=function.input_signature, opset=opset
        )
    name_dynamic_axes(model_proto)
    onnx.save(model_proto, path)
    check_classifier_file(path, num_classes=model.output_shape[-1])
    return model_proto


def name_dynamic_axes(model_proto):
    """Names the free dimensions `batch` and `sequence` (tf2onnx leaves `unk__N`)."""
    for value in model_proto.graph.input:
        for dimension, name in zip(value.type.tensor_type.shape.dim, DYNAMIC_AXES):
            dimension.dim_param = name
    for value in model_proto.graph.output:
        value.type.tensor_type.shape.dim[0].dim_param = DYNAMIC_AXES[0]


def check_classifier_file(path, num_classes):
    """Loads the file in onnxruntime and runs a real and a fully padded row."""
    try:
        session = create_session(path)
    except Exception as error:  # onnxruntime raises several untyped errors
        raise OnnxExportError(
            f"onnxruntime rejects {path}: {error}; an op tf2onnx could not convert is the usual cause"
        ) from error
    token_ids = np.array([[5, 6, 7], [0, 0, 0]], dtype=np.int32)
    feeds = {TOKEN_IDS_INPUT: token_ids, ATTENTION_MASK_INPUT: (token_ids != 0).astype(np.int32)}
    (probabilities,) = session.run([PROBABILITIES_OUTPUT], feeds)
    if probabilities.shape != (2, num_classes) or not np.all(np.isfinite(probabilities)):
        raise OnnxExportError(
            f"{path} answers {probabilities.tolist()} for a real and a fully padded row; "
            f"expected finite probabilities of shape (2, {num_classes})"
        )
