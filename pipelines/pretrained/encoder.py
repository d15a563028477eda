"""A BERT-family encoder built from keras_attention layers, and its checkpoint weights.

token ids (0 = padding) → BertEmbedding (token + type + learned positions, LayerNorm;
emits the padding mask) → N × TransformerEncoderBlock (post-norm, the checkpoint's
activation and LayerNorm epsilon) → hidden states `(batch, length, width)` carrying
the padding mask.

Weights are placed by layer name (`embedding`, `encoder_block_{i}`), so the same
loader serves the encoder on its own and every model that applies it
(`apply_pretrained_encoder`) inside its own graph.
"""

import keras
import numpy as np

import keras_attention
from pipelines.pretrained.bert_weights import ATTENTION_NORM
from pipelines.pretrained.bert_weights import ATTENTION_OUTPUT
from pipelines.pretrained.bert_weights import ATTENTION_PROJECTIONS
from pipelines.pretrained.bert_weights import EMBEDDINGS_NORM
from pipelines.pretrained.bert_weights import INTERMEDIATE
from pipelines.pretrained.bert_weights import OUTPUT
from pipelines.pretrained.bert_weights import OUTPUT_NORM
from pipelines.pretrained.bert_weights import POSITION_EMBEDDINGS
from pipelines.pretrained.bert_weights import TOKEN_TYPE_EMBEDDINGS
from pipelines.pretrained.bert_weights import WORD_EMBEDDINGS
from pipelines.pretrained.bert_weights import bias_name
from pipelines.pretrained.bert_weights import layer_name
from pipelines.pretrained.bert_weights import weight_name
from pipelines.pretrained.checkpoint import Checkpoint
from pipelines.pretrained.checkpoint import EncoderSettings
from pipelines.pretrained.checkpoint import read_checkpoint

TOKEN_IDS_INPUT = "token_ids"
HIDDEN_STATES_OUTPUT = "hidden_states"
PADDING_MASK_OUTPUT = "padding_mask"
EMBEDDING_LAYER = "embedding"


def encoder_block_name(index):
    return f"encoder_block_{index}"


def apply_pretrained_encoder(token_ids, settings, name_prefix=""):
    """Applies a fresh encoder of `settings` (an `EncoderSettings`) to a Keras tensor.

    Returns the hidden states, which carry the padding mask (`token_ids != 0`).
    """
    hidden = keras_attention.BertEmbedding(
        vocabulary_size=settings.vocabulary_size,
        embedding_dim=settings.hidden_dim,
        max_length=settings.max_positions,
        type_vocabulary_size=settings.type_vocabulary_size,
        layer_norm_epsilon=settings.layer_norm_epsilon,
        dropout=settings.dropout,
        name=name_prefix + EMBEDDING_LAYER,
    )(token_ids)
    for index in range(settings.num_layers):
        hidden = keras_attention.TransformerEncoderBlock(
            name=name_prefix + encoder_block_name(index), **checkpoint_block_arguments(settings)
        )(hidden)
    return hidden


def checkpoint_block_arguments(settings):
    """The Transformer block arguments of a checkpoint layer's shape: post-norm, its
    activation, LayerNorm epsilon and dropout rates, BERT's initializer."""
    return dict(
        intermediate_dim=settings.intermediate_dim,
        num_heads=settings.num_heads,
        dropout=settings.dropout,
        attention_dropout=settings.attention_dropout,
        activation=settings.activation,
        layer_norm_epsilon=settings.layer_norm_epsilon,
        normalize_first=False,
        kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
    )


def build_pretrained_encoder(checkpoint, *, random_weights=False, name="pretrained_encoder"):
    """A built Keras model holding a checkpoint's encoder and its weights: int32 token
    ids `(batch, length)`, 0 = padding → `{"hidden_states": (batch, length, width),
    "padding_mask": (batch, length) bool}`.

    The hidden states also carry the padding mask as their Keras mask, so masking
    layers applied to them (`AttentionPooling`, encoder blocks) skip padding. It
    saves and loads (`safe_mode=True`) like any Keras model.

    Args:
        checkpoint: a checkpoint directory or known short name (`"minilm"`), a
            `Checkpoint` (`read_checkpoint`), or an `EncoderSettings`, which
            holds no weights and needs `random_weights=True`.
        random_weights: bool. Build the architecture with random weights
            (BERT's initializer) instead of a checkpoint's.
        name: str. The model's name.

    Raises:
        ValueError: `EncoderSettings` without `random_weights=True`: an encoder
            never starts from random weights unless asked to.

    Example:

    >>> from pipelines.pretrained.tokenizer import CheckpointTokenizer
    >>> encoder = build_pretrained_encoder("minilm")
    >>> tokenizer = CheckpointTokenizer.from_checkpoint("minilm", max_length=128)
    >>> outputs = encoder(tokenizer.tokenize(["a gorgeous, witty film", "a film"]))
    >>> tuple(outputs["hidden_states"].shape)
    (2, 7, 384)
    >>> keras.ops.convert_to_numpy(outputs["padding_mask"]).sum(axis=1)
    array([7, 4])
    """
    if isinstance(checkpoint, EncoderSettings):
        if not random_weights:
            raise ValueError(
                "`EncoderSettings` hold no weights: pass the checkpoint (a directory, a short name "
                "or `read_checkpoint(...)`), or `random_weights=True` for a randomly initialized encoder"
            )
        settings, checkpoint = checkpoint, None
    else:
        if not isinstance(checkpoint, Checkpoint):
            checkpoint = read_checkpoint(checkpoint)
        settings = checkpoint.settings
        if random_weights:
            checkpoint = None
    token_ids = keras.Input(shape=(None,), dtype="int32", name=TOKEN_IDS_INPUT)
    hidden = apply_pretrained_encoder(token_ids, settings)
    outputs = {HIDDEN_STATES_OUTPUT: hidden, PADDING_MASK_OUTPUT: keras.ops.not_equal(token_ids, 0)}
    model = keras.Model(token_ids, outputs, name=name)
    if checkpoint is not None:
        load_encoder_weights(model, checkpoint)
    return model


def load_encoder_weights(model, checkpoint, name_prefix=""):
    """Copies a checkpoint's encoder tensors into the encoder layers of `model`.

    `model` holds layers named as `apply_pretrained_encoder` names them; the
    checkpoint's tensors have Hugging Face names (bert_weights.py) and layouts
    (dense kernels stored `(out, in)`). Every tensor is checked for shape before
    any is set.
    """
    assign_checked(encoder_weight_assignments(model, checkpoint.weights, checkpoint.settings, name_prefix))


def freeze_token_embeddings(model, name_prefix=""):
    """Keeps the encoder's word-piece table fixed during `fit`; returns its size.

    The table is half of a small checkpoint's weights (MiniLM: 11.7 M of 22.7 M),
    and AdamW updates every row of it at every step although a batch touches a
    few hundred: fixing it saves 30% of an SST-2 fine-tuning epoch on CPU.
    """
    embeddings = model.get_layer(name_prefix + EMBEDDING_LAYER).token_embedding
    embeddings.trainable = False
    return int(np.prod(embeddings.embeddings.shape))


def assign_checked(assignments):
    """Sets each (variable, array) pair, after checking every shape: all or nothing."""
    for variable, value in assignments:
        if tuple(variable.shape) != value.shape:
            raise ValueError(
                f"checkpoint tensor for {variable.path} has shape {value.shape}; "
                f"the layer expects {tuple(variable.shape)}"
            )
    for variable, value in assignments:
        variable.assign(value.astype(variable.dtype))


def encoder_weight_assignments(model, weights, settings, name_prefix=""):
    """(variable, array) pairs: every encoder variable of `model` and its checkpoint value."""
    embedding = model.get_layer(name_prefix + EMBEDDING_LAYER)
    pairs = [
        (embedding.token_embedding.embeddings, weights[weight_name(WORD_EMBEDDINGS)]),
        (embedding.token_type_embedding.embeddings, weights[weight_name(TOKEN_TYPE_EMBEDDINGS)]),
        (embedding.position_embedding.position_embeddings, weights[weight_name(POSITION_EMBEDDINGS)]),
        (embedding.norm.gamma, weights[weight_name(EMBEDDINGS_NORM)]),
        (embedding.norm.beta, weights[bias_name(EMBEDDINGS_NORM)]),
    ]
    for index in range(settings.num_layers):
        block = model.get_layer(name_prefix + encoder_block_name(index))
        pairs += layer_weight_assignments(
            weights, settings, index, block.self_attention, block.attention_norm,
            block.feed_forward, block.feed_forward_norm,
        )
    return [(variable, np.ascontiguousarray(value)) for variable, value in pairs]


def layer_weight_assignments(weights, settings, index, attention, attention_norm, feed_forward, feed_forward_norm):
    """(variable, array) pairs: checkpoint layer `index` into one attention sublayer, its
    LayerNorm, a feed-forward sublayer and its LayerNorm (an encoder block's, or a
    warm-started decoder block's self-attention side)."""
    width, heads = settings.hidden_dim, settings.num_heads
    head_dim = width // heads

    def weight(sublayer):
        return weights[weight_name(layer_name(index, sublayer))]

    def bias(sublayer):
        return weights[bias_name(layer_name(index, sublayer))]

    pairs = []
    for projection, sublayer in ATTENTION_PROJECTIONS.items():
        kernel = weight(sublayer).T  # (in, out)
        pairs.append((getattr(attention, f"{projection}_kernel"), kernel.reshape(width, heads, head_dim)))
        pairs.append((getattr(attention, f"{projection}_bias"), bias(sublayer).reshape(heads, head_dim)))
    output_kernel = weight(ATTENTION_OUTPUT).T
    return pairs + [
        (attention.output_kernel, output_kernel.reshape(heads, head_dim, width)),
        (attention.output_bias, bias(ATTENTION_OUTPUT)),
        (attention_norm.gamma, weight(ATTENTION_NORM)),
        (attention_norm.beta, bias(ATTENTION_NORM)),
        (feed_forward.intermediate_dense.kernel, weight(INTERMEDIATE).T),
        (feed_forward.intermediate_dense.bias, bias(INTERMEDIATE)),
        (feed_forward.output_dense.kernel, weight(OUTPUT).T),
        (feed_forward.output_dense.bias, bias(OUTPUT)),
        (feed_forward_norm.gamma, weight(OUTPUT_NORM)),
        (feed_forward_norm.beta, bias(OUTPUT_NORM)),
    ]
