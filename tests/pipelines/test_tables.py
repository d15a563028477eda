import importlib

import numpy as np
import pytest

from pipelines.classification.labels import LabelEncoder
from pipelines.common.errors import UserInputError
from pipelines.common.tables import normalize_label
from pipelines.common.tables import read_table
from synthetic_data import write_jsonl
from synthetic_data import write_tsv


def test_csv_with_quoted_commas_and_integer_labels(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text('text,label\n"good, really good",1\nbad,0\n', encoding="utf-8")
    table = read_table(str(path), "text", "label")
    assert table.texts == ["good, really good", "bad"]
    assert table.labels == [1, 0]
    assert table.line_numbers == [2, 3]
    assert table.bad_rows.total == 0


def test_json_lines_string_and_integer_labels_agree(tmp_path):
    path = write_jsonl(
        tmp_path / "data.jsonl",
        [{"text": "fine", "label": 1}, {"text": "meh", "label": "1"}, {"text": "ok", "label": "pos"}],
    )
    table = read_table(path, "text", "label")
    assert table.labels == [1, 1, "pos"]


def test_every_bad_row_case_is_counted_with_its_line(tmp_path):
    path = write_jsonl(
        tmp_path / "data.jsonl",
        [
            {"text": "good film", "label": "pos"},  # line 1: kept
            {"text": "", "label": "pos"},  # line 2: empty text
            {"text": "   ", "label": "neg"},  # line 3: whitespace only
            {"text": "no label here"},  # line 4: missing label
            {"text": "null label", "label": None},  # line 5: missing label
            "{not json",  # line 6: unparseable
            {"text": "bad film", "label": "neg"},  # line 7: kept
        ],
    )
    table = read_table(path, "text", "label")
    assert table.texts == ["good film", "bad film"]
    report = table.bad_rows.to_dict()
    assert report["counts"] == {
        "empty_text": 2,
        "missing_label": 2,
        "unknown_label": 0,
        "unparseable": 1,
    }
    assert report["example_lines"] == {"empty_text": [2, 3], "missing_label": [4, 5], "unparseable": [6]}
    assert "skipped 5 bad rows" in table.bad_rows.describe()


def test_short_tsv_rows_count_as_missing_values(tmp_path):
    path = tmp_path / "data.tsv"
    path.write_text("sentence\tlabel\ngood\t1\nno label\n\t0\n", encoding="utf-8")
    table = read_table(str(path), "sentence", "label")
    assert table.texts == ["good"]
    assert table.bad_rows.counts["missing_label"] == 1
    assert table.bad_rows.counts["empty_text"] == 1


def test_unknown_labels_at_evaluation_are_counted_not_dropped_silently(tmp_path):
    train = read_table(write_tsv(tmp_path / "t.tsv", [("a", "pos"), ("b", "neg")]), "sentence", "label")
    labels = LabelEncoder.fit(train.labels)
    evaluation = read_table(
        write_tsv(tmp_path / "e.tsv", [("c", "neg"), ("d", "meh"), ("e", "pos")]), "sentence", "label"
    )
    texts, ids = labels.encode_table(evaluation)
    assert texts == ["c", "e"]
    np.testing.assert_array_equal(ids, [0, 1])
    assert evaluation.bad_rows.counts["unknown_label"] == 1
    assert evaluation.bad_rows.example_lines["unknown_label"] == [3]


def test_label_order_is_numeric_for_integers():
    assert LabelEncoder.fit([10, 2, 1, 2]).class_names == [1, 2, 10]
    assert normalize_label(" 7 ") == 7
    assert normalize_label(3.0) == 3
    assert normalize_label("") is None


def test_a_single_class_is_a_user_error():
    with pytest.raises(UserInputError, match="at least 2"):
        LabelEncoder.fit(["pos", "pos"])


def test_missing_column_names_the_available_ones(tmp_path):
    path = write_tsv(tmp_path / "data.tsv", [("a", "1")])
    with pytest.raises(UserInputError, match=r"no column 'text' \(columns: 'sentence', 'label'\)"):
        read_table(path, "text", "label")


def test_missing_json_key_is_a_user_error(tmp_path):
    path = write_jsonl(tmp_path / "data.jsonl", [{"sentence": "a", "label": 1}])
    with pytest.raises(UserInputError, match="--label-column"):
        read_table(path, "sentence", "stars")


@pytest.mark.parametrize(
    "name, message",
    [("missing.csv", "no such file"), ("data.parquet", "unsupported file type")],
)
def test_unreadable_sources_are_user_errors(tmp_path, name, message):
    if name.endswith(".parquet"):
        (tmp_path / name).write_bytes(b"PAR1")
    with pytest.raises(UserInputError, match=message):
        read_table(str(tmp_path / name), "text", "label")


def test_plain_text_file_gives_one_text_per_line(tmp_path):
    path = tmp_path / "texts.txt"
    path.write_text("first text\n\nsecond text\n", encoding="utf-8")
    table = read_table(str(path), "text")
    assert table.texts == ["first text", "second text"]
    assert table.labels is None
    assert table.bad_rows.counts["empty_text"] == 1


@pytest.mark.parametrize(
    "source, module", [("tfds:glue/sst2:train", "tensorflow_datasets"), ("hf:nyu-mll/glue,sst2:train", "datasets")]
)
def test_online_loaders_explain_a_missing_package(monkeypatch, source, module):
    real_import = importlib.import_module

    def import_without(name, *args):
        if name == module:
            raise ImportError(name)
        return real_import(name, *args)

    monkeypatch.setattr(importlib, "import_module", import_without)
    with pytest.raises(UserInputError, match=rf"needs the `{module}` package; pip install"):
        read_table(source, "sentence", "label")


def test_online_source_without_split_is_a_user_error():
    with pytest.raises(UserInputError, match="NAME:SPLIT"):
        read_table("tfds:glue", "sentence", "label")
