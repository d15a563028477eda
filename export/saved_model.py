"""The classifier as a TF Serving-ready SavedModel: raw strings in, named outputs out.

Signatures (all with a dynamic batch dimension):

- `serving_default`: `texts` (string, [batch]) → `probabilities` (float32,
  [batch, classes]), `label` (string, [batch]), `label_id` (int32, [batch]).
  Tokenization runs inside the graph with tensorflow-text, whose ops the stock
  TF Serving model server links.
- `predict_token_ids`: `token_ids` (int32, [batch, length], 0 = padding) →
  the same outputs, for clients that tokenize themselves (with
  `assets/vocabulary.txt`). Sequences may be longer than the training length:
  the positions are sinusoidal.
- `tokenize`: `texts` → `token_ids` (int32, [batch, length]), what
  `serving_default` feeds the model.

Outputs are named dict keys, never Keras' default `output_0`.
"""

import os
import shutil

import keras
import tensorflow as tf

from export import layout

SERVING_DEFAULT = "serving_default"
PREDICT_TOKEN_IDS = "predict_token_ids"
TOKENIZE = "tokenize"
TEXTS_INPUT = "texts"
TOKEN_IDS_INPUT = "token_ids"
CLASSIFIER_OUTPUTS = ("probabilities", "label", "label_id")

TEXTS_SPEC = tf.TensorSpec([None], tf.string, name=TEXTS_INPUT)
TOKEN_IDS_SPEC = tf.TensorSpec([None, None], tf.int32, name=TOKEN_IDS_INPUT)


def classifier_endpoints(model, tokenizer, labels):
    """The three signature functions (plain Python callables over tensors)."""
    label_table = tf.constant(labels, dtype=tf.string)

    def predict_token_ids(token_ids):
        probabilities = model(token_ids, training=False)
        label_id = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
        return {
            "probabilities": probabilities,
            "label": tf.gather(label_table, label_id),
            "label_id": label_id,
        }

    def serving_default(texts):
        return predict_token_ids(tokenizer.tokenize(texts))

    def tokenize(texts):
        return {TOKEN_IDS_INPUT: tokenizer.tokenize(texts)}

    return {
        SERVING_DEFAULT: (serving_default, TEXTS_SPEC),
        PREDICT_TOKEN_IDS: (predict_token_ids, TOKEN_IDS_SPEC),
        TOKENIZE: (tokenize, TEXTS_SPEC),
    }


def write_classifier_saved_model(run, directory):
    """Writes the SavedModel of a `ClassifierRun` into `directory` (which must be empty).

    `keras.export.ExportArchive` tracks the model's variables and the tokenizer
    module. The vocabulary is copied into `assets/` for clients that send token
    ids; the graph itself carries the tokenizer's compiled model.
    """
    archive = keras.export.ExportArchive()
    archive.track(run.model)
    archive.track(run.tokenizer)
    for name, (function, spec) in classifier_endpoints(run.model, run.tokenizer, run.labels).items():
        archive.add_endpoint(name, function, input_signature=[spec])
    archive.write_out(directory, verbose=False)
    os.makedirs(os.path.join(directory, layout.ASSETS_DIR), exist_ok=True)
    shutil.copyfile(run.vocabulary_path, os.path.join(directory, layout.VOCABULARY_ASSET))


def load_saved_model(directory):
    """The SavedModel as TF Serving sees it: its signatures, reloaded from disk."""
    return tf.saved_model.load(os.fspath(directory))
