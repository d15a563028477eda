"""Keras 3 attention layers: masked softmax, positional encodings, multi-head
attention with a key/value cache, attention pooling and Transformer blocks."""

from keras_attention import ops
from keras_attention.attention_pooling import AttentionPooling
from keras_attention.bert_embedding import BertEmbedding
from keras_attention.bert_tied_embedding import BertTiedEmbedding
from keras_attention.feed_forward import FeedForward
from keras_attention.multi_head_attention import MultiHeadAttention
from keras_attention.positional_encoding import LearnedPositionalEncoding
from keras_attention.positional_encoding import PositionalEncoding
from keras_attention.tied_embedding import TiedEmbedding
from keras_attention.token_and_position_embedding import TokenAndPositionEmbedding
from keras_attention.transformer_decoder_block import TransformerDecoderBlock
from keras_attention.transformer_encoder_block import TransformerEncoderBlock

__version__ = "0.1.0"

__all__ = [
    "AttentionPooling",
    "BertEmbedding",
    "BertTiedEmbedding",
    "FeedForward",
    "LearnedPositionalEncoding",
    "MultiHeadAttention",
    "PositionalEncoding",
    "TiedEmbedding",
    "TokenAndPositionEmbedding",
    "TransformerDecoderBlock",
    "TransformerEncoderBlock",
    "ops",
]
