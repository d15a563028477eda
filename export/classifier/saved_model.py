"""The classifier as a TF Serving-ready SavedModel: raw strings in, named outputs out.

Signatures (all with a dynamic batch dimension):

- `serving_default`: `texts` (string, [batch]) → `probabilities` (float32,
  [batch, classes]), `label` (string, [batch]), `label_id` (int32, [batch]).
  Tokenization runs inside the graph with tensorflow-text, whose ops the stock
  TF Serving model server links.
- `predict_token_ids`: `token_ids` (int32, [batch, length], 0 = padding) →
  the same outputs, for clients that tokenize themselves (with
  `assets/vocabulary.txt`). Sequences may be longer than the training length
  with sinusoidal or rotary positions; with a learned position table, more
  than `max_length` columns is an error that names the limit. Ids outside the
  vocabulary and inputs of the wrong rank are errors too, never a crash.
- `tokenize`: `texts` → `token_ids` (int32, [batch, length]), what
  `serving_default` feeds the model.

Outputs are named dict keys, never Keras' default `output_0`.
"""

import numpy as np
import tensorflow as tf

from export.serving import SERVING_DEFAULT
from export.serving import TEXTS_INPUT
from export.serving import TEXTS_SPEC
from export.serving import TOKEN_IDS_INPUT
from export.serving import TOKEN_IDS_SPEC
from export.serving import TOKENIZE
from export.serving import write_saved_model

PREDICT_TOKEN_IDS = "predict_token_ids"
CLASSIFIER_OUTPUTS = ("probabilities", "label", "label_id")
WARMUP_BATCH_SIZES = (1, 8)


def classifier_endpoints(model, tokenizer, labels, longest_token_ids=None):
    """The three signature functions (plain Python callables over tensors).

    `longest_token_ids`: the most ids per row the model takes (None: any).
    """
    label_table = tf.constant(labels, dtype=tf.string)

    def predict_token_ids(token_ids):
        token_ids = checked_token_ids(token_ids, tokenizer.vocabulary_size, longest_token_ids)
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


def checked_token_ids(token_ids, vocabulary_size, longest_token_ids=None):
    """`token_ids` after run-time checks of rank, range and length, with messages a client can act on."""
    token_ids = tf.ensure_shape(token_ids, [None, None], name="token_ids_must_be_batch_by_sequence")
    message = f"token_ids must be in [0, {vocabulary_size}): tokenize with assets/vocabulary.txt"
    checks = [
        tf.debugging.assert_non_negative(token_ids, message=message),
        tf.debugging.assert_less(token_ids, tf.constant(vocabulary_size, tf.int32), message=message),
    ]
    if longest_token_ids is not None:
        checks.append(tf.debugging.assert_less_equal(
            tf.shape(token_ids)[1], longest_token_ids,
            message=f"token_ids may have at most {longest_token_ids} columns (the learned position "
            f"table): cut each row to its first {longest_token_ids} ids",
        ))
    with tf.control_dependencies(checks):
        return tf.identity(token_ids)


def write_classifier_saved_model(run, directory):
    """Writes the SavedModel of a `ClassifierRun` into `directory` (which must be empty)."""
    endpoints = classifier_endpoints(run.model, run.tokenizer, run.labels, run.longest_token_ids)
    write_saved_model(run, directory, endpoints)


def classifier_warmup_inputs(texts, tokenizer):
    """`(signature, inputs)` pairs for every signature at each warmup batch size."""
    pairs = []
    for batch_size in WARMUP_BATCH_SIZES:
        batch = np.array([texts[index % len(texts)] for index in range(batch_size)], dtype=object)
        token_ids = tokenizer.tokenize(list(batch)).numpy()
        pairs.append((SERVING_DEFAULT, {TEXTS_INPUT: batch}))
        pairs.append((PREDICT_TOKEN_IDS, {TOKEN_IDS_INPUT: token_ids}))
        pairs.append((TOKENIZE, {TEXTS_INPUT: batch}))
    return pairs
