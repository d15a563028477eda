import keras
from keras import ops

from keras_attention.initializers import clone_initializer
from keras_attention.positional_encoding import LearnedPositionalEncoding
from keras_attention.validation import check_positive_int
from keras_attention.validation import check_rate
from keras_attention.validation import check_token_ids_shape


@keras.saving.register_keras_serializable(package="keras_attention")
class BertEmbedding(keras.layers.Layer):
    """BERT's input layer: token + token-type + learned position embeddings, LayerNorm, dropout.

    The layout of BERT-family checkpoints (BERT, MiniLM, ...), so their
    embedding tables load as they are. With `mask_zero=True` token id 0 is
    padding: the layer emits the Keras mask `token_ids != 0`, which the
    attention layers downstream pick up.

    Args:
        vocabulary_size: int. Number of token ids.
        embedding_dim: int. Size of each embedding (the encoder's width).
        max_length: int. Size of the learned position table.
        type_vocabulary_size: int. Number of token types (segments). Defaults
            to 2.
        layer_norm_epsilon: float. Defaults to 1e-12, BERT's.
        dropout: float. Dropout after the normalization. Defaults to 0.
        mask_zero: bool. Treat id 0 as padding. Defaults to True.
        embeddings_initializer: initializer for the three tables. Defaults to
            a truncated normal with standard deviation 0.02, BERT's.
        **kwargs: other keyword arguments passed to `keras.layers.Layer`.

    Call arguments:
        token_ids: int tensor `(batch, sequence_length)`.
        token_type_ids: optional int tensor of the same shape. Defaults to
            type 0 everywhere (a single text).
        training: bool. Whether dropout is active.

    Returns:
        A tensor of shape `(batch, sequence_length, embedding_dim)`.

    Example:

    >>> layer = BertEmbedding(vocabulary_size=100, embedding_dim=16, max_length=32)
    >>> tuple(layer(np.array([[5, 9, 0, 0]])).shape)
    (1, 4, 16)

    References:
        - [Devlin et al., 2019](https://arxiv.org/abs/1810.04805)
    """

    def __init__(
        self,
        vocabulary_size,
        embedding_dim,
        max_length,
        type_vocabulary_size=2,
        layer_norm_epsilon=1e-12,
        dropout=0.0,
        mask_zero=True,
        embeddings_initializer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int("vocabulary_size", vocabulary_size)
        check_positive_int("embedding_dim", embedding_dim)
        check_positive_int("max_length", max_length)
        check_positive_int("type_vocabulary_size", type_vocabulary_size)
        check_rate("dropout", dropout)
        if embeddings_initializer is None:
            embeddings_initializer = keras.initializers.TruncatedNormal(stddev=0.02)
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.max_length = max_length
        self.type_vocabulary_size = type_vocabulary_size
        self.layer_norm_epsilon = layer_norm_epsilon
        self.dropout = dropout
        self.mask_zero = mask_zero
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)

    def build(self, input_shape):
        check_token_ids_shape(self, input_shape)
        embedded_shape = tuple(input_shape) + (self.embedding_dim,)
        self.token_embedding = keras.layers.Embedding(
            self.vocabulary_size,
            self.embedding_dim,
            embeddings_initializer=clone_initializer(self.embeddings_initializer),
            dtype=self.dtype_policy,
            name="token_embedding",
        )
        self.token_embedding.build(input_shape)
        self.token_type_embedding = keras.layers.Embedding(
            self.type_vocabulary_size,
            self.embedding_dim,
            embeddings_initializer=clone_initializer(self.embeddings_initializer),
            dtype=self.dtype_policy,
            name="token_type_embedding",
        )
        self.token_type_embedding.build(input_shape)
        self.position_embedding = LearnedPositionalEncoding(
            self.max_length,
            initializer=clone_initializer(self.embeddings_initializer),
            dtype=self.dtype_policy,
            name="position_embedding",
        )
        self.position_embedding.build(embedded_shape)
        self.norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name="norm"
        )
        self.norm.build(embedded_shape)
        self.dropout_layer = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="dropout"
        )

    def call(self, token_ids, token_type_ids=None, training=None):
        check_token_ids_shape(self, token_ids.shape)
        embedded = self.token_embedding(token_ids)
        if token_type_ids is None:
            # Type 0 everywhere: one row of the table, without gathering.
            type_row = ops.convert_to_tensor(self.token_type_embedding.embeddings)[0]
            embedded = embedded + ops.cast(type_row, embedded.dtype)
        else:
            embedded = embedded + self.token_type_embedding(token_type_ids)
        # The checkpoints' order of additions (words + types, then positions).
        embedded = self.position_embedding(embedded)
        return self.dropout_layer(self.norm(embedded), training=training)

    def compute_mask(self, token_ids, mask=None):
        if not self.mask_zero:
            return None
        return ops.not_equal(token_ids, 0)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.embedding_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "embedding_dim": self.embedding_dim,
                "max_length": self.max_length,
                "type_vocabulary_size": self.type_vocabulary_size,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "dropout": self.dropout,
                "mask_zero": self.mask_zero,
                "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
            }
        )
        return config
