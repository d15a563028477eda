"""Converting the classifier to ONNX with tf2onnx, and proving onnxruntime accepts the file.

The graph: `token_ids` (int32, [batch, sequence]) and `attention_mask` (int32,
[batch, sequence], 1 = real token) → `probabilities` (float32, [batch,
classes]). The Keras model masks id 0 (`[PAD]`); the mask input is honoured by
zeroing the ids where it is 0, so a padded position is ignored whatever id it
holds. Opset 18 (tf2onnx's maximum), dynamic batch and sequence axes.

The file is loaded and run in onnxruntime right after writing, on a real row
and a fully padded one. `onnx_config` is the `onnx/config.json` that
`OnnxClassifier.load` reads.
"""

import os

import numpy as np
import tensorflow as tf

from export import layout
from export.classifier.onnx_runner import ATTENTION_MASK_INPUT
from export.classifier.onnx_runner import PROBABILITIES_OUTPUT
from export.classifier.onnx_runner import TOKEN_IDS_INPUT
from export.onnx_conversion import DEFAULT_OPSET
from export.onnx_conversion import OnnxExportError
from export.onnx_conversion import convert_function
from export.onnx_metadata import rename_dimensions

DYNAMIC_AXES = ("batch", "sequence")


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
    """Writes the classifier's ONNX file to `path` and checks it in onnxruntime."""
    session = convert_function(classifier_function(model), path, opset, edit=name_dynamic_axes)
    check_classifier_file(session, path, num_classes=model.output_shape[-1])


def name_dynamic_axes(model_proto):
    """Names the free dimensions `batch` and `sequence` (tf2onnx leaves `unk__N`)."""
    names = {(value.name, axis): name for value in model_proto.graph.input for axis, name in enumerate(DYNAMIC_AXES)}
    names.update({(value.name, 0): DYNAMIC_AXES[0] for value in model_proto.graph.output})
    rename_dimensions(model_proto, names)


def check_classifier_file(session, path, num_classes):
    """Runs a real and a fully padded row through the file's onnxruntime session."""
    token_ids = np.array([[5, 6, 7], [0, 0, 0]], dtype=np.int32)
    feeds = {TOKEN_IDS_INPUT: token_ids, ATTENTION_MASK_INPUT: (token_ids != 0).astype(np.int32)}
    (probabilities,) = session.run([PROBABILITIES_OUTPUT], feeds)
    if probabilities.shape != (2, num_classes) or not np.all(np.isfinite(probabilities)):
        raise OnnxExportError(
            f"{path} answers {probabilities.tolist()} for a real and a fully padded row; "
            f"expected finite probabilities of shape (2, {num_classes})"
        )


def onnx_config(run, opset):
    """`onnx/config.json`: everything `OnnxClassifier.load` and other clients need."""
    return {
        "task": run.task,
        "labels": run.labels,
        "model_file": os.path.basename(layout.ONNX_CLASSIFIER),
        "tokenizer_file": os.path.basename(layout.ONNX_TOKENIZER),
        "max_length": run.max_length,
        "longest_token_ids": run.longest_token_ids,
        "padding_id": 0,
        "opset": opset,
        "inputs": {
            TOKEN_IDS_INPUT: "int32 [batch, sequence]; 0 = [PAD]; sequence <= longest_token_ids if set",
            ATTENTION_MASK_INPUT: "int32 [batch, sequence]; 1 = real token, 0 = padding",
        },
        "outputs": {PROBABILITIES_OUTPUT: f"float32 [batch, {len(run.labels)}]; softmax over labels"},
    }
