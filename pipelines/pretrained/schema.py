"""What each JSON file of a Hugging Face checkpoint directory may hold: one small
schema per file, all in this module, checked before anything is built, written or
read in bulk.

    config = read_checkpoint_json(path, CONFIG_SCHEMA, "fix config.json")

A checkpoint directory is input from strangers: every field the readers use is
checked here for type and range, so a well-formed JSON file of the wrong shape is
one `UserInputError` line (the file, the field, what was found, the fix), never a
Python traceback from the code that uses it. Keys a schema does not list are
ignored: Hugging Face files carry many settings the encoder has no use for.
"""

import dataclasses
import json
import math
import os

from pipelines.common.errors import UserInputError

# Larger JSON files are refused unread. The largest real ones are tokenizer.json
# files of multilingual vocabularies (about 20 MB); a config.json is a few KB.
MAX_JSON_BYTES = 64 * 2**20
MAX_CONFIG_BYTES = 2**20
# The longest value shown in an error message.
MAX_SHOWN_CHARACTERS = 60
# `tokenizers`' WordPiece default is 100 characters; far longer makes no sense.
MAX_WORD_CHARACTERS = 10_000


def is_integer(value):
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value):
    return is_integer(value) or (isinstance(value, float) and math.isfinite(value))


@dataclasses.dataclass(frozen=True)
class Value:
    """A leaf: `description` says what `test` accepts ("a positive integer")."""

    description: str
    test: object

    def problem(self, value, field):
        if self.test(value):
            return None
        return f"{field} must be {self.description}, got {shown(value)}"


@dataclasses.dataclass(frozen=True)
class Choice:
    """One of `choices` (a supported setting); `fix` says what to use instead."""

    choices: tuple
    fix: str

    def problem(self, value, field):
        if isinstance(value, str) and value in self.choices:
            return None
        return f"unsupported {field} {shown(value)}; supported: {', '.join(self.choices)} — {self.fix}"


@dataclasses.dataclass(frozen=True)
class Object:
    """A JSON object: `fields` maps a key to its schema; `required` keys must be present."""

    fields: dict
    required: tuple = ()
    nullable: bool = False

    def problem(self, value, field):
        if value is None and self.nullable:
            return None
        if not isinstance(value, dict):
            return f"{field or 'the file'} must be a JSON object, got {shown(value)}"
        for key in self.required:
            if key not in value:
                return f"missing key {joined(field, key)!r}"
        for key, schema in self.fields.items():
            if key in value:
                problem = schema.problem(value[key], joined(field, key))
                if problem:
                    return problem
        return None


@dataclasses.dataclass(frozen=True)
class ListOf:
    """A JSON list whose every item matches `item`."""

    item: object
    nullable: bool = False

    def problem(self, value, field):
        if value is None and self.nullable:
            return None
        if not isinstance(value, list):
            return f"{field} must be a JSON list, got {shown(value)}"
        for index, entry in enumerate(value):
            problem = self.item.problem(entry, f"{field}[{index}]")
            if problem:
                return problem
        return None


@dataclasses.dataclass(frozen=True)
class MapOf:
    """A JSON object of any keys whose every value matches `value`; `non_empty` if it must hold one."""

    value: object
    non_empty: bool = False

    def problem(self, value, field):
        if not isinstance(value, dict):
            return f"{field} must be a JSON object, got {shown(value)}"
        if self.non_empty and not value:
            return f"{field} is empty"
        for key, entry in value.items():
            problem = self.value.problem(entry, f"{field}[{key!r}]")
            if problem:
                return problem
        return None


def joined(field, key):
    return f"{field}.{key}" if field else key


def shown(value):
    """`repr(value)`, cut to a readable length for one line; a list or object by its length."""
    if isinstance(value, list):
        return f"a JSON list of {len(value)} {'entry' if len(value) == 1 else 'entries'}"
    if isinstance(value, dict):
        return f"a JSON object of {len(value)} {'key' if len(value) == 1 else 'keys'}"
    text = repr(value)
    if len(text) > MAX_SHOWN_CHARACTERS:
        text = text[: MAX_SHOWN_CHARACTERS - 3] + "..."
    return text.replace("\n", "\\n")


POSITIVE_INTEGER = Value("a positive integer", lambda value: is_integer(value) and value > 0)
NON_NEGATIVE_INTEGER = Value("a non-negative integer", lambda value: is_integer(value) and value >= 0)
POSITIVE_NUMBER = Value("a positive number", lambda value: is_number(value) and value > 0)
PROBABILITY = Value("a number in [0, 1)", lambda value: is_number(value) and 0 <= value < 1)
STRING = Value("a string", lambda value: isinstance(value, str))
NON_EMPTY_STRING = Value("a non-empty string", lambda value: isinstance(value, str) and value != "")
BOOLEAN = Value("true or false", lambda value: isinstance(value, bool))
BOOLEAN_OR_NULL = Value("true, false or null", lambda value: value is None or isinstance(value, bool))
WORD_LENGTH = Value(
    f"an integer from 1 to {MAX_WORD_CHARACTERS}",
    lambda value: is_integer(value) and 0 < value <= MAX_WORD_CHARACTERS,
)
FILE_NAME = Value(
    "a file name in the checkpoint directory",
    lambda value: isinstance(value, str) and value not in ("", ".", "..") and os.path.basename(value) == value,
)
# A special token: its text, or an AddedToken object `{"content": ..., ...}`; null: none.
TOKEN = Value(
    "a token string or an object with a string 'content'",
    lambda value: value is None
    or (isinstance(value, str) and value != "")
    or (isinstance(value, dict) and isinstance(value.get("content"), str) and value["content"] != ""),
)

# The sizes the encoder needs from config.json (our setting name → key); each is
# compared with the tensors the weights files hold before any tensor is read.
CONFIG_SIZES = {
    "vocabulary_size": "vocab_size",
    "hidden_dim": "hidden_size",
    "num_layers": "num_hidden_layers",
    "num_heads": "num_attention_heads",
    "intermediate_dim": "intermediate_size",
    "max_positions": "max_position_embeddings",
    "type_vocabulary_size": "type_vocab_size",
}
SUPPORTED_MODEL_TYPES = ("bert",)
# Hugging Face `hidden_act` → the activation our encoder blocks use. BERT's "gelu" is
# the exact (erf) GELU; the others are the tanh approximation under different names.
HF_ACTIVATIONS = {
    "gelu": "gelu_exact",
    "gelu_new": "gelu",
    "gelu_pytorch_tanh": "gelu",
    "gelu_fast": "gelu",
    "relu": "relu",
}

CONFIG_SCHEMA = Object(
    {
        "model_type": Choice(SUPPORTED_MODEL_TYPES, "use a BERT-family checkpoint"),
        **{key: POSITIVE_INTEGER for key in CONFIG_SIZES.values()},
        "layer_norm_eps": POSITIVE_NUMBER,
        "hidden_act": Choice(tuple(HF_ACTIVATIONS), "use a checkpoint with one of these activations"),
        "hidden_dropout_prob": PROBABILITY,
        "attention_probs_dropout_prob": PROBABILITY,
        "position_embedding_type": Choice(
            ("absolute",),
            "only learned position embeddings are supported; use a checkpoint with absolute positions",
        ),
        "_name_or_path": STRING,
    },
    required=("model_type", *CONFIG_SIZES.values()),
)

WEIGHTS_INDEX_SCHEMA = Object(
    {"weight_map": MapOf(FILE_NAME, non_empty=True), "metadata": Object({}, nullable=True)},
    required=("weight_map",),
)

ADDED_TOKEN = Object(
    {
        "id": NON_NEGATIVE_INTEGER,
        "content": NON_EMPTY_STRING,
        **{flag: BOOLEAN for flag in ("single_word", "lstrip", "rstrip", "normalized", "special")},
    },
    required=("id", "content"),
)

# A piece of a TemplateProcessing template: a special token or the text's sequence.
TEMPLATE_PIECE = Object({
    "SpecialToken": Object({"id": STRING, "type_id": NON_NEGATIVE_INTEGER}),
    "Sequence": Object({"id": STRING, "type_id": NON_NEGATIVE_INTEGER}),
})

TOKENIZER_SCHEMA = Object(
    {
        "model": Object(
            {
                "type": STRING,
                "vocab": MapOf(NON_NEGATIVE_INTEGER),
                "unk_token": NON_EMPTY_STRING,
                "continuing_subword_prefix": STRING,
                "max_input_chars_per_word": WORD_LENGTH,
            },
            nullable=True,
        ),
        "normalizer": Object(
            {
                "type": STRING,
                "lowercase": BOOLEAN,
                "strip_accents": BOOLEAN_OR_NULL,
                "clean_text": BOOLEAN,
                "handle_chinese_chars": BOOLEAN,
            },
            nullable=True,
        ),
        "pre_tokenizer": Object({"type": STRING}, nullable=True),
        "post_processor": Object(
            {
                "type": STRING,
                "single": ListOf(TEMPLATE_PIECE, nullable=True),
                "pair": ListOf(TEMPLATE_PIECE, nullable=True),
                "special_tokens": MapOf(Object({
                    "id": STRING, "ids": ListOf(NON_NEGATIVE_INTEGER), "tokens": ListOf(STRING),
                })),
            },
            nullable=True,
        ),
        "added_tokens": ListOf(ADDED_TOKEN, nullable=True),
    },
)

NAMED_TOKENS = ("unk_token", "cls_token", "sep_token", "pad_token", "mask_token")

TOKENIZER_CONFIG_SCHEMA = Object(
    {
        "do_lower_case": BOOLEAN,
        "strip_accents": BOOLEAN_OR_NULL,
        "tokenize_chinese_chars": BOOLEAN,
        **{token: TOKEN for token in NAMED_TOKENS},
    },
)

SPECIAL_TOKENS_MAP_SCHEMA = Object(
    {**{token: TOKEN for token in NAMED_TOKENS}, "additional_special_tokens": ListOf(TOKEN, nullable=True)},
)


def check_schema(data, schema, path, fix):
    """Raises a one-line `UserInputError` naming `path`, the field and `fix` unless `data` fits."""
    problem = schema.problem(data, "")
    if problem:
        raise UserInputError(f"{path}: {problem}; {fix}")
    return data


def read_checkpoint_json(path, schema, fix, max_bytes=MAX_JSON_BYTES, missing=None):
    """The parsed JSON of a checkpoint file, checked against `schema`.

    Args:
        path: str. The file.
        schema: the file's schema (`CONFIG_SCHEMA`, ...).
        fix: str. What to do when a field is wrong ("fix config.json").
        max_bytes: int. Larger files are refused unread.
        missing: str, the error's text when there is no such file; None: the
            file is optional and None is returned.
    """
    if not os.path.lexists(path):
        if missing is None:
            return None
        raise UserInputError(f"{path} not found; {missing}")
    if not os.path.isfile(path):
        raise UserInputError(f"{path} is not a regular file; {fix}")
    try:
        size = os.path.getsize(path)
        if size > max_bytes:
            raise UserInputError(
                f"{path}: {size:,} bytes, more than the {max_bytes:,} such a file can need; "
                "download the checkpoint again"
            )
        with open(path, encoding="utf-8") as file:
            data = json.load(file)
    except UserInputError:
        raise
    except (ValueError, RecursionError) as error:  # JSONDecodeError, UnicodeDecodeError, nesting
        reason = str(error).splitlines()[0] if str(error) else "nested too deeply"
        raise UserInputError(f"{path}: not valid JSON ({reason}); download the checkpoint again") from None
    except OSError as error:
        raise UserInputError(f"{path}: cannot be read ({error.strerror or error}); {fix}") from None
    return check_schema(data, schema, path, fix)
