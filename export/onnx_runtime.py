"""Inference on an exported ONNX classifier with onnxruntime, numpy and `tokenizers` only.

No TensorFlow is imported here (tests/export/test_onnx_runtime.py proves it),
so a service can install `onnxruntime numpy tokenizers` and copy the `onnx/`
folder of an exported version:

>>> classifier = OnnxClassifier.load("saved_models/sst2/1/onnx")
>>> classifier.predict(["a gorgeous, witty film"])
[{'label': '1', 'label_id': 1, 'probabilities': {'0': 0.02, '1': 0.98}}]
"""

import json
import os

import numpy as np
import onnxruntime

from export.text_tokenizer import encode_batch
from export.text_tokenizer import load_text_tokenizer

TOKEN_IDS_INPUT = "token_ids"
ATTENTION_MASK_INPUT = "attention_mask"
PROBABILITIES_OUTPUT = "probabilities"
CONFIG_FILE = "config.json"


def session_options(intra_op_threads=1, optimization="all"):
    """onnxruntime options: intra-op threads and graph optimization level.

    Args:
        intra_op_threads: int. Threads inside one operator. Defaults to 1,
            the fastest setting for these small graphs at batch 1 on 2 cores
            (benchmarks/inference.py measures 1 and 2); for throughput, run
            one session per core. With more than one thread, idle threads do
            not spin, which costs little and helps on shared CPUs.
            Inter-op parallelism stays off (sequential execution).
        optimization: `"all"` (default), `"extended"`, `"basic"` or `"disabled"`.
    """
    levels = {
        "all": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL,
        "extended": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "basic": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "disabled": onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL,
    }
    if optimization not in levels:
        raise ValueError(f"`optimization` must be one of {sorted(levels)}. Received: {optimization!r}")
    if not isinstance(intra_op_threads, int) or intra_op_threads <= 0:
        raise ValueError(
            f"`intra_op_threads` must be a positive integer. Received: intra_op_threads={intra_op_threads}"
        )
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = levels[optimization]
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def create_session(path, intra_op_threads=1, optimization="all"):
    return onnxruntime.InferenceSession(
        os.fspath(path),
        sess_options=session_options(intra_op_threads, optimization),
        providers=["CPUExecutionProvider"],
    )


class OnnxClassifier:
    """The ONNX classifier of an exported version, with its tokenizer and labels.

    Args:
        session: `onnxruntime.InferenceSession` of `classifier.onnx`.
        tokenizer: `tokenizers.Tokenizer` (the exported `tokenizer.json`).
        labels: list of str. Class names by class id.
    """

    def __init__(self, session, tokenizer, labels):
        self.session = session
        self.tokenizer = tokenizer
        self.labels = list(labels)

    @classmethod
    def load(cls, onnx_dir, intra_op_threads=1, optimization="all"):
        """Loads an exported `onnx/` folder (config.json, classifier.onnx, tokenizer.json)."""
        with open(os.path.join(onnx_dir, CONFIG_FILE), encoding="utf-8") as file:
            config = json.load(file)
        session = create_session(
            os.path.join(onnx_dir, config["model_file"]), intra_op_threads, optimization
        )
        tokenizer = load_text_tokenizer(os.path.join(onnx_dir, config["tokenizer_file"]))
        return cls(session, tokenizer, config["labels"])

    def tokenize(self, texts):
        """Token ids `(batch, longest)` int32, 0-padded: the SavedModel's `tokenize`."""
        return encode_batch(self.tokenizer, list(texts))

    def predict_token_ids(self, token_ids):
        """Class probabilities `(batch, classes)` of int token ids (0 = padding)."""
        token_ids = np.asarray(token_ids, dtype=np.int32)
        feeds = {
            TOKEN_IDS_INPUT: token_ids,
            ATTENTION_MASK_INPUT: (token_ids != 0).astype(np.int32),
        }
        return self.session.run([PROBABILITIES_OUTPUT], feeds)[0]

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
