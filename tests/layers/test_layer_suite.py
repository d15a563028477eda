"""Every public layer through the shared `run_layer_test` checks."""

import numpy as np
import pytest

import keras_attention as ka
from layer_test_case import run_layer_test

RNG = np.random.default_rng(7)
BATCH, TIME, FEATURES = 2, 5, 8
SEQUENCE = RNG.normal(size=(BATCH, TIME, FEATURES)).astype("float32")
QUERY = RNG.normal(size=(BATCH, 4, FEATURES)).astype("float32")
VALUE = RNG.normal(size=(BATCH, 7, 5)).astype("float32")
SOURCE = RNG.normal(size=(BATCH, 7, FEATURES)).astype("float32")
GRID = RNG.normal(size=(BATCH, 3, 4, FEATURES)).astype("float32")
TOKEN_IDS = np.array([[3, 9, 4, 0, 0], [5, 1, 2, 8, 0]], dtype="int32")

CASES = {
    "positional_encoding": dict(
        layer_cls=ka.PositionalEncoding,
        init_kwargs={"max_wavelength": 500.0},
        input_data=SEQUENCE,
        expected_output_shape=(BATCH, TIME, FEATURES),
        expected_num_trainable_weights=0,
    ),
    "learned_positional_encoding": dict(
        layer_cls=ka.LearnedPositionalEncoding,
        init_kwargs={"max_length": 8},
        input_data=SEQUENCE,
        expected_output_shape=(BATCH, TIME, FEATURES),
        expected_num_trainable_weights=1,
    ),
    "token_and_position_embedding_sinusoidal": dict(
        layer_cls=ka.TokenAndPositionEmbedding,
        init_kwargs={"vocabulary_size": 10, "embedding_dim": FEATURES},
        input_data=TOKEN_IDS,
        expected_output_shape=(BATCH, TIME, FEATURES),
        expected_num_trainable_weights=1,
    ),
    "token_and_position_embedding_learned": dict(
        layer_cls=ka.TokenAndPositionEmbedding,
        init_kwargs={
            "vocabulary_size": 10,
            "embedding_dim": FEATURES,
            "max_length": 8,
            "position_encoding": "learned",
            "dropout": 0.1,
        },
        input_data=TOKEN_IDS,
        expected_output_shape=(BATCH, TIME, FEATURES),
        expected_num_trainable_weights=2,
    ),
    "bert_embedding": dict(
        layer_cls=ka.BertEmbedding,
        init_kwargs={
            "vocabulary_size": 10,
            "embedding_dim": FEATURES,
            "max_length": 8,
            "dropout": 0.1,
        },
        input_data=TOKEN_IDS,
        expected_output_shape=(BATCH, TIME, FEATURES),
        expected_num_trainable_weights=5,
    ),
    "tied_embedding": dict(
        layer_cls=ka.TiedEmbedding,
        init_kwargs={"vocabulary_size": 10, "embedding_dim": FEATURES, "dropout": 0.1},
        input_data=TOKEN_IDS,
        expected_output_shape=(BATCH, TIME, FEATURES),
        expected_num_trainable_weights=2,
    ),
    "bert_tied_embedding": dict(
        layer_cls=ka.BertTiedEmbedding,
        init_kwargs={
            "vocabulary_size": 10,
            "embedding_dim": FEATURES,
            "max_length": 8,
            "dropout": 0.1,
        },
        input_data=TOKEN_IDS,
        expected_output_shape=(BATCH, TIME, FEATURES),
        expected_num_trainable_weights=6,
    ),
    "multi_head_self_attention": dict(
        layer_cls=ka.MultiHeadAttention,
        init_kwargs={"num_heads": 2, "key_dim": 4, "dropout": 0.1},
        input_data={"query": SEQUENCE, "value": SEQUENCE},
        call_kwargs={"use_causal_mask": True},
        expected_output_shape=(BATCH, TIME, FEATURES),
        expected_num_trainable_weights=8,
    ),
    "multi_head_cross_attention": dict(
        layer_cls=ka.MultiHeadAttention,
        init_kwargs={"num_heads": 2, "key_dim": 4, "output_shape": 7},
        input_data={"query": QUERY, "value": VALUE},
        expected_output_shape=(BATCH, 4, 7),
        expected_num_trainable_weights=8,
    ),
    "multi_head_attention_keras_arguments": dict(
        layer_cls=ka.MultiHeadAttention,
        init_kwargs={
            "num_heads": 2,
            "key_dim": 4,
            "value_dim": 3,
            "use_gate": True,
            "sliding_window": 2,
            "output_shape": (2, 3),
            "kernel_constraint": "non_neg",
            "dropout": 0.1,
        },
        input_data={"query": SEQUENCE, "value": SEQUENCE},
        call_kwargs={"use_causal_mask": True},
        expected_output_shape=(BATCH, TIME, 2, 3),
        expected_num_trainable_weights=10,
    ),
    "multi_head_attention_over_axis_2": dict(
        layer_cls=ka.MultiHeadAttention,
        init_kwargs={"num_heads": 2, "key_dim": 4, "attention_axes": 2},
        input_data={"query": GRID, "value": GRID},
        expected_output_shape=(BATCH, 3, 4, FEATURES),
        expected_num_trainable_weights=8,
    ),
    "attention_pooling_one_head": dict(
        layer_cls=ka.AttentionPooling,
        init_kwargs={"units": 5},
        input_data=SEQUENCE,
        expected_output_shape=(BATCH, FEATURES),
        expected_num_trainable_weights=3,
    ),
    "attention_pooling_four_heads": dict(
        layer_cls=ka.AttentionPooling,
        init_kwargs={"num_heads": 4, "dropout": 0.1},
        input_data=SEQUENCE,
        expected_output_shape=(BATCH, FEATURES),
        expected_num_trainable_weights=3,
    ),
    "feed_forward": dict(
        layer_cls=ka.FeedForward,
        init_kwargs={"intermediate_dim": 16, "dropout": 0.1},
        input_data=SEQUENCE,
        expected_output_shape=(BATCH, TIME, FEATURES),
        expected_num_trainable_weights=4,
    ),
    "transformer_encoder_block_post_norm": dict(
        layer_cls=ka.TransformerEncoderBlock,
        init_kwargs={"intermediate_dim": 16, "num_heads": 2, "dropout": 0.1},
        input_data=SEQUENCE,
        expected_output_shape=(BATCH, TIME, FEATURES),
        expected_num_trainable_weights=16,
    ),
    "transformer_encoder_block_pre_norm": dict(
        layer_cls=ka.TransformerEncoderBlock,
        init_kwargs={"intermediate_dim": 16, "num_heads": 2, "normalize_first": True},
        input_data=SEQUENCE,
        expected_output_shape=(BATCH, TIME, FEATURES),
        expected_num_trainable_weights=16,
    ),
    "transformer_decoder_block_with_encoder": dict(
        layer_cls=ka.TransformerDecoderBlock,
        init_kwargs={"intermediate_dim": 16, "num_heads": 2},
        input_data={"decoder_sequence": SEQUENCE, "encoder_sequence": SOURCE},
        expected_output_shape=(BATCH, TIME, FEATURES),
        expected_num_trainable_weights=26,
    ),
    "transformer_decoder_block_decoder_only": dict(
        layer_cls=ka.TransformerDecoderBlock,
        init_kwargs={
            "intermediate_dim": 16,
            "num_heads": 2,
            "normalize_first": True,
            "use_rope": True,
            "key_dim": 4,
        },
        input_data=SEQUENCE,
        expected_output_shape=(BATCH, TIME, FEATURES),
        expected_num_trainable_weights=16,
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_run_layer_test(case):
    run_layer_test(**CASES[case])
