"""A tf2onnx handler for `XlaDynamicUpdateSlice`, which tf2onnx 1.17 cannot convert.

`keras.ops.slice_update` lowers to `XlaDynamicUpdateSlice` on the TensorFlow
backend; `keras_attention.MultiHeadAttention` uses it to write a step's keys
and values into the decoder's cache. tf2onnx leaves the op unconverted and
onnxruntime rejects the file. This handler rewrites it exactly as ONNX
`ScatterND`: the update lands at `starts` (clamped, as XLA does, so that the
update fits), with the scatter indices built from `Range`s over the update's
shape. Pass `CUSTOM_OP_HANDLERS` to `tf2onnx.convert.from_function`.
"""

import numpy as np
from onnx import TensorProto


def _int64_constant(ctx, node, suffix, value):
    return ctx.make_const(f"{node.name}/{suffix}", np.array(value, dtype=np.int64)).output[0]


def _op(ctx, node, op_type, inputs, **attributes):
    return ctx.make_node(op_type, inputs, attr=attributes, op_name_scope=node.name).output[0]


def _positions_along(ctx, node, axis, rank, starts, update_shape):
    """int64 `update_shape + [1]`: the operand index along `axis` of every update element."""
    axis_index = _int64_constant(ctx, node, f"axis_{axis}", [axis])
    squeeze_axes = _int64_constant(ctx, node, f"squeeze_{axis}", [0])
    start = _op(ctx, node, "Squeeze", [_op(ctx, node, "Gather", [starts, axis_index]), squeeze_axes])
    size = _op(ctx, node, "Squeeze", [_op(ctx, node, "Gather", [update_shape, axis_index]), squeeze_axes])
    positions = _op(
        ctx, node, "Range",
        [start, _op(ctx, node, "Add", [start, size]), _int64_constant(ctx, node, f"step_{axis}", 1)],
    )
    broadcast_shape = [1] * rank
    broadcast_shape[axis] = -1
    positions = _op(ctx, node, "Reshape", [positions, _int64_constant(ctx, node, f"shape_{axis}", broadcast_shape)])
    positions = _op(ctx, node, "Expand", [positions, update_shape])
    return _op(ctx, node, "Unsqueeze", [positions, _int64_constant(ctx, node, f"last_{axis}", [-1])])


def convert_dynamic_update_slice(ctx, node, name, args):
    """Rewrites `XlaDynamicUpdateSlice(operand, update, starts)` in place as `ScatterND`."""
    operand, update, starts = node.input
    rank = ctx.get_rank(operand)
    if rank is None:
        raise ValueError(f"{node.name}: XlaDynamicUpdateSlice needs an operand of known rank")
    operand_shape = _op(ctx, node, "Shape", [operand])
    update_shape = _op(ctx, node, "Shape", [update])
    starts = _op(ctx, node, "Cast", [starts], to=TensorProto.INT64)
    # XLA clamps the start so that the update lies inside the operand.
    highest = _op(ctx, node, "Sub", [operand_shape, update_shape])
    starts = _op(ctx, node, "Max", [_op(ctx, node, "Min", [starts, highest]), _int64_constant(ctx, node, "zero", [0])])
    columns = [_positions_along(ctx, node, axis, rank, starts, update_shape) for axis in range(rank)]
    indices = _op(ctx, node, "Concat", columns, axis=-1)
    node.type = "ScatterND"
    ctx.replace_inputs(node, [operand, indices, update])
    for attribute in list(node.attr):
        del node.attr[attribute]
    return node


CUSTOM_OP_HANDLERS = {"XlaDynamicUpdateSlice": (convert_dynamic_update_slice, [])}
