"""Rewriting tf2onnx's encoder graphs into the fused ops onnxruntime runs fastest.

tf2onnx spells out every Keras `LayerNormalization` as eleven elementwise
nodes, flattens each `Dense` input to 2-D and reshapes the product back with
run-time shape arithmetic (Shape, Cast, Gather or Slice, Concat, Cast), and
writes `tf.where` as `cast(c) * a + cast(!c) * b`. onnxruntime's own optimizer
(`ORT_ENABLE_ALL`) matches none of its transformer fusions on that: on the
fine-tuned MiniLM it only turns 13 MatMul + Add pairs into Gemm (614 → 599
nodes). Two rewrites, each computing the same function as its input graph:

- `fuse_standard_ops`: standard ONNX ops only, for any runtime. Each layer
  norm becomes one `LayerNormalization` (opset 17); each Dense one 3-D
  `MatMul` (+ `Add`) without the reshapes; `tf.where` becomes `Where`; the
  embedding lookup's negative-id wrap is dropped (ONNX `Gather` wraps itself).
- `fuse_onnxruntime_ops`: on top of that, onnxruntime's `com.microsoft` ops:
  `Attention` (the QKV projection, scaled dot product, mask and softmax of a
  self-attention layer), `SkipLayerNormalization` (residual add, output bias
  and layer norm) and `BiasGelu` (bias add and exact erf GELU; the tanh
  `FastGelu` is never substituted for it). Such a file runs only in onnxruntime.

A pattern that does not match exactly is left as it was: the rewrite can only
lose speed, never change an answer. Each function returns what it fused
(`{fusion: count}`); exports record it in `onnx/config.json`.
"""

import collections

import numpy as np
import onnx
from onnx import helper
from onnx import numpy_helper

MICROSOFT_DOMAIN = "com.microsoft"
_INTEGER_TYPES = {
    onnx.TensorProto.INT8, onnx.TensorProto.INT16, onnx.TensorProto.INT32, onnx.TensorProto.INT64,
    onnx.TensorProto.UINT8, onnx.TensorProto.UINT16, onnx.TensorProto.UINT32, onnx.TensorProto.UINT64,
}


class _Graph:
    """A graph's nodes as a list to edit, with producers, consumers, constants, ranks and
    element types; `commit` writes the list back without the nodes nothing reads."""

    def __init__(self, model):
        self.model = model
        self.nodes = [_copy_node(node) for node in model.graph.node]
        self.constants = {tensor.name: tensor for tensor in model.graph.initializer}
        self.new_constants = []
        self.ranks, self.types = _inferred_types(model)
        self.outputs = {value.name for value in model.graph.output}
        self.names = {name for node in self.nodes for name in list(node.output) + [node.name]}
        self.names.update(self.constants)
        self.reindex()

    def reindex(self):
        self.producers = {name: node for node in self.nodes for name in node.output if name}
        self.consumers = collections.defaultdict(list)
        for node in self.nodes:
            for name in dict.fromkeys(node.input):  # a node reading a tensor twice is one consumer
                self.consumers[name].append(node)

    def producer(self, name, op_type):
        node = self.producers.get(name)
        return node if node is not None and node.op_type == op_type and node.domain in ("", "ai.onnx") else None

    def producer_among(self, names, op_type):
        """The first of `names` that `op_type` produces, and that node; (None, None) if none."""
        for name in names:
            node = self.producer(name, op_type)
            if node is not None:
                return name, node
        return None, None

    def only_consumer(self, name, op_type=None):
        """The one node reading `name` (of `op_type`), if nothing else reads it."""
        consumers = self.consumers.get(name, [])
        if len(consumers) != 1 or name in self.outputs:
            return None
        if op_type is not None and consumers[0].op_type != op_type:
            return None
        return consumers[0]

    def constant(self, name):
        tensor = self.constants.get(name)
        if tensor is not None:
            return numpy_helper.to_array(tensor)
        node = self.producer(name, "Constant")
        if node is not None and len(node.attribute) == 1 and node.attribute[0].name == "value":
            return numpy_helper.to_array(node.attribute[0].t)
        return None

    def scalar(self, name):
        """The value of a one-element float constant, or None."""
        value = self.constant(name) if name else None
        if value is None or value.size != 1 or value.dtype.kind != "f":
            return None
        return float(value.reshape(()))

    def add_constant(self, name, value):
        tensor = numpy_helper.from_array(np.asarray(value), self.unique(name))
        self.constants[tensor.name] = tensor
        self.new_constants.append(tensor)
        return tensor.name

    def unique(self, name):
        while name in self.names:
            name += "_"
        self.names.add(name)
        return name

    def node(self, op_type, inputs, output, name, domain="", **attributes):
        return helper.make_node(op_type, inputs, [output], name=self.unique(name), domain=domain, **attributes)

    def replace(self, old_node, new_nodes):
        """Puts `new_nodes` where `old_node` was; the last writes what `old_node` wrote."""
        position = next(i for i, node in enumerate(self.nodes) if node is old_node)
        self.nodes[position : position + 1] = new_nodes
        self.reindex()

    def insert_after_producer(self, name, new_node):
        """Puts `new_node` right after the node writing `name` (first, for a graph input)."""
        producer = self.producers.get(name)
        position = 0 if producer is None else 1 + next(i for i, node in enumerate(self.nodes) if node is producer)
        self.nodes.insert(position, new_node)
        self.reindex()

    def remove_unused_nodes(self):
        needed = set(self.outputs)
        kept = []
        for node in reversed(self.nodes):
            if any(name in needed for name in node.output):
                kept.append(node)
                needed.update(name for name in node.input if name)
        self.nodes = kept[::-1]
        self.reindex()
        return needed

    def commit(self):
        """Writes the nodes back to the model, dropping nodes and initializers nothing reads."""
        needed = self.remove_unused_nodes()
        graph = self.model.graph
        for index in reversed(range(len(graph.initializer))):
            if graph.initializer[index].name not in needed:
                del graph.initializer[index]
        graph.initializer.extend(tensor for tensor in self.new_constants if tensor.name in needed)
        del graph.node[:]
        graph.node.extend(self.nodes)


def _copy_node(node):
    copy = onnx.NodeProto()
    copy.CopyFrom(node)
    return copy


def _inferred_types(model):
    """`({tensor: rank}, {tensor: element type})` where ONNX shape inference knows them."""
    graph = onnx.shape_inference.infer_shapes(model).graph
    ranks, types = {}, {}
    for value in list(graph.input) + list(graph.output) + list(graph.value_info):
        tensor_type = value.type.tensor_type
        types[value.name] = tensor_type.elem_type
        if tensor_type.HasField("shape"):
            ranks[value.name] = len(tensor_type.shape.dim)
    for tensor in graph.initializer:
        ranks[tensor.name], types[tensor.name] = len(tensor.dims), tensor.data_type
    return ranks, types


def _other(node, name):
    """The input of a two-input `node` that is not `name` (None if neither or both are)."""
    first, second = node.input
    if first == name and second != name:
        return second
    if second == name and first != name:
        return first
    return None


def _attribute(node, name, default=None):
    for attribute in node.attribute:
        if attribute.name == name:
            return helper.get_attribute_value(attribute)
    return default


def _is_last_axis(graph, node, axes_input=1):
    """Whether a reduction `node` reduces over the last axis only, keeping dims."""
    axes = graph.constant(node.input[axes_input]) if len(node.input) > axes_input else None
    if axes is None or axes.size != 1 or _attribute(node, "keepdims", 1) != 1:
        return False
    rank = graph.ranks.get(node.input[0])
    return int(axes.reshape(())) == -1 or (rank is not None and int(axes.reshape(())) == rank - 1)


# ---------------------------------------------------------------------------
# Standard-op rewrites


def _fuse_layer_norm(graph, mean_node):
    """tf2onnx's layer norm from `mean = ReduceMean(x)`:

        x * g + (beta - mean * g),  g = gamma / sqrt(mean((x - mean)^2) + epsilon)

    (`Sub, Mul, ReduceMean, Add, Sqrt, Reciprocal, Mul(gamma), Mul, Neg, Mul,
    Add(beta), Add`) → `LayerNormalization(x, gamma, beta)` over the last axis.
    """
    x, mean = mean_node.input[0], mean_node.output[0]
    if not _is_last_axis(graph, mean_node):
        return False
    uses = {node.op_type: node for node in graph.consumers[mean]}
    if sorted(node.op_type for node in graph.consumers[mean]) != ["Neg", "Sub"]:
        return False
    difference = uses["Sub"]
    if list(difference.input) != [x, mean]:
        return False
    square = graph.only_consumer(difference.output[0], "Mul")
    if square is None or list(square.input) != [difference.output[0]] * 2:
        return False
    variance = graph.only_consumer(square.output[0], "ReduceMean")
    if variance is None or not _is_last_axis(graph, variance):
        return False
    plus_epsilon = graph.only_consumer(variance.output[0], "Add")
    epsilon = plus_epsilon and graph.scalar(_other(plus_epsilon, variance.output[0]))
    sqrt = plus_epsilon and graph.only_consumer(plus_epsilon.output[0], "Sqrt")
    reciprocal = sqrt and graph.only_consumer(sqrt.output[0], "Reciprocal")
    scale = reciprocal and graph.only_consumer(reciprocal.output[0], "Mul")
    if epsilon is None or not scale:
        return False
    gamma = graph.constant(_other(scale, reciprocal.output[0]))
    scaled = {_other(node, scale.output[0]): node for node in graph.consumers[scale.output[0]] if node.op_type == "Mul"}
    negated = uses["Neg"].output[0]
    if gamma is None or len(graph.consumers[scale.output[0]]) != 2 or set(scaled) != {x, negated}:
        return False
    shifted = graph.only_consumer(scaled[negated].output[0], "Add")
    beta = shifted and graph.constant(_other(shifted, scaled[negated].output[0]))
    total = shifted and graph.only_consumer(shifted.output[0], "Add")
    if beta is None or not total or _other(total, shifted.output[0]) != scaled[x].output[0]:
        return False
    width = gamma.shape[-1] if gamma.ndim else None
    if width is None or gamma.size != width or beta.size != width:
        return False
    name = total.name + "/LayerNormalization"
    fused = graph.node(
        "LayerNormalization",
        [
            x,
            graph.add_constant(name + "/gamma", gamma.reshape(-1)),
            graph.add_constant(name + "/beta", beta.reshape(-1)),
        ],
        total.output[0],
        name,
        axis=-1,
        epsilon=epsilon,
    )
    graph.replace(total, [fused])
    return True


def _shape_terms(graph, name):
    """A 1-D integer tensor's value as a list of ints and `(tensor, axis)` dimensions, or None."""
    value = graph.constant(name)
    if value is not None:
        return [int(v) for v in value.reshape(-1)] if value.ndim == 1 and value.dtype.kind in "iu" else None
    node = graph.producers.get(name)
    if node is None or node.domain not in ("", "ai.onnx"):
        return None
    if node.op_type == "Shape":
        rank = graph.ranks.get(node.input[0])
        if rank is None:
            return None
        dims = [(node.input[0], axis) for axis in range(rank)]
        return dims[_attribute(node, "start", 0) : _attribute(node, "end", rank)]
    if node.op_type == "Cast" and _attribute(node, "to") in _INTEGER_TYPES:
        return _shape_terms(graph, node.input[0])  # shape values fit every integer type
    if node.op_type == "Concat" and _attribute(node, "axis") in (0, -1):
        parts = [_shape_terms(graph, part) for part in node.input]
        return None if None in parts else [term for part in parts for term in part]
    if node.op_type in _ARITHMETIC:
        operands = [_shape_terms(graph, operand) for operand in node.input]
        if None in operands or len({len(operand) for operand in operands if len(operand) != 1}) > 1:
            return None
        width = max(len(operand) for operand in operands)
        left, right = (operand * width if len(operand) == 1 else operand for operand in operands)
        terms = [_ARITHMETIC[node.op_type](a, b) for a, b in zip(left, right)]
        return None if None in terms else terms
    if node.op_type not in ("Slice", "Gather"):
        return None
    data = _shape_terms(graph, node.input[0])
    arguments = [graph.constant(argument) if argument else None for argument in node.input[1:]]
    if data is None or any(argument is None for argument, given in zip(arguments, node.input[1:]) if given):
        return None
    if node.op_type == "Gather":
        (indices,) = arguments
        in_range = all(-len(data) <= index < len(data) for index in indices.reshape(-1))
        if _attribute(node, "axis", 0) != 0 or indices.ndim != 1 or not in_range:
            return None
        return [data[int(index)] for index in indices]
    starts, ends, axes, steps = arguments + [None] * (4 - len(arguments))
    if starts.size != 1 or ends.size != 1 or (axes is not None and int(axes.reshape(())) not in (0, -1)):
        return None
    if steps is not None and int(steps.reshape(())) != 1:
        return None
    return data[int(starts.reshape(())) : int(ends.reshape(()))]


def _equal(a, b):
    if isinstance(a, int) and isinstance(b, int):
        return int(a == b)
    dim, other = (a, b) if isinstance(b, int) else (b, a)
    return 0 if isinstance(other, int) and other < 0 and not isinstance(dim, int) else None  # sizes are ≥ 0


def _multiply(a, b):
    if isinstance(a, int) and isinstance(b, int):
        return a * b
    return 0 if 0 in (a, b) else a if b == 1 else b if a == 1 else None


def _add(a, b):
    if isinstance(a, int) and isinstance(b, int):
        return a + b
    return a if b == 0 else b if a == 0 else None


# The arithmetic tf2onnx writes on shapes (e.g. `tf.slice`'s "size -1 means to the end"),
# on ints and on dimensions (`(tensor, axis)`, never negative).
_ARITHMETIC = {"Equal": _equal, "Mul": _multiply, "Add": _add}


def _shape_tensor(graph, terms, name):
    """Nodes computing the int64 1-D `terms`: a constant, or `Shape(t, start, end)` runs of
    one tensor's consecutive dimensions, joined to constants by one `Concat`."""
    parts, nodes = [], []
    for term in terms:
        previous = parts[-1] if parts else None
        if isinstance(term, int):
            if previous is not None and previous[0] == "constant":
                previous[1].append(term)
            else:
                parts.append(("constant", [term]))
        elif previous is not None and previous[0] == term[0] and previous[2] == term[1]:
            parts[-1] = (term[0], previous[1], term[1] + 1)
        else:
            parts.append((term[0], term[1], term[1] + 1))
    names = []
    for part in parts:
        if part[0] == "constant":
            names.append(graph.add_constant(name + "/constant", np.array(part[1], np.int64)))
        else:
            names.append(graph.unique(name + "/shape"))
            nodes.append(graph.node("Shape", [part[0]], names[-1], name + "/Shape", start=part[1], end=part[2]))
    if len(names) > 1:
        nodes.append(graph.node("Concat", names, graph.unique(name + "/concat"), name + "/Concat", axis=0))
        names = [nodes[-1].output[0]]
    return names[0], nodes


def _is_folded(graph, name):
    """Whether `name` is already what `_shape_tensor` writes: a constant, a Shape, or a Concat of those."""
    if graph.constant(name) is not None or graph.producer(name, "Shape") is not None:
        return True
    concat = graph.producer(name, "Concat")
    return concat is not None and all(
        graph.constant(part) is not None or graph.producer(part, "Shape") is not None for part in concat.input
    )


# The integer inputs that are shapes or positions: Reshape's shape, Slice's starts to steps.
_SHAPE_INPUTS = {"Reshape": (1,), "Slice": (1, 2, 3, 4)}


def _fold_shape_arithmetic(graph, node):
    """Recomputes the shape inputs of a `Reshape` or `Slice` in the fewest nodes when the
    graph computes them in more (Shape, Cast, Slice, Concat, Equal, Mul, Add chains)."""
    positions = [i for i in _SHAPE_INPUTS[node.op_type] if i < len(node.input) and node.input[i]]
    if all(_is_folded(graph, node.input[i]) for i in positions):
        return False
    terms = {i: _shape_terms(graph, node.input[i]) for i in positions}
    if None in terms.values():
        return False
    new_nodes = []
    for i in positions:  # Slice's inputs must share one integer type: all become int64
        node.input[i], nodes = _shape_tensor(graph, terms[i], node.name)
        new_nodes.extend(nodes)
    graph.replace(node, new_nodes + [node])
    return True


def _fuse_dense(graph, reshape_back):
    """tf2onnx's Dense on a rank-r input `x`: `Reshape(MatMul(Reshape(x, [-1, K]), W) [+ bias],
    concat(shape(x)[:r-1], [N]))` → `MatMul(x, W) [+ bias]`, the same product without reshapes."""
    product_name, product, bias = reshape_back.input[0], graph.producer(reshape_back.input[0], "MatMul"), None
    bias_add = graph.producer(reshape_back.input[0], "Add")
    if bias_add is not None and graph.only_consumer(bias_add.output[0]) is not None:
        product_name, product = graph.producer_among(bias_add.input, "MatMul")
        bias = product and _other(bias_add, product_name)
        if bias is None or graph.constant(bias) is None or graph.constant(bias).ndim != 1:
            return False
    if product is None or graph.only_consumer(product_name) is None:
        return False
    weights = graph.constant(product.input[1])
    flatten = graph.producer(product.input[0], "Reshape")
    flat_shape = flatten and graph.constant(flatten.input[1])
    if weights is None or weights.ndim != 2 or flat_shape is None:
        return False
    x, rank = flatten.input[0], graph.ranks.get(flatten.input[0])
    if [int(v) for v in flat_shape.reshape(-1)] != [-1, weights.shape[0]] or rank is None:
        return False
    if _shape_terms(graph, reshape_back.input[1]) != [(x, axis) for axis in range(rank - 1)] + [weights.shape[1]]:
        return False
    name = reshape_back.name + "/MatMul"
    if bias is None:
        graph.replace(reshape_back, [graph.node("MatMul", [x, product.input[1]], reshape_back.output[0], name)])
        return True
    product_output = graph.unique(name + ":0")
    graph.replace(
        reshape_back,
        [
            graph.node("MatMul", [x, product.input[1]], product_output, name),
            graph.node("Add", [product_output, bias], reshape_back.output[0], name + "/Add"),
        ],
    )
    return True


def _select_branches(graph, add):
    """`(c, a, b)` if `add` is tf2onnx's `cast(c) * a + cast(!c) * b` (c bool), else None."""
    found = {}
    for name in add.input:
        product = graph.producer(name, "Mul")
        if product is None:
            return None
        casts = [graph.producer(operand, "Cast") for operand in product.input]
        bool_casts = [
            i for i, cast in enumerate(casts) if cast and graph.types.get(cast.input[0]) == onnx.TensorProto.BOOL
        ]
        if len(bool_casts) != 1:
            return None
        condition = casts[bool_casts[0]].input[0]
        negation = graph.producer(condition, "Not")
        key, condition = ("not", negation.input[0]) if negation is not None else ("is", condition)
        found[key] = (condition, product.input[1 - bool_casts[0]])
    if set(found) != {"is", "not"} or found["is"][0] != found["not"][0]:
        return None
    return found["is"][0], found["is"][1], found["not"][1]


def _fuse_select(graph, add):
    """`cast(c) * a + cast(!c) * b` → `Where(c, a, b)`; equal for finite a and b (and right
    where the product form gives NaN). A `zeros_like(a)` branch becomes a scalar 0."""
    branches = _select_branches(graph, add)
    if branches is None:
        return False
    condition, chosen, otherwise = branches
    fill = graph.producer(otherwise, "ConstantOfShape")
    if fill is not None:
        shape = graph.producer(fill.input[0], "Shape")
        value = _attribute(fill, "value")
        if shape is not None and shape.input[0] == chosen and value is not None:
            otherwise = graph.add_constant(add.name + "/zero", numpy_helper.to_array(value).reshape(()))
    graph.replace(add, [graph.node("Where", [condition, chosen, otherwise], add.output[0], add.name + "/Where")])
    return True


def _drop_index_wrap(graph, gather):
    """`Gather(table, Where(ids < 0, ids + rows, ids))` → `Gather(table, ids)`: ONNX `Gather`
    already counts negative indices from the end (TensorFlow's does not)."""
    select = graph.producer(gather.input[1], "Where")
    table = graph.constant(gather.input[0])
    if select is None or table is None or _attribute(gather, "axis", 0) != 0:
        return False
    condition, wrapped, ids = select.input
    less = graph.producer(condition, "Less")
    shift = graph.producer(wrapped, "Add")
    if less is None or shift is None or _other(shift, ids) is None:
        return False
    rows = graph.constant(_other(shift, ids))
    compared = graph.producer(less.input[0], "Cast")
    compared = compared.input[0] if compared is not None else less.input[0]
    zero = graph.constant(less.input[1])
    if rows is None or rows.size != 1 or int(rows.reshape(())) != table.shape[0] or compared != ids:
        return False
    if zero is None or zero.size != 1 or float(zero.reshape(())) != 0.0:
        return False
    gather.input[1] = ids
    graph.reindex()
    return True


def _apply(graph, rewrites, fused):
    """Runs each `(fusion, op type, rewrite)` over the nodes of that type, counting successes."""
    for fusion, op_type, rewrite in rewrites:
        for node in [node for node in graph.nodes if node.op_type == op_type and node.domain in ("", "ai.onnx")]:
            if any(node is current for current in graph.nodes) and rewrite(graph, node):
                fused[fusion] += 1
        graph.remove_unused_nodes()
    graph.commit()


def fuse_standard_ops(model):
    """Rewrites `model` (a `ModelProto`, opset ≥ 17) in place with standard ops; returns
    `{fusion: count}`."""
    fused = collections.Counter()
    rewrites = (
        ("Where", "Add", _fuse_select),
        ("Gather without index wrap", "Gather", _drop_index_wrap),
        ("LayerNormalization", "ReduceMean", _fuse_layer_norm),
        ("MatMul without reshapes", "Reshape", _fuse_dense),
        ("Reshape shape without arithmetic", "Reshape", _fold_shape_arithmetic),
        ("Slice bounds without arithmetic", "Slice", _fold_shape_arithmetic),
    )
    _apply(_Graph(model), rewrites, fused)
    return dict(fused)


# ---------------------------------------------------------------------------
# onnxruntime contrib-op rewrites


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
    if transpose is None or list(_attribute(transpose, "perm", [])) != perm:
        return None
    return transpose.input[0]


def _attention_mask(graph, bias_name):
    """`(m3, -big)` if `bias_name` is the additive mask `(cast(m) - 1) * big` of a bool
    `m = Unsqueeze(m3, 1)` (`[batch, 1, query, key]`), else None."""
    scale = graph.producer(bias_name, "Mul")
    for name in scale.input if scale is not None else ():
        shift = graph.producer(name, "Sub")
        big = graph.scalar(_other(scale, name))
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
        row_mask = context and _other(zeroing, context)
    weighted = context and graph.producer(context, "MatMul")
    softmax = weighted and graph.producer(weighted.input[0], "Softmax")
    if not softmax or _attribute(softmax, "axis", -1) not in (-1, 3):
        return False
    masked = graph.producer(softmax.input[0], "Add")
    scores_name, scores = graph.producer_among(masked.input if masked else (), "MatMul")
    mask = scores and _attention_mask(graph, _other(masked, scores_name))
    scaling = mask and graph.producer(_transposed(graph, scores.input[0], [0, 2, 1, 3]), "Mul")
    scale_name = next((name for name in scaling.input if graph.scalar(name) is not None), None) if scaling else None
    if scale_name is None:
        return False
    query = _heads(graph, _other(scaling, scale_name))
    key = _heads(graph, _transposed(graph, scores.input[1], [0, 2, 3, 1]))
    value = _heads(graph, _transposed(graph, weighted.input[1], [0, 2, 1, 3]))
    if None in (query, key, value) or not query[1:] == key[1:] == value[1:]:
        return False
    heads, size = query[1:]
    split = graph.producer(query[0], "Split")
    sizes = graph.constant(split.input[1]) if split is not None and len(split.input) == 2 else None
    if sizes is None or list(split.output) != [query[0], key[0], value[0]]:
        return False
    if _attribute(split, "axis", 0) not in (-1, 2):
        return False
    projection = graph.producer(split.input[0], "Add")
    product_name, product = graph.producer_among(projection.input if projection else (), "MatMul")
    bias = product and graph.constant(_other(projection, product_name))
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
            [x, product.input[1], _other(projection, product_name), _int32_mask(graph, mask_3d, masks)],
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
    if _attribute(norm, "axis", -1) != -1 or len(norm.input) != 3:
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
                value = graph.constant(_other(bias_add, candidate))
                if value is not None and value.ndim == 1:
                    inputs, bias = [candidate, residual.input[1 - position]], _other(bias_add, candidate)
        if bias is not None:
            break
    name = norm.name + "/SkipLayerNormalization"
    fused = graph.node(
        "SkipLayerNormalization",
        inputs + list(norm.input[1:]) + ([bias] if bias is not None else []),
        norm.output[0],
        name,
        domain=MICROSOFT_DOMAIN,
        epsilon=_attribute(norm, "epsilon", 1e-5),
    )
    graph.replace(norm, [fused])
    return True


def _fuse_bias_gelu(graph, product):
    """Exact GELU `(0.5 * y) * (1 + erf(y * 0.7071...))` of `y = x + bias` → `BiasGelu(x, bias)`."""
    for half_name in product.input:
        half, one = graph.producer(half_name, "Mul"), graph.producer(_other(product, half_name) or "", "Add")
        y = next((name for name in half.input if graph.scalar(_other(half, name)) == 0.5), None) if half else None
        erf_name, erf = graph.producer_among(one.input if one else (), "Erf")
        if y is None or erf is None or graph.scalar(_other(one, erf_name)) != 1.0:
            continue
        scaled = graph.producer(erf.input[0], "Mul")
        root = graph.scalar(_other(scaled, y)) if scaled is not None and y in scaled.input else None
        bias_add = graph.producer(y, "Add")
        if root is None or abs(root - 0.5**0.5) > 1e-7 or bias_add is None or len(graph.consumers[y]) != 2:
            continue
        for x in bias_add.input:
            bias = graph.constant(_other(bias_add, x))
            if bias is not None and bias.ndim == 1 and graph.constant(x) is None:
                name = product.name + "/BiasGelu"
                fused = graph.node(
                    "BiasGelu", [x, _other(bias_add, x)], product.output[0], name, domain=MICROSOFT_DOMAIN
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
    _apply(_Graph(model), rewrites, fused)
    return {fusion: count for fusion, count in fused.items() if count}


def node_counts(model):
    """`{op type: count}` of a `ModelProto`, most frequent first."""
    counts = collections.Counter(node.op_type for node in model.graph.node)
    return dict(counts.most_common())
