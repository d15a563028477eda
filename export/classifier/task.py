"""The classification task's export, registered in export/tasks.py.

Artifacts: the SavedModel (serving_default, predict_token_ids, tokenize) with
its warmup records, `onnx/classifier.onnx` and `onnx/classifier.onnxruntime.onnx`,
the Hugging Face tokenizer and `onnx/config.json`. The parity gate compares class probabilities.
"""

import os

import numpy as np
import tensorflow as tf

from export import layout
from export.classifier import model_card
from export.classifier import onnx_graph
from export.classifier import parity_check
from export.classifier import saved_model
from export.classifier.onnx_runner import OnnxClassifier
from export.classifier.run import load_classifier_run
from export.serving import SERVING_DEFAULT
from export.serving import load_saved_model
from export.tasks import TaskExport
from export.text_tokenizer import save_text_tokenizer
from export.text_tokenizer import text_tokenizer_from_settings
from export.batching import write_batching_parameters
from export.warmup import warmup_logs
from export.warmup import write_warmup_file
from pipelines.common.atomic import write_json_atomic
from pipelines.common.sectioned_config import CLASSIFICATION

DEFAULT_PARITY_ROWS = 1000


def write_artifacts(run, version_dir, name, texts, opset, log):
    log("  SavedModel (serving_default, predict_token_ids, tokenize)")
    saved_model.write_classifier_saved_model(run, version_dir)
    requests = saved_model.classifier_warmup_inputs(texts, run.tokenizer)
    write_warmup_file(version_dir, warmup_logs(name, requests))
    write_batching_parameters(version_dir, CLASSIFICATION)
    log(f"  ONNX (opset {opset}) and tokenizer.json")
    os.makedirs(os.path.join(version_dir, layout.ONNX_DIR))
    fusions = onnx_graph.convert_classifier(
        run.model,
        os.path.join(version_dir, layout.ONNX_CLASSIFIER),
        os.path.join(version_dir, layout.ONNX_CLASSIFIER_ONNXRUNTIME),
        opset,
    )
    tokenizer = text_tokenizer_from_settings(run.vocabulary_path, run.tokenizer_settings_path)
    save_text_tokenizer(tokenizer, os.path.join(version_dir, layout.ONNX_TOKENIZER))
    write_json_atomic(os.path.join(version_dir, layout.ONNX_CONFIG), onnx_graph.onnx_config(run, opset, fusions))


def predictions_from_each_runtime(run, version_dir, text):
    """{runtime: (label, probabilities)} for one text."""
    keras_probabilities = np.asarray(run.model(run.tokenizer.tokenize([text]), training=False))[0]
    served = load_saved_model(version_dir).signatures[SERVING_DEFAULT](texts=tf.constant([text]))
    onnx = OnnxClassifier.load(os.path.join(version_dir, layout.ONNX_DIR)).predict([text])[0]
    return {
        "Keras (model.keras)": (run.labels[int(keras_probabilities.argmax())], keras_probabilities.tolist()),
        "SavedModel (serving_default)": (
            served["label"].numpy()[0].decode("utf-8"),
            served["probabilities"].numpy()[0].tolist(),
        ),
        "onnxruntime (no TensorFlow)": (onnx["label"], list(onnx["probabilities"].values())),
    }


def demo_answers(run, version_dir, text):
    """{runtime: one line with its label and probabilities} for one text."""
    answers = {}
    for runtime, (label, probabilities) in predictions_from_each_runtime(run, version_dir, text).items():
        shown = ", ".join(f"{p:.6f}" for p in probabilities)
        answers[runtime] = f"label {label}  probabilities [{shown}]"
    return answers


TASK = TaskExport(
    name=CLASSIFICATION,
    inputs="texts",
    parity_rows=DEFAULT_PARITY_ROWS,
    text_column=lambda run: run.config.data.text_column,
    reference_column=lambda run: run.config.data.label_column,
    load_run=load_classifier_run,
    write_artifacts=write_artifacts,
    check_parity=parity_check.check_parity,
    format_parity_table=parity_check.format_parity_table,
    card_fields=model_card.card_fields,
    card_text=model_card.card_text,
    onnx_runner=OnnxClassifier,
    onnx_model_files=("model_file",),
    example="a gorgeous, witty, seductive movie.",
    demo_answers=demo_answers,
)
