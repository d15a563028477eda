"""Exporting a warm-started summarizer (`train --init-from`): documents in the
checkpoint's tokenizer, summaries in the decoder's vocabulary, every runtime
giving the pipeline's summaries.

A tiny random BERT checkpoint starts a tiny summarizer trained on SAMSum rows;
it is exported once for the module.
"""

import json
import os
import sys

import numpy as np
import pytest

import export.exporter
from export.run_loader import load_run
from export.serving import load_saved_model
from export.serving_ops import unlisted_ops
from export.summarizer.onnx_runner import OnnxSummarizer
from pipelines.common.tables import read_table
from pipelines.summarization.trained import generate

from export_fixtures import TINY_GENERATION
from export_fixtures import make_summarizer_run

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pipelines"))
from tiny_bert import write_tiny_bert_checkpoint  # noqa: E402


@pytest.fixture(scope="module")
def warm_run(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("warm_summarizer"))
    checkpoint = os.path.join(directory, "tiny_bert")
    write_tiny_bert_checkpoint(
        checkpoint, num_layers=2, hidden_dim=16, num_heads=2, intermediate_dim=32, vocabulary_size=80,
        max_positions=128,
    )
    # Copying with the cross-attention, as new runs do.
    return load_run(make_summarizer_run(directory, init_from=checkpoint, copy_attention="cross_attention"))


@pytest.fixture(scope="module")
def dialogues(warm_run):
    return read_table(os.path.join(os.path.dirname(warm_run.path), "test.csv"), "dialogue").texts


@pytest.fixture(scope="module")
def published(warm_run, tmp_path_factory):
    base = str(tmp_path_factory.mktemp("saved_models"))
    patch = pytest.MonkeyPatch()
    patch.setattr(export.exporter, "load_run", lambda run_dir: warm_run)
    try:
        result = export.exporter.export_run(
            warm_run.path, "warm", version=1, out=base,
            parity_texts=os.path.join(os.path.dirname(warm_run.path), "test.csv"), log=lambda line: None,
        )
    finally:
        patch.undo()
    assert result.passed, result.parity
    return result


def test_the_run_reads_documents_with_the_checkpoints_tokenizer(warm_run, dialogues):
    tokenizer = warm_run.tokenizer
    ids = tokenizer.tokenize(dialogues).to_list()
    assert all(row[0] == 2 and row[-1] == 3 for row in ids)  # [CLS] … [SEP] of the checkpoint
    assert max(len(row) for row in ids) <= warm_run.max_document_length
    assert tokenizer.vocabulary[:5] == ["[PAD]", "[UNK]", "[BOS]", "[EOS]", "[NL]"]


def test_every_runtime_gives_the_pipelines_summaries(warm_run, published, dialogues):
    summarizer = warm_run.summarizer
    onnx_summarizer = OnnxSummarizer.load(os.path.join(published.path, "onnx"))
    assert onnx_summarizer.tokenize(dialogues) == summarizer.tokenizer.tokenize(dialogues).to_list()
    saved_model = load_saved_model(published.path)
    for beams in (1, TINY_GENERATION["beams"]):
        expected = generate(summarizer, dialogues, beams=beams)
        assert onnx_summarizer.summarize(dialogues, beams=beams) == expected
        signature = saved_model.signatures["serving_default" if beams == 1 else "beam_search"]
        answers = signature(texts=np.array(dialogues, dtype=object))
        assert [text.decode("utf-8") for text in answers["summary"].numpy()] == expected


def test_the_export_ships_both_tokenizers_and_serving_ops_only(warm_run, published):
    onnx_dir = os.path.join(published.path, "onnx")
    assert sorted(os.listdir(onnx_dir)) == [
        "config.json", "decoder_step.onnx", "document_tokenizer.json", "encoder.onnx", "tokenizer.json"
    ]
    with open(os.path.join(onnx_dir, "config.json")) as file:
        config = json.load(file)
    assert config["document_tokenizer_file"] == "document_tokenizer.json"
    with open(os.path.join(published.path, "model_card.json")) as file:
        card = json.load(file)
    assert card["tokenizer"]["vocabulary_sha256"] == warm_run.vocabulary_sha256()
    assert card["tokenizer"]["vocabulary_size"] == len(warm_run.tokenizer.vocabulary)
    assert unlisted_ops(published.path) == []
