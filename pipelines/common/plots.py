"""Matplotlib figures of a run: training curves, confusion matrix, token weights.

Every figure is written atomically and closed, with the non-interactive Agg
backend so plotting works on machines without a display.
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from pipelines.common.atomic import atomic_path  # noqa: E402


def save_figure(figure, path):
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=120, bbox_inches="tight")
    plt.close(figure)


def plot_training_curves(records, path, metric="accuracy"):
    """Loss and `metric` per epoch, training and validation, side by side.

    Args:
        records: list of dict. Per-epoch logs as `HistoryRecorder` writes them.
        path: str. Where to write the PNG.
        metric: str. The second panel's metric. Defaults to `"accuracy"`.
    """
    epochs = [record["epoch"] for record in records]
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, name in zip(axes, ("loss", metric)):
        for prefix, label in (("", "training"), ("val_", "validation")):
            values = [record.get(prefix + name, np.nan) for record in records]
            axis.plot(epochs, values, marker="o", label=label)
        axis.set_xlabel("epoch")
        axis.set_title(name)
        axis.grid(alpha=0.3)
        axis.legend()
    save_figure(figure, path)


def plot_confusion_matrix(matrix, class_names, path, title="Confusion matrix"):
    """A heatmap of counts, true classes as rows and predicted as columns."""
    matrix = np.asarray(matrix)
    size = max(4.0, 0.6 * len(class_names) + 2.0)
    figure, axis = plt.subplots(figsize=(size, size))
    image = axis.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axis, fraction=0.046)
    ticks = np.arange(len(class_names))
    names = [str(name) for name in class_names]
    axis.set_xticks(ticks, names, rotation=45, ha="right")
    axis.set_yticks(ticks, names)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(title)
    threshold = matrix.max() / 2 if matrix.size else 0
    for row in range(matrix.shape[0]):
        for column in range(matrix.shape[1]):
            color = "white" if matrix[row, column] > threshold else "black"
            axis.text(column, row, str(matrix[row, column]), ha="center", va="center", color=color)
    save_figure(figure, path)


def plot_token_weights(tokens, weights, path, title=None):
    """A heatmap of per-token weights: one row per head, one column per token.

    Args:
        tokens: list of str.
        weights: array `(heads, tokens)`.
        path: str. Where to write the PNG.
        title: str. Figure title.
    """
    weights = np.atleast_2d(np.asarray(weights, dtype=float))
    width = min(max(4.0, 0.45 * len(tokens) + 1.5), 40.0)
    figure, axis = plt.subplots(figsize=(width, 1.0 + 0.5 * weights.shape[0]))
    image = axis.imshow(weights, cmap="Reds", aspect="auto", vmin=0.0)
    axis.set_xticks(np.arange(len(tokens)), tokens, rotation=60, ha="right")
    axis.set_yticks(np.arange(weights.shape[0]), [f"head {i}" for i in range(weights.shape[0])])
    figure.colorbar(image, ax=axis, fraction=0.03, label="attention weight")
    if title:
        axis.set_title(title)
    save_figure(figure, path)
