"""Reading a Hugging Face BERT checkpoint directory: settings, weights and provenance.

    checkpoint = read_checkpoint("minilm")   # a short name or a directory path
    checkpoint.settings.hidden_dim           # 384
    checkpoint.weights["encoder.layer.0.attention.self.query.weight"]  # (out, in)

Weights come only from `model.safetensors` (or a sharded
`model.safetensors.index.json`), read with safetensors' NumPy API
(pipelines/pretrained/safetensors_reader.py): no PyTorch, and never a pickle
(`pytorch_model.bin` files can run arbitrary code when loaded). Everything is
checked before a layer is built, and before any tensor data is read:
config.json against its schema (pipelines/pretrained/schema.py), the number of
layers it claims against the layers the weights hold, and every tensor's name,
dtype and shape (from the safetensors headers) against the config (the names and
shapes: pipelines/pretrained/bert_weights.py), with one `UserInputError` that
lists all that is wrong. Tensors are then read one at a time as float32, and one
holding a NaN or an infinity is refused.
"""

import dataclasses
import os

from pipelines.common.errors import UserInputError
from pipelines.common.run_files import files_sha256
from pipelines.pretrained.bert_weights import check_layer_count
from pipelines.pretrained.bert_weights import check_tensor_shapes
from pipelines.pretrained.bert_weights import is_ignored
from pipelines.pretrained.bert_weights import normalise_weights
from pipelines.pretrained.known_checkpoints import known_checkpoint_name
from pipelines.pretrained.known_checkpoints import resolve_checkpoint_dir
from pipelines.pretrained.safetensors_reader import find_weight_files
from pipelines.pretrained.safetensors_reader import read_headers
from pipelines.pretrained.safetensors_reader import read_tensors
from pipelines.pretrained.schema import CONFIG_SCHEMA
from pipelines.pretrained.schema import CONFIG_SIZES
from pipelines.pretrained.schema import HF_ACTIVATIONS
from pipelines.pretrained.schema import MAX_CONFIG_BYTES
from pipelines.pretrained.schema import check_schema
from pipelines.pretrained.schema import read_checkpoint_json

CONFIG_FILE = "config.json"
README_FILE = "README.md"
CONFIG_FIX = "fix config.json"


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
    `encoder.layer.N.*`, and `pooler.*` when the file has it; bert_weights.py),
    Linear weights shaped (out, in) as in PyTorch.
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
    headers = read_headers(weight_files, is_ignored)
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
