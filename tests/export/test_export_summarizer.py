"""Exporting a summarization run: SavedModel signatures, ONNX generation, parity gate, command.

One tiny summarizer is trained on SAMSum rows and exported once for the session
(conftest.py; the decoder step's tf2onnx conversion is the slow part); the same
loaded run serves the export and the tests, so its compiled generators are reused.
A second one, whose copy head copies with the last decoder block's cross-attention
(`copy_attention="cross_attention"`), is exported for the module and must pass the
same parity gate.
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import export.exporter
import export.summarizer.onnx_graph
import export.summarizer.onnx_runner
import export.summarizer.parity_check
import export.summarizer.saved_model
from export import cli
from export.exporter import read_parity_references
from export.run_loader import load_run
from export.quantization import quantize_onnx_folder
from export.serving import load_saved_model
from export.summarizer.onnx_runner import OnnxSummarizer
from export.serving_ops import saved_model_ops
from export.serving_ops import unlisted_ops
from export.summary_text import DialogueTokenizer
from export.summary_text import build_dialogue_tokenizer
from export.summarizer.task import TASK as SUMMARIZER_TASK
from export.warmup import read_warmup_file
from export.warmup import replay
from pipelines.common.tables import read_table
from pipelines.summarization.rouge import corpus_rouge
from pipelines.summarization.trained import generate
from pipelines.summarization.special_tokens import END_ID
from pipelines.summarization.postprocessing.python_text import restore_document_form

from export_fixtures import SUMMARIZER_NAME as NAME
from export_fixtures import SUMMARIZER_TEST_ROWS
from export_fixtures import TINY_GENERATION
from export_fixtures import make_summarizer_run
from export_fixtures import samsum_path
import rest_mapping as rest

REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SIGNATURES = ("serving_default", "beam_search", "generate_token_ids", "beam_search_token_ids", "tokenize")


@pytest.fixture(scope="module")
def parity_file(summarizer_parity_file):
    return summarizer_parity_file


@pytest.fixture(scope="module")
def published(summarizer_export):
    """The `ExportResult` of version 1 (conftest.py: exported once per session)."""
    return summarizer_export


@pytest.fixture(scope="module")
def cross_attention_export(tmp_path_factory):
    """`(run, ExportResult)` of a tiny run copying with the cross-attention."""
    directory = str(tmp_path_factory.mktemp("cross_attention_summarizer"))
    run = load_run(make_summarizer_run(directory, copy_attention="cross_attention"))
    base = str(tmp_path_factory.mktemp("saved_models"))
    patch = pytest.MonkeyPatch()
    patch.setattr(export.exporter, "load_run", lambda run_dir: run)
    try:
        result = export.exporter.export_run(
            run.path, "cross-attention-summarizer", version=1, out=base,
            parity_texts=os.path.join(directory, "test.csv"), log=lambda line: None,
        )
    finally:
        patch.undo()
    return run, result


@pytest.fixture(scope="module", params=["head", "cross_attention"])
def copying_export(request):
    """The `ExportResult` of a run copying with each copy attention."""
    if request.param == "head":
        return request.getfixturevalue("published")
    return request.getfixturevalue("cross_attention_export")[1]


@pytest.fixture(scope="module")
def saved_model(published):
    return load_saved_model(published.path)


@pytest.fixture(scope="module")
def onnx_summarizer(published):
    return OnnxSummarizer.load(os.path.join(published.path, "onnx"))


@pytest.fixture(scope="module")
def dialogues(parity_file):
    return read_table(parity_file, "dialogue").texts


@pytest.fixture(scope="module")
def pipeline_answers(summarizer_run, dialogues):
    """`{search: (summary ids, summarize's texts)}` from the pipeline."""
    summarizer = summarizer_run.summarizer
    answers = {}
    for search, beams in (("greedy", 1), ("beam", TINY_GENERATION["beams"])):
        generator = summarizer.generator(summarizer.search_options(beams=beams))
        ids = generator.generate_ids(summarizer.tokenizer.tokenize(dialogues).to_list())
        answers[search] = (ids, generate(summarizer, dialogues, beams=beams))
    return answers


def test_signatures_take_strings_or_ids_and_name_their_outputs(saved_model):
    assert set(saved_model.signatures) == set(SIGNATURES)
    for name in ("serving_default", "beam_search"):
        signature = saved_model.signatures[name]
        (spec,) = signature.structured_input_signature[1].values()
        assert spec.dtype == tf.string and spec.shape.as_list() == [None]
        outputs = signature.structured_outputs
        assert outputs["summary"].dtype == tf.string and outputs["summary"].shape.as_list() == [None]
        assert outputs["summary_ids"].dtype == tf.int32
        assert outputs["summary_ids"].shape.as_list() == [None, TINY_GENERATION["max_length"]]
    for name in ("generate_token_ids", "beam_search_token_ids"):
        (spec,) = saved_model.signatures[name].structured_input_signature[1].values()
        assert spec.dtype == tf.int32 and spec.shape.as_list() == [None, None]


def test_saved_model_summaries_equal_the_pipeline_summarize_text(saved_model, dialogues, pipeline_answers):
    for search, signature in (("greedy", "serving_default"), ("beam", "beam_search")):
        outputs = saved_model.signatures[signature](texts=tf.constant(dialogues))
        expected_ids, expected_texts = pipeline_answers[search]
        assert [text.decode() for text in outputs["summary"].numpy()] == expected_texts
        np.testing.assert_array_equal(outputs["summary_ids"].numpy(), expected_ids)
    assert any(text != text.lower() for text in pipeline_answers["greedy"][1])  # truecasing did something


def test_token_id_signatures_answer_as_the_text_ones(saved_model, summarizer_run, dialogues, pipeline_answers):
    token_ids = saved_model.signatures["tokenize"](texts=tf.constant(dialogues))["token_ids"]
    expected = summarizer_run.tokenizer.tokenize(dialogues).to_tensor().numpy()
    np.testing.assert_array_equal(token_ids.numpy(), expected)
    for search, signature in (("greedy", "generate_token_ids"), ("beam", "beam_search_token_ids")):
        outputs = saved_model.signatures[signature](token_ids=token_ids)
        expected_ids, expected_texts = pipeline_answers[search]
        np.testing.assert_array_equal(outputs["summary_ids"].numpy(), expected_ids)
        lower_case = [text.decode() for text in outputs["summary"].numpy()]
        assert [restore_document_form(text, d) for text, d in zip(lower_case, dialogues)] == expected_texts


def test_onnx_tokens_and_texts_equal_the_pipeline(onnx_summarizer, dialogues, pipeline_answers):
    for search, beams in (("greedy", 1), ("beam", TINY_GENERATION["beams"])):
        expected_ids, expected_texts = pipeline_answers[search]
        ids = onnx_summarizer.generate_ids(onnx_summarizer.tokenize(dialogues), beams=beams)
        np.testing.assert_array_equal(ids, expected_ids)
        assert onnx_summarizer.summarize(dialogues, beams=beams) == expected_texts


def test_onnx_summarizer_imports_no_tensorflow(published, dialogues, pipeline_answers):
    script = (
        "import json, sys\n"
        "from export.summarizer.onnx_runner import OnnxSummarizer\n"
        f"summarizer = OnnxSummarizer.load({os.path.join(published.path, 'onnx')!r})\n"
        f"summaries = summarizer.summarize({dialogues!r}, beams=4)\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tensorflow_text', 'tf2onnx'))\n"
        "print(json.dumps([summaries, heavy]))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=REPOSITORY, capture_output=True, text=True, check=True
    )
    summaries, heavy = json.loads(completed.stdout)
    assert heavy == []
    assert summaries == pipeline_answers["beam"][1]


def test_parity_report_lists_every_case(copying_export):
    with open(os.path.join(copying_export.path, "parity.json"), encoding="utf-8") as file:
        report = json.load(file)
    assert report == copying_export.parity
    assert report["passed"] is True and report["task"] == "summarization"
    assert report["thresholds"] == {"greedy": 0.99, "beam 4": 0.95}
    searches = [case["search"] for case in report["cases"]]
    assert searches.count("greedy") >= 3 and searches.count("beam") >= 2
    assert report["cases"][0]["rows"] == SUMMARIZER_TEST_ROWS
    repeated_name = [case["search"] for case in report["cases"] if case["case"].startswith("a name repeated")]
    assert sorted(repeated_name) == ["beam", "greedy"]  # the copy scatter's duplicates, in every runtime
    for case in report["cases"]:
        assert case["identical_sequences"] == {"savedmodel": case["rows"], "onnx": case["rows"]}
        assert case["token_ids_identical"] and case["texts_identical_where_tokens_are"]
        assert case["mismatches"] == []


def test_a_run_copying_with_the_cross_attention_exports_no_copy_keys(cross_attention_export):
    # Its tokens in every runtime: `test_parity_report_lists_every_case`.
    _, result = cross_attention_export
    with open(os.path.join(result.path, "onnx", "config.json")) as file:
        config = json.load(file)
    assert config["copies"] is True and config["copy_attention"] == "cross_attention"
    # No keys of its own: the decoder step reads the cross-attention it computes.
    copy_inputs = {name for name in config["decoder_step"]["inputs"] if name.startswith("copy_")}
    assert copy_inputs == {"copy_source_ids", "copy_encoder_outputs"}


def test_onnx_files_config_model_card_and_warmup(published, saved_model, summarizer_run):
    onnx_dir = os.path.join(published.path, "onnx")
    assert sorted(os.listdir(onnx_dir)) == ["config.json", "decoder_step.onnx", "encoder.onnx", "tokenizer.json"]
    with open(os.path.join(onnx_dir, "config.json")) as file:
        config = json.load(file)
    assert config["generation"] == {
        "beams": 4, "max_length": 12, "min_length": 2, "length_penalty": 1.0, "no_repeat_ngram_size": 2,
        "repeat_previous_token": False, "batch_size": 16,
    }
    assert config["copies"] is True and config["copy_attention"] == "head"  # the fixture's
    assert set(config["decoder_step"]["inputs"]) >= {"copy_source_ids", "copy_keys", "copy_encoder_outputs"}
    with open(os.path.join(published.path, "model_card.json")) as file:
        card = json.load(file)
    assert card["task"] == "summarization" and card["parity_passed"] is True
    assert card["tokenizer"]["vocabulary_sha256"] == summarizer_run.vocabulary_sha256()
    assert card["generation"]["beam_search"]["beams"] == 4
    assert card["training_data"]["train"]["rows"] == summarizer_run.metrics["training"]["train_examples"] > 0
    with open(os.path.join(published.path, "MODEL_CARD.md")) as file:
        markdown = file.read()
    assert "pipeline_tag: summarization\n" in markdown and "metrics: [rouge]\n" in markdown
    assert f"| validation | loss | {card['metrics']['validation']['loss']} |" in markdown
    logs = read_warmup_file(published.path)
    assert sorted(log.predict_log.request.model_spec.signature_name for log in logs) == sorted(SIGNATURES)
    for log in logs:
        assert log.predict_log.request.model_spec.name == NAME
        outputs = replay(saved_model, log)
        assert all(value.shape[0] == 1 for value in outputs.values())


def test_demo_gives_the_pipelines_summary_from_each_runtime(summarizer_run, published, dialogues, pipeline_answers):
    from export.summarizer.task import TASK

    answers = TASK.demo_answers(summarizer_run, published.path, dialogues[0])
    assert len(answers) == 3
    assert set(answers.values()) == {pipeline_answers["greedy"][1][0]}


def test_rest_bodies_give_the_documented_responses(saved_model, dialogues, pipeline_answers):
    response = rest.predict(saved_model, {"signature_name": "beam_search", "instances": dialogues[:2]})
    assert set(response["predictions"][0]) == {"summary", "summary_ids"}
    assert [row["summary"] for row in response["predictions"]] == pipeline_answers["beam"][1][:2]
    response = rest.predict(saved_model, {"inputs": {"texts": dialogues[:1]}})
    assert response["outputs"]["summary"] == pipeline_answers["greedy"][1][:1]
    assert len(response["outputs"]["summary_ids"][0]) == TINY_GENERATION["max_length"]


def test_text_tools_equal_the_pipeline_on_samsum_test(summarizer_run):
    """The TF-free tokenizer (and its vocabulary, for detokenization) equal the pipeline's;
    tests/pipelines/test_summary_postprocessing.py compares the text post-processing."""
    tokenizer = summarizer_run.tokenizer
    table = read_table(samsum_path("test"), "dialogue")
    documents = table.texts + ["", "  Bob:  hi\r\n\n Ann: a\u2028b\x00c", "ß İ ǅ Ⅻ"]
    dialogue_tokenizer = DialogueTokenizer(build_dialogue_tokenizer(tokenizer.vocabulary))
    assert dialogue_tokenizer.tokenize(documents) == tokenizer.tokenize(documents).to_list()

    rng = np.random.default_rng(0)
    ids = rng.integers(0, tokenizer.vocabulary_size, (500, 14)).astype(np.int32)
    ids[rng.random(ids.shape) < 0.15] = 4  # [NL]
    expected = [text.decode() for text in tokenizer.detokenize(ids).numpy()]
    assert [dialogue_tokenizer.detokenize(row) for row in ids] == expected


def test_broken_onnx_search_fails_the_gate_and_keeps_it_rejected(
    summarizer_run, parity_file, published, capsys, monkeypatch
):
    base = os.path.dirname(os.path.dirname(published.path))
    model_dir = os.path.join(base, NAME)

    # Writing the SavedModel and converting to ONNX are slow and give the same files again.
    def copy_saved_model(run, directory):
        for name in ("saved_model.pb", "fingerprint.pb", "variables", "assets"):
            source = os.path.join(published.path, name)
            copy = shutil.copytree if os.path.isdir(source) else shutil.copy
            copy(source, os.path.join(directory, name))

    def copy_onnx(model, directory, max_length, opset):
        for name in ("encoder.onnx", "decoder_step.onnx"):
            shutil.copy(os.path.join(published.path, "onnx", name), directory)

    def off_by_one_greedy(settings, special_ids):
        search = original_search_for(settings, special_ids)
        if settings.beams > 1:
            return search

        def broken_search(*args):
            ids = search(*args)
            ids[:, 0] = (ids[:, 0] + 1) % 100 + 5
            return ids

        broken_search.rows_per_document = search.rows_per_document
        return broken_search

    original_search_for = export.summarizer.onnx_runner.search_for
    monkeypatch.setattr(export.exporter, "load_run", lambda run_dir: summarizer_run)
    monkeypatch.setattr(export.summarizer.saved_model, "write_summarizer_saved_model", copy_saved_model)
    monkeypatch.setattr(export.summarizer.onnx_graph, "convert_summarizer", copy_onnx)
    monkeypatch.setattr(export.summarizer.onnx_runner, "search_for", off_by_one_greedy)
    status = cli.main([summarizer_run.path, "--name", NAME, "--out", base, "--version", "2",
                       "--parity-texts", parity_file])
    captured = capsys.readouterr()
    assert status == 1
    assert "parity vs Keras: identical generated token sequences, FAILED" in captured.out
    assert "parity failed, nothing published" in captured.err
    assert sorted(os.listdir(model_dir)) == ["1", "rejected-2"]
    with open(os.path.join(model_dir, "rejected-2", "parity.json")) as file:
        report = json.load(file)
    assert report["passed"] is False
    greedy = report["cases"][0]
    assert greedy["identical_sequences"] == {"savedmodel": SUMMARIZER_TEST_ROWS, "onnx": 0}
    assert [mismatch["row"] for mismatch in greedy["mismatches"]] == list(range(SUMMARIZER_TEST_ROWS))
    first = greedy["mismatches"][0]
    assert first["onnx"]["summary_ids"] != first["keras"]["summary_ids"] == first["savedmodel"]["summary_ids"]
    beam = report["cases"][2]
    assert beam["search"] == "beam" and beam["passed"] is True


def test_saved_model_uses_only_serving_ops(copying_export):
    # Generation loops with the key/value cache: the cache write is a
    # TensorScatterUpdate, not the XlaDynamicUpdateSlice the model server lacks.
    ops = saved_model_ops(copying_export.path)
    assert {"While", "TensorScatterUpdate"} <= ops
    assert unlisted_ops(copying_export.path) == [], " ".join(unlisted_ops(copying_export.path))


def test_onnx_files_describe_themselves_and_name_their_axes(published, summarizer_run):
    import onnx

    from pipelines.common.run_files import files_sha256
    from export.onnx_metadata import read_metadata
    from export.onnx_metadata import unnamed_dimensions

    for name in ("encoder.onnx", "decoder_step.onnx"):
        model = onnx.load(os.path.join(published.path, "onnx", name))
        metadata = read_metadata(model)
        assert metadata["task"] == "summarization" and "labels" not in metadata
        assert json.loads(metadata["max_length"]) == summarizer_run.max_document_length
        assert metadata["run_model_sha256"] == files_sha256([os.path.join(summarizer_run.path, "model.keras")])
        assert unnamed_dimensions(model) == []
        axes = {value.name: [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]
                for value in list(model.graph.input) + list(model.graph.output)}
        assert axes["encoder_padding_mask"] == ["batch", "source_sequence"]
        assert axes["cross_key_values_0"][:3] == ["batch", 2, "source_sequence"]


def test_int8_files_and_their_parity_entry(summarizer_run, published, parity_file, dialogues, tmp_path, monkeypatch):
    # The float gate is the module's export; here only the int8 entry is computed, on a copy.
    shutil.copytree(os.path.join(published.path, "onnx"), tmp_path / "onnx")
    onnx_dir = str(tmp_path / "onnx")
    files = quantize_onnx_folder(onnx_dir, SUMMARIZER_TASK.onnx_model_files)
    assert files == {"encoder_file": "encoder.int8.onnx", "decoder_step_file": "decoder_step.int8.onnx"}
    monkeypatch.setattr(export.summarizer.parity_check, "load_runtimes", lambda run, version_dir: None)
    monkeypatch.setattr(
        export.summarizer.parity_check, "run_summarizer_parity",
        lambda cases, runtimes, end_id, beams, log=None: {"passed": True, "cases": []},
    )
    references = read_parity_references(parity_file, "dialogue", "summary", dialogues)
    report = export.summarizer.parity_check.check_parity(summarizer_run, str(tmp_path), dialogues, references)
    entry = report["int8"]
    assert entry["passed"] and not entry["enforced"] and entry["beams"] == TINY_GENERATION["beams"]
    assert entry["files"]["decoder_step_file"] == "decoder_step.int8.onnx"

    summaries = {}
    for precision in ("float32", "int8"):
        summarizer = OnnxSummarizer.load(onnx_dir, precision=precision)
        ids = np.concatenate([
            summarizer.generate_ids(summarizer.tokenize(dialogues[start : start + 8]), beams=4)
            for start in range(0, len(dialogues), 8)
        ])
        sequences = [list(row[: list(row).index(END_ID) + 1]) if END_ID in row else list(row[row != 0]) for row in ids]
        summaries[precision] = (sequences, summarizer.texts_of(ids, dialogues))
    (float_ids, float_texts), (int8_ids, int8_texts) = summaries["float32"], summaries["int8"]
    assert entry["rows"] == len(dialogues) == SUMMARIZER_TEST_ROWS
    assert entry["identical_sequences"] == sum(a == b for a, b in zip(float_ids, int8_ids))
    same = sum(np.sum(np.array(a[: len(b)]) == np.array(b[: len(a)])) for a, b in zip(float_ids, int8_ids))
    assert entry["token_agreement"] == pytest.approx(same / sum(max(len(a), len(b)) for a, b in zip(float_ids, int8_ids)))
    assert entry["rouge"] == {"onnx": corpus_rouge(float_texts, references), "onnx_int8": corpus_rouge(int8_texts, references)}
    assert len(entry["differing_summaries"]) == len(dialogues) - entry["identical_sequences"]
    line = SUMMARIZER_TASK.format_parity_table(report).splitlines()[-1]
    assert line.startswith("int8 ONNX vs float ONNX (beams 4): ") and line.endswith("(reported, not enforced)")
    assert f"ROUGE-1/2/Lsum {'/'.join(f'{value:.2f}' for value in entry['rouge']['onnx_int8'].values())}" in line


def test_versus_benchmark_times_both_exports_on_every_search_and_runtime(
    published, cross_attention_export, parity_file, tmp_path, capsys
):
    """`benchmarks/summarizer_versus.py` on the two tiny exports: a row per search and
    runtime, each runtime's tokens equal to its version's SavedModel's."""
    spec = importlib.util.spec_from_file_location(
        "summarizer_versus", os.path.join(REPOSITORY, "benchmarks", "summarizer_versus.py")
    )
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    figures_path = tmp_path / "versus.json"
    benchmark.main([published.path, cross_attention_export[1].path, "--texts", parity_file, "--dialogues", "2",
                    "--rounds", "1", "--threads", "1", "--json", str(figures_path)])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| greedy") or
            line.startswith(f"| beam {TINY_GENERATION['beams']}")]
    assert len(rows) == 4, rows  # 2 searches × (SavedModel, onnxruntime with 1 thread)
    assert all(row.endswith("| 0 / 0 |") for row in rows), rows
    with open(figures_path, encoding="utf-8") as file:
        figures = json.load(file)
    speeds = figures["tokens_per_second"]
    assert len(speeds) == 8 and all(value > 0 for value in speeds.values())
    assert all(count > 0 for count in figures["new_tokens"].values())
