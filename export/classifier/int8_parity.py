"""The int8 entry of the classifier's parity gate: `classifier.int8.onnx` against `classifier.onnx`.

Both files classify the parity texts from the same token ids (the exported
tokenizer, batches of 32: the int8 file quantizes activations with one scale
per tensor, computed at run time over the whole batch, so its answer for a
text moves slightly with the other texts of the batch). The entry records how many labels agree, the
largest |Δ probability|, and, when the texts have labels, the accuracy of
each file. int8 weights move every probability a little, so texts near the
decision boundary can change label; the gate fails when fewer than
`AGREEMENT_BOUND` of the labels agree, or when the int8 file answers NaN.
"""

import numpy as np

from export.classifier.onnx_runner import OnnxClassifier
from export.classifier.parity_cases import BATCH_SIZE
from export.onnx_session import INT8
from export.onnx_session import read_onnx_config
from export.parity_report import batches

AGREEMENT_BOUND = 0.99
MAX_LISTED_DISAGREEMENTS = 50


def int8_entry(onnx_dir, texts, references, labels):
    """The `"int8"` entry of parity.json for the exported `onnx/` folder.

    Args:
        onnx_dir: str. The `onnx/` folder, listing its int8 file in config.json.
        texts: list of str. The parity texts.
        references: list of labels parallel to `texts` (ints or str, as the
            table reads them), or None when the texts have none.
        labels: list of str. The class names by class id.
    """
    float_classifier = OnnxClassifier.load(onnx_dir)
    int8_classifier = OnnxClassifier.load(onnx_dir, precision=INT8)
    float_parts, int8_parts = [], []
    for batch in batches(texts, BATCH_SIZE):
        token_ids = float_classifier.tokenize(batch)
        float_parts.append(float_classifier.predict_token_ids(token_ids))
        int8_parts.append(int8_classifier.predict_token_ids(token_ids))
    entry = compare_int8(
        texts, np.concatenate(float_parts), np.concatenate(int8_parts), references, labels
    )
    entry["files"] = read_onnx_config(onnx_dir)[INT8]
    return entry


def compare_int8(texts, float_probabilities, int8_probabilities, references, labels):
    """The entry's figures from both files' probabilities `(rows, classes)`."""
    float_ids = float_probabilities.argmax(axis=-1)
    int8_ids = int8_probabilities.argmax(axis=-1)
    nan_rows = int(np.isnan(int8_probabilities).any(axis=-1).sum())
    agreeing = int((float_ids == int8_ids).sum())
    agreement = agreeing / len(texts)
    disagreeing = np.flatnonzero(float_ids != int8_ids)
    return {
        "passed": bool(agreement >= AGREEMENT_BOUND and not nan_rows),
        "agreement_bound": AGREEMENT_BOUND,
        "rows": len(texts),
        "agreeing_labels": agreeing,
        "label_agreement": agreement,
        "max_abs_difference_vs_onnx": float(np.max(np.abs(int8_probabilities - float_probabilities))),
        "nan_rows": nan_rows,
        "accuracy": None if references is None else {
            "onnx": accuracy(float_ids, references, labels),
            "onnx_int8": accuracy(int8_ids, references, labels),
        },
        "disagreements": [
            {"row": int(row), "text": texts[row], "onnx": labels[float_ids[row]], "onnx_int8": labels[int8_ids[row]]}
            for row in disagreeing[:MAX_LISTED_DISAGREEMENTS]
        ],
    }


def accuracy(label_ids, references, labels):
    """The fraction of rows whose predicted class name is the reference label."""
    return float(np.mean([labels[label_id] == str(reference) for label_id, reference in zip(label_ids, references)]))


def format_int8_line(entry):
    """One line for the terminal under the parity table."""
    line = (
        f"int8 ONNX vs float ONNX: labels agree on {entry['agreeing_labels']}/{entry['rows']} texts "
        f"({entry['label_agreement']:.2%}, needed {entry['agreement_bound']:.0%}), "
        f"max |Δ probability| {entry['max_abs_difference_vs_onnx']:.1e}"
    )
    if entry["accuracy"] is not None:
        line += f", accuracy {entry['accuracy']['onnx_int8']:.4f} (float {entry['accuracy']['onnx']:.4f})"
    if entry["nan_rows"]:
        line += f", {entry['nan_rows']} NaN rows"
    return f"{line}: {'ok' if entry['passed'] else 'FAIL'}"
