import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from pipelines.classification.config import ModelConfig
from pipelines.classification.data import count_bucketed_batches
from pipelines.classification.data import length_order
from pipelines.classification.data import make_dataset
from pipelines.classification.data import padded_lengths
from pipelines.classification.model import attention_explainer
from pipelines.classification.model import build_classifier
from pipelines.common.tokenizer import build_tokenizer
from synthetic_data import make_rows

SMALL = ModelConfig(
    vocabulary_size=50, num_classes=3, max_length=16, embedding_dim=16,
    num_blocks=2, num_heads=2, intermediate_dim=32, pooling_heads=2,
)


@pytest.fixture(scope="module")
def classifier():
    keras.utils.set_random_seed(7)
    return build_classifier(SMALL)


def test_padding_changes_no_probability(classifier):
    short = np.array([[5, 9, 3]], dtype=np.int32)
    padded = np.array([[5, 9, 3, 0, 0, 0, 0]], dtype=np.int32)
    np.testing.assert_allclose(
        classifier.predict(short, verbose=0), classifier.predict(padded, verbose=0), atol=1e-6
    )


@pytest.mark.parametrize("position_encoding", ["learned", "rope"])
def test_padding_changes_nothing_with_other_position_encodings(position_encoding):
    config = dataclasses.replace(SMALL, position_encoding=position_encoding)
    model = build_classifier(config)
    ids = np.array([[5, 9, 3]], dtype=np.int32)
    padded = np.array([[5, 9, 3, 0, 0]], dtype=np.int32)
    np.testing.assert_allclose(model.predict(ids, verbose=0), model.predict(padded, verbose=0), atol=1e-6)
    uses_rope = model.get_layer("encoder_block_0").use_rope
    assert uses_rope == (position_encoding == "rope")


def test_pooling_weights_sum_to_one_and_ignore_padding(classifier):
    probabilities, weights = attention_explainer(classifier).predict(
        np.array([[5, 9, 3, 0, 0], [7, 0, 0, 0, 0]], dtype=np.int32), verbose=0
    )
    assert weights.shape == (2, 2, 5)  # (batch, pooling heads, tokens)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(weights[0, :, 3:], 0.0)
    np.testing.assert_allclose(weights[1, :, 0], 1.0, atol=1e-6)
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, atol=1e-5)


def test_saved_model_loads_in_safe_mode(classifier, tmp_path):
    path = str(tmp_path / "model.keras")
    classifier.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    ids = np.array([[4, 8, 15, 16, 23, 42]], dtype=np.int32)
    np.testing.assert_allclose(loaded.predict(ids, verbose=0), classifier.predict(ids, verbose=0), atol=1e-6)


def test_mixed_precision_keeps_float32_probabilities():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = build_classifier(SMALL)
        output = model(np.array([[1, 2, 3]], dtype=np.int32))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert model.get_layer("encoder_block_0").compute_dtype == "bfloat16"
    assert output.dtype == tf.float32


@pytest.fixture(scope="module")
def tokenizer():
    rows = make_rows(200, seed=4)
    return build_tokenizer([text for text, _ in rows], vocabulary_size=200, max_length=12)


def test_training_batches_are_bucketed_complete_and_counted(tokenizer):
    texts = [text for text, _ in make_rows(150, seed=5)] + ["good " * 30]  # one truncated text
    labels = np.arange(len(texts)) % 2
    dataset = make_dataset(
        texts, labels, tokenizer=tokenizer, num_classes=2, batch_size=16, shuffle=True, seed=1
    )
    batches = list(dataset)
    assert len(batches) == int(dataset.cardinality())
    assert {int(ids.shape[1]) for ids, _ in batches} <= set(padded_lengths(12))
    assert sum(int(ids.shape[0]) for ids, _ in batches) == len(texts)
    expected = sorted(tokenizer.tokenize_ragged(texts).row_lengths().numpy().tolist())
    for epoch in (batches, list(dataset)):  # every example once, every epoch
        lengths = [int(n) for ids, _ in epoch for n in (ids.numpy() != 0).sum(axis=1)]
        assert sorted(lengths) == expected
    assert all(labels.shape[1] == 2 for _, labels in batches)  # one-hot


def test_count_bucketed_batches_by_hand():
    # Buckets for max_length 16: lengths 1-8 and 9-16. Five short, two long, batch 2.
    assert count_bucketed_batches(np.array([1, 2, 3, 8, 8, 9, 16]), 2, 16) == 3 + 1


def test_evaluation_batches_keep_order_and_pad_to_a_bucket(tokenizer):
    texts = ["a good film", "it is dull .", "a good film , truly good and great and smart"]
    batches = list(make_dataset(texts, tokenizer=tokenizer, batch_size=2))
    assert [int(ids.shape[1]) for ids in batches] == [8, 12]
    expected = tokenizer.tokenize(texts, sequence_length=12).numpy()
    np.testing.assert_array_equal(batches[0].numpy(), expected[:2, :8])
    np.testing.assert_array_equal(batches[1].numpy(), expected[2:])


def test_length_order_sorts_by_token_count_stably(tokenizer):
    texts = ["good film good film good", "film", "good film", "good", ""]  # 5, 1, 2, 1, 0 tokens
    assert length_order(texts, tokenizer).tolist() == [4, 1, 3, 2, 0]


def test_predictions_come_back_in_input_order(tiny_run):
    """Batched by length, answered in the caller's order: each row as if predicted alone."""
    from pipelines.classification.trained import TrainedClassifier

    classifier = TrainedClassifier.load(tiny_run)
    texts = [" ".join(["good"] * count) + " film" for count in (9, 1, 5, 0, 12, 2, 7, 3)]
    together = classifier.predict_probabilities(texts, batch_size=3)
    alone = np.concatenate([classifier.predict_probabilities([text]) for text in texts])
    np.testing.assert_allclose(together, alone, atol=1e-6)
    assert len({tuple(np.round(row, 5)) for row in together}) > 1  # the rows differ: order matters
