"""Which TensorFlow ops an exported SavedModel holds, against the ops the stock
TF Serving model server can run.

`tf.saved_model.load` runs any op the pip TensorFlow registers, but the
model server is its own build: core TensorFlow kernels plus tensorflow-text's
ops, and no XLA kernels (tensorflow/serving#2217: a generate loop failing on
`XlaDynamicUpdateSlice`; #2064, #2267: tensorflow-text ops missing from some
builds, so they are listed apart). `SERVING_OPS` is the allowlist, by family,
each with the reason it is safe; `unlisted_ops` names what an export holds
beyond it. A new op in a graph means a reviewed line here, not a surprise
at serving time.
"""

import os

# family: (why the model server has these ops, the ops)
SERVING_OPS = {
    "graph plumbing": (
        "core graph and function ops every SavedModel uses",
        {
            "Const", "Identity", "NoOp", "Placeholder", "StopGradient", "PartitionedCall",
            "StatefulPartitionedCall", "Assert", "EnsureShape",
        },
    ),
    "control flow": (
        "functional control flow (tf.while_loop and tf.cond in graphs); the loop bodies are library functions",
        {"While", "StatelessWhile", "If", "StatelessIf"},
    ),
    "tensor lists": (
        "core TensorList kernels behind tf.TensorArray (the tokens a search loop emits)",
        {
            "TensorListReserve", "TensorListFromTensor", "TensorListGetItem", "TensorListSetItem",
            "TensorListStack",
        },
    ),
    "variables and checkpoints": (
        "resource variables and the SavedModel's own save/restore functions",
        {
            "VarHandleOp", "ReadVariableOp", "AssignVariableOp", "VarIsInitializedOp",
            "DisableCopyOnRead", "SaveV2", "RestoreV2", "MergeV2Checkpoints", "ShardedFilename",
        },
    ),
    "arithmetic": (
        "core element-wise math and reductions (tensorflow/core/kernels); Abs and Softplus "
        "carry the copy mixture's log-add-exp",
        {
            "Add", "AddV2", "Sub", "Mul", "RealDiv", "FloorDiv", "FloorMod", "Neg", "Pow", "Rsqrt",
            "Sqrt", "Exp", "Log", "Maximum", "Minimum", "Cos", "Sin", "Tanh", "Erf", "Abs", "Softplus",
            "SquaredDifference", "Mean", "Sum", "Max", "Prod", "Cumsum", "Softmax", "LogSoftmax",
        },
    ),
    "linear algebra": (
        "core matrix products",
        {"MatMul", "BatchMatMulV2", "Einsum", "BiasAdd"},
    ),
    "comparison and logic": (
        "core comparisons and boolean reductions",
        {
            "Equal", "NotEqual", "Less", "LessEqual", "Greater", "GreaterEqual",
            "LogicalAnd", "LogicalOr", "LogicalNot", "All", "Any",
        },
    ),
    "shapes and indexing": (
        "core array ops; the key/value cache is written with TensorScatterUpdate",
        {
            "Reshape", "Transpose", "ConcatV2", "Pack", "Unpack", "ExpandDims", "Squeeze",
            "Shape", "Size", "Fill", "ZerosLike", "OnesLike", "Range", "Tile", "BroadcastTo",
            "GatherV2", "GatherNd", "Slice", "StridedSlice", "SplitV", "Split", "Pad", "PadV2",
            "Select", "SelectV2", "Where", "Cast", "OneHot", "ArgMax", "TopKV2",
            "TensorScatterUpdate",
        },
    ),
    "segments and counts": (
        "core segment reductions, scatters and counts (the no-repeat n-gram rule, truecasing, source spelling, the copy distribution)",
        {
            "Unique", "UnsortedSegmentMax", "UnsortedSegmentMin", "UnsortedSegmentSum", "TensorScatterMax", "TensorScatterAdd",
            "DenseBincount",
        },
    ),
    "strings": (
        "core string kernels (tokenizer normalisation, detokenisation, truecasing)",
        {
            "StringJoin", "StringLower", "StringStrip", "StringUpper", "StringLength", "StringSplitV2",
            "StaticRegexFullMatch", "StaticRegexReplace", "RegexFullMatch", "RegexReplace",
            "ReduceJoin", "Substr", "UnicodeDecodeWithOffsets", "UnicodeEncode", "AsString",
        },
    ),
    "ragged tensors": (
        "core ragged kernels that tensorflow-text's outputs go through",
        {
            "RaggedRange", "RaggedTensorToTensor", "RaggedGather", "RaggedTensorFromVariant",
            "RaggedTensorToVariant",
        },
    ),
    "lookup tables": (
        "core hash tables (vocabularies held in the graph)",
        {"HashTableV2", "LookupTableFindV2", "LookupTableImportV2", "LookupTableSizeV2"},
    ),
    "tensorflow-text": (
        "tensorflow-text's kernels, which the model server links (check that the server "
        "build in use has them: tensorflow/serving#2064, #2267)",
        {
            "FastWordpieceTokenizeWithOffsets", "TFText>FastWordpieceDetokenize", "RegexSplitWithOffsets",
            "NormalizeUTF8", "WordpieceTokenizeWithOffsets",
        },
    ),
}

ALLOWED_OPS = frozenset().union(*(ops for _, ops in SERVING_OPS.values()))


def saved_model_ops(saved_model_dir):
    """The op types in every graph and library function of `saved_model.pb`
    (all signatures, their `while` bodies and `cond` branches included)."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(saved_model_dir, "saved_model.pb"), "rb") as file:
        saved_model.ParseFromString(file.read())
    ops = set()
    for meta_graph in saved_model.meta_graphs:
        ops.update(node.op for node in meta_graph.graph_def.node)
        for function in meta_graph.graph_def.library.function:
            ops.update(node.op for node in function.node_def)
    return ops


def unlisted_ops(saved_model_dir):
    """The sorted op types of the SavedModel that `SERVING_OPS` does not list."""
    return sorted(saved_model_ops(saved_model_dir) - ALLOWED_OPS)
