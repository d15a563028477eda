"""Converting the classifier to ONNX with tf2onnx, and proving onnxruntime accepts the file.

The graph: `token_ids` (int32, [batch, sequence]) and `attention_mask` (int32,
[batch, sequence], 1 = real token) → `probabilities` (float32, [batch,
classes]). The Keras model masks id 0 (`[PAD]`); the mask input is honoured by
zeroing the ids where it is 0, so a padded position is ignored whatever id it
holds. Opset 18 (tf2onnx's maximum), dynamic batch and sequence axes.

Two files of the same graph (export/onnx_fusion.py): `classifier.onnx` with
standard ops only (each layer norm one `LayerNormalization`, each Dense one
3-D `MatMul`), for any ONNX runtime, for int8 quantization and for
`OnnxClassifier`, and `classifier.onnxruntime.onnx` with onnxruntime's fused
`Attention`, `SkipLayerNormalization` and `BiasGelu` (slower on CPU here:
BENCHMARKS.md). Each is loaded and run in onnxruntime right after writing, on
a real row and a fully padded one. `onnx_config` is the `onnx/config.json`
that `OnnxClassifier.load` reads; it records what each file fused.
"""

import os

import numpy as np
import onnx
import tensorflow as tf

from export import layout
from export.classifier.onnx_runner import ATTENTION_MASK_INPUT
from export.classifier.onnx_runner import ONNXRUNTIME_MODEL_FILE
from export.classifier.onnx_runner import PROBABILITIES_OUTPUT
from export.classifier.onnx_runner import TOKEN_IDS_INPUT
from export.onnx_conversion import DEFAULT_OPSET
from export.onnx_conversion import OnnxExportError
from export.onnx_conversion import checked_session
from export.onnx_conversion import convert_function
from export.onnx_fusion import fuse_onnxruntime_ops
from export.onnx_fusion import fuse_standard_ops
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


def convert_classifier(model, path, onnxruntime_path, opset=DEFAULT_OPSET):
    """Writes the classifier's standard-op file to `path` and its onnxruntime file to
    `onnxruntime_path`, checks both in onnxruntime, and returns what each fused
    (`onnx/config.json`'s `"fusions"`)."""
    fusions = {}

    def fuse(model_proto):
        name_dynamic_axes(model_proto)
        fusions["tf2onnx"] = {"nodes": len(model_proto.graph.node)}
        fusions[os.path.basename(path)] = fusion_record(model_proto, fuse_standard_ops(model_proto))

    num_classes = model.output_shape[-1]
    check_classifier_file(convert_function(classifier_function(model), path, opset, edit=fuse), path, num_classes)
    model_proto = onnx.load(path)
    fused = fuse_onnxruntime_ops(model_proto)  # on top of the standard-op file's fusions
    fusions[os.path.basename(onnxruntime_path)] = fusion_record(model_proto, fused)
    onnx.save(model_proto, onnxruntime_path)
    check_classifier_file(checked_session(onnxruntime_path), onnxruntime_path, num_classes)
    return fusions


def fusion_record(model_proto, fused):
    return {"nodes": len(model_proto.graph.node), "fused": dict(sorted(fused.items()))}


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


def onnx_config(run, opset, fusions):
    """`onnx/config.json`: everything `OnnxClassifier.load` and other clients need.

    `model_file` (what `OnnxClassifier` loads) has standard ONNX ops only;
    `onnxruntime_model_file` also onnxruntime's contrib ops. `fusions` gives each
    file's node count and what it fused, over the tf2onnx graph's nodes.
    """
    return {
        "task": run.task,
        "labels": run.labels,
        "model_file": os.path.basename(layout.ONNX_CLASSIFIER),
        ONNXRUNTIME_MODEL_FILE: os.path.basename(layout.ONNX_CLASSIFIER_ONNXRUNTIME),
        "fusions": fusions,
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
