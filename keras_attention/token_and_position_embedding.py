import keras
from keras import ops

from keras_attention.positional_encoding import LearnedPositionalEncoding
from keras_attention.positional_encoding import PositionalEncoding
from keras_attention.validation import check_positive_int
from keras_attention.validation import check_rate
from keras_attention.validation import check_token_ids_shape

_POSITION_ENCODINGS = ("sinusoidal", "learned")


@keras.saving.register_keras_serializable(package="keras_attention")
class TokenAndPositionEmbedding(keras.layers.Layer):
    """Token embedding scaled by √d plus a sinusoidal or learned position code.

    With `mask_zero=True` token id 0 is padding: the layer emits the Keras mask
    `token_ids != 0`, which downstream attention layers pick up.

    Args:
        vocabulary_size: int. Number of token ids.
        embedding_dim: int. Size of each embedding.
        max_length: int. Longest sequence; required for learned positions,
            ignored by sinusoidal ones (which have no maximum).
        position_encoding: `"sinusoidal"` or `"learned"`. Defaults to
            `"sinusoidal"`.
        mask_zero: bool. Treat id 0 as padding. Defaults to True.
        scale_embeddings: bool. Multiply token embeddings by √embedding_dim
            before adding positions. Defaults to True.
        dropout: float. Dropout rate on the sum. Defaults to 0.
        embeddings_initializer: initializer for the token table. Defaults to
            `"uniform"`.
        **kwargs: other keyword arguments passed to `keras.layers.Layer`.

    Call arguments:
        token_ids: int tensor `(batch, sequence_length)`.
        start_index: int or scalar tensor. Position of the first token, for
            incremental decoding. Defaults to 0.
        training: bool. Whether dropout is active.

    Returns:
        A tensor of shape `(batch, sequence_length, embedding_dim)`.

    Example:

    >>> layer = TokenAndPositionEmbedding(vocabulary_size=100, embedding_dim=16)
    >>> tuple(layer(np.array([[5, 9, 0, 0]])).shape)
    (1, 4, 16)
    """

    def __init__(
        self,
        vocabulary_size,
        embedding_dim,
        max_length=None,
        position_encoding="sinusoidal",
        mask_zero=True,
        scale_embeddings=True,
        dropout=0.0,
        embeddings_initializer="uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int("vocabulary_size", vocabulary_size)
        check_positive_int("embedding_dim", embedding_dim)
        check_positive_int("max_length", max_length, allow_none=True)
        check_rate("dropout", dropout)
        if position_encoding not in _POSITION_ENCODINGS:
            raise ValueError(
                f"`position_encoding` must be one of {_POSITION_ENCODINGS}. "
                f"Received: position_encoding={position_encoding!r}"
            )
        if position_encoding == "learned" and max_length is None:
            raise ValueError(
                "Learned positions need `max_length`. Received: max_length=None"
            )
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.max_length = max_length
        self.position_encoding = position_encoding
        self.mask_zero = mask_zero
        self.scale_embeddings = scale_embeddings
        self.dropout = dropout
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.token_embedding = keras.layers.Embedding(
            vocabulary_size,
            embedding_dim,
            embeddings_initializer=self.embeddings_initializer,
            dtype=self.dtype_policy,
            name="token_embedding",
        )
        if position_encoding == "learned":
            self.position_embedding = LearnedPositionalEncoding(
                max_length, dtype=self.dtype_policy, name="position_embedding"
            )
        else:
            self.position_embedding = PositionalEncoding(
                dtype=self.dtype_policy, name="position_embedding"
            )
        self.dropout_layer = keras.layers.Dropout(dropout, dtype=self.dtype_policy, name="dropout")

    def build(self, input_shape):
        check_token_ids_shape(self, input_shape)
        self.token_embedding.build(input_shape)
        embedded_shape = tuple(input_shape) + (self.embedding_dim,)
        self.position_embedding.build(embedded_shape)
        self.dropout_layer.build(embedded_shape)

    def call(self, token_ids, start_index=0, training=None):
        check_token_ids_shape(self, token_ids.shape)
        embedded = self.token_embedding(token_ids)
        if self.scale_embeddings:
            embedded = embedded * ops.cast(self.embedding_dim**0.5, embedded.dtype)
        embedded = self.position_embedding(embedded, start_index=start_index)
        return self.dropout_layer(embedded, training=training)

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
                "position_encoding": self.position_encoding,
                "mask_zero": self.mask_zero,
                "scale_embeddings": self.scale_embeddings,
                "dropout": self.dropout,
                "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
            }
        )
        return config
