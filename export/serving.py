"""What every task's SavedModel shares: signature and input names, writing, loading.

Each task's `saved_model.py` builds its signature functions; this module
writes them out with the model's variables and the vocabulary asset, and
loads a version back the way TF Serving sees it. Outputs are named dict keys,
never Keras' default `output_0`.
"""

import os
import shutil

import keras
import tensorflow as tf

from export import layout
from pipelines.common.errors import UserInputError

SERVING_DEFAULT = "serving_default"
TOKENIZE = "tokenize"
TEXTS_INPUT = "texts"
TOKEN_IDS_INPUT = "token_ids"

TEXTS_SPEC = tf.TensorSpec([None], tf.string, name=TEXTS_INPUT)
TOKEN_IDS_SPEC = tf.TensorSpec([None, None], tf.int32, name=TOKEN_IDS_INPUT)


def write_saved_model(run, directory, endpoints):
    """Writes a SavedModel with `endpoints` into `directory` (which must be empty).

    `endpoints` maps signature names to `(function, input_spec)`.
    `keras.export.ExportArchive` tracks the model's variables and the tokenizer
    module. The vocabulary is copied into `assets/` for clients that send token
    ids; the graph itself carries the tokenizer's compiled model.
    """
    archive = keras.export.ExportArchive()
    archive.track(run.model)
    archive.track(run.tokenizer)
    for name, (function, spec) in endpoints.items():
        archive.add_endpoint(name, function, input_signature=[spec])
    archive.write_out(directory, verbose=False)
    os.makedirs(os.path.join(directory, layout.ASSETS_DIR), exist_ok=True)
    shutil.copyfile(run.vocabulary_path, os.path.join(directory, layout.VOCABULARY_ASSET))


def load_saved_model(directory):
    """The SavedModel as TF Serving sees it: its signatures, reloaded from disk.

    A SavedModel is a program: load only versions you exported or trust.
    """
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops the graph uses)

    directory = os.fspath(directory)
    try:
        return tf.saved_model.load(directory)
    except (OSError, IndexError, ValueError, tf.errors.OpError) as error:
        reason = str(error).strip().splitlines()[0]
        raise UserInputError(
            f"{directory}: not a loadable SavedModel ({reason}); it is missing, truncated or "
            "corrupted — export the run again"
        ) from None
