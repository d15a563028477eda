"""Reading a Hugging Face BERT checkpoint directory: settings, weights and provenance.

    checkpoint = read_checkpoint("minilm")   # a short name or a directory path
    checkpoint.settings.hidden_dim           # 384
    checkpoint.weights["encoder.layer.0.attention.self.query.weight"]  # (out, in)

Weights come only from `model.safetensors` (or a sharded
`model.safetensors.index.json`), read with safetensors' NumPy API: no PyTorch, and
never a pickle (`pytorch_model.bin` files can run arbitrary code when loaded).
Everything is checked before a layer is built, and before any tensor data is read:
config.json against its schema (pipelines/pretrained/schema.py), the number of
layers it claims against the layers the weights hold, and every tensor's name,
dtype and shape (from the safetensors headers) against the config, with one
`UserInputError` that lists all that is wrong. Tensors are then read one at a
time as float32, and one holding a NaN or an infinity is refused.
"""

import dataclasses
import glob
import os
import re

import numpy as np

from pipelines.common.errors import UserInputError
from pipelines.common.finite import non_finite_count
from pipelines.common.run_files import files_sha256
from pipelines.pretrained.known_checkpoints import known_checkpoint_name
from pipelines.pretrained.known_checkpoints import resolve_checkpoint_dir
from pipelines.pretrained.schema import CONFIG_SCHEMA
from pipelines.pretrained.schema import CONFIG_SIZES
from pipelines.pretrained.schema import HF_ACTIVATIONS
from pipelines.pretrained.schema import MAX_CONFIG_BYTES
from pipelines.pretrained.schema import WEIGHTS_INDEX_SCHEMA
from pipelines.pretrained.schema import check_schema
from pipelines.pretrained.schema import read_checkpoint_json

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
WEIGHTS_INDEX_FILE = "model.safetensors.index.json"
README_FILE = "README.md"
CONFIG_FIX = "fix config.json"

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
POOLER_PREFIX = "pooler."

# safetensors dtype names of the float tensors that are read (as float32).
FLOAT_DTYPES = ("F16", "BF16", "F32", "F64")
CONVERT_TO_SAFETENSORS = (
    "python -c \"from transformers import AutoModel; "
    "AutoModel.from_pretrained('{directory}').save_pretrained('{directory}', safe_serialization=True)\""
)
MAX_LISTED_TENSORS = 10
ENCODER_LAYER = re.compile(r"encoder\.layer\.(\d+)\.")


@dataclasses.dataclass
class EncoderSettings:
    """The shape of a BERT encoder, in our names (JSON-serializable, stored in a run's config)."""

    vocabulary_size: int
    hidden_dim: int
    num_layers: int
    num_heads: int
    intermediate_dim: int
    max_positions: int
    type_vocabulary_size: int = 2
    layer_norm_epsilon: float = 1e-12
    activation: str = "gelu_exact"
    dropout: float = 0.1
    attention_dropout: float = 0.1

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        return cls(**data)

    @classmethod
    def from_hf_config(cls, config, source):
        """Settings from a parsed Hugging Face `config.json`; `source` names it in errors.

        Every field is checked against `CONFIG_SCHEMA` (pipelines/pretrained/schema.py).
        """
        check_schema(config, CONFIG_SCHEMA, source, CONFIG_FIX)
        sizes = {ours: config[key] for ours, key in CONFIG_SIZES.items()}
        if sizes["hidden_dim"] % sizes["num_heads"]:
            raise UserInputError(
                f"{source}: hidden_size={sizes['hidden_dim']} is not divisible by "
                f"num_attention_heads={sizes['num_heads']}; fix config.json to match the weights"
            )
        return cls(
            **sizes,
            # Absent keys take BertConfig's defaults, as transformers does.
            layer_norm_epsilon=float(config.get("layer_norm_eps", 1e-12)),
            activation=HF_ACTIVATIONS[config.get("hidden_act", "gelu")],
            dropout=float(config.get("hidden_dropout_prob", 0.1)),
            attention_dropout=float(config.get("attention_probs_dropout_prob", 0.1)),
        )


@dataclasses.dataclass
class Checkpoint:
    """A checkpoint read from disk: where it came from, its settings and its float32 weights.

    `weights` uses the canonical `BertModel` names (`embeddings.*`,
    `encoder.layer.N.*`, and `pooler.*` when the file has it), Linear weights
    shaped (out, in) as in PyTorch.
    """

    path: str
    settings: EncoderSettings
    weights: dict
    sha256: str
    licence: str = None
    name: str = None
    model_type: str = "bert"

    def source_record(self):
        """What a run's config.json stores to say which checkpoint it started from."""
        return {
            "path": self.path,
            "name": self.name,
            "sha256": self.sha256,
            "licence": self.licence,
            "model_type": self.model_type,
        }


def read_checkpoint(name_or_path):
    """The checkpoint at a directory or known short name; a one-line `UserInputError` if unusable.

    Everything is checked before tensor data is read: config.json against its
    schema, the weights' names, dtypes and shapes (from the safetensors headers)
    against the config; then each tensor is read as float32 and refused if it
    holds a NaN or an infinity.
    """
    directory = checkpoint_directory(name_or_path)
    config_path = os.path.join(directory, CONFIG_FILE)
    config = read_config(config_path)
    settings = EncoderSettings.from_hf_config(config, config_path)
    weight_files = find_weight_files(directory)
    headers = read_headers(weight_files)
    shapes = normalise_weights({name: header.shape for name, header in headers.items()})
    check_layer_count(shapes, settings, config_path)
    check_tensor_shapes(shapes, settings, directory)
    weights = normalise_weights(read_tensors(headers))
    return Checkpoint(
        path=directory,
        settings=settings,
        weights=weights,
        sha256=files_sha256(weight_files),
        licence=read_licence(os.path.join(directory, README_FILE)),
        name=known_checkpoint_name(name_or_path) or config.get("_name_or_path") or os.path.basename(directory),
        model_type=config["model_type"],
    )


def checkpoint_directory(name_or_path):
    directory = os.path.abspath(resolve_checkpoint_dir(name_or_path))
    if not os.path.exists(directory):
        raise UserInputError(
            f"checkpoint directory {directory} not found; pass a Hugging Face BERT directory "
            "(config.json + model.safetensors) or a known short name such as 'minilm'"
        )
    if not os.path.isdir(directory):
        raise UserInputError(
            f"checkpoint {directory} is not a directory; pass the directory that holds config.json and model.safetensors"
        )
    return directory


def read_config(path):
    """config.json, checked against `CONFIG_SCHEMA`."""
    return read_checkpoint_json(
        path, CONFIG_SCHEMA, CONFIG_FIX, max_bytes=MAX_CONFIG_BYTES,
        missing="a Hugging Face checkpoint directory needs its config.json beside the weights",
    )


def find_weight_files(directory):
    """The safetensors files holding the weights, in the order they are hashed."""
    single = os.path.join(directory, WEIGHTS_FILE)
    if os.path.isfile(single):
        return [single]
    index = os.path.join(directory, WEIGHTS_INDEX_FILE)
    if os.path.isfile(index):
        return shard_files(index, directory)
    if glob.glob(os.path.join(glob.escape(directory), "*.bin")):
        raise UserInputError(
            f"{directory} holds only PyTorch .bin weights: pickle files can run arbitrary code when "
            "loaded, so they are never read; convert them to safetensors with "
            + CONVERT_TO_SAFETENSORS.format(directory=directory)
        )
    raise UserInputError(
        f"{directory}: no weights file ({WEIGHTS_FILE} or {WEIGHTS_INDEX_FILE}); "
        "download the checkpoint's safetensors weights into it"
    )


def shard_files(index_path, directory):
    """The shards an index names, sorted by file name (model-00001-of-N first).

    The index is checked against `WEIGHTS_INDEX_SCHEMA`: every shard is a plain
    file name, so none is followed out of the directory.
    """
    index = read_checkpoint_json(index_path, WEIGHTS_INDEX_SCHEMA, "download the checkpoint's index file again")
    paths = []
    for shard in sorted(set(index["weight_map"].values())):
        path = os.path.join(directory, shard)
        if not os.path.isfile(path):
            raise UserInputError(f"{path} not found, but {WEIGHTS_INDEX_FILE} lists it; download the missing shard")
        paths.append(path)
    return paths


@dataclasses.dataclass(frozen=True)
class TensorHeader:
    """What a safetensors header says of one tensor: its file, dtype name ("F32") and shape."""

    path: str
    dtype: str
    shape: tuple


def read_headers(paths):
    """Stored name → `TensorHeader` of every encoder tensor in the files; no tensor data is read.

    Ignored tensors (buffers, task heads) are left out; any other tensor that is
    not float is refused here.
    """
    safe_open = import_safe_open()
    headers = {}
    for path in paths:
        with safetensors_errors(path):
            with safe_open(path, framework="numpy") as file:
                for name in file.keys():
                    if name in headers:
                        raise UserInputError(f"{path}: tensor {name!r} is also in another shard; fix the index")
                    if is_ignored(name):
                        continue  # never read: an int64 buffer or a task head
                    tensor = file.get_slice(name)
                    dtype = tensor.get_dtype()
                    if dtype not in FLOAT_DTYPES:
                        raise UserInputError(
                            f"{path}: tensor {name!r} has dtype {dtype}; only float weights (F32, F16, BF16, F64) "
                            "are supported — use an unquantized checkpoint"
                        )
                    headers[name] = TensorHeader(path, dtype, tuple(tensor.get_shape()))
    return headers


class safetensors_errors:
    """Turns whatever safetensors raises for a bad file (its own SafetensorError,
    OSError, ...) into a one-line `UserInputError` naming the file."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if error is None or isinstance(error, UserInputError) or not isinstance(error, Exception):
            return False
        raise UserInputError(
            f"{self.path}: not a readable safetensors file ({first_line(error)}); download it again"
        ) from None


def read_tensors(headers):
    """The tensors `headers` lists, as float32 NumPy arrays under their stored names.

    Each tensor is checked for NaN and infinity once in float32 (a float64 value
    beyond float32's range becomes an infinity), naming the first that holds any.
    """
    safe_open = import_safe_open()
    tensors = {}
    for path in dict.fromkeys(header.path for header in headers.values()):
        names = [name for name, header in headers.items() if header.path == path]
        with safetensors_errors(path):
            with safe_open(path, framework="numpy") as file:
                for name in names:
                    tensor = read_float32(file, name, path)
                    check_finite(tensor, name, path)
                    tensors[name] = tensor
    return tensors


def import_safe_open():
    try:
        from safetensors import safe_open
    except ImportError:
        raise UserInputError(
            "reading checkpoints needs safetensors; run `pip install 'keras-attention-kit[pretrained]'`"
        ) from None
    return safe_open


def read_float32(file, name, path):
    dtype = file.get_slice(name).get_dtype()
    if dtype == "BF16":
        return read_bfloat16(file, name, path)
    with np.errstate(over="ignore"):  # a float64 value beyond float32's range: inf, refused next
        return np.ascontiguousarray(file.get_tensor(name), dtype=np.float32)


def read_bfloat16(file, name, path):
    """A bfloat16 tensor as float32 (exact). NumPy knows bfloat16 only once `ml_dtypes`
    (a Keras dependency) is imported; safetensors then returns such arrays."""
    try:
        import ml_dtypes  # noqa: F401  (registers the bfloat16 dtype with NumPy)

        tensor = file.get_tensor(name)
    except (ImportError, TypeError):
        tensor = None
    if tensor is None or tensor.dtype.name != "bfloat16":
        raise UserInputError(
            f"{path}: tensor {name!r} is bfloat16, which NumPy cannot read without ml_dtypes; "
            "`pip install ml-dtypes`, or convert the checkpoint to float32"
        )
    return np.ascontiguousarray(tensor, dtype=np.float32)


def check_finite(tensor, name, path):
    count = non_finite_count(tensor)
    if count:
        raise UserInputError(
            f"{path}: tensor {name!r} holds {count:,} NaN or infinite values (of {tensor.size:,}) in float32; "
            "the weights are corrupt or overflowed — download the checkpoint again"
        )


def first_line(error):
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


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
        "embeddings.word_embeddings.weight": (settings.vocabulary_size, hidden),
        "embeddings.position_embeddings.weight": (settings.max_positions, hidden),
        "embeddings.token_type_embeddings.weight": (settings.type_vocabulary_size, hidden),
        "embeddings.LayerNorm.weight": (hidden,),
        "embeddings.LayerNorm.bias": (hidden,),
    }
    for layer in range(settings.num_layers):
        prefix = f"encoder.layer.{layer}."
        shapes.update(linear_shapes(prefix + "attention.self.query", hidden, hidden))
        shapes.update(linear_shapes(prefix + "attention.self.key", hidden, hidden))
        shapes.update(linear_shapes(prefix + "attention.self.value", hidden, hidden))
        shapes.update(linear_shapes(prefix + "attention.output.dense", hidden, hidden))
        shapes.update(layer_norm_shapes(prefix + "attention.output.LayerNorm", hidden))
        shapes.update(linear_shapes(prefix + "intermediate.dense", hidden, intermediate))
        shapes.update(linear_shapes(prefix + "output.dense", intermediate, hidden))
        shapes.update(layer_norm_shapes(prefix + "output.LayerNorm", hidden))
    shapes.update(linear_shapes("pooler.dense", hidden, hidden))
    return shapes


def linear_shapes(prefix, in_dim, out_dim):
    return {f"{prefix}.weight": (out_dim, in_dim), f"{prefix}.bias": (out_dim,)}


def layer_norm_shapes(prefix, dim):
    return {f"{prefix}.weight": (dim,), f"{prefix}.bias": (dim,)}


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
    """
    expected = expected_tensor_shapes(settings)
    has_pooler = any(name.startswith(POOLER_PREFIX) for name in shapes)
    missing = [
        name for name in expected
        if name not in shapes and (has_pooler or not name.startswith(POOLER_PREFIX))
    ]
    unexpected = [name for name in shapes if name not in expected]
    wrong_shapes = [
        f"{name} expected {expected[name]}, found {shape}"
        for name, shape in shapes.items()
        if name in expected and shape != expected[name]
    ]
    problems = listed_problems({"missing": missing, "unexpected": unexpected, "wrong shape": wrong_shapes})
    if problems:
        raise UserInputError(
            f"{source}: the weights do not match config.json ({problems}); "
            "use the config.json saved with these weights"
        )


def listed_problems(names_by_kind):
    """`kind: a, b and N more; ...` naming at most about MAX_LISTED_TENSORS tensors in all,
    at least one of each kind, so the message stays one readable line."""
    budget = MAX_LISTED_TENSORS
    parts = []
    for kind, names in names_by_kind.items():
        if not names:
            continue
        shown = names[: max(budget, 1)]
        budget -= len(shown)
        more = f" and {len(names) - len(shown)} more" if len(names) > len(shown) else ""
        parts.append(f"{kind}: {', '.join(shown)}{more}")
    return "; ".join(parts)


def read_licence(readme_path):
    """The `license:` of a model card's YAML front matter, or None."""
    try:
        with open(readme_path, encoding="utf-8") as file:
            lines = file.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    if not lines or lines[0].strip() != "---":
        return None
    for line in lines[1:]:
        if line.strip() == "---":
            break
        key, _, value = line.partition(":")
        if key == "license" and value.strip():
            return value.strip().strip("'\"")
    return None
