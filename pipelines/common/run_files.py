"""Reading the files of a run directory: a one-line user error for a missing,
truncated or unsafe file, never a traceback from deep inside a library.

`model.keras` loads with `safe_mode=True`, and a file holding a `Lambda` layer is
refused before Keras reads it: `train` never writes one, and a Lambda carries
Python code (a lambda's bytecode, or the name of any importable function). A
model whose weights hold a NaN or an infinity is refused once loaded, so
`evaluate`, `predict` and `export` never use one.
"""

import hashlib
import json
import zipfile

from pipelines.common.errors import UserInputError

RESTORE_HINT = "restore the run directory from a backup or train it again"
HASH_CHUNK_BYTES = 1 << 20


def read_json_file(path):
    """The parsed JSON of `path`; a user error if it is missing or not valid JSON."""
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except FileNotFoundError:
        raise UserInputError(f"{path} not found; point at a run directory written by `train`") from None
    except ValueError as error:  # json.JSONDecodeError and UnicodeDecodeError
        raise UserInputError(f"{path}: not valid JSON ({error}); it is truncated or corrupted — {RESTORE_HINT}") from None


def read_lines_file(path):
    """The non-empty lines of a UTF-8 text file (a vocabulary)."""
    try:
        with open(path, encoding="utf-8") as file:
            return [line.rstrip("\n") for line in file if line.rstrip("\n")]
    except FileNotFoundError:
        raise UserInputError(f"{path} not found; the run directory is incomplete — {RESTORE_HINT}") from None
    except UnicodeDecodeError as error:
        raise UserInputError(f"{path}: not UTF-8 text ({error.reason}); {RESTORE_HINT}") from None


def load_keras_model(path):
    """The model in a `.keras` file, loaded with `safe_mode=True` and not compiled.

    Raises a `UserInputError` when the file is missing, is not a `.keras`
    archive (truncated, corrupted, another format), holds a `Lambda` layer,
    Keras refuses it (for example arbitrary code that `safe_mode` blocks), or
    a weight holds a NaN or an infinity.
    """
    import keras

    import keras_attention  # noqa: F401  (registers the layers for deserialization)

    check_keras_archive(path)
    try:
        model = keras.saving.load_model(path, safe_mode=True, compile=False)
    except (ValueError, TypeError, KeyError, OSError, zipfile.BadZipFile) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserInputError(f"{path}: cannot be loaded ({reason}); {RESTORE_HINT}") from None
    check_finite_model(model, path)
    return model


def check_finite_model(model, path):
    """Raises a user error if a weight of the loaded `model` is NaN or infinite."""
    from pipelines.common.finite import model_non_finite

    found = model_non_finite(model)
    if found is not None:
        name, count, size = found
        raise UserInputError(
            f"{path}: weight {name} holds {count:,} NaN or infinite values (of {size:,}); the model "
            "is unusable — train it again with a lower --learning-rate"
        )


def check_keras_archive(path):
    """Raises a user error unless `path` is a `.keras` zip whose config has no Lambda layer."""
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except FileNotFoundError:
        raise UserInputError(f"{path} not found; {RESTORE_HINT}") from None
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise UserInputError(
            f"{path}: not a valid .keras file (truncated or corrupted); {RESTORE_HINT}"
        ) from None
    lambda_layer = find_lambda_layer(config)
    if lambda_layer is not None:
        raise UserInputError(
            f"{path}: refusing to load a model with a Lambda layer ({lambda_layer!r}): it can run "
            "arbitrary Python code; use a model.keras written by `train` from a source you trust"
        )


def find_lambda_layer(config):
    """The name of the first `Lambda` layer in a Keras config (nested dicts and lists), or None."""
    if isinstance(config, dict):
        if config.get("class_name") == "Lambda":
            return config.get("config", {}).get("name", "Lambda")
        values = config.values()
    elif isinstance(config, list):
        values = config
    else:
        return None
    for value in values:
        found = find_lambda_layer(value)
        if found is not None:
            return found
    return None


def files_sha256(paths):
    """The hex sha256 of the files' bytes, concatenated in order, read in chunks."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as file:
            for chunk in iter(lambda: file.read(HASH_CHUNK_BYTES), b""):
                digest.update(chunk)
    return digest.hexdigest()
