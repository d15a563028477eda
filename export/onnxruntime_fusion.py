"""onnxruntime's contrib-op rewrites of tf2onnx's encoder graphs (`com.microsoft` domain).

`fuse_onnxruntime_ops` runs on a graph that `export.onnx_fusion.fuse_standard_ops`
already rewrote, and replaces its patterns with `Attention` (the QKV projection,
scaled dot product, mask and softmax of a self-attention layer),
`SkipLayerNormalization` (residual add, output bias and layer norm) and `BiasGelu`
(bias add and exact erf GELU; the tanh `FastGelu` is never substituted for it).
Such a file runs only in onnxruntime. As in `onnx_fusion`, a pattern that does not
match exactly is left as it was.
"""

import collections

import numpy as np
import onnx
from onnx import helper

from export.onnx_fusion import Graph
from export.onnx_fusion import apply_rewrites
from export.onnx_fusion import attribute
from export.onnx_fusion import fuse_standard_ops
from export.onnx_fusion import other_input

MICROSOFT_DOMAIN = "com.microsoft"


def _use_microsoft_domain(model):
    if not any(entry.domain == MICROSOFT_DOMAIN for entry in model.opset_import):
        model.opset_import.append(helper.make_opsetid(MICROSOFT_DOMAIN, 1))


def _heads(graph, name):
    """`(x, heads, size)` if `name` is `Reshape(x, [0, 0, heads, size])`, else None."""
    reshape = graph.producer(name, "Reshape")
    shape = reshape and graph.constant(reshape.input[1])
    if shape is None or shape.size != 4 or list(shape[:2]) != [0, 0]:
        return None
    return reshape.input[0], int(shape[2]), int(shape[3])


def _transposed(graph, name, perm):
    """The input of `name = Transpose(input, perm)`, else None."""
    transpose = graph.producer(name, "Transpose")
    if transpose is None or list(attribute(transpose, "perm", [])) != perm:
        return None
    return transpose.input[0]


def _attention_mask(graph, bias_name):
    """`(m3, -big)` if `bias_name` is the additive mask `(cast(m) - 1) * big` of a bool
    `m = Unsqueeze(m3, 1)` (`[batch, 1, query, key]`), else None."""
    scale = graph.producer(bias_name, "Mul")
    for name in scale.input if scale is not None else ():
        shift = graph.producer(name, "Sub")
        big = graph.scalar(other_input(scale, name))
        if shift is None or big is None or graph.scalar(shift.input[1]) != 1.0:
            continue
        cast = graph.producer(shift.input[0], "Cast")
        unsqueeze = cast and graph.producer(cast.input[0], "Unsqueeze")
        axes = unsqueeze and graph.constant(unsqueeze.input[1])
        if axes is None or [int(v) for v in axes.reshape(-1)] != [1] or graph.ranks.get(unsqueeze.input[0]) != 3:
            continue
        if graph.types.get(unsqueeze.input[0]) == onnx.TensorProto.BOOL:
            return unsqueeze.input[0], -big
    return None


def _fuse_attention(graph, merge, masks):
    """A self-attention layer, from its `Reshape([0, 0, hidden])` of the merged heads back to
    the fused QKV projection `Split(MatMul(x, W) + b)`, → `Attention(x, W, b, mask)`.

    The scores' mask `(cast(m) - 1) * big` becomes the 3-D `mask_index` `m` with
    `mask_filter_value` `-big`, exactly what the graph added. The graph's zeroing
    of query rows with no key to attend (`* any(m)`) stays, as a `Mul` after it.
    """
    merged_shape = graph.constant(merge.input[1])
    context = _transposed(graph, merge.input[0], [0, 2, 1, 3])
    if merged_shape is None or merged_shape.size != 3 or list(merged_shape[:2]) != [0, 0] or context is None:
        return False
    row_mask = None
    zeroing = graph.producer(context, "Mul")
    if zeroing is not None:
        context, _ = graph.producer_among(zeroing.input, "MatMul")
        row_mask = context and other_input(zeroing, context)
    weighted = context and graph.producer(context, "MatMul")
    softmax = weighted and graph.producer(weighted.input[0], "Softmax")
    if not softmax or attribute(softmax, "axis", -1) not in (-1, 3):
        return False
    masked = graph.producer(softmax.input[0], "Add")
    scores_name, scores = graph.producer_among(masked.input if masked else (), "MatMul")
    mask = scores and _attention_mask(graph, other_input(masked, scores_name))
    scaling = mask and graph.producer(_transposed(graph, scores.input[0], [0, 2, 1, 3]), "Mul")
    scale_name = next((name for name in scaling.input if graph.scalar(name) is not None), None) if scaling else None
    if scale_name is None:
        return False
    query = _heads(graph, other_input(scaling, scale_name))
    key = _heads(graph, _transposed(graph, scores.input[1], [0, 2, 3, 1]))
    value = _heads(graph, _transposed(graph, weighted.input[1], [0, 2, 1, 3]))
    if None in (query, key, value) or not query[1:] == key[1:] == value[1:]:
        return False
    heads, size = query[1:]
    split = graph.producer(query[0], "Split")
    sizes = graph.constant(split.input[1]) if split is not None and len(split.input) == 2 else None
    if sizes is None or list(split.output) != [query[0], key[0], value[0]]:
        return False
    if attribute(split, "axis", 0) not in (-1, 2):
        return False
    projection = graph.producer(split.input[0], "Add")
    product_name, product = graph.producer_among(projection.input if projection else (), "MatMul")
    bias = product and graph.constant(other_input(projection, product_name))
    weights = product and graph.constant(product.input[1])
    x = product and product.input[0]
    hidden = heads * size
    if bias is None or weights is None or weights.shape != (hidden, 3 * hidden) or bias.shape != (3 * hidden,):
        return False
    if [int(v) for v in sizes] != [hidden] * 3 or int(merged_shape[2]) != hidden or graph.ranks.get(x) != 3:
        return False
    if row_mask is not None and graph.ranks.get(row_mask) != 4:
        return False
    mask_3d, filter_value = mask
    name = merge.name + "/Attention"
    nodes = [
        graph.node(
            "Attention",
            [x, product.input[1], other_input(projection, product_name), _int32_mask(graph, mask_3d, masks)],
            graph.unique(name + ":0") if row_mask is not None else merge.output[0],
            name,
            domain=MICROSOFT_DOMAIN,
            num_heads=heads,
            scale=graph.scalar(scale_name),
            mask_filter_value=filter_value,
        )
    ]
    if row_mask is not None:
        rows = _query_row_mask(graph, row_mask, masks)
        nodes.append(graph.node("Mul", [nodes[0].output[0], rows], merge.output[0], name + "/zero_rows_without_keys"))
    graph.replace(merge, nodes)
    return True


def _int32_mask(graph, mask, masks):
    """The bool `mask` as int32 (onnxruntime's `mask_index`), cast once for every layer."""
    if ("int32", mask) not in masks:
        masks["int32", mask] = graph.unique(mask + "/int32")
        cast = graph.node("Cast", [mask], masks["int32", mask], mask + "/Cast", to=onnx.TensorProto.INT32)
        graph.insert_after_producer(mask, cast)
    return masks["int32", mask]


def _query_row_mask(graph, row_mask, masks):
    """`row_mask` `[batch, 1, query, 1]` as `[batch, query, 1]`, squeezed once for every layer."""
    if ("rows", row_mask) not in masks:
        masks["rows", row_mask] = graph.unique(row_mask + "/squeezed")
        axis = graph.add_constant(row_mask + "/axis", np.array([1], np.int64))
        squeeze = graph.node("Squeeze", [row_mask, axis], masks["rows", row_mask], row_mask + "/Squeeze")
        graph.insert_after_producer(row_mask, squeeze)
    return masks["rows", row_mask]


def _fuse_skip_layer_norm(graph, norm):
    """`LayerNormalization(a + b)` with `a = MatMul(h, W) + bias`, both `[batch, sequence,
    hidden]` → `SkipLayerNormalization(MatMul(h, W), b, gamma, beta, bias)`."""
    if attribute(norm, "axis", -1) != -1 or len(norm.input) != 3:
        return False
    residual = graph.producer(norm.input[0], "Add")
    if residual is None or graph.only_consumer(residual.output[0]) is None:
        return False
    if any(graph.ranks.get(name) != 3 for name in residual.input):
        return False
    inputs = list(residual.input)
    bias = None
    for position, name in enumerate(residual.input):
        bias_add = graph.producer(name, "Add")
        if bias_add is None or graph.only_consumer(name) is None:
            continue
        for candidate in bias_add.input:
            if graph.producer(candidate, "MatMul") is not None:
                value = graph.constant(other_input(bias_add, candidate))
                if value is not None and value.ndim == 1:
                    inputs, bias = [candidate, residual.input[1 - position]], other_input(bias_add, candidate)
        if bias is not None:
            break
    name = norm.name + "/SkipLayerNormalization"
    fused = graph.node(
        "SkipLayerNormalization",
        inputs + list(norm.input[1:]) + ([bias] if bias is not None else []),
        norm.output[0],
        name,
        domain=MICROSOFT_DOMAIN,
        epsilon=attribute(norm, "epsilon", 1e-5),
    )
    graph.replace(norm, [fused])
    return True


def _fuse_bias_gelu(graph, product):
    """Exact GELU `(0.5 * y) * (1 + erf(y * 0.7071...))` of `y = x + bias` → `BiasGelu(x, bias)`."""
    for half_name in product.input:
        half, one = graph.producer(half_name, "Mul"), graph.producer(other_input(product, half_name) or "", "Add")
        y = next((name for name in half.input if graph.scalar(other_input(half, name)) == 0.5), None) if half else None
        erf_name, erf = graph.producer_among(one.input if one else (), "Erf")
        if y is None or erf is None or graph.scalar(other_input(one, erf_name)) != 1.0:
            continue
        scaled = graph.producer(erf.input[0], "Mul")
        root = graph.scalar(other_input(scaled, y)) if scaled is not None and y in scaled.input else None
        bias_add = graph.producer(y, "Add")
        if root is None or abs(root - 0.5**0.5) > 1e-7 or bias_add is None or len(graph.consumers[y]) != 2:
            continue
        for x in bias_add.input:
            bias = graph.constant(other_input(bias_add, x))
            if bias is not None and bias.ndim == 1 and graph.constant(x) is None:
                name = product.name + "/BiasGelu"
                fused = graph.node(
                    "BiasGelu", [x, other_input(bias_add, x)], product.output[0], name, domain=MICROSOFT_DOMAIN
                )
                graph.replace(product, [fused])
                return True
    return False


def fuse_onnxruntime_ops(model):
    """Rewrites `model` in place with standard ops and onnxruntime's contrib ops; returns
    `{fusion: count}`. The result loads only in onnxruntime."""
    fused = collections.Counter(fuse_standard_ops(model))
    _use_microsoft_domain(model)
    masks = {}
    rewrites = (
        ("Attention", "Reshape", lambda graph, node: _fuse_attention(graph, node, masks)),
        ("BiasGelu", "Mul", _fuse_bias_gelu),
        ("SkipLayerNormalization", "LayerNormalization", _fuse_skip_layer_norm),
    )
    apply_rewrites(Graph(model), rewrites, fused)
    return {fusion: count for fusion, count in fused.items() if count}
