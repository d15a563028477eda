"""Tied embeddings: one token table for the inputs and, transposed, for the output logits.

`OutputTiedEmbedding` is the shared half: a `keras.layers.ReversibleEmbedding`
whose reverse pass adds an output bias. `TiedEmbedding` (scaled tokens plus
sinusoidal positions) and `BertTiedEmbedding` (bert_tied_embedding.py) add
their input embedding to it.

They hold the table themselves (the layer is the `ReversibleEmbedding`),
where `TokenAndPositionEmbedding` and `BertEmbedding` keep it in a
`token_embedding` sublayer: each class keeps the weight layout of the files
saved with it.
"""

import copy
import math

import keras
from keras import ops

from keras_attention.positional_encoding import PositionalEncoding
from keras_attention.validation import check_positive_int
from keras_attention.validation import check_rate


class OutputTiedEmbedding(keras.layers.ReversibleEmbedding):
    """A `keras.layers.ReversibleEmbedding` whose reverse pass adds an output bias.

    `layer(hidden, reverse=True)` gives float32 logits `hidden · tableᵀ + bias`;
    `layer(token_ids, start_index=0)` looks the ids up and passes the vectors
    to the subclass's `embed`. Token id 0 is padding and becomes the Keras
    mask. The weights are stored as the table, then `EXTRA_WEIGHTS` in order.
    """

    EXTRA_WEIGHTS = ("output_bias",)

    def build(self, input_shape=None):
        super().build(input_shape)
        self.output_bias = self.add_weight(
            name="output_bias", shape=(self.input_dim,), initializer="zeros"
        )

    @property
    def variable_serialization_spec(self):
        spec = copy.deepcopy(super().variable_serialization_spec)
        for names in spec.values():
            names.extend(self.EXTRA_WEIGHTS)
        return spec

    def call(self, inputs, start_index=0, reverse=False, training=None):
        if reverse:
            logits = super().call(inputs, reverse=True)
            return ops.cast(logits, "float32") + ops.cast(self.output_bias, "float32")
        return self.embed(super().call(inputs), start_index, training)

    def embed(self, embedded, start_index, training):
        """The looked-up token vectors `(batch, length, dim)` → the layer's embeddings."""
        raise NotImplementedError

    def compute_mask(self, inputs, mask=None):
        # Keras passes no call arguments here: hidden states (rank 3) mean
        # `reverse=True`, whose logits keep the decoder's padding mask.
        if len(inputs.shape) == 3:
            return mask
        return ops.not_equal(inputs, 0)

    def compute_output_spec(self, inputs, start_index=0, reverse=False, training=None):
        if reverse:
            shape = tuple(inputs.shape[:-1]) + (self.input_dim,)
            return keras.KerasTensor(shape, dtype="float32")
        shape = tuple(inputs.shape) + (self.output_dim,)
        return keras.KerasTensor(shape, dtype=self.compute_dtype)


@keras.saving.register_keras_serializable(package="keras_attention")
class TiedEmbedding(OutputTiedEmbedding):
    """Token embedding × √d plus sinusoidal positions, reversible into logits.

    `layer(token_ids, start_index=0)` embeds ids (0 is padding and becomes the
    Keras mask) and adds `PositionalEncoding` from `start_index`;
    `layer(hidden, reverse=True)` turns hidden states into logits with the same
    table, `hidden · tableᵀ + bias`. The table and its reverse projection are
    `keras.layers.ReversibleEmbedding`'s; this layer adds the output bias, the
    scaling, the positions and dropout. Files written when it held its two
    weights itself load unchanged: the weights are stored in the same order
    (table, then bias). Sharing one table between encoder, decoder and output
    (Press & Wolf, 2017) saves two vocabulary-sized matrices and helps a model
    trained from scratch on little data copy names from the document: the
    vector a token is read as is the vector it is written with. Logits are
    float32.

    Args:
        vocabulary_size: int. Number of token ids.
        embedding_dim: int. Size of each embedding.
        dropout: float. Dropout on the embedded inputs. Defaults to 0.
        **kwargs: other keyword arguments passed to `keras.layers.Layer`.

    Call arguments:
        inputs: int ids `(batch, length)`, or hidden states
            `(batch, length, embedding_dim)` with `reverse=True`.
        start_index: int or scalar tensor. Position of the first token.
        reverse: bool. Project hidden states to logits. Defaults to False.
        training: bool. Whether dropout is active.

    Returns:
        Embeddings `(batch, length, embedding_dim)` or logits
        `(batch, length, vocabulary_size)`.

    Example:

    >>> layer = TiedEmbedding(vocabulary_size=100, embedding_dim=16)
    >>> hidden = layer(np.array([[5, 9, 0]]))
    >>> tuple(layer(hidden, reverse=True).shape)
    (1, 3, 100)

    References:
        - [Press & Wolf, 2017](https://arxiv.org/abs/1608.05859)
    """

    def __init__(self, vocabulary_size, embedding_dim, dropout=0.0, **kwargs):
        check_positive_int("vocabulary_size", vocabulary_size)
        check_positive_int("embedding_dim", embedding_dim)
        check_rate("dropout", dropout)
        # Unit-variance token vectors after the √d scaling, the scale of the
        # sinusoidal code they are added to; as logits weights, unit-norm rows.
        super().__init__(
            vocabulary_size,
            embedding_dim,
            tie_weights=True,
            embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0 / math.sqrt(embedding_dim)),
            mask_zero=True,
            **kwargs,
        )
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.dropout = dropout
        self.position_encoding = PositionalEncoding(dtype=self.dtype_policy, name="position_encoding")
        self.dropout_layer = keras.layers.Dropout(dropout, dtype=self.dtype_policy, name="dropout")

    def embed(self, embedded, start_index, training):
        embedded = embedded * ops.cast(math.sqrt(self.embedding_dim), embedded.dtype)
        embedded = self.position_encoding(embedded, start_index=start_index)
        return self.dropout_layer(embedded, training=training)

    def get_config(self):
        # The arguments of this layer only: the table's settings are fixed above.
        config = keras.layers.Layer.get_config(self)
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "embedding_dim": self.embedding_dim,
                "dropout": self.dropout,
            }
        )
        return config
