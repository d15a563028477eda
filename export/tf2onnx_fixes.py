"""Scoped adjustments to tf2onnx 1.17's optimizers, used by every conversion.

`tf2onnx_settings()` applies both of the following during one conversion.

A bug fix. tf2onnx's back-to-back optimizer merges `Reshape(Reshape(x, s1), s2)` into
`Reshape(x, s2)`. That is wrong when `s2` holds a 0 ("copy this dimension
from the input"): after the merge the 0 copies a dimension of `x` instead.
Our `AttentionPooling` with one head transposes `(batch, time, 1)` to
`(batch, 1, time)`; tf2onnx's transpose optimizer turns that transpose into
`Reshape(·, [0, 1, -1])`, which is then merged with the `(batch*time, 1) →
(batch, time, 1)` reshape before it and yields `(batch*time, 1, 1)`. The
converted file loads, and fails at run time on any batch with more than one
token ("Attempting to broadcast an axis by a dimension other than 1").

`safe_reshape_merging()` keeps the optimization except where the second shape
is not a constant free of zeros. The parity gate would catch any other such bug.

A speed fix. tf2onnx's einsum optimizer decomposes every ONNX `Einsum` into
Reshape / Transpose / MatMul chains with run-time shape arithmetic for each
dynamic axis: about 20 nodes an einsum, over a quarter of the default
summarizer's decoder-step nodes. At batch 1 onnxruntime's time goes to the
number of nodes more than to the arithmetic, and its own `Einsum` kernel does
the same contraction in one node. `keep_einsum()` turns that optimizer off.
"""

import contextlib

from tf2onnx import optimizer as tf2onnx_optimizer
from tf2onnx.optimizer import back_to_back_optimizer

_EINSUM_OPTIMIZER = "einsum_optimizer"

_RESHAPE_KEY = ("Reshape",)


def _merge_is_safe(consumer_nodes):
    if len(consumer_nodes) != 1 or consumer_nodes[0].type != "Reshape":
        return True  # the original handler declines these itself
    shape = consumer_nodes[0].inputs[1]
    return shape.is_const() and 0 not in shape.get_tensor_value(as_list=True)


@contextlib.contextmanager
def safe_reshape_merging():
    """Within the block, tf2onnx merges consecutive Reshapes only when that is exact."""
    handlers = back_to_back_optimizer._func_map  # noqa: SLF001 (tf2onnx's handler registry)
    original = handlers.get(_RESHAPE_KEY)
    if original is None:  # a tf2onnx without this rule needs no fix
        yield
        return

    def merge_reshapes(graph, node, consumer_nodes):
        if not _merge_is_safe(consumer_nodes):
            return []
        return original(graph, node, consumer_nodes)

    handlers[_RESHAPE_KEY] = merge_reshapes
    try:
        yield
    finally:
        handlers[_RESHAPE_KEY] = original


@contextlib.contextmanager
def keep_einsum():
    """Within the block, tf2onnx leaves `Einsum` nodes for onnxruntime to run."""
    optimizers = tf2onnx_optimizer._optimizers  # noqa: SLF001 (tf2onnx's optimizer registry)
    removed = optimizers.pop(_EINSUM_OPTIMIZER, None)
    try:
        yield
    finally:
        if removed is not None:
            optimizers[_EINSUM_OPTIMIZER] = removed


@contextlib.contextmanager
def tf2onnx_settings():
    """Both adjustments, for the duration of one conversion."""
    with safe_reshape_merging(), keep_einsum():
        yield
