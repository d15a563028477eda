"""The warm-started summarizer (`train --init-from`): its vocabulary, where every
checkpoint tensor lands (against a float64 NumPy decoder written from the
Hugging Face tensors), masks, the cached decoder, and the command line end to end
on a tiny random BERT checkpoint."""

import json
import os

import keras
import numpy as np
import pytest

from pipelines.common.errors import UserInputError
from pipelines.pretrained.checkpoint import read_checkpoint
from pipelines.summarization.cli import main
from pipelines.summarization.config import COPY_ATTENTIONS
from pipelines.summarization.config import SummarizerConfig
from pipelines.summarization.config import default_config
from pipelines.summarization.inference import InferenceModel
from pipelines.summarization.model import COPY_ID_MAP
from pipelines.summarization.model import build_summarizer
from pipelines.summarization.model import decoder_block_name
from pipelines.summarization.special_tokens import SPECIAL_TOKENS
from pipelines.summarization.trained import Summarizer
from pipelines.summarization.trained import generate
from pipelines.summarization.warm_start import checkpoint_rows
from pipelines.summarization.warm_start import copy_id_map
from pipelines.summarization.warm_start import decoder_vocabulary
from pipelines.summarization.warm_start import default_source_layers
from pipelines.summarization.warm_start import load_warm_start_weights
from numpy_bert import ACTIVATIONS
from numpy_bert import bert_hidden_states
from numpy_bert import layer_norm
from test_summarization import make_dialogues
from test_summarization import write_pairs
from tiny_bert import tiny_vocabulary
from tiny_bert import write_tiny_bert_checkpoint

CHECKPOINT_SHAPE = dict(
    num_layers=3, hidden_dim=16, num_heads=2, intermediate_dim=32, vocabulary_size=80, max_positions=96
)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    directory = tmp_path_factory.mktemp("checkpoint") / "tiny_bert"
    write_tiny_bert_checkpoint(directory, **CHECKPOINT_SHAPE, seed=3)
    return read_checkpoint(str(directory))


def warm_config(checkpoint, decoder_tokens, source_layers):
    config = default_config(init_from=checkpoint.path)
    model = config.model
    model.encoder = checkpoint.settings.to_dict()
    model.vocabulary_size = len(decoder_tokens)
    model.decoder_layers = len(source_layers)
    model.decoder_source_layers = list(source_layers)
    model.dropout = model.attention_dropout = 0.0
    return config


@pytest.fixture(scope="module", params=COPY_ATTENTIONS)
def warm_model(request, checkpoint):
    """A warm-started copying model, with each copy attention."""
    keras.utils.set_random_seed(11)
    tokens = decoder_vocabulary(tiny_vocabulary(80), ["the film is good", "a story of acting"])
    config = warm_config(checkpoint, tokens, [2, 0])
    config.model.copy_attention = request.param
    model = build_summarizer(config.model)
    load_warm_start_weights(model, checkpoint, tiny_vocabulary(80), tokens, [2, 0])
    return model, tokens


def test_the_decoder_vocabulary_is_the_specials_then_the_pieces_summaries_use():
    vocabulary = tiny_vocabulary(80)
    tokens = decoder_vocabulary(vocabulary, ["The film was good.", "it is so dull"])
    assert tokens[: len(SPECIAL_TOKENS)] == list(SPECIAL_TOKENS)
    pieces = tokens[len(SPECIAL_TOKENS) :]
    for word in ("the", "film", "was", "good", "it", "is", "so", "dull"):
        assert word in pieces
    assert "movie" not in pieces and "boring" not in pieces  # in the checkpoint, not in a summary
    assert {"z", "##z", "q"} <= set(pieces)  # every ASCII character can still be spelled
    assert not any(token.startswith("[unused") for token in pieces)
    order = [vocabulary.index(piece) for piece in pieces]
    assert order == sorted(order)


def test_special_tokens_start_from_the_checkpoints_rows():
    vocabulary = tiny_vocabulary(80)
    rows = checkpoint_rows(list(SPECIAL_TOKENS) + ["film"], vocabulary)
    assert [vocabulary[row] for row in rows] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[unused0]", "film"]
    with pytest.raises(UserInputError, match="\\[CLS\\]"):
        checkpoint_rows(["[BOS]"], ["[PAD]", "[UNK]", "[SEP]"])


@pytest.mark.parametrize(
    "decoder_layers, checkpoint_layers, expected",
    [(3, 6, [1, 3, 5]), (6, 6, [0, 1, 2, 3, 4, 5]), (1, 6, [5]), (2, 12, [5, 11]), (4, 6, [0, 2, 3, 5])],
)
def test_decoder_blocks_start_from_layers_spread_through_the_checkpoint(decoder_layers, checkpoint_layers, expected):
    assert default_source_layers(decoder_layers, checkpoint_layers) == expected


def test_more_decoder_layers_than_the_checkpoint_has_is_a_clear_error():
    with pytest.raises(UserInputError, match="--decoder-layers 7: the checkpoint has 6 layers"):
        default_source_layers(7, 6)


def numpy_logits(model, checkpoint, decoder_tokens, source_layers, encoder_ids, decoder_ids):
    """Float64 logits of the warm-started model: checkpoint tensors read by their Hugging
    Face names, only the new cross-attention and its LayerNorm read from the model."""
    weights = {name: np.asarray(value, np.float64) for name, value in checkpoint.weights.items()}
    config = {
        "hidden_size": 16, "num_attention_heads": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu",
        "num_hidden_layers": 3,
    }
    encoded = bert_hidden_states(checkpoint.weights, config, encoder_ids)
    rows = checkpoint_rows(decoder_tokens, tiny_vocabulary(80))
    table = weights["embeddings.word_embeddings.weight"][rows]
    batch, length = decoder_ids.shape
    heads, head_dim, epsilon = 2, 8, 1e-12
    x = table[decoder_ids] + weights["embeddings.token_type_embeddings.weight"][0]
    x = x + weights["embeddings.position_embeddings.weight"][:length]
    x = layer_norm(x, weights["embeddings.LayerNorm.weight"], weights["embeddings.LayerNorm.bias"], epsilon)

    def attend(query_states, key_states, project, allowed):
        query = project("query", query_states).reshape(batch, -1, heads, head_dim).transpose(0, 2, 1, 3)
        key = project("key", key_states).reshape(batch, -1, heads, head_dim).transpose(0, 2, 1, 3)
        value = project("value", key_states).reshape(batch, -1, heads, head_dim).transpose(0, 2, 1, 3)
        scores = np.where(allowed, query @ key.transpose(0, 1, 3, 2) / np.sqrt(head_dim), -np.inf)
        probabilities = np.exp(scores - scores.max(-1, keepdims=True))
        probabilities /= probabilities.sum(-1, keepdims=True)
        return (probabilities @ value).transpose(0, 2, 1, 3).reshape(batch, -1, heads * head_dim)

    causal = np.tril(np.ones((length, length), bool))[None, None]
    real_source = (encoder_ids != 0)[:, None, None, :]
    for index, source in enumerate(source_layers):
        prefix = f"encoder.layer.{source}."

        def linear(inputs, name, prefix=prefix):
            return inputs @ weights[prefix + name + ".weight"].T + weights[prefix + name + ".bias"]

        attended = attend(x, x, lambda kind, states: linear(states, f"attention.self.{kind}"), causal)
        x = layer_norm(
            linear(attended, "attention.output.dense") + x,
            weights[prefix + "attention.output.LayerNorm.weight"],
            weights[prefix + "attention.output.LayerNorm.bias"],
            epsilon,
        )
        block = model.get_layer(decoder_block_name(index))
        cross = block.cross_attention
        kernels = {
            kind: (
                np.asarray(getattr(cross, f"{kind}_kernel").numpy(), np.float64).reshape(16, 16),
                np.asarray(getattr(cross, f"{kind}_bias").numpy(), np.float64).reshape(16),
            )
            for kind in ("query", "key", "value")
        }
        attended = attend(
            x, encoded, lambda kind, states: states @ kernels[kind][0] + kernels[kind][1], real_source
        )
        attended = attended @ cross.output_kernel.numpy().reshape(16, 16) + cross.output_bias.numpy()
        norm = block.cross_attention_norm
        x = layer_norm(attended + x, norm.gamma.numpy(), norm.beta.numpy(), epsilon)
        hidden = ACTIVATIONS["gelu"](linear(x, "intermediate.dense"))
        x = layer_norm(
            linear(hidden, "output.dense") + x,
            weights[prefix + "output.LayerNorm.weight"],
            weights[prefix + "output.LayerNorm.bias"],
            epsilon,
        )
    return x @ table.T  # the output bias starts at zero


def test_every_checkpoint_tensor_lands_where_a_numpy_decoder_reads_it(warm_model, checkpoint):
    model, tokens = warm_model
    rng = np.random.default_rng(0)
    encoder_ids = rng.integers(5, 80, (2, 9)).astype("int32")
    encoder_ids[1, 6:] = 0
    decoder_ids = rng.integers(1, len(tokens), (2, 5)).astype("int32")
    # The new cross-attention, made non-trivial so that a misrouted one shows.
    for index in range(2):
        attention = model.get_layer(decoder_block_name(index)).cross_attention
        for variable in (attention.output_kernel, attention.output_bias):
            variable.assign(rng.normal(0.0, 0.3, variable.shape).astype("float32"))
    # The vocabulary side of the copying model: the same weights without its copy head.
    config = warm_config(checkpoint, tokens, [2, 0])
    config.model.copy = False
    plain = build_summarizer(config.model)
    for layer in plain.layers:
        layer.set_weights(model.get_layer(layer.name).get_weights())
    logits = plain({"encoder_ids": encoder_ids, "decoder_ids": decoder_ids}).numpy()
    expected = numpy_logits(model, checkpoint, tokens, [2, 0], encoder_ids, decoder_ids)
    np.testing.assert_allclose(logits, expected, atol=2e-4, rtol=1e-4)


def test_the_copy_head_reads_document_pieces_as_decoder_ids(warm_model):
    model, tokens = warm_model
    vocabulary = tiny_vocabulary(80)
    table = model.get_layer(COPY_ID_MAP).output_ids.numpy()
    assert table.tolist() == copy_id_map(vocabulary, tokens).tolist()
    for piece, decoder_id in zip(vocabulary, table):
        if decoder_id:
            assert tokens[decoder_id] == piece
    assert not any(table[vocabulary.index(token)] for token in ("[CLS]", "[SEP]", "[PAD]"))
    outputs = model({"encoder_ids": np.array([[3, 10, 11, 4]], np.int32),
                     "decoder_ids": np.array([[2, 6]], np.int32)}).numpy()
    np.testing.assert_allclose(np.exp(outputs.astype(np.float64)).sum(-1), 1.0, atol=1e-5)


def test_masks_hold_and_cached_steps_equal_the_full_pass(warm_model):
    model, tokens = warm_model
    rng = np.random.default_rng(1)
    encoder_ids = rng.integers(5, 80, (2, 7)).astype("int32")
    decoder_ids = rng.integers(5, len(tokens), (2, 6)).astype("int32")
    logits = model({"encoder_ids": encoder_ids, "decoder_ids": decoder_ids}).numpy()
    padded = model({
        "encoder_ids": np.pad(encoder_ids, [(0, 0), (0, 5)]), "decoder_ids": np.pad(decoder_ids, [(0, 0), (0, 2)]),
    }).numpy()
    np.testing.assert_allclose(padded[:, :6], logits, atol=1e-5)
    changed = decoder_ids.copy()
    changed[:, 4:] = 7
    later = model({"encoder_ids": encoder_ids, "decoder_ids": changed}).numpy()
    np.testing.assert_allclose(later[:, :4], logits[:, :4], atol=1e-5)

    inference = InferenceModel(model)
    encoder_outputs, padding_mask = inference.encode(encoder_ids)
    state = inference.initial_state(encoder_outputs, padding_mask, max_length=6, encoder_ids=encoder_ids)
    steps = []
    for index in range(6):
        step_logits, state = inference.decode_step(decoder_ids[:, index : index + 1], index, state)
        steps.append(step_logits.numpy())
    np.testing.assert_allclose(np.stack(steps, axis=1), logits, atol=1e-4)


@pytest.fixture(scope="module")
def warm_run(tmp_path_factory, checkpoint):
    directory = tmp_path_factory.mktemp("warm")
    files = {
        name: write_pairs(directory / f"{name}.csv", make_dialogues(count, seed=seed))
        for name, count, seed in (("train", 40, 1), ("valid", 10, 2), ("test", 6, 3))
    }
    out = str(directory / "run")
    status = main([
        "train", "--init-from", checkpoint.path, "--train", files["train"], "--valid", files["valid"],
        "--test", files["test"], "--document-column", "dialogue", "--summary-column", "summary",
        "--out", out, "--max-document-length", "48", "--max-summary-length", "24", "--decoder-layers", "2",
        "--batch-size", "8", "--epochs", "2", "--warmup-steps", "2", "--beams", "2", "--progress", "none",
    ])
    assert status == 0
    return out, files


def test_train_init_from_writes_a_warm_started_run(warm_run, checkpoint):
    out, files = warm_run
    config = SummarizerConfig.load(os.path.join(out, "config.json"))
    assert config.model.init_from == checkpoint.path
    assert config.model.checkpoint["sha256"] == checkpoint.sha256
    assert config.model.encoder == checkpoint.settings.to_dict()
    assert config.model.decoder_source_layers == [0, 2]
    assert (config.model.hidden_dim, config.model.encoder_layers, config.model.num_heads) == (16, 3, 2)
    with open(os.path.join(out, "metrics.json")) as file:
        metrics = json.load(file)
    assert set(metrics["test"]) >= {"rouge1", "rouge2", "rougeLsum"}
    summarizer = Summarizer.load(out)
    # Documents in the checkpoint's ids, [CLS] … [SEP], cut to the encoder's length.
    ids = summarizer.tokenizer.tokenize(["Amanda: the film was good " * 30]).to_list()[0]
    assert len(ids) == 48 and ids[0] == 2 and ids[-1] == 3
    summaries = generate(summarizer, ["Amanda: lunch at 1?\nJerry: yes", ""], beams=2)
    assert len(summaries) == 2 and summaries[1] == ""


def test_a_killed_warm_started_run_resumes_with_its_own_tokenizer(warm_run, tmp_path, checkpoint):
    _, files = warm_run
    out = str(tmp_path / "resumed")
    arguments = [
        "train", "--init-from", checkpoint.path, "--train", files["train"], "--valid", files["valid"],
        "--document-column", "dialogue", "--summary-column", "summary", "--out", out,
        "--max-document-length", "48", "--max-summary-length", "24", "--decoder-layers", "1",
        "--batch-size", "8", "--epochs", "1", "--warmup-steps", "2", "--progress", "none",
    ]
    assert main(arguments) == 0
    # As if killed after fit, before model.keras was written: the rerun resumes.
    os.remove(os.path.join(out, "model.keras"))
    os.makedirs(os.path.join(out, "backup"), exist_ok=True)
    vocabulary = os.path.join(out, "tokenizer", "summaries", "vocabulary.txt")
    with open(vocabulary, encoding="utf-8") as file:
        before = file.read()
    assert main(arguments) == 0
    with open(vocabulary, encoding="utf-8") as file:
        assert file.read() == before
    assert os.path.exists(os.path.join(out, "model.keras"))


@pytest.mark.parametrize("flag", [["--hidden-dim", "32"], ["--num-heads", "4"], ["--vocabulary-size", "900"]])
def test_settings_the_checkpoint_fixes_are_refused_with_init_from(warm_run, tmp_path, checkpoint, flag, capsys):
    _, files = warm_run
    status = main([
        "train", "--init-from", checkpoint.path, "--train", files["train"], "--valid", files["valid"],
        "--document-column", "dialogue", "--summary-column", "summary", "--out", str(tmp_path / "x"), *flag,
    ])
    assert status == 2
    assert f"{flag[0]} is fixed by the checkpoint given to --init-from" in capsys.readouterr().err


def test_too_many_decoder_layers_or_positions_stop_before_anything_is_written(warm_run, tmp_path, checkpoint, capsys):
    _, files = warm_run
    common = [
        "train", "--init-from", checkpoint.path, "--train", files["train"], "--valid", files["valid"],
        "--document-column", "dialogue", "--summary-column", "summary",
    ]
    assert main(common + ["--out", str(tmp_path / "a"), "--decoder-layers", "4", "--max-document-length", "48"]) == 2
    assert "--decoder-layers 4: the checkpoint has 3 layers" in capsys.readouterr().err
    assert main(common + ["--out", str(tmp_path / "b"), "--max-document-length", "512"]) == 2
    assert "--max-document-length 512 exceeds the checkpoint's 96 positions" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "a") and not os.path.exists(tmp_path / "b")
