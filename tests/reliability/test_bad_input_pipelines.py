"""Bad input to the pipelines' Python API and commands: odd texts, odd files, broken or
foreign run directories. Each gives a correct answer or one `error:` line (exit 2).

Covered elsewhere: a missing column, a missing or unsupported file, one class in the
labels, bad rows (tests/pipelines/test_tables.py, test_classification_cli.py,
test_summarization.py); an empty text to `explain` (exit 2, run_explain).
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from export.cli import main as export_main
from pipelines.classification.cli import main as classification_main
from pipelines.common.errors import UserInputError
from pipelines.common.run_directory import RunDirectory
from pipelines.summarization.cli import main as summarization_main
from pipelines.summarization.trained import generate
from reliability_helpers import one_line_error
from reliability_helpers import truncate

REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EMOJI_CJK = "😀 这部电影很好 🎬 a film ✨"
ONE_MEGABYTE = "a good , witty film . " * 50_000


def printed_records(capsys):
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


# -- texts: a correct answer ------------------------------------------------------


def test_empty_and_blank_texts_get_the_answer_for_a_fully_padded_row(classifier_run_dir, trained_classifier, capsys):
    assert classification_main(["predict", classifier_run_dir, "", " \t ", "--json"]) == 0
    records = printed_records(capsys)
    padded = trained_classifier.model.predict(np.zeros((1, 1), np.int32), verbose=0)[0]
    for record in records:
        probabilities = np.array(list(record["probabilities"].values()))
        np.testing.assert_allclose(probabilities, padded, atol=1e-5)


def test_emoji_and_cjk_get_one_probability_vector_alone_or_in_a_batch(trained_classifier):
    batch = trained_classifier.predict_probabilities(["a gorgeous film", EMOJI_CJK, "flat and dull"])
    alone = trained_classifier.predict_probabilities([EMOJI_CJK])
    assert alone.shape == (1, 2) and np.all(np.isfinite(alone))
    np.testing.assert_allclose(alone.sum(), 1.0, atol=1e-6)
    np.testing.assert_allclose(alone[0], batch[1], atol=1e-6)
    tokens = trained_classifier.tokenizer.tokenize([EMOJI_CJK]).numpy()[0]
    assert (tokens != 0).sum() >= 4  # the CJK characters and words are tokens, not dropped


def test_a_one_megabyte_text_is_cut_to_max_length_and_answered_like_its_start(trained_classifier):
    tokenizer = trained_classifier.tokenizer
    long_ids = tokenizer.tokenize([ONE_MEGABYTE]).numpy()
    assert len(ONE_MEGABYTE) >= 1_000_000 and long_ids.shape == (1, tokenizer.max_length)
    start = " ".join(ONE_MEGABYTE.split()[: tokenizer.max_length])
    np.testing.assert_array_equal(tokenizer.tokenize([start]).numpy(), long_ids)
    np.testing.assert_allclose(
        trained_classifier.predict_probabilities([ONE_MEGABYTE]),
        trained_classifier.predict_probabilities([start]),
        atol=1e-6,
    )


def test_an_empty_batch_gives_no_rows(classifier_run_dir, trained_classifier, tmp_path, capsys):
    assert trained_classifier.predict_probabilities([]).shape == (0, 2)
    header_only = tmp_path / "texts.tsv"
    header_only.write_text("sentence\n", encoding="utf-8")
    assert classification_main(["predict", classifier_run_dir, "--file", str(header_only)]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "no bad rows" in captured.err


# -- texts: a one-line error -------------------------------------------------------


@pytest.mark.parametrize(
    "texts, message",
    [
        ("a good film", r"got one string; pass a list"),
        ([b"\xff\xfe good"], r"text 1 is not valid UTF-8 \(invalid start byte at byte 0\)"),
        (["fine", "bad \udcff"], r"text 2 is not valid UTF-8"),
        (["fine", None], r"text 2 is a NoneType, not a string"),
    ],
    ids=["single-string", "invalid-utf8-bytes", "lone-surrogate", "none"],
)
def test_texts_that_are_not_a_list_of_utf8_strings_are_refused(trained_classifier, summarizer, texts, message):
    with pytest.raises(UserInputError, match=message):
        trained_classifier.predict(texts)
    with pytest.raises(UserInputError, match=message.replace("text", "document")):
        generate(summarizer, texts)


def test_invalid_utf8_in_a_command_line_argument_exits_2_with_one_line(classifier_run_dir):
    # The real command: Python turns the undecodable byte into a lone surrogate.
    completed = subprocess.run(
        [sys.executable.encode(), b"-m", b"pipelines.classification", b"predict",
         classifier_run_dir.encode(), b"a good \xff film"],
        cwd=REPOSITORY, capture_output=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    error = completed.stderr.decode("utf-8", "replace").strip().splitlines()
    assert completed.returncode == 2, error[-5:]
    assert error[-1].startswith("error: text 1 is not valid UTF-8") and not any("Traceback" in line for line in error)


# -- summarization texts -----------------------------------------------------------


def test_blank_documents_get_empty_summaries_and_the_others_are_unchanged(summarizer):
    documents = ["Tom: lunch at 5?\nMark: yes!", "", "  \n ", "Amanda: cookies?"]
    summaries = generate(summarizer, documents)
    assert summaries[1:3] == ["", ""]
    assert [summaries[0], summaries[3]] == generate(summarizer, [documents[0], documents[3]])
    assert generate(summarizer, []) == [] and generate(summarizer, [" "]) == [""]


def test_emoji_cjk_and_one_megabyte_documents_are_summarized(summarizer):
    emoji, long, start = generate(
        summarizer, [f"Tom: {EMOJI_CJK}", ONE_MEGABYTE, " ".join(ONE_MEGABYTE.split()[:200])]
    )
    assert isinstance(emoji, str) and "\ufffd" not in emoji
    assert long == start  # the document is cut to max_document_length tokens


def test_summarize_refuses_an_empty_text_before_loading_the_model(tmp_path, capsys):
    status = summarization_main(["summarize", str(tmp_path / "not-even-a-run"), "Tom: hi", " \\n "])
    assert status == 2
    assert one_line_error(capsys.readouterr()) == "error: TEXT 2 is empty; give a document to summarize"


def test_summarize_file_that_is_not_utf8_exits_2(summarization_run_dir, tmp_path, capsys):
    path = tmp_path / "dialogue.txt"
    path.write_bytes(b"Tom: lunch \xff\xfe at 5?")
    assert summarization_main(["summarize", summarization_run_dir, "--file", str(path)]) == 2
    assert "not UTF-8 text" in one_line_error(capsys.readouterr())


# -- files that are not what they claim ----------------------------------------------


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("image.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not UTF-8 text"),
        ("records.tsv", b'{"sentence": "a film", "label": 1}\n', "no column 'sentence'"),
        ("empty.tsv", b"", "no column 'sentence' (columns: none)"),
        ("header.tsv", b"sentence\tlabel\n", "no usable rows to evaluate"),
        ("one-class.tsv", b"sentence\tlabel\na film\t7\nflat\t7\n", "label not seen in training"),
    ],
)
def test_evaluate_on_a_file_that_is_not_a_labelled_table_exits_2(classifier_run_dir, tmp_path, capsys, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    assert classification_main(["evaluate", classifier_run_dir, "--data", str(path)]) == 2
    assert message in one_line_error(capsys.readouterr())
    assert not any(entry.startswith("evaluation_") for entry in os.listdir(classifier_run_dir))


def test_evaluating_a_file_of_one_class_reports_zeros_for_the_other_never_nan(classifier_run_dir, tmp_path, capsys):
    path = tmp_path / "positives.tsv"
    path.write_text("sentence\tlabel\na good film\t1\na great , moving film\t1\n", encoding="utf-8")
    out = tmp_path / "report.json"
    assert classification_main(["evaluate", classifier_run_dir, "--data", str(path), "--out", str(out)]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert "nan" not in out.read_text(encoding="utf-8").lower()
    assert report["examples"] == 2 and report["per_class"]["0"]["support"] == 0
    assert report["per_class"]["0"]["precision"] == 0.0 and 0.0 <= report["macro_f1"] <= 1.0


def test_training_on_one_class_exits_2_before_training(tmp_path, capsys):
    path = tmp_path / "one-class.tsv"
    path.write_text("sentence\tlabel\n" + "".join(f"film {i}\tpos\n" for i in range(20)), encoding="utf-8")
    command = ["train", "--train", str(path), "--valid", str(path), "--text-column", "sentence",
               "--label-column", "label", "--out", str(tmp_path / "run")]
    assert classification_main(command) == 2
    assert "1 class(es) ['pos']; a classifier needs at least 2" in one_line_error(capsys.readouterr())
    assert not RunDirectory(tmp_path / "run").is_finished()


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--embedding-dim", "20"], "--embedding-dim 20 is not divisible by --pooling-heads 8"),
        (["--embedding-dim", "24", "--num-heads", "5"], "--embedding-dim 24 is not divisible by --num-heads 5"),
    ],
)
def test_a_width_the_head_counts_do_not_divide_exits_2_before_reading_data(tmp_path, capsys, flags, message):
    missing = str(tmp_path / "not-read.tsv")
    command = ["train", "--train", missing, "--valid", missing, "--text-column", "sentence",
               "--label-column", "label", "--out", str(tmp_path / "run")] + flags
    assert classification_main(command) == 2
    assert message in one_line_error(capsys.readouterr())
    assert not (tmp_path / "run").exists()


# -- broken or foreign run directories -------------------------------------------------


def break_model(run_dir):
    truncate(RunDirectory(run_dir).model_path)


def empty_model(run_dir):
    open(RunDirectory(run_dir).model_path, "wb").close()


def break_config(run_dir):
    truncate(RunDirectory(run_dir).config_path)


def remove_vocabulary(run_dir):
    os.remove(os.path.join(RunDirectory(run_dir).tokenizer_dir, "vocabulary.txt"))


def remove_everything(run_dir):
    shutil.rmtree(run_dir)
    os.makedirs(run_dir)


BROKEN_RUNS = [
    (break_model, "model.keras: not a valid .keras file (truncated or corrupted)"),
    (empty_model, "model.keras: not a valid .keras file (truncated or corrupted)"),
    (break_config, "config.json: not valid JSON"),
    (remove_vocabulary, "vocabulary.txt not found; the run directory is incomplete"),
    (remove_everything, "not a run directory (no config.json, no model.keras)"),
]


@pytest.mark.parametrize("damage, message", BROKEN_RUNS, ids=[damage.__name__ for damage, _ in BROKEN_RUNS])
def test_predict_evaluate_and_export_on_a_broken_run_exit_2_with_one_line(run_copy, tmp_path, capsys, damage, message):
    run_dir = run_copy()
    damage(run_dir)
    assert classification_main(["predict", run_dir, "a good film"]) == 2
    assert message in one_line_error(capsys.readouterr())
    data = tmp_path / "labelled.tsv"
    data.write_text("sentence\tlabel\na good film\t1\n", encoding="utf-8")
    assert classification_main(["evaluate", run_dir, "--data", str(data)]) == 2
    assert message in one_line_error(capsys.readouterr())
    assert not any(entry.startswith("evaluation_") for entry in os.listdir(run_dir))
    out = tmp_path / "saved_models"
    assert export_main([run_dir, "--name", "m", "--out", str(out)]) == 2
    assert message in one_line_error(capsys.readouterr())
    assert not out.exists() or os.listdir(out / "m") == []


def test_a_summarization_run_given_to_classification_names_the_right_command(summarization_run_dir, tmp_path, capsys):
    expected = "belongs to a summarization run, not a classification run; use it with `python -m pipelines.summarization`"
    for command in (
        ["predict", summarization_run_dir, "a good film"],
        ["evaluate", summarization_run_dir, "--data", str(tmp_path / "any.tsv")],
        ["explain", summarization_run_dir, "a good film", "--out", str(tmp_path / "why.png")],
    ):
        assert classification_main(command) == 2
        assert expected in one_line_error(capsys.readouterr())
    assert not (tmp_path / "why.png").exists()


def test_a_classification_run_given_to_summarization_names_the_right_command(classifier_run_dir, capsys):
    expected = "belongs to a classification run, not a summarization run; use it with `python -m pipelines.classification`"
    assert summarization_main(["summarize", classifier_run_dir, "Tom: hi"]) == 2
    assert expected in one_line_error(capsys.readouterr())
    assert summarization_main(["evaluate", classifier_run_dir, "--data", "any.csv"]) == 2
    assert expected in one_line_error(capsys.readouterr())

