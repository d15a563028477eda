"""The tensors of a Hugging Face `BertModel`: every name and shape, spelled only here.

The checkpoint reader (checkpoint.py) checks a checkpoint's tensors against
`expected_tensor_shapes`; the encoder (encoder.py) and the warm-started
summarizer (summarization/warm_start.py) look tensors up by these names. Names
are canonical `BertModel` names (`canonical_name`: no `bert.` prefix, no
TensorFlow-era gamma/beta); Linear weights are shaped (out, in), as in PyTorch.

>>> weight_name(layer_name(0, ATTENTION_PROJECTIONS["query"]))
'encoder.layer.0.attention.self.query.weight'
>>> canonical_name("bert.embeddings.LayerNorm.gamma")  # a TensorFlow-era task model's name
'embeddings.LayerNorm.weight'
"""

import re

from pipelines.common.errors import UserInputError
from pipelines.pretrained.safetensors_reader import shape_problems

# The embedding sublayers.
WORD_EMBEDDINGS = "embeddings.word_embeddings"
POSITION_EMBEDDINGS = "embeddings.position_embeddings"
TOKEN_TYPE_EMBEDDINGS = "embeddings.token_type_embeddings"
EMBEDDINGS_NORM = "embeddings.LayerNorm"
# The sublayers of each encoder layer, under `encoder.layer.N.` (`layer_name`). The
# attention projections by the name of their kernel and bias in our attention layer.
ENCODER_LAYERS = "encoder.layer"
ATTENTION_PROJECTIONS = {
    "query": "attention.self.query",
    "key": "attention.self.key",
    "value": "attention.self.value",
}
ATTENTION_OUTPUT = "attention.output.dense"
ATTENTION_NORM = "attention.output.LayerNorm"
INTERMEDIATE = "intermediate.dense"
OUTPUT = "output.dense"
OUTPUT_NORM = "output.LayerNorm"
# The pooler ([CLS] → tanh dense), which some checkpoints leave out.
POOLER_PREFIX = "pooler."
POOLER = POOLER_PREFIX + "dense"

# Tensors a BERT file may hold that are not encoder weights, ignored rather than
# reported as "unexpected": `embeddings.position_ids` is a constant buffer (0..P-1)
# the encoder recomputes; `cls.*` are the pretraining heads (masked LM, next
# sentence) of BertForPreTraining/BertForMaskedLM; `classifier.*` and
# `qa_outputs.*` are the task heads of fine-tuned checkpoints, which a new task
# replaces with its own freshly initialised head.
IGNORED_TENSORS = ("embeddings.position_ids",)
IGNORED_PREFIXES = ("cls.", "classifier.", "qa_outputs.")
# BertForSequenceClassification, BertForPreTraining, ... nest the encoder under `bert.`.
MODEL_PREFIX = "bert."
# TensorFlow-era checkpoints name the LayerNorm scale and offset gamma and beta.
LEGACY_SUFFIXES = {".LayerNorm.gamma": ".LayerNorm.weight", ".LayerNorm.beta": ".LayerNorm.bias"}
ENCODER_LAYER = re.compile(re.escape(ENCODER_LAYERS) + r"\.(\d+)\.")


def layer_name(index, sublayer):
    """A sublayer of encoder layer `index`: `encoder.layer.{index}.{sublayer}`."""
    return f"{ENCODER_LAYERS}.{index}.{sublayer}"


def weight_name(sublayer):
    return f"{sublayer}.weight"


def bias_name(sublayer):
    return f"{sublayer}.bias"


def canonical_name(name):
    """The `BertModel` name of a stored tensor: no `bert.` prefix, no legacy gamma/beta."""
    name = name.removeprefix(MODEL_PREFIX)
    for legacy, current in LEGACY_SUFFIXES.items():
        if name.endswith(legacy):
            return name[: -len(legacy)] + current
    return name


def is_ignored(stored_name):
    name = canonical_name(stored_name)
    return name in IGNORED_TENSORS or name.startswith(IGNORED_PREFIXES)


def normalise_weights(tensors):
    """The tensors (or their shapes) under their canonical names (two stored names for one
    tensor is an error)."""
    weights = {}
    stored_names = {}
    for stored_name, tensor in tensors.items():
        name = canonical_name(stored_name)
        if name in weights:
            raise UserInputError(
                f"tensor {name!r} is stored twice (as {stored_names[name]!r} and {stored_name!r}); "
                "keep one of them in the checkpoint"
            )
        weights[name] = tensor
        stored_names[name] = stored_name
    return weights


def expected_tensor_shapes(settings):
    """Every `BertModel` tensor name → its shape (Linear weights are (out, in)); pooler included."""
    hidden, intermediate = settings.hidden_dim, settings.intermediate_dim
    shapes = {
        weight_name(WORD_EMBEDDINGS): (settings.vocabulary_size, hidden),
        weight_name(POSITION_EMBEDDINGS): (settings.max_positions, hidden),
        weight_name(TOKEN_TYPE_EMBEDDINGS): (settings.type_vocabulary_size, hidden),
        **layer_norm_shapes(EMBEDDINGS_NORM, hidden),
    }
    for layer in range(settings.num_layers):
        for projection in ATTENTION_PROJECTIONS.values():
            shapes.update(linear_shapes(layer_name(layer, projection), hidden, hidden))
        shapes.update(linear_shapes(layer_name(layer, ATTENTION_OUTPUT), hidden, hidden))
        shapes.update(layer_norm_shapes(layer_name(layer, ATTENTION_NORM), hidden))
        shapes.update(linear_shapes(layer_name(layer, INTERMEDIATE), hidden, intermediate))
        shapes.update(linear_shapes(layer_name(layer, OUTPUT), intermediate, hidden))
        shapes.update(layer_norm_shapes(layer_name(layer, OUTPUT_NORM), hidden))
    shapes.update(linear_shapes(POOLER, hidden, hidden))
    return shapes


def linear_shapes(sublayer, in_dim, out_dim):
    return {weight_name(sublayer): (out_dim, in_dim), bias_name(sublayer): (out_dim,)}


def layer_norm_shapes(sublayer, dim):
    return {weight_name(sublayer): (dim,), bias_name(sublayer): (dim,)}


def check_layer_count(shapes, settings, source):
    """config.json may not claim more layers than the weights hold.

    Checked before the expected tensors are listed, so that a config claiming
    millions of layers costs no more time or memory than one claiming three.
    """
    layers = {int(match.group(1)) for name in shapes if (match := ENCODER_LAYER.match(name))}
    present = max(layers) + 1 if layers else 0
    if settings.num_layers > present:
        raise UserInputError(
            f"{source}: num_hidden_layers is {settings.num_layers}, but the weights hold "
            f"{present} layer{'' if present == 1 else 's'}; fix num_hidden_layers in config.json "
            "or use the config.json saved with these weights"
        )


def check_tensor_shapes(shapes, settings, source):
    """One error listing every missing, unexpected and wrongly shaped tensor, if any.

    `shapes` maps canonical tensor names to their shapes (tuples, from the headers).
    A checkpoint without a pooler is complete; one with part of a pooler is not.
    """
    problems = shape_problems(shapes, expected_tensor_shapes(settings), optional_prefixes=(POOLER_PREFIX,))
    if problems:
        raise UserInputError(
            f"{source}: the weights do not match config.json ({problems}); "
            "use the config.json saved with these weights"
        )
