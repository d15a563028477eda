import json

import numpy as np
import pytest

from pipelines.classification import evaluation
from pipelines.classification.cli import main
from pipelines.classification.metrics import classification_report
from pipelines.classification.metrics import confusion_matrix
from pipelines.classification.metrics import format_report
from pipelines.classification.trained import TrainedClassifier
from synthetic_data import write_tsv

# A fixed 3-class set, worked by hand:
#   true:      a a a a b b b c c c
#   predicted: a a b c b b a c c a
# confusion (rows true a,b,c; columns predicted a,b,c):
#   a: 2 1 1
#   b: 1 2 0
#   c: 1 0 2
# precision a 2/4, b 2/3, c 2/3; recall a 2/4, b 2/3, c 2/3
# F1 a 0.5, b 2/3, c 2/3; macro-F1 = (0.5 + 2/3 + 2/3) / 3 = 0.6111...; accuracy 6/10.
TRUE = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
PREDICTED = [0, 0, 1, 2, 1, 1, 0, 2, 2, 0]
HAND_MATRIX = [[2, 1, 1], [1, 2, 0], [1, 0, 2]]


def test_report_matches_the_hand_computed_confusion_matrix():
    report = classification_report(TRUE, PREDICTED, ["a", "b", "c"])
    assert report["confusion_matrix"] == HAND_MATRIX
    assert report["accuracy"] == pytest.approx(0.6)
    assert report["macro_f1"] == pytest.approx((0.5 + 2 / 3 + 2 / 3) / 3)
    assert report["per_class"]["a"] == pytest.approx(
        {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 4}
    )
    assert report["per_class"]["b"] == pytest.approx(
        {"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3, "support": 3}
    )


def test_a_class_never_predicted_has_zero_precision_not_nan():
    report = classification_report([0, 1, 1], [1, 1, 1], ["x", "y"])
    assert report["per_class"]["x"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert report["macro_f1"] == pytest.approx((0.0 + 0.8) / 2)
    np.testing.assert_array_equal(confusion_matrix([0, 1, 1], [1, 1, 1], 2), [[0, 1], [0, 2]])


def test_table_shows_every_class_and_the_matrix():
    text = format_report(classification_report(TRUE, PREDICTED, ["a", "b", "c"]))
    assert "accuracy 0.6000" in text and "macro-F1 0.6111" in text
    assert text.splitlines()[-3].split() == ["a", "2", "1", "1"]


def fixed_predictions(texts):
    """Class by keyword ("good" → pos, else neg), so the figures are known by hand."""
    return np.array([[0.1, 0.9] if "good" in text else [0.8, 0.2] for text in texts])


def test_evaluate_command_reports_the_hand_computed_figures(tiny_run, tmp_path, monkeypatch, capsys):
    # The run's classes are ["neg", "pos"]. Rows (line: true → predicted):
    #   2: pos → pos   3: pos → neg   4: neg → neg   5: neg → pos   6: neg → neg
    #   7: "meh" (unknown label)      8: empty text
    rows = [
        ("a good film", "pos"),
        ("a great film", "pos"),
        ("a dull film", "neg"),
        ("not good", "neg"),
        ("flat", "neg"),
        ("an odd film", "meh"),
        ("", "neg"),
    ]
    data = write_tsv(tmp_path / "fixed.tsv", rows)
    monkeypatch.setattr(
        TrainedClassifier,
        "predict_probabilities",
        lambda self, texts, batch_size=256, callbacks=None: fixed_predictions(texts),
    )
    out = tmp_path / "report.json"
    assert main(["evaluate", tiny_run, "--data", data, "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["confusion_matrix"] == [[2, 1], [1, 1]]  # rows true neg, pos
    assert report["accuracy"] == pytest.approx(3 / 5)
    # neg: precision 2/3, recall 2/3; pos: precision 1/2, recall 1/2.
    assert report["macro_f1"] == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert report["bad_rows"]["counts"]["unknown_label"] == 1
    assert report["bad_rows"]["counts"]["empty_text"] == 1
    printed = capsys.readouterr().out
    assert "accuracy 0.6000" in printed
    assert '"unknown_label": 1' in printed


def test_evaluate_writes_beside_the_run_by_default(tiny_run, tiny_data):
    report, path = evaluation.evaluate_run(tiny_run, tiny_data["test"])
    assert path.endswith("evaluation_test.json")
    assert json.load(open(path))["accuracy"] == pytest.approx(report["accuracy"])
    assert report["examples"] == 60
