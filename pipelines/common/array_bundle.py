"""Training data as arrays, for training where TensorFlow is not installed.

A machine with TensorFlow tokenizes the data into an array bundle; a machine
with only JAX (or PyTorch) and Keras trains from it (`pipelines.summarization.jax_training`)
and writes a weights folder; the first machine builds the run directory from
the bundle and the weights (`import-weights`).

    BUNDLE/
      bundle.json        what the bundle is for (pipeline, example counts, real
                         tokens per epoch, bad-row reports)
      config.json        the run's settings, vocabulary size filled in
      tokenizer/         the vocabulary the arrays were made with
      arrays.npz         int32 arrays, 0 = padding, named SPLIT_NAME
                         (train_encoder_ids, valid_labels, ...)

    WEIGHTS/
      model.weights.h5   the trained weights (best validation loss)
      training.json      the training settings used, speed and devices
      history.json       per-epoch loss, accuracy and learning rate
      reference_outputs.npz  inputs and outputs of the trained model, which
                         `import-weights` reproduces before it writes a run
      checkpoints/, backup/  resumable state while unfinished

NumPy and JSON only: both sides read this module.
"""

import json
import os
import shutil

import numpy as np

from pipelines.common.atomic import atomic_path
from pipelines.common.atomic import write_json_atomic
from pipelines.common.errors import UserInputError

MANIFEST_FILE = "bundle.json"
CONFIG_FILE = "config.json"
TOKENIZER_DIR = "tokenizer"
ARRAYS_FILE = "arrays.npz"

WEIGHTS_FILE = "model.weights.h5"
TRAINING_FILE = "training.json"
HISTORY_FILE = "history.json"
REFERENCE_FILE = "reference_outputs.npz"

FORMAT_VERSION = 1


def prepare_output_directory(path, overwrite, markers):
    """Creates `path` for a new bundle or weights folder.

    A folder that is not empty is replaced only with `overwrite`, and only when
    it holds one of `markers` (names that show what wrote it).
    """
    if os.path.isdir(path) and os.listdir(path):
        if not overwrite:
            raise UserInputError(f"{path} is not empty; choose another --out or pass --overwrite")
        if not any(os.path.exists(os.path.join(path, name)) for name in markers):
            raise UserInputError(
                f"{path} holds files this command did not write; refusing to delete them — "
                "choose another --out"
            )
        shutil.rmtree(path)
    os.makedirs(path, exist_ok=True)


def write_arrays(directory, arrays, manifest):
    """Writes `arrays.npz` and then `bundle.json` (its presence marks a complete bundle)."""
    with atomic_path(os.path.join(directory, ARRAYS_FILE)) as temporary:
        np.savez_compressed(temporary, **arrays)
    write_json_atomic(
        os.path.join(directory, MANIFEST_FILE), dict(manifest, format=FORMAT_VERSION)
    )


def read_manifest(directory, pipeline=None):
    """`bundle.json` of a complete bundle (for `pipeline`, when given)."""
    path = os.path.join(directory, MANIFEST_FILE)
    if not os.path.exists(path):
        raise UserInputError(
            f"{path} not found; point at a folder written by `prepare-arrays`"
        )
    with open(path, encoding="utf-8") as file:
        manifest = json.load(file)
    if manifest.get("format") != FORMAT_VERSION:
        raise UserInputError(
            f"{path}: bundle format {manifest.get('format')!r}, expected {FORMAT_VERSION}; "
            "rerun `prepare-arrays` with this version"
        )
    if pipeline is not None and manifest.get("pipeline") != pipeline:
        raise UserInputError(
            f"{directory} is a {manifest.get('pipeline')!r} bundle, not a {pipeline!r} one"
        )
    return manifest


def read_arrays(directory, split):
    """`{name: array}` of one split ("train", "valid")."""
    prefix = split + "_"
    with np.load(os.path.join(directory, ARRAYS_FILE)) as arrays:
        return {
            name[len(prefix):]: arrays[name] for name in arrays.files if name.startswith(prefix)
        }


def read_json(path):
    if not os.path.exists(path):
        raise UserInputError(
            f"{path} not found; point at a folder written by `pipelines.summarization.jax_training`"
        )
    with open(path, encoding="utf-8") as file:
        return json.load(file)
