"""One label contract in every runtime: `label` is the class name (a string),
`label_id` its index, whichever runtime answers: the run (Python and
`predict --json`), the SavedModel and onnxruntime."""

import json
import os

import tensorflow as tf

from export.classifier.onnx_runner import OnnxClassifier
from pipelines.classification.cli import main
from pipelines.classification.trained import TrainedClassifier

TEXTS = ["a gorgeous, witty film", "a dull and lifeless mess", "it is charming ."]


def test_every_runtime_gives_the_class_name_and_its_index(classifier_run_dir, version_dir, saved_model, capsys):
    trained = TrainedClassifier.load(classifier_run_dir)
    expected = [(str(trained.class_names[p["label_id"]]), p["label_id"]) for p in trained.predict(TEXTS)]
    answers = {"python": [(p["label"], p["label_id"]) for p in trained.predict(TEXTS)]}

    assert main(["predict", classifier_run_dir, *TEXTS, "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    answers["predict --json"] = [(line["label"], line["label_id"]) for line in lines]

    served = saved_model.signatures["serving_default"](texts=tf.constant(TEXTS))
    answers["savedmodel"] = [
        (label.decode("utf-8"), int(label_id))
        for label, label_id in zip(served["label"].numpy(), served["label_id"].numpy())
    ]
    onnx = OnnxClassifier.load(os.path.join(version_dir, "onnx")).predict(TEXTS)
    answers["onnx"] = [(p["label"], p["label_id"]) for p in onnx]

    for runtime, pairs in answers.items():
        assert pairs == expected, runtime
        assert all(isinstance(label, str) and type(label_id) is int for label, label_id in pairs), runtime
