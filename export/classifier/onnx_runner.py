"""Inference on an exported ONNX classifier with onnxruntime, numpy and `tokenizers` only.

No TensorFlow is imported here (tests/export/test_export_onnx.py proves it),
so a service can install `onnxruntime numpy tokenizers` and copy the `onnx/`
folder of an exported version. With `version_dir` an SST-2 classifier's version
folder (`saved_models/sst2/1`, say):

>>> import os
>>> classifier = OnnxClassifier.load(os.path.join(version_dir, "onnx"))
>>> classifier.labels
['0', '1']
>>> [prediction] = classifier.predict(["a gorgeous, witty film"])
>>> sorted(prediction)
['label', 'label_id', 'probabilities']
>>> prediction["label"] == classifier.labels[prediction["label_id"]]
True
>>> round(sum(prediction["probabilities"].values()), 3)
1.0

A classifier trained on all of SST-2 answers with a prediction such as `{'label': '1',
'label_id': 1, 'probabilities': {'0': 0.02, '1': 0.98}}`.
"""

import os

import numpy as np

from export.onnx_session import FLOAT32
from export.onnx_session import create_session
from export.onnx_session import model_path
from export.onnx_session import read_onnx_config
from export.text_tokenizer import encode_batch
from export.text_tokenizer import load_text_tokenizer
from pipelines.common.errors import UserInputError
from pipelines.common.text_input import check_texts

TOKEN_IDS_INPUT = "token_ids"
ATTENTION_MASK_INPUT = "attention_mask"
PROBABILITIES_OUTPUT = "probabilities"
# config.json's key for the file with onnxruntime's contrib ops (Attention,
# SkipLayerNormalization, BiasGelu); "model_file", what `load` reads by default, has
# standard ONNX ops only, and measured faster on CPU (BENCHMARKS.md, "Fused ONNX graphs").
ONNXRUNTIME_MODEL_FILE = "onnxruntime_model_file"


class OnnxClassifier:
    """The ONNX classifier of an exported version, with its tokenizer and labels.

    Args:
        session: `onnxruntime.InferenceSession` of `classifier.onnx` (or of
            `classifier.onnxruntime.onnx`, the same graph in onnxruntime's contrib ops).
        tokenizer: `tokenizers.Tokenizer` (the exported `tokenizer.json`).
        labels: list of str. Class names by class id.
        longest_token_ids: int. The most ids per row the model takes (a
            learned position table); None for any length.
    """

    def __init__(self, session, tokenizer, labels, longest_token_ids=None):
        self.session = session
        self.tokenizer = tokenizer
        self.labels = list(labels)
        self.longest_token_ids = longest_token_ids

    @classmethod
    def load(
        cls, onnx_dir, intra_op_threads=1, optimization="all", precision=FLOAT32, providers=None, inter_op_threads=1,
        contrib_ops=False,
    ):
        """Loads an exported `onnx/` folder (config.json, classifier.onnx, tokenizer.json).

        `contrib_ops=True` loads `classifier.onnxruntime.onnx` instead: the same
        graph with onnxruntime's fused contrib ops, slower than `classifier.onnx`
        on CPU here but the form onnxruntime's GPU kernels are written for.
        `precision="int8"` loads `classifier.int8.onnx` (exported with
        `--quantize int8`). `providers` (onnxruntime execution providers, CPU by
        default) and the thread counts go to `export.onnx_session.create_session`.
        """
        config = read_onnx_config(onnx_dir)
        if contrib_ops and (precision != FLOAT32 or ONNXRUNTIME_MODEL_FILE not in config):
            raise UserInputError(
                f"{os.path.join(onnx_dir, 'config.json')} lists no {precision} file with onnxruntime's contrib ops; "
                "load it with contrib_ops=False, or export the run again for the float32 one"
            )
        session = create_session(
            model_path(onnx_dir, config, ONNXRUNTIME_MODEL_FILE if contrib_ops else "model_file", precision),
            intra_op_threads, optimization, providers, inter_op_threads,
        )
        tokenizer_path = os.path.join(onnx_dir, config["tokenizer_file"])
        try:
            tokenizer = load_text_tokenizer(tokenizer_path)
        except Exception as error:  # tokenizers raises a bare Exception for a bad file
            raise UserInputError(f"{tokenizer_path}: cannot be loaded ({error}); export the run again") from None
        return cls(session, tokenizer, config["labels"], config.get("longest_token_ids"))

    @property
    def vocabulary_size(self):
        return self.tokenizer.get_vocab_size()

    def tokenize(self, texts):
        """Token ids `(batch, longest)` int32, 0-padded: the SavedModel's `tokenize`.

        `texts` is a list of str (or UTF-8 bytes); anything else is a `UserInputError`.
        """
        return encode_batch(self.tokenizer, check_texts(texts))

    def predict_token_ids(self, token_ids):
        """Class probabilities `(batch, classes)` of int token ids (0 = padding).

        `token_ids` must be 2-D integers in `[0, vocabulary_size)`, at most
        `longest_token_ids` wide if that is set, else a `UserInputError`. An
        empty batch gives `(0, classes)`; zero columns count as one padding
        column (the answer for an empty text).
        """
        token_ids = self.check_token_ids(token_ids)
        if token_ids.shape[0] == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        if token_ids.shape[1] == 0:
            token_ids = np.zeros((token_ids.shape[0], 1), dtype=np.int32)
        feeds = {
            TOKEN_IDS_INPUT: token_ids,
            ATTENTION_MASK_INPUT: (token_ids != 0).astype(np.int32),
        }
        return self.session.run([PROBABILITIES_OUTPUT], feeds)[0]

    def check_token_ids(self, token_ids):
        """`token_ids` as an int32 `(batch, sequence)` array; a user error otherwise."""
        token_ids = np.asarray(token_ids)
        if token_ids.ndim != 2:
            raise UserInputError(f"token_ids must be 2-D (batch, sequence); got shape {token_ids.shape}")
        if self.longest_token_ids is not None and token_ids.shape[1] > self.longest_token_ids:
            raise UserInputError(
                f"token_ids have {token_ids.shape[1]} columns, more than the model's learned position "
                f"table of {self.longest_token_ids}: cut each row to its first {self.longest_token_ids} ids"
            )
        if token_ids.size == 0:
            return token_ids.astype(np.int32)
        if not np.issubdtype(token_ids.dtype, np.integer):
            raise UserInputError(f"token_ids must be integers; got dtype {token_ids.dtype}")
        low, high = int(token_ids.min()), int(token_ids.max())
        if low < 0 or high >= self.vocabulary_size:
            raise UserInputError(
                f"token ids must be in [0, {self.vocabulary_size}) (the vocabulary); got {low} to {high} — "
                "tokenize with this version's tokenizer.json"
            )
        return token_ids.astype(np.int32)

    def predict_probabilities(self, texts):
        return self.predict_token_ids(self.tokenize(texts))

    def predict(self, texts):
        """One dict per text: `label`, `label_id` and `probabilities` by class name."""
        predictions = []
        for row in self.predict_probabilities(texts):
            label_id = int(np.argmax(row))
            predictions.append(
                {
                    "label": self.labels[label_id],
                    "label_id": label_id,
                    "probabilities": {name: float(p) for name, p in zip(self.labels, row)},
                }
            )
        return predictions
