"""The copy mechanism (`PointerGenerator`): its mixture against a float64 NumPy
reference, masks by invariance, the loss on its log-probabilities, the warm
start's id map, and the settings' defaults for new and old runs. Each copy
attention (`copy_attention`: the copy head's own, or the decoder's last
cross-attention averaged over its heads) runs the same tests."""

import functools
import json
import os
import sys

import keras
import numpy as np
import pytest

import keras_attention
from pipelines.common.errors import UserInputError
from pipelines.summarization.config import COPY_ATTENTIONS
from pipelines.summarization.config import ModelConfig
from pipelines.summarization.config import SummarizerConfig
from pipelines.summarization.inference import InferenceModel
from pipelines.summarization.losses import SmoothedSparseCrossEntropy
from pipelines.summarization.model import COPY_HEAD
from pipelines.summarization.model import build_summarizer
from pipelines.summarization.pointer_generator import PointerGenerator
from pipelines.summarization.pointer_generator import SourceIdMap
from pipelines.summarization.pointer_generator import coverage_loss
from pipelines.summarization.warm_start import copy_id_map

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "layers"))
import numpy_reference  # noqa: E402  (the float64 references of the keras_attention layers)

VOCABULARY, HIDDEN, SOURCE, TARGET = 30, 8, 7, 4
HEADS = 2


@functools.cache
def decoder_cross_attention():
    """A decoder's cross-attention (2 heads, seeded weights and biases): what the copy
    head copies with under `copy_attention="cross_attention"`."""
    attention = keras_attention.MultiHeadAttention(
        num_heads=HEADS, key_dim=4, kernel_initializer=keras.initializers.GlorotUniform(seed=3),
        bias_initializer=keras.initializers.RandomNormal(stddev=0.5, seed=4),
    )
    attention.build((None, None, HIDDEN), (None, None, HIDDEN))
    return attention


def layer_inputs(seed, layer, batch=3, change=None):
    """The copy head's inputs; `change(inputs)` edits them before the cross-attention runs."""
    rng = np.random.default_rng(seed)
    source_ids = rng.integers(5, VOCABULARY, (batch, SOURCE)).astype("int32")
    source_ids[0, 1::2] = 11  # one token many times: its weights must sum
    source_ids[1, 4:] = 0  # padding
    source_ids[1, 3] = 0  # a token the output vocabulary lacks (see `cross_attention_mask`)
    source_ids[2, :] = 0  # nothing to copy
    inputs = dict(
        decoder_hidden=rng.normal(size=(batch, TARGET, HIDDEN)).astype("float32"),
        decoder_inputs=rng.normal(size=(batch, TARGET, HIDDEN)).astype("float32"),
        vocabulary_logits=rng.normal(size=(batch, TARGET, VOCABULARY)).astype("float32") * 3,
        encoder_outputs=rng.normal(size=(batch, SOURCE, HIDDEN)).astype("float32"),
        source_ids=source_ids,
    )
    if change is not None:
        change(inputs)
    if layer.copy_attention == "cross_attention":
        inputs["cross_attention_scores"] = decoder_cross_attention()(
            inputs["decoder_hidden"], inputs["encoder_outputs"],
            attention_mask=cross_attention_mask(source_ids)[:, None, :], return_attention_scores=True,
        )[1]
    return inputs


def cross_attention_mask(source_ids):
    """What the decoder attends to: the source's real tokens, which include tokens that
    cannot be copied (a warm start's pieces outside the output vocabulary: row 1,
    position 3 here; every position of row 2)."""
    attended = source_ids != 0
    attended[1, 3] = True
    attended[2, :] = True
    return attended


@pytest.fixture(scope="module", params=COPY_ATTENTIONS)
def layer(request):
    keras.utils.set_random_seed(5)
    layer = PointerGenerator(key_dim=6 if request.param == "head" else None, copy_attention=request.param)
    layer(**layer_inputs(0, layer))
    # A gate bias that leaves both sides a visible share.
    layer.gate_dense.bias.assign(np.array([0.3], "float32"))
    return layer


def reference_copy_scores(layer, inputs, as64):
    """The copy head's attention logits `(batch, target, source)`, or, with
    `copy_attention="cross_attention"`, the cross-attention weights averaged over heads."""
    hidden, encoded = as64(inputs["decoder_hidden"]), as64(inputs["encoder_outputs"])
    if layer.copy_attention == "head":
        queries = hidden @ as64(layer.query_dense.kernel)
        keys = encoded @ as64(layer.key_dense.kernel)
        return queries @ keys.transpose(0, 2, 1) / np.sqrt(queries.shape[-1])
    mask = cross_attention_mask(inputs["source_ids"])[:, None, :]
    _, weights = numpy_reference.multi_head_attention(decoder_cross_attention(), hidden, encoded, mask=mask)
    return weights.mean(axis=1)


def reference_mixture(layer, inputs):
    """The pointer-generator distribution in float64, written from the paper's formulas."""
    as64 = lambda value: np.asarray(keras.ops.convert_to_numpy(value), np.float64)  # noqa: E731
    hidden, embedded = as64(inputs["decoder_hidden"]), as64(inputs["decoder_inputs"])
    encoded, logits = as64(inputs["encoder_outputs"]), as64(inputs["vocabulary_logits"])
    source_ids = inputs["source_ids"]
    scores = reference_copy_scores(layer, inputs, as64)
    probabilities = np.zeros(logits.shape)
    copy_weights = np.zeros(scores.shape)
    gates = np.zeros(logits.shape[:2])
    for row in range(len(source_ids)):
        kept = source_ids[row] != 0
        vocabulary = np.exp(logits[row] - logits[row].max(-1, keepdims=True))
        vocabulary /= vocabulary.sum(-1, keepdims=True)
        if not kept.any():
            probabilities[row], gates[row] = vocabulary, 1.0
            continue
        if layer.copy_attention == "head":
            weights = np.exp(scores[row][:, kept] - scores[row][:, kept].max(-1, keepdims=True))
        else:  # the averaged cross-attention on the tokens that can be copied
            weights = scores[row][:, kept]
        weights /= weights.sum(-1, keepdims=True)
        copy_weights[row][:, kept] = weights
        context = weights @ encoded[row][kept]
        gate_inputs = np.concatenate([hidden[row], context, embedded[row]], axis=-1)
        gate = gate_inputs @ as64(layer.gate_dense.kernel)[:, 0] + as64(layer.gate_dense.bias)[0]
        p_generate = 1.0 / (1.0 + np.exp(-gate))
        copy = np.zeros((len(gate), logits.shape[-1]))
        for position in np.flatnonzero(kept):
            copy[:, source_ids[row, position]] += copy_weights[row][:, position]
        probabilities[row] = p_generate[:, None] * vocabulary + (1.0 - p_generate[:, None]) * copy
        gates[row] = p_generate
    return probabilities, copy_weights, gates


def test_mixture_equals_a_float64_reference_and_every_step_sums_to_one(layer):
    inputs = layer_inputs(1, layer)
    log_probs, copy_weights, p_generate = (
        keras.ops.convert_to_numpy(value) for value in layer(**inputs, return_copy_details=True)
    )
    expected, expected_weights, expected_gates = reference_mixture(layer, inputs)
    assert log_probs.dtype == np.float32 and np.all(np.isfinite(log_probs))
    np.testing.assert_allclose(np.exp(log_probs.astype(np.float64)).sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.exp(log_probs), expected, atol=1e-6)
    # Where both sides put mass, the log-probabilities agree closely too.
    visible = expected > 1e-6
    np.testing.assert_allclose(log_probs[visible], np.log(expected[visible]), atol=1e-4)
    np.testing.assert_allclose(copy_weights, expected_weights, atol=1e-6)
    np.testing.assert_allclose(p_generate, expected_gates, atol=1e-6)


def test_a_row_with_nothing_to_copy_is_the_vocabulary_distribution(layer):
    inputs = layer_inputs(2, layer)
    log_probs = keras.ops.convert_to_numpy(layer(**inputs))
    logits = inputs["vocabulary_logits"][2].astype(np.float64)
    expected = logits - logits.max(-1, keepdims=True)
    expected -= np.log(np.exp(expected).sum(-1, keepdims=True))
    np.testing.assert_allclose(log_probs[2], expected, atol=1e-5)


def test_padded_source_positions_change_nothing(layer):
    before = keras.ops.convert_to_numpy(layer(**layer_inputs(3, layer)))

    def change(inputs):
        inputs["encoder_outputs"][1, 4:] = 100.0  # what the padded positions encode to
        inputs["encoder_outputs"][2] = -50.0  # a row with nothing to copy

    after = keras.ops.convert_to_numpy(layer(**layer_inputs(3, layer, change=change)))
    np.testing.assert_allclose(after, before, atol=1e-6)


def test_loss_on_log_probabilities_is_smoothed_cross_entropy_against_the_mixture(layer):
    inputs = layer_inputs(4, layer)
    log_probs = keras.ops.convert_to_numpy(layer(**inputs))
    labels = np.random.default_rng(4).integers(0, VOCABULARY, log_probs.shape[:2])
    weights = np.ones(labels.shape, np.float32)
    weights[1, 2:] = 0
    smoothing = 0.1
    loss = SmoothedSparseCrossEntropy(label_smoothing=smoothing, from_log_probabilities=True)
    value = float(keras.ops.convert_to_numpy(loss(labels, log_probs, sample_weight=weights)))
    expected_probs, _, _ = reference_mixture(layer, inputs)
    targets = np.full(expected_probs.shape, smoothing / VOCABULARY)
    np.put_along_axis(targets, labels[..., None], 1 - smoothing + smoothing / VOCABULARY, axis=-1)
    per_token = -(targets * np.log(expected_probs)).sum(-1)
    np.testing.assert_allclose(value, (per_token * weights).sum() / weights.sum(), rtol=1e-5)


def tiny_copying_model(copy_attention="head", coverage_weight=0.0):
    keras.utils.set_random_seed(9)
    return build_summarizer(ModelConfig(
        vocabulary_size=VOCABULARY, hidden_dim=16, intermediate_dim=32, num_heads=2, encoder_layers=1,
        decoder_layers=2, dropout=0.0, copy_attention=copy_attention, coverage_weight=coverage_weight,
    ))


def model_inputs():
    rng = np.random.default_rng(5)
    encoder_ids = rng.integers(5, VOCABULARY, (2, 9)).astype("int32")
    encoder_ids[1, 6:] = 0
    decoder_ids = rng.integers(5, VOCABULARY, (2, 5)).astype("int32")
    return {"encoder_ids": encoder_ids, "decoder_ids": decoder_ids}


@pytest.mark.parametrize("copy_attention", COPY_ATTENTIONS)
def test_copying_model_steps_sum_to_one_and_the_model_round_trips_in_a_keras_file(copy_attention, tmp_path):
    # Keras alone: also on the JAX backend.
    model = tiny_copying_model(copy_attention)
    head_weights = {"head": ["query", "key", "gate", "gate"], "cross_attention": ["gate", "gate"]}
    assert [w.path.split("/")[1] for w in model.get_layer(COPY_HEAD).weights] == head_weights[copy_attention]
    inputs = model_inputs()
    outputs = keras.ops.convert_to_numpy(model(inputs))
    np.testing.assert_allclose(np.exp(outputs.astype(np.float64)).sum(-1), 1.0, atol=1e-5)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    assert loaded.get_layer(COPY_HEAD).copy_attention == copy_attention
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(inputs)), outputs)


@pytest.mark.parametrize("copy_attention", COPY_ATTENTIONS)
def test_the_explain_paths_copy_details_are_the_models(copy_attention):
    model = tiny_copying_model(copy_attention)
    inputs = model_inputs()
    encoder_ids, decoder_ids = inputs["encoder_ids"], inputs["decoder_ids"]
    outputs = model(inputs).numpy()
    inference = InferenceModel(model)
    encoded, mask = inference.encode(encoder_ids)
    log_probs, copy_weights, p_generate = inference.decode(
        decoder_ids, encoded, mask, encoder_ids, return_copy_details=True
    )
    np.testing.assert_allclose(log_probs.numpy(), outputs, atol=1e-6)
    assert copy_weights.shape == (2, 5, 9) and np.all(copy_weights.numpy()[1, :, 6:] == 0)
    assert np.all((p_generate.numpy() > 0) & (p_generate.numpy() < 1))
    if copy_attention == "cross_attention":
        # The copy attention is the last block's cross-attention averaged over its heads (float64,
        # from that block's weights and the decoder states it receives).
        first, last = (model.get_layer(f"decoder_block_{index}") for index in (0, 1))
        decoder_mask = decoder_ids != 0
        into_last = first(
            inference.decoder_embedding(decoder_ids), encoded, decoder_padding_mask=decoder_mask,
            encoder_padding_mask=mask,
        )
        _, weights = numpy_reference.transformer_decoder_block(
            last, into_last.numpy(), encoded.numpy(), decoder_padding_mask=decoder_mask,
            encoder_padding_mask=encoder_ids != 0, return_cross_attention_weights=True,
        )
        np.testing.assert_allclose(copy_weights.numpy(), weights.mean(axis=1), atol=1e-6)


def test_new_runs_copy_and_a_config_written_without_the_setting_is_a_plain_decoder(tmp_path):
    assert SummarizerConfig().model.copy is True
    data = SummarizerConfig().to_dict()
    del data["model"]["copy"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    assert SummarizerConfig.load(str(path)).model.copy is False
    # Written before the copy attention could be chosen: the copy head's own.
    data = SummarizerConfig(model=ModelConfig(copy_attention="cross_attention")).to_dict()
    del data["model"]["copy_attention"]
    path.write_text(json.dumps(data))
    assert SummarizerConfig.load(str(path)).model.copy_attention == "head"
    assert SummarizerConfig().model.copy_attention == "cross_attention"  # new runs
    data["model"]["copy_attention"] = "cross"
    path.write_text(json.dumps(data))
    with pytest.raises(UserInputError, match="copy_attention 'cross' is unknown; use head or cross_attention"):
        SummarizerConfig.load(str(path))
    assert "copy_head" not in {layer.name for layer in build_summarizer(
        ModelConfig(vocabulary_size=VOCABULARY, hidden_dim=16, intermediate_dim=32, num_heads=2,
                    encoder_layers=1, decoder_layers=1, copy=False)).layers}


def test_warm_start_copies_through_the_source_to_decoder_id_map():
    checkpoint_vocabulary = ["[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "hi", "bob", "##by", "zebra"]
    decoder_tokens = ["[PAD]", "[UNK]", "[BOS]", "[EOS]", "[NL]", "bob", "hi", "##by"]
    table = copy_id_map(checkpoint_vocabulary, decoder_tokens)
    # Specials are never copied ([CLS] is not [BOS]); "zebra" is outside the decoder vocabulary.
    assert table.tolist() == [0, 0, 0, 0, 0, 6, 5, 7, 0]
    id_map = SourceIdMap(len(checkpoint_vocabulary))
    id_map.build()
    id_map.output_ids.assign(table)
    mapped = keras.ops.convert_to_numpy(id_map(np.array([[3, 5, 8, 6, 4, 0]])))
    assert mapped.tolist() == [[0, 6, 0, 5, 0, 0]]
    with pytest.raises(ValueError, match="Received: source_vocabulary_size=0"):
        SourceIdMap(0)
    with pytest.raises(ValueError, match="Received: key_dim=0"):
        PointerGenerator(key_dim=0)
    with pytest.raises(ValueError, match="Received: copy_attention='cross'"):
        PointerGenerator(copy_attention="cross")
    with pytest.raises(ValueError, match="leave it None. Received: key_dim=6"):
        PointerGenerator(key_dim=6, copy_attention="cross_attention")
    layer = PointerGenerator(copy_attention="cross_attention")
    inputs = layer_inputs(0, PointerGenerator())  # no cross-attention scores
    with pytest.raises(ValueError, match="pass `cross_attention_scores`"):
        layer(**inputs)


def reference_coverage_loss(copy_weights, decoder_mask):
    """See et al.'s coverage loss in float64: Σ_s min(a_ts, Σ_{t'<t} a_t's), mean over real steps."""
    weights = np.asarray(copy_weights, np.float64)
    total, steps = 0.0, 0
    for row in range(weights.shape[0]):
        coverage = np.zeros(weights.shape[-1])
        for step in range(weights.shape[1]):
            if decoder_mask[row, step]:
                total += np.minimum(weights[row, step], coverage).sum()
                steps += 1
            coverage += weights[row, step]
    return total / steps


def test_coverage_loss_equals_a_float64_reference_over_real_decoder_steps():
    rng = np.random.default_rng(11)
    weights = rng.dirichlet(np.ones(SOURCE), size=(3, TARGET)).astype("float32")
    mask = np.ones((3, TARGET), bool)
    mask[1, 2:] = False
    value = float(keras.ops.convert_to_numpy(coverage_loss(weights, mask)))
    np.testing.assert_allclose(value, reference_coverage_loss(weights, mask), rtol=1e-6)
    # Attention that never returns to a position costs nothing; the same position twice costs 1.
    disjoint = np.eye(SOURCE, dtype="float32")[None, :TARGET]
    assert float(keras.ops.convert_to_numpy(coverage_loss(disjoint))) == 0.0
    same = np.tile(np.eye(SOURCE, dtype="float32")[None, :1], (1, 2, 1))
    np.testing.assert_allclose(float(keras.ops.convert_to_numpy(coverage_loss(same))), 0.5)


@pytest.mark.parametrize("copy_attention", COPY_ATTENTIONS)
def test_coverage_loss_is_added_in_training_only_and_padded_decoder_steps_change_nothing(copy_attention):
    model = tiny_copying_model(copy_attention, coverage_weight=0.7)
    rng = np.random.default_rng(5)
    encoder_ids = rng.integers(5, VOCABULARY, (2, 9)).astype("int32")
    encoder_ids[1, 6:] = 0
    decoder_ids = rng.integers(5, VOCABULARY, (2, 5)).astype("int32")
    decoder_ids[1, 3:] = 0
    inputs = {"encoder_ids": encoder_ids, "decoder_ids": decoder_ids}
    training_outputs = model(inputs, training=True)
    assert len(model.losses) == 1
    coverage = float(keras.ops.convert_to_numpy(model.losses[0]))
    inference = InferenceModel(model)
    encoded, mask = inference.encode(encoder_ids)
    _, copy_weights, _ = inference.decode(decoder_ids, encoded, mask, encoder_ids, return_copy_details=True)
    expected = 0.7 * reference_coverage_loss(copy_weights.numpy(), decoder_ids != 0)
    np.testing.assert_allclose(coverage, expected, rtol=1e-5)
    assert coverage > 0
    # More padding after the real steps, and new tokens in the padded ones' place: the same loss.
    padded = dict(inputs, decoder_ids=np.pad(decoder_ids, ((0, 0), (0, 3))))
    model(padded, training=True)
    np.testing.assert_allclose(float(keras.ops.convert_to_numpy(model.losses[0])), coverage, rtol=1e-6)
    # Outside training nothing is added and the outputs are the same model's.
    outputs = model(inputs, training=False)
    assert not model.losses
    np.testing.assert_allclose(outputs.numpy(), training_outputs.numpy(), atol=1e-6)


def test_fit_minimizes_cross_entropy_plus_the_weighted_coverage_loss():
    from pipelines.summarization.config import TrainingConfig
    from pipelines.summarization.fitting import compile_summarizer

    model = compile_summarizer(tiny_copying_model(coverage_weight=0.5), TrainingConfig(learning_rate=1e-3))
    rng = np.random.default_rng(6)
    inputs = {"encoder_ids": rng.integers(5, VOCABULARY, (4, 9)).astype("int32"),
              "decoder_ids": rng.integers(5, VOCABULARY, (4, 6)).astype("int32")}
    labels = rng.integers(5, VOCABULARY, (4, 6)).astype("int32")
    outputs = model(inputs, training=True)
    expected = float(keras.ops.convert_to_numpy(model.loss(labels, outputs))) + float(
        keras.ops.convert_to_numpy(model.losses[0])
    )
    history = model.fit(inputs, labels, batch_size=4, epochs=1, verbose=0, shuffle=False)
    # One step: the reported loss is computed before the update.
    np.testing.assert_allclose(history.history["loss"][0], expected, rtol=1e-5)


def test_coverage_weight_is_checked_and_saved_with_the_head(tmp_path):
    with pytest.raises(ValueError, match="Received: coverage_weight=-1"):
        PointerGenerator(coverage_weight=-1)
    model = tiny_copying_model(coverage_weight=0.25)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    assert loaded.get_layer(COPY_HEAD).coverage_weight == 0.25
    assert ModelConfig().coverage_weight >= 0


def test_a_coverage_weight_without_the_copy_head_exits_2_before_anything_is_written(tmp_path, capsys):
    from pipelines.summarization.cli import main

    out = tmp_path / "run"
    status = main([
        "train", "--train", "a.csv", "--valid", "a.csv", "--document-column", "d",
        "--summary-column", "s", "--out", str(out), "--no-copy", "--coverage-weight", "1",
    ])
    error = capsys.readouterr().err.strip()
    assert status == 2 and "drop --coverage-weight or --no-copy" in error and len(error.splitlines()) == 1
    assert not out.exists()
