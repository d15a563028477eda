"""Converting a `tf.function` to ONNX with tf2onnx, and proving onnxruntime accepts the file.

Every task's `onnx_graph.py` converts through here, so every conversion gets
the same opset check and tf2onnx adjustments (tf2onnx_fixes.py). tf2onnx
writes files that onnxruntime then rejects (an op it could not convert is left
in place, e.g. `Erfc` from exact GELU), so each task loads and runs every file
in onnxruntime right after writing it.
"""

import onnx
import tf2onnx

from export.onnx_session import create_session
from export.tf2onnx_fixes import tf2onnx_settings

DEFAULT_OPSET = 18  # tf2onnx's maximum
SUPPORTED_OPSETS = (17, 18)


class OnnxExportError(RuntimeError):
    """An ONNX file that onnxruntime rejects or that answers wrongly."""


def convert_function(function, path, opset=DEFAULT_OPSET, edit=None):
    """Writes the ONNX file of `function` (a `tf.function` with an input signature) to `path`.

    Args:
        function: the `tf.function`; its input names become the graph's.
        path: str. Where to write the file.
        opset: int. 17 or 18.
        edit: callable taking the `ModelProto`, applied before saving.

    Returns:
        The onnxruntime session of the written file (`OnnxExportError` if it
        does not load).
    """
    if opset not in SUPPORTED_OPSETS:
        raise ValueError(f"`opset` must be one of {SUPPORTED_OPSETS}. Received: opset={opset}")
    with tf2onnx_settings():
        model_proto, _ = tf2onnx.convert.from_function(
            function,
            input_signature=function.input_signature,
            opset=opset,
        )
    if edit is not None:
        edit(model_proto)
    onnx.save(model_proto, path)
    return checked_session(path)


def checked_session(path):
    """The onnxruntime session of a file just written; `OnnxExportError` if it does not load."""
    try:
        return create_session(path)
    except Exception as error:  # onnxruntime raises several untyped errors
        raise OnnxExportError(
            f"onnxruntime rejects {path}: {error}; an op tf2onnx could not convert is the usual cause"
        ) from error
