"""Export of a classifier fine-tuned from a pretrained checkpoint: every artifact, the
parity gate on real SST-2 texts, exact GELU as ONNX `Erf`, the checkpoint in the card."""

import collections
import json
import os

import numpy as np
import onnx
import pytest

from export.exporter import export_run
from export.classifier.onnx_runner import OnnxClassifier
from export.serving import load_saved_model
from export.serving_ops import saved_model_ops
from export.serving_ops import unlisted_ops
from export_fixtures import head_of_table
from export_fixtures import sst2_path
from pipelines.classification.config import default_config
from pipelines.classification.training import train_classifier
from tiny_bert import write_tiny_bert_checkpoint

TINY_BERT = {"vocabulary_size": 100, "max_positions": 64, "hidden_dim": 16, "num_heads": 2, "intermediate_dim": 32}


def fine_tune(path, init_from, train_rows, max_length):
    config = default_config(
        init_from=init_from,
        tokenizer={"max_length": max_length},
        training={"epochs": 1, "learning_rate": 1e-3 if init_from != "minilm" else 5e-5},
        data={
            "train": head_of_table(sst2_path("train"), os.path.join(path, "train.tsv"), train_rows),
            "valid": head_of_table(sst2_path("dev"), os.path.join(path, "dev.tsv"), 32),
            "test": sst2_path("test"),
            "text_column": "sentence",
            "label_column": "label",
        },
    )
    run_dir = os.path.join(path, "run")
    train_classifier(config, run_dir, verbose=0, log=lambda line: None)
    return run_dir


@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("pretrained_export"))
    checkpoint = os.path.join(path, "tiny_bert")
    write_tiny_bert_checkpoint(checkpoint, licence="apache-2.0", name="tiny/bert", **TINY_BERT)
    run_dir = fine_tune(path, checkpoint, train_rows=300, max_length=48)
    result = export_run(run_dir, "tiny_bert", version=1, out=os.path.join(path, "saved_models"),
                        parity_rows=128, log=lambda line: None)
    return result


def test_parity_gate_passes(tiny_export):
    assert tiny_export.passed, json.dumps(tiny_export.parity["cases"], indent=1)
    assert all(case["token_ids_identical"] for case in tiny_export.parity["cases"])


def test_exact_gelu_exports_as_erf(tiny_export):
    graph = onnx.load(os.path.join(tiny_export.path, "onnx", "classifier.onnx")).graph
    op_types = {node.op_type for node in graph.node}
    assert "Erf" in op_types and "Erfc" not in op_types and "FastGelu" not in op_types


def test_contrib_op_file_fuses_every_layer(tiny_export):
    """BERT blocks in onnxruntime's ops: one Attention, one exact-GELU BiasGelu (never the
    tanh FastGelu) and two SkipLayerNormalization a layer; the embedding's own layer norm."""
    layers = 2  # write_tiny_bert_checkpoint's default
    graph = onnx.load(os.path.join(tiny_export.path, "onnx", "classifier.onnxruntime.onnx")).graph
    ops = collections.Counter(node.op_type for node in graph.node)
    assert (ops["Attention"], ops["BiasGelu"], ops["SkipLayerNormalization"], ops["LayerNormalization"]) == (
        layers, layers, 2 * layers, 1)
    assert not {"Erf", "FastGelu", "Gelu", "ReduceMean"} & set(ops)


def test_onnx_tokenizer_wraps_texts_in_cls_and_sep(tiny_export):
    classifier = OnnxClassifier.load(os.path.join(tiny_export.path, "onnx"))
    token_ids = classifier.tokenize(["a good film", ""])
    assert list(token_ids[:, 0]) == [2, 2] and token_ids[1, 1] == 3  # [CLS] … [SEP] in the tiny vocabulary
    saved_model = load_saved_model(tiny_export.path)
    served = saved_model.signatures["tokenize"](texts=np.array(["a good film", ""], dtype=object))["token_ids"]
    np.testing.assert_array_equal(served.numpy(), token_ids)


def test_model_card_names_the_checkpoint_and_licence(tiny_export):
    with open(os.path.join(tiny_export.path, "model_card.json"), encoding="utf-8") as file:
        card = json.load(file)
    assert card["pretrained_from"]["name"] == "tiny/bert"
    assert card["pretrained_from"]["licence"] == "apache-2.0"
    assert card["tokenizer"]["type"] == "checkpoint_wordpiece"
    with open(os.path.join(tiny_export.path, "MODEL_CARD.md"), encoding="utf-8") as file:
        markdown = file.read()
    assert "fine-tuned from the pretrained checkpoint tiny/bert" in markdown
    assert card["pretrained_from"]["sha256"] in markdown and "apache-2.0" in markdown
    assert "path" not in card["pretrained_from"]
    assert "license: apache-2.0\n" in markdown and "base_model: tiny/bert\n" in markdown


def test_minilm_classifier_exports_within_the_parity_bound(tmp_path):
    """The real 6-layer checkpoint: a few fine-tuning steps, then the full export and its
    gate (max |Δ probability| ≤ 1e-5 against Keras for the SavedModel and onnxruntime)."""
    run_dir = fine_tune(str(tmp_path), "minilm", train_rows=32, max_length=64)
    result = export_run(run_dir, "minilm", version=1, out=str(tmp_path / "saved_models"),
                        parity_rows=16, log=lambda line: None)
    differences = [
        max(case["max_abs_difference_vs_keras"].values()) for case in result.parity["cases"]
    ]
    print(f"MiniLM classifier export: max |Δ probability| {max(differences):.1e}")
    assert result.passed, json.dumps(result.parity["cases"], indent=1)
    with open(os.path.join(result.path, "onnx", "config.json"), encoding="utf-8") as file:
        fusions = json.load(file)["fusions"]
    # tf2onnx 1.17 writes 614 nodes; every layer norm, Dense and self-attention is fused.
    assert fusions["classifier.onnx"]["fused"]["LayerNormalization"] == 13
    assert fusions["classifier.onnx"]["fused"]["MatMul without reshapes"] == 26
    assert fusions["classifier.onnx"]["nodes"] <= 240 < fusions["tf2onnx"]["nodes"]
    contrib_fusions = fusions["classifier.onnxruntime.onnx"]["fused"]
    assert contrib_fusions == {"Attention": 6, "BiasGelu": 6, "SkipLayerNormalization": 12}
    assert fusions["classifier.onnxruntime.onnx"]["nodes"] <= 95


def test_saved_model_uses_only_serving_ops(tiny_export):
    assert "NormalizeUTF8" in saved_model_ops(tiny_export.path)
    assert unlisted_ops(tiny_export.path) == []
