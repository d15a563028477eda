"""Mapping class labels (strings or integers) to class ids and back."""

import numpy as np

from pipelines.common import bad_rows as bad_row_reasons
from pipelines.common.errors import UserInputError


def label_sort_key(label):
    # Integers in numeric order, then strings alphabetically.
    return (isinstance(label, str), label if isinstance(label, int) else 0, str(label))


class LabelEncoder:
    """Class names in a fixed order; class id = index.

    Args:
        class_names: list of int or str. The classes, in id order.

    Example:

    >>> labels = LabelEncoder.fit(["pos", "neg", "pos"])
    >>> labels.class_names, labels.encode(["neg", "pos"]).tolist()
    (['neg', 'pos'], [0, 1])
    """

    def __init__(self, class_names):
        class_names = list(class_names)
        if len(set(class_names)) != len(class_names):
            raise ValueError(f"Duplicate class names. Received: class_names={class_names}")
        self.class_names = class_names
        self._ids = {name: index for index, name in enumerate(class_names)}

    @classmethod
    def fit(cls, labels):
        """The classes of the training labels, integers numerically, then strings."""
        class_names = sorted(set(labels), key=label_sort_key)
        if len(class_names) < 2:
            raise UserInputError(
                f"the training data has {len(class_names)} class(es) {class_names}; "
                "a classifier needs at least 2 — check --label-column"
            )
        return cls(class_names)

    @property
    def num_classes(self):
        return len(self.class_names)

    def __contains__(self, label):
        return label in self._ids

    def encode(self, labels):
        """Class ids (int32 array) of known labels; raises KeyError on unknown ones."""
        return np.array([self._ids[label] for label in labels], dtype=np.int32)

    def encode_table(self, table):
        """(texts, class ids) of a table's rows whose label is known.

        Rows with a label training never saw are skipped and counted in
        `table.bad_rows` as `unknown_label`.
        """
        texts, ids = [], []
        for text, label, line in zip(table.texts, table.labels, table.line_numbers):
            if label in self._ids:
                texts.append(text)
                ids.append(self._ids[label])
            else:
                table.bad_rows.add(bad_row_reasons.UNKNOWN_LABEL, line)
        return texts, np.array(ids, dtype=np.int32)
