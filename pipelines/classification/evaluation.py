"""Evaluating a finished run on a labelled file (what `evaluate` runs)."""

import os

from pipelines.classification.trained import TrainedClassifier
from pipelines.common.atomic import write_json_atomic
from pipelines.common.errors import UserInputError
from pipelines.common.tables import read_table


def default_report_path(run_dir, data):
    """RUN_DIR/evaluation_<data file stem>.json."""
    stem = os.path.splitext(os.path.basename(data.replace(":", "_")))[0]
    return os.path.join(run_dir, f"evaluation_{stem}.json")


def evaluate_run(run_dir, data, text_column=None, label_column=None, out=None):
    """Accuracy, macro-F1, per-class figures and confusion matrix of a run on `data`.

    Rows with empty text, a missing label or a label training never saw are
    skipped and reported under `bad_rows`.

    Args:
        run_dir: str. A finished run directory.
        data: str. A labelled CSV/TSV/JSON Lines file (or tfds:/hf: source).
        text_column, label_column: str. Default to the training columns.
        out: str. Where to write the JSON report. Defaults to
            `RUN_DIR/evaluation_<stem>.json`.

    Returns:
        (report dict, path written).
    """
    classifier = TrainedClassifier.load(run_dir)
    table = read_table(
        data,
        text_column or classifier.config.data.text_column,
        label_column or classifier.config.data.label_column,
    )
    texts, label_ids = classifier.labels.encode_table(table)
    if not texts:
        raise UserInputError(f"{data}: no usable rows to evaluate ({table.bad_rows.describe()})")
    report = classifier.evaluate(texts, label_ids)
    report["source"] = data
    report["bad_rows"] = table.bad_rows.to_dict()
    path = out or default_report_path(run_dir, data)
    write_json_atomic(path, report)
    return report, path
