"""The classifier's parity gate: Keras, the reloaded SavedModel and onnxruntime must answer alike.

Every case runs through each runtime: text cases end to end (each runtime
tokenizes: tensorflow-text for Keras and the SavedModel, `tokenizers` for
onnxruntime), token-id cases straight into the models. onnxruntime runs both
ONNX files: `onnx`, `classifier.onnx` (standard ops, what `OnnxClassifier`
loads), and `onnx_contrib_ops`, `classifier.onnxruntime.onnx`. A case passes when
the largest |Δ probability| against Keras is within the tolerance, the labels
are identical, the token ids are identical and no output is NaN.
"""

import math
import os
import warnings

import numpy as np

from export import layout
from export.classifier.int8_parity import format_int8_line
from export.classifier.int8_parity import int8_entry
from export.classifier.onnx_runner import OnnxClassifier
from export.classifier.parity_cases import classifier_parity_cases
from export.classifier.saved_model import PREDICT_TOKEN_IDS
from export.parity_report import batches
from export.parity_report import parity_report
from export.parity_report import render_table
from export.parity_report import verdict
from export.parity_report import with_int8_entry
from export.serving import SERVING_DEFAULT
from export.serving import TOKENIZE
from export.serving import load_saved_model
from pipelines.common.sectioned_config import CLASSIFICATION

TOLERANCE = 1e-5
MAX_LISTED_MISMATCHES = 50
ONNX_CONTRIB_OPS = "onnx_contrib_ops"
RUNTIME_DESCRIPTIONS = {
    "keras": "model.keras, tensorflow-text tokenizer",
    "savedmodel": "reloaded SavedModel signatures (serving_default for texts)",
    "onnx": "onnxruntime on classifier.onnx, tokenizers (Hugging Face) tokenizer",
    ONNX_CONTRIB_OPS: "onnxruntime on classifier.onnxruntime.onnx (contrib ops), tokenizers tokenizer",
}


def check_parity(run, version_dir, texts, references=None, log=None):
    """The parity report of the artifacts in `version_dir`, each reloaded from disk.

    With int8 files (`--quantize int8`), the report's `"int8"` entry compares
    them with the float file on `texts`, scored against `references` (labels).
    `log` takes a progress line per case.
    """
    cases = classifier_parity_cases(
        texts, run.tokenizer, run.tokenizer.vocabulary_size, run.longest_token_ids
    )
    report = run_parity(cases, load_runtimes(run, version_dir), run.labels, TOLERANCE, log)
    return with_int8_entry(
        report, version_dir, lambda onnx_dir: int8_entry(onnx_dir, texts, references, run.labels)
    )


def load_runtimes(run, version_dir):
    """The runtimes of a version: the run's Keras model and the reloaded artifacts."""
    onnx_dir = os.path.join(version_dir, layout.ONNX_DIR)
    return {
        "keras": KerasRuntime(run),
        "savedmodel": SavedModelRuntime(load_saved_model(version_dir)),
        "onnx": OnnxRuntime(OnnxClassifier.load(onnx_dir)),
        ONNX_CONTRIB_OPS: OnnxRuntime(OnnxClassifier.load(onnx_dir, contrib_ops=True)),
    }


class KerasRuntime:
    def __init__(self, run):
        self.run = run

    def token_ids(self, texts):
        return self.run.tokenizer.tokenize(texts).numpy()

    def probabilities(self, token_ids):
        with warnings.catch_warnings():
            # Keras warns about a length-1 softmax on one-token texts; the result is right.
            warnings.filterwarnings("ignore", message="You are using a softmax over axis")
            return np.asarray(self.run.model(token_ids, training=False))


class SavedModelRuntime:
    def __init__(self, saved_model):
        self.signatures = saved_model.signatures

    def token_ids(self, texts):
        return self.signatures[TOKENIZE](texts=np.array(texts, dtype=object))["token_ids"].numpy()

    def probabilities(self, token_ids):
        outputs = self.signatures[PREDICT_TOKEN_IDS](token_ids=token_ids)
        return outputs["probabilities"].numpy()

    def text_probabilities(self, texts):
        return self.signatures[SERVING_DEFAULT](texts=np.array(texts, dtype=object))["probabilities"].numpy()


class OnnxRuntime:
    def __init__(self, onnx_classifier):
        self.classifier = onnx_classifier

    def token_ids(self, texts):
        return self.classifier.tokenize(texts)

    def probabilities(self, token_ids):
        return self.classifier.predict_token_ids(token_ids)


def run_case(case, runtimes):
    """Probabilities `{runtime: (rows, classes)}` and whether every runtime saw the same ids.

    `runtimes`: `{name: runtime}`, "keras" the reference; "savedmodel" takes
    text cases as texts (its `serving_default`), the others as their own ids."""
    outputs = {name: [] for name in runtimes}
    ids_identical = True
    if case.texts is not None:
        for texts in batches(case.texts, case.batch_size):
            token_ids = {name: runtimes[name].token_ids(texts) for name in runtimes}
            ids_identical &= all(np.array_equal(token_ids["keras"], ids) for ids in token_ids.values())
            for name, runtime in runtimes.items():
                if name == "savedmodel":
                    outputs[name].append(runtime.text_probabilities(texts))
                else:
                    outputs[name].append(runtime.probabilities(token_ids[name]))
    else:
        for token_ids in batches(case.token_ids, case.batch_size):
            for name, runtime in runtimes.items():
                outputs[name].append(runtime.probabilities(token_ids))
    return {name: np.concatenate(parts) for name, parts in outputs.items()}, ids_identical


def compare(case, probabilities, ids_identical, tolerance, labels):
    """One parity-table row as a dict (also the case's entry in parity.json)."""
    keras = probabilities["keras"]
    max_difference = {
        name: float(np.max(np.abs(value - keras))) for name, value in probabilities.items() if name != "keras"
    }
    nan_rows = {name: int(np.isnan(value).any(axis=-1).sum()) for name, value in probabilities.items()}
    label_ids = {name: value.argmax(axis=-1) for name, value in probabilities.items()}
    mismatched = np.flatnonzero(np.any([ids != label_ids["keras"] for ids in label_ids.values()], axis=0))
    passed = (
        all(value <= tolerance for value in max_difference.values())  # False for NaN too
        and not mismatched.size
        and ids_identical
        and not any(nan_rows.values())
    )
    return {
        "case": case.name,
        "rows": case.rows,
        "batch_size": case.batch_size,
        "max_abs_difference_vs_keras": max_difference,
        "labels_identical": not mismatched.size,
        "token_ids_identical": ids_identical,
        "nan_rows": nan_rows,
        "passed": bool(passed),
        "label_mismatches": [
            mismatch_record(case, row, label_ids, labels) for row in mismatched[:MAX_LISTED_MISMATCHES]
        ],
    }


def mismatch_record(case, row, label_ids, labels):
    record = {"row": int(row)}
    if case.texts is not None:
        record["text"] = case.texts[row]
    record.update({name: labels[int(ids[row])] for name, ids in label_ids.items()})
    return record


def run_parity(cases, runtimes, labels, tolerance=TOLERANCE, log=None):
    """The parity report (parity.json contents) of `cases` over `runtimes`."""

    def check_case(case):
        probabilities, ids_identical = run_case(case, runtimes)
        return compare(case, probabilities, ids_identical, tolerance, labels)

    return parity_report(
        CLASSIFICATION,
        cases,
        check_case,
        criteria={"tolerance": tolerance},
        runtimes={name: RUNTIME_DESCRIPTIONS[name] for name in runtimes},
        log=log,
    )


def format_difference(value):
    return "NaN" if math.isnan(value) else f"{value:.1e}"


def format_parity_table(report):
    """The parity report as a fixed-width table for the terminal."""
    columns = {"savedmodel": "Δ SavedModel", "onnx": "Δ ONNX", ONNX_CONTRIB_OPS: "Δ ONNX contrib"}
    shown = [name for name in columns if name in report["runtimes"]]
    header = ("case", "rows", *(columns[name] for name in shown), "labels", "token ids", "NaN", "result")
    lines = []
    for result in report["cases"]:
        difference = result["max_abs_difference_vs_keras"]
        lines.append(
            (
                result["case"],
                str(result["rows"]),
                *(format_difference(difference[name]) for name in shown),
                "same" if result["labels_identical"] else f"{len(result['label_mismatches'])} differ",
                "same" if result["token_ids_identical"] else "differ",
                str(sum(result["nan_rows"].values())),
                "ok" if result["passed"] else "FAIL",
            )
        )
    title = (
        f"parity vs Keras: max |Δ probability| (tolerance {report['tolerance']:.0e}), "
        f"{verdict(report['passed'])}"
    )
    table = render_table(title, header, lines)
    return table + "\n" + format_int8_line(report["int8"]) if "int8" in report else table
