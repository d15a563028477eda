"""Classification figures from true and predicted class ids, in plain NumPy."""

import numpy as np


def confusion_matrix(true_ids, predicted_ids, num_classes):
    """Counts `(num_classes, num_classes)`: row = true class, column = predicted."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(true_ids, int), np.asarray(predicted_ids, int)), 1)
    return matrix


def safe_divide(numerator, denominator):
    """Elementwise division that gives 0 where the denominator is 0 (as scikit-learn)."""
    numerator = np.asarray(numerator, dtype=float)
    denominator = np.asarray(denominator, dtype=float)
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)


def classification_report(true_ids, predicted_ids, class_names):
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix.

    Args:
        true_ids: int array of true class ids.
        predicted_ids: int array of predicted class ids.
        class_names: list. Name of each class id.

    Returns:
        A JSON-ready dict.
    """
    matrix = confusion_matrix(true_ids, predicted_ids, len(class_names))
    true_positives = np.diag(matrix)
    support = matrix.sum(axis=1)
    precision = safe_divide(true_positives, matrix.sum(axis=0))
    recall = safe_divide(true_positives, support)
    f1 = safe_divide(2 * precision * recall, precision + recall)
    count = int(matrix.sum())
    return {
        "examples": count,
        "accuracy": float(true_positives.sum() / count) if count else 0.0,
        "macro_f1": float(f1.mean()),
        "per_class": {
            str(name): {
                "precision": float(precision[index]),
                "recall": float(recall[index]),
                "f1": float(f1[index]),
                "support": int(support[index]),
            }
            for index, name in enumerate(class_names)
        },
        "class_names": list(class_names),
        "confusion_matrix": matrix.tolist(),
    }


def format_report(report):
    """The report as a terminal table: per-class figures, then the confusion matrix."""
    names = [str(name) for name in report["class_names"]]
    width = max([len(name) for name in names] + [9])
    lines = [
        f"examples {report['examples']}   accuracy {report['accuracy']:.4f}   "
        f"macro-F1 {report['macro_f1']:.4f}",
        "",
        f"{'class':<{width}}  precision  recall      f1  support",
    ]
    for name in names:
        figures = report["per_class"][name]
        lines.append(
            f"{name:<{width}}  {figures['precision']:>9.4f}  {figures['recall']:>6.4f}  "
            f"{figures['f1']:>6.4f}  {figures['support']:>7d}"
        )
    lines += ["", "confusion matrix (rows: true, columns: predicted)"]
    cell = max([len(name) for name in names] + [len(str(report["examples"]))]) + 1
    lines.append(" " * width + "".join(f"{name:>{cell}}" for name in names))
    for name, row in zip(names, report["confusion_matrix"]):
        lines.append(f"{name:<{width}}" + "".join(f"{value:>{cell}d}" for value in row))
    return "\n".join(lines)
