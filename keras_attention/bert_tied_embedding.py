import keras
from keras import ops

from keras_attention.positional_encoding import LearnedPositionalEncoding
from keras_attention.tied_embedding import OutputTiedEmbedding
from keras_attention.validation import check_positive_int
from keras_attention.validation import check_rate


@keras.saving.register_keras_serializable(package="keras_attention")
class BertTiedEmbedding(OutputTiedEmbedding):
    """BERT's input embedding (token + type-0 + learned positions, LayerNorm),
    reversible into logits with the same token table.

    A decoder that starts from a BERT-family checkpoint reads its tokens as the
    checkpoint embeds them, and writes them with the same vectors:
    `layer(token_ids, start_index=0)` embeds ids (0 is padding and becomes the
    Keras mask) from position `start_index`; `layer(hidden, reverse=True)`
    gives the logits `hidden · tableᵀ + bias`. The token-type table is reduced
    to its row 0, the only type a decoder uses. Logits are float32. Unlike
    `BertEmbedding`, which keeps each table in a sublayer, the layer is the
    token table (a `keras.layers.ReversibleEmbedding`).

    The weights are stored as the table, the output bias, then the type row.

    Args:
        vocabulary_size: int. Number of token ids.
        embedding_dim: int. Size of each embedding.
        max_length: int. Size of the learned position table.
        layer_norm_epsilon: float. Defaults to 1e-12, BERT's.
        dropout: float. Dropout after the normalization. Defaults to 0.
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

    >>> layer = BertTiedEmbedding(vocabulary_size=100, embedding_dim=16, max_length=32)
    >>> hidden = layer(np.array([[5, 9, 0]]))
    >>> tuple(layer(hidden, reverse=True).shape)
    (1, 3, 100)

    References:
        - [Devlin et al., 2019](https://arxiv.org/abs/1810.04805)
        - [Rothe et al., 2020](https://arxiv.org/abs/1907.12461)
    """

    EXTRA_WEIGHTS = ("output_bias", "type_embedding")

    def __init__(
        self, vocabulary_size, embedding_dim, max_length, layer_norm_epsilon=1e-12, dropout=0.0, **kwargs
    ):
        check_positive_int("vocabulary_size", vocabulary_size)
        check_positive_int("embedding_dim", embedding_dim)
        check_positive_int("max_length", max_length)
        check_rate("dropout", dropout)
        initializer = keras.initializers.TruncatedNormal(stddev=0.02)
        super().__init__(
            vocabulary_size,
            embedding_dim,
            tie_weights=True,
            embeddings_initializer=initializer,
            mask_zero=True,
            **kwargs,
        )
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.max_length = max_length
        self.layer_norm_epsilon = layer_norm_epsilon
        self.dropout = dropout
        self.position_embedding = LearnedPositionalEncoding(
            max_length, initializer=initializer, dtype=self.dtype_policy, name="position_embedding"
        )
        self.norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="norm"
        )
        self.dropout_layer = keras.layers.Dropout(dropout, dtype=self.dtype_policy, name="dropout")

    def build(self, input_shape=None):
        super().build(input_shape)
        embedded_shape = (None, None, self.embedding_dim)
        self.type_embedding = self.add_weight(
            name="type_embedding", shape=(self.embedding_dim,), initializer="zeros"
        )
        self.position_embedding.build(embedded_shape)
        self.norm.build(embedded_shape)

    def embed(self, embedded, start_index, training):
        # The checkpoint's order of additions: words + type, then positions.
        embedded = embedded + ops.cast(self.type_embedding, embedded.dtype)
        embedded = self.position_embedding(embedded, start_index=start_index)
        return self.dropout_layer(self.norm(embedded), training=training)

    def get_config(self):
        config = keras.layers.Layer.get_config(self)
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "embedding_dim": self.embedding_dim,
                "max_length": self.max_length,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "dropout": self.dropout,
            }
        )
        return config
