"""The attention classifier, built from keras_attention layers.

token ids → TokenAndPositionEmbedding (emits the padding mask, ids != 0)
          → N × TransformerEncoderBlock (the mask keeps padding out of attention)
          → AttentionPooling (masked softmax over tokens; padding gets weight 0)
          → dropout → softmax classifier.

With a pretrained checkpoint (`ModelConfig.encoder`), the first two steps are the
checkpoint's encoder (`pipelines.pretrained.encoder`) and the head is the same.
"""

import math

import keras

import keras_attention
from pipelines.classification.config import POOLINGS
from pipelines.classification.config import POSITION_ENCODINGS
from pipelines.common.optimizers import adamw
from pipelines.pretrained.checkpoint import EncoderSettings
from pipelines.pretrained.encoder import apply_pretrained_encoder

ATTENTION_POOLING_LAYER = "attention_pooling"
TOKEN_IDS_INPUT = "token_ids"


def build_classifier(config):
    """An uncompiled Keras classifier from a `ModelConfig`.

    The input is int32 token ids `(batch, length)` with 0 as padding; the
    output is float32 class probabilities `(batch, num_classes)`, also under
    mixed precision. With `config.encoder` set (a pretrained checkpoint's
    `EncoderSettings`), the encoder is that architecture, with random weights
    until `load_encoder_weights` fills them.
    """
    if config.encoder is not None:
        return build_pretrained_classifier(config)
    token_ids = keras.Input(shape=(None,), dtype="int32", name=TOKEN_IDS_INPUT)
    use_rope = config.position_encoding == "rope"
    x = token_embedding(config)(token_ids)
    if use_rope:  # TokenAndPositionEmbedding applies its own dropout
        x = keras.layers.Dropout(config.dropout, name="embedding_dropout")(x)
    for index in range(config.num_blocks):
        x = keras_attention.TransformerEncoderBlock(
            intermediate_dim=config.intermediate_dim,
            num_heads=config.num_heads,
            dropout=config.dropout,
            attention_dropout=config.attention_dropout,
            normalize_first=config.normalize_first,
            use_rope=use_rope,
            name=f"encoder_block_{index}",
        )(x)
    if config.normalize_first:
        x = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")(x)
    return keras.Model(token_ids, classification_head(x, config), name="attention_classifier")


def build_pretrained_classifier(config):
    """The pretrained encoder (`pipelines.pretrained.encoder`) under the same head."""
    token_ids = keras.Input(shape=(None,), dtype="int32", name=TOKEN_IDS_INPUT)
    hidden = apply_pretrained_encoder(token_ids, EncoderSettings.from_dict(config.encoder))
    return keras.Model(token_ids, classification_head(hidden, config), name="pretrained_classifier")


def compile_classifier(model, training_config, steps_per_epoch):
    """Compiles with AdamW (warmup then cosine decay) and label-smoothed cross-entropy.

    The labels are one-hot (as `make_dataset` yields them), so "accuracy" is
    categorical accuracy.
    """
    optimizer = adamw(
        training_config.learning_rate,
        total_steps=steps_per_epoch * training_config.epochs,
        weight_decay=training_config.weight_decay,
        warmup_fraction=training_config.warmup_fraction,
    )
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=training_config.label_smoothing),
        metrics=["accuracy"],
        jit_compile=training_config.jit_compile,
    )
    return model


def classification_head(hidden, config):
    """Pooling of the (masked) hidden states → dropout → softmax.

    `config.pooling` "attention": AttentionPooling over every real token; "cls":
    the first position's vector, a pretrained checkpoint's `[CLS]`.
    """
    if config.pooling not in POOLINGS:
        raise ValueError(f"`pooling` must be one of {POOLINGS}. Received: pooling={config.pooling!r}")
    if config.pooling == "cls":
        pooled = hidden[:, 0, :]
    else:
        pooled, _ = keras_attention.AttentionPooling(
            num_heads=config.pooling_heads, name=ATTENTION_POOLING_LAYER
        )(hidden, return_attention_scores=True)
    pooled = keras.layers.Dropout(config.dropout, name="pooled_dropout")(pooled)
    return keras.layers.Dense(
        config.num_classes, activation="softmax", dtype="float32", name="probabilities"
    )(pooled)


def token_embedding(config):
    """Token embeddings with absolute positions added ("sinusoidal", "learned"), or
    without them for "rope", where the attention blocks rotate queries and keys."""
    # Unit-variance token vectors after the √d scaling, the scale of the
    # sinusoidal code they are added to.
    initializer = keras.initializers.RandomNormal(stddev=1.0 / math.sqrt(config.embedding_dim))
    if config.position_encoding not in POSITION_ENCODINGS:
        raise ValueError(
            f"`position_encoding` must be one of {POSITION_ENCODINGS}. "
            f"Received: position_encoding={config.position_encoding!r}"
        )
    if config.position_encoding == "rope":
        return keras.layers.Embedding(
            config.vocabulary_size,
            config.embedding_dim,
            mask_zero=True,
            embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0),
            name="embedding",
        )
    return keras_attention.TokenAndPositionEmbedding(
        vocabulary_size=config.vocabulary_size,
        embedding_dim=config.embedding_dim,
        max_length=config.max_length,
        position_encoding=config.position_encoding,
        mask_zero=True,
        dropout=config.dropout,
        embeddings_initializer=initializer,
        name="embedding",
    )


def attention_explainer(classifier):
    """A model sharing `classifier`'s layers that returns (probabilities, pooling weights).

    The weights have shape `(batch, pooling_heads, length)`: how much each
    token contributed to the pooled vector the classifier saw.
    """
    pooling = classifier.get_layer(ATTENTION_POOLING_LAYER)
    _, weights = pooling.output
    return keras.Model(classifier.inputs, [classifier.outputs[0], weights], name="explainer")
