"""What an exported ONNX file says of itself: `metadata_props` and named axes.

An ONNX file handed on alone should tell its reader the task, the labels, the
tokenizer file beside it, the longest input, the opset, the exporter's version
and which run it came from; Netron, `onnx.load(...).metadata_props` and
onnxruntime's `get_modelmeta().custom_metadata_map` all show these. tf2onnx
names every free dimension `unk__N`; `rename_dimensions` gives them names a
deployer can read (`batch`, `sequence`, `past_sequence`, ...).
"""

import importlib.metadata
import json
import os

DISTRIBUTION = "keras-attention-kit"
# Keys every exported ONNX file carries (values are strings; lists are JSON).
TASK, EXPORTER, EXPORTER_VERSION, OPSET, RUN_SHA256 = (
    "task", "exporter", "exporter_version", "opset", "run_model_sha256",
)


def exporter_version():
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"


def common_metadata(task, opset, model_sha256):
    """The keys of every export: task, exporter and its version, opset, and the
    sha256 of the run's `model.keras` (which run the file came from)."""
    return {
        TASK: task,
        EXPORTER: DISTRIBUTION,
        EXPORTER_VERSION: exporter_version(),
        OPSET: opset,
        RUN_SHA256: model_sha256,
    }


def set_metadata(model_proto, metadata):
    """Replaces `model_proto`'s `metadata_props` with `metadata` (sorted by key);
    non-string values are stored as JSON, so lists and numbers read back exactly."""
    del model_proto.metadata_props[:]
    for key in sorted(metadata):
        value = metadata[key]
        entry = model_proto.metadata_props.add()
        entry.key = key
        entry.value = value if isinstance(value, str) else json.dumps(value)
    return model_proto


def read_metadata(model_proto):
    """`metadata_props` as a dict of strings."""
    return {entry.key: entry.value for entry in model_proto.metadata_props}


def rename_dimensions(model_proto, names):
    """Renames free dimensions: `names` maps `(input or output name, axis)` to a
    name. Every other use of the replaced `unk__N` (other inputs and outputs,
    intermediate shapes) takes the same name, so equal axes stay equal.

    Raises:
        ValueError: a named tensor or axis does not exist, or an axis is fixed.
    """
    values = {value.name: value for value in list(model_proto.graph.input) + list(model_proto.graph.output)}
    replacements = {}
    for (tensor, axis), name in names.items():
        if tensor not in values:
            raise ValueError(f"the ONNX graph has no input or output {tensor!r}; it has {sorted(values)}")
        dims = values[tensor].type.tensor_type.shape.dim
        if axis >= len(dims) or dims[axis].HasField("dim_value"):
            raise ValueError(f"{tensor!r} has no free axis {axis}")
        old = dims[axis].dim_param
        if old:
            if replacements.get(old, name) != name:
                raise ValueError(f"axis {old!r} would be named both {replacements[old]!r} and {name!r}")
            replacements[old] = name
        dims[axis].dim_param = name
    every_value = (
        list(model_proto.graph.input) + list(model_proto.graph.output) + list(model_proto.graph.value_info)
    )
    for value in every_value:
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param in replacements:
                dim.dim_param = replacements[dim.dim_param]
    return model_proto


def unnamed_dimensions(model_proto):
    """`(tensor, axis)` of inputs and outputs whose free axis is still `unk__N` or nameless."""
    unnamed = []
    for value in list(model_proto.graph.input) + list(model_proto.graph.output):
        for axis, dim in enumerate(value.type.tensor_type.shape.dim):
            if not dim.HasField("dim_value") and (not dim.dim_param or dim.dim_param.startswith("unk__")):
                unnamed.append((value.name, axis))
    return unnamed


def stamp_onnx_folder(onnx_dir, task, opset, model_sha256):
    """Writes `metadata_props` into every `.onnx` file of an exported `onnx/` folder.

    The keys: `common_metadata`, then from the folder's config.json the
    labels (classifiers), the tokenizer file and the longest input
    (`max_length`: tokens per text, or per document for a summarizer).
    """
    import onnx

    with open(os.path.join(onnx_dir, "config.json"), encoding="utf-8") as file:
        config = json.load(file)
    metadata = common_metadata(task, opset, model_sha256)
    metadata["tokenizer_file"] = config["tokenizer_file"]
    metadata["max_length"] = config.get("max_length", config.get("max_document_length"))
    if "labels" in config:
        metadata["labels"] = config["labels"]
    for name in sorted(os.listdir(onnx_dir)):
        if name.endswith(".onnx"):
            path = os.path.join(onnx_dir, name)
            onnx.save(set_metadata(onnx.load(path), metadata), path)
    return metadata
