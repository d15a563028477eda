"""Reading a Hugging Face BERT checkpoint directory: settings, weights and provenance.

    checkpoint = read_checkpoint("minilm")   # a short name or a directory path
    checkpoint.settings.hidden_dim           # 384
    checkpoint.weights["encoder.layer.0.attention.self.query.weight"]  # (out, in)

Weights come only from `model.safetensors` (or a sharded
`model.safetensors.index.json`), read with safetensors' NumPy API: no PyTorch, and
never a pickle (`pytorch_model.bin` files can run arbitrary code when loaded).
Everything is checked before a layer is built: the config against what the
encoder supports, and every tensor's name and shape against the config, with one
`UserInputError` that lists all that is wrong.
"""

import dataclasses
import glob
import json
import os

import numpy as np

from pipelines.common.errors import UserInputError
from pipelines.common.run_files import files_sha256
from pipelines.pretrained.known_checkpoints import known_checkpoint_name
from pipelines.pretrained.known_checkpoints import resolve_checkpoint_dir

SUPPORTED_MODEL_TYPES = ("bert",)

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
WEIGHTS_INDEX_FILE = "model.safetensors.index.json"
README_FILE = "README.md"

# Hugging Face `hidden_act` → the activation our encoder blocks use. BERT's "gelu" is
# the exact (erf) GELU; the others are the tanh approximation under different names.
HF_ACTIVATIONS = {
    "gelu": "gelu_exact",
    "gelu_new": "gelu",
    "gelu_pytorch_tanh": "gelu",
    "gelu_fast": "gelu",
    "relu": "relu",
}

# Our setting name → the config.json key it comes from; each must be a positive int.
REQUIRED_INTEGER_KEYS = {
    "vocabulary_size": "vocab_size",
    "hidden_dim": "hidden_size",
    "num_layers": "num_hidden_layers",
    "num_heads": "num_attention_heads",
    "intermediate_dim": "intermediate_size",
    "max_positions": "max_position_embeddings",
    "type_vocabulary_size": "type_vocab_size",
}

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

FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")
CONVERT_TO_SAFETENSORS = (
    "python -c \"from transformers import AutoModel; "
    "AutoModel.from_pretrained('{directory}').save_pretrained('{directory}', safe_serialization=True)\""
)
MAX_LISTED_TENSORS = 10


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
        """Settings from a parsed Hugging Face `config.json`; `source` names it in errors."""
        if not isinstance(config, dict):
            raise UserInputError(f"{source}: expected a JSON object; use the config.json of a Hugging Face BERT model")
        check_model_type(config, source)
        check_position_embedding_type(config, source)
        integers = {ours: positive_integer(config, key, source) for ours, key in REQUIRED_INTEGER_KEYS.items()}
        if integers["hidden_dim"] % integers["num_heads"]:
            raise UserInputError(
                f"{source}: hidden_size={integers['hidden_dim']} is not divisible by "
                f"num_attention_heads={integers['num_heads']}; fix config.json to match the weights"
            )
        return cls(
            **integers,
            # Absent keys take BertConfig's defaults, as transformers does.
            layer_norm_epsilon=positive_number(config, "layer_norm_eps", 1e-12, source),
            activation=our_activation(config.get("hidden_act", "gelu"), source),
            dropout=probability(config, "hidden_dropout_prob", source),
            attention_dropout=probability(config, "attention_probs_dropout_prob", source),
        )


def check_model_type(config, source):
    model_type = config.get("model_type")
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise UserInputError(
            f"{source}: unsupported model_type {model_type!r}; supported: {', '.join(SUPPORTED_MODEL_TYPES)} "
            "— use a BERT-family checkpoint"
        )


def check_position_embedding_type(config, source):
    position_type = config.get("position_embedding_type", "absolute")
    if position_type != "absolute":
        raise UserInputError(
            f"{source}: unsupported position_embedding_type {position_type!r}; only 'absolute' "
            "(learned position embeddings) is supported — use a checkpoint with absolute positions"
        )


def our_activation(hidden_act, source):
    if not isinstance(hidden_act, str) or hidden_act not in HF_ACTIVATIONS:
        raise UserInputError(
            f"{source}: unsupported hidden_act {hidden_act!r}; supported: {', '.join(HF_ACTIVATIONS)} "
            "— use a checkpoint with one of these activations"
        )
    return HF_ACTIVATIONS[hidden_act]


def positive_integer(config, key, source):
    if key not in config:
        raise UserInputError(f"{source}: missing key {key!r}; use the complete config.json saved with the weights")
    value = config[key]
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UserInputError(f"{source}: {key} must be a positive integer, got {value!r}; fix config.json")
    return value


def positive_number(config, key, default, source):
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise UserInputError(f"{source}: {key} must be a positive number, got {value!r}; fix config.json")
    return float(value)


def probability(config, key, source):
    value = config.get(key, 0.1)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise UserInputError(f"{source}: {key} must be a number in [0, 1), got {value!r}; fix config.json")
    return float(value)


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
    """The checkpoint at a directory or known short name; a one-line `UserInputError` if unusable."""
    directory = checkpoint_directory(name_or_path)
    config_path = os.path.join(directory, CONFIG_FILE)
    config = read_config(config_path)
    settings = EncoderSettings.from_hf_config(config, config_path)
    weight_files = find_weight_files(directory)
    weights = normalise_weights(read_tensors(weight_files))
    check_tensor_shapes(weights, settings, directory)
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
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except FileNotFoundError:
        raise UserInputError(
            f"{path} not found; a Hugging Face checkpoint directory needs its config.json beside the weights"
        ) from None
    except ValueError as error:  # json.JSONDecodeError and UnicodeDecodeError
        raise UserInputError(f"{path}: not valid JSON ({error}); download the checkpoint again") from None


def find_weight_files(directory):
    """The safetensors files holding the weights, in the order they are hashed."""
    single = os.path.join(directory, WEIGHTS_FILE)
    if os.path.isfile(single):
        return [single]
    index = os.path.join(directory, WEIGHTS_INDEX_FILE)
    if os.path.isfile(index):
        return shard_files(index, directory)
    if glob.glob(os.path.join(directory, "*.bin")):
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
    """The shards an index names, sorted by file name (model-00001-of-N first)."""
    index = read_config(index_path)
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise UserInputError(f"{index_path}: no 'weight_map'; download the checkpoint's index file again")
    paths = []
    for shard in sorted(set(weight_map.values())):
        # A shard name is a plain file name: never follow one out of the directory.
        if not isinstance(shard, str) or os.path.basename(shard) != shard:
            raise UserInputError(f"{index_path}: shard {shard!r} is not a file name in the directory; fix the index")
        path = os.path.join(directory, shard)
        if not os.path.isfile(path):
            raise UserInputError(f"{path} not found, but {WEIGHTS_INDEX_FILE} lists it; download the missing shard")
        paths.append(path)
    return paths


def read_tensors(paths):
    """Every tensor in the safetensors files, as float32 NumPy arrays, under its stored name."""
    safe_open = import_safe_open()
    tensors = {}
    for path in paths:
        try:
            with safe_open(path, framework="numpy") as file:
                for name in file.keys():
                    if name in tensors:
                        raise UserInputError(f"{path}: tensor {name!r} is also in another shard; fix the index")
                    if is_ignored(name):
                        continue  # never read: an int64 buffer or a task head
                    tensors[name] = read_float32(file, name, path)
        except UserInputError:
            raise
        except Exception as error:  # safetensors raises its own SafetensorError for bad files
            reason = first_line(error)
            raise UserInputError(f"{path}: not a readable safetensors file ({reason}); download it again") from None
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
    tensor = file.get_tensor(name)
    if tensor.dtype.name not in FLOAT_DTYPES:
        raise UserInputError(
            f"{path}: tensor {name!r} has dtype {dtype}; only float weights (F32, F16, BF16, F64) are "
            "supported — use an unquantized checkpoint"
        )
    return np.ascontiguousarray(tensor, dtype=np.float32)


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
    """The tensors under their canonical names (two stored names for one tensor is an error)."""
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


def check_tensor_shapes(weights, settings, source):
    """One error listing every missing, unexpected and wrongly shaped tensor, if any."""
    expected = expected_tensor_shapes(settings)
    has_pooler = any(name.startswith(POOLER_PREFIX) for name in weights)
    missing = [
        name for name in expected
        if name not in weights and (has_pooler or not name.startswith(POOLER_PREFIX))
    ]
    unexpected = [name for name in weights if name not in expected]
    wrong_shapes = [
        f"{name} expected {expected[name]}, found {tuple(tensor.shape)}"
        for name, tensor in weights.items()
        if name in expected and tuple(tensor.shape) != expected[name]
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
