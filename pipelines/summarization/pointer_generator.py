"""The copy mechanism: a pointer-generator output layer for the summarizer.

Keras alone (no TensorFlow), so the copying summarizer trains on the JAX backend too.
"""

import keras
from keras import ops

from keras_attention.ops import masked_softmax
from pipelines.summarization.config import COPY_ATTENTIONS

# Probabilities below this are read as this in log space: the copy distribution is 0
# on every token absent from the source, and log(0) = -inf would turn into NaN in
# gradients and exported graphs. Its share of the mixture (at most V · 1e-30) is far
# below float32 resolution.
COPY_PROBABILITY_FLOOR = 1e-30
# log(1 − p_gen) for a row with no source token to copy from: p_gen = 1 there.
NO_COPY_LOG_PROBABILITY = -1e9


@keras.saving.register_keras_serializable(package="pipelines.summarization")
class PointerGenerator(keras.layers.Layer):
    """Mixes the decoder's vocabulary distribution with a copy of source tokens.

    For each decoder position the output distribution is

        p(w) = p_gen · softmax(logits)_w + (1 − p_gen) · Σ_{s: source_s = w} a_s

    (See, Liu and Manning, 2017): `a` is the copy attention over source
    positions, whose weights are added onto the source positions' token ids
    (repeated tokens summed; padding gets nothing), and
    `p_gen = σ(w · [state; context; input embedding] + b)` is a learned gate
    from the decoder state, the attention's context vector (the encoder outputs
    weighted by `a`) and the decoder's input embedding. Everything is computed
    in float32 log space:
    `log_add_exp(log σ(g) + log_softmax(logits), log σ(−g) + log copy)`, with the
    copy probability floored at `COPY_PROBABILITY_FLOOR` (finite, never
    `-inf`). A row with no source token to copy (a fully masked source) has
    `p_gen = 1`: its output is the vocabulary distribution alone.

    `copy_attention` chooses `a`: `"head"`, a dedicated single-head attention
    from the decoder's final state over the encoder outputs (query and key
    projections of its own), or `"cross_attention"`, the decoder's last
    block's cross-attention weights averaged over its heads, passed as
    `cross_attention_scores` (no projections of its own). Those cover every
    attended source position; `a` keeps the ones that can be copied and
    renormalizes them (a warm start's source tokens outside the output
    vocabulary give their share to the rest).

    With `coverage_weight` > 0, training adds See et al.'s coverage loss
    (`layer.add_loss`): at each real decoder step `t`, `Σ_s min(a_ts, c_ts)`
    with `c_t = Σ_{t' < t} a_t'` the copy attention the earlier steps already
    paid to each source position, averaged over the batch's real decoder steps
    (the decoder's padding mask) and scaled by the weight. It penalizes pointing
    at the same source *position* again; a name that stands at many positions (a
    speaker label at every turn) can still be copied twice, and on SAMSum it
    made summaries repeat names more often (BENCHMARKS.md, "Coverage and the copy
    attention"), so it is off by default. It is a training loss only: the outputs, the
    searches and exported graphs are unchanged (the coverage vector is not an
    input of the attention, so decoding needs no extra state).

    The output is normalized log-probabilities, which are also valid logits of
    the same distribution (`softmax(log p) = p`), so losses and searches that
    apply a (log-)softmax to logits consume them unchanged.

    Args:
        key_dim: int. Width of the copy head's queries and keys
            (`copy_attention="head"` only). Defaults to the decoder state's width.
        copy_attention: str. `"head"` or `"cross_attention"` (see above).
            Defaults to `"head"`.
        coverage_weight: float ≥ 0. Weight of the coverage loss added in
            training. Defaults to 0 (none).
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        decoder_hidden: float tensor `(batch, target, hidden)`. The decoder's
            final states (the ones the vocabulary logits come from).
        decoder_inputs: float tensor `(batch, target, embedding)`. The
            decoder's input embeddings.
        vocabulary_logits: float tensor `(batch, target, vocabulary)`.
        encoder_outputs: float tensor `(batch, source, hidden)`.
        source_ids: int tensor `(batch, source)`. Each source token as an
            output id; 0 (padding, or a source token the output vocabulary
            lacks) is never copied.
        source_keys: optional `(batch, source, key_dim)` from
            `compute_source_keys(encoder_outputs)`, computed once per document
            for step-by-step decoding (`copy_attention="head"`).
        cross_attention_scores: float tensor `(batch, heads, target, source)`.
            The decoder's cross-attention weights (`TransformerDecoderBlock`'s
            `return_cross_attention_scores`); required with
            `copy_attention="cross_attention"`, ignored otherwise.
        return_copy_details: bool. Also return the copy attention weights
            `(batch, target, source)` and `p_gen` `(batch, target)`.
        training: bool. The coverage loss is added in training only.
        decoder_hidden_mask: optional bool `(batch, target)`, the decoder's
            padding mask (Keras passes `decoder_hidden`'s own): padded decoder
            steps add no coverage loss. None: every step is real.

    Returns:
        float32 log-probabilities `(batch, target, vocabulary)`; with
        `return_copy_details`, `(log_probabilities, copy_weights, p_gen)`.

    Example:

    >>> layer = PointerGenerator()
    >>> log_probs = layer(
    ...     np.zeros((1, 2, 8), "float32"), np.zeros((1, 2, 8), "float32"),
    ...     np.zeros((1, 2, 10), "float32"), np.zeros((1, 3, 8), "float32"),
    ...     np.array([[5, 5, 0]]))
    >>> np.round(keras.ops.convert_to_numpy(keras.ops.exp(log_probs))[0, 0], 3)
    array([0.05, 0.05, 0.05, 0.05, 0.05, 0.55, 0.05, 0.05, 0.05, 0.05],
          dtype=float32)

    References:
        - [See et al., 2017](https://arxiv.org/abs/1704.04368)
    """

    def __init__(self, key_dim=None, copy_attention="head", coverage_weight=0.0, **kwargs):
        super().__init__(**kwargs)
        # The decoder's padding mask (of `decoder_hidden`) passes through to the output.
        self.supports_masking = True
        if key_dim is not None and (not isinstance(key_dim, int) or key_dim < 1):
            raise ValueError(f"`key_dim` must be a positive integer or None. Received: key_dim={key_dim}")
        if copy_attention not in COPY_ATTENTIONS:
            raise ValueError(
                f"`copy_attention` must be one of {COPY_ATTENTIONS}. Received: copy_attention={copy_attention!r}"
            )
        if key_dim is not None and copy_attention != "head":
            raise ValueError(
                "`key_dim` sizes the copy head's own attention, which copy_attention="
                f"{copy_attention!r} does not have; leave it None. Received: key_dim={key_dim}"
            )
        if not isinstance(coverage_weight, (int, float)) or not coverage_weight >= 0:
            raise ValueError(
                f"`coverage_weight` must be a number ≥ 0. Received: coverage_weight={coverage_weight}"
            )
        self.key_dim = key_dim
        self.copy_attention = copy_attention
        self.coverage_weight = float(coverage_weight)

    def build(
        self, decoder_hidden_shape, decoder_inputs_shape=None, vocabulary_logits_shape=None,
        encoder_outputs_shape=None, source_ids_shape=None, source_keys_shape=None,
        cross_attention_scores_shape=None,
    ):
        hidden_dim = decoder_hidden_shape[-1]
        key_dim = self.key_dim or hidden_dim
        encoder_dim = encoder_outputs_shape[-1] if encoder_outputs_shape else hidden_dim
        input_dim = decoder_inputs_shape[-1] if decoder_inputs_shape else hidden_dim
        dense = lambda units, name, use_bias: keras.layers.Dense(
            units, use_bias=use_bias, name=name, dtype=self.dtype_policy
        )
        if self.copy_attention == "head":
            self.query_dense = dense(key_dim, "query", False)
            self.query_dense.build((None, None, hidden_dim))
            self.key_dense = dense(key_dim, "key", False)
            self.key_dense.build((None, None, encoder_dim))
        self.gate_dense = dense(1, "gate", True)
        self.gate_dense.build((None, None, hidden_dim + encoder_dim + input_dim))
        self.built = True

    def compute_source_keys(self, encoder_outputs):
        """The copy head's keys `(batch, source, key_dim)`: once per document; None
        with `copy_attention="cross_attention"` (the decoder's keys serve)."""
        if self.copy_attention != "head":
            return None
        return self.key_dense(encoder_outputs)

    def source_weights(
        self, decoder_hidden, encoder_outputs, source_mask, source_keys=None, cross_attention_scores=None
    ):
        """The copy attention `(batch, target, source)` in float32: 0 where `source_mask`
        is False, each row summing to 1, or all 0 where nothing can be copied."""
        if self.copy_attention == "cross_attention":
            if cross_attention_scores is None:
                raise ValueError(
                    "copy_attention='cross_attention' copies with the decoder's cross-attention: "
                    "pass `cross_attention_scores`."
                )
            weights = ops.mean(ops.cast(cross_attention_scores, "float32"), axis=1)
            weights = weights * ops.cast(source_mask[:, None, :], "float32")
            total = ops.sum(weights, axis=-1, keepdims=True)
            # The floor keeps the division finite (and its gradient); below it, nothing to copy.
            return ops.where(
                total > COPY_PROBABILITY_FLOOR, weights / ops.maximum(total, COPY_PROBABILITY_FLOOR), 0.0
            )
        if source_keys is None:
            source_keys = self.compute_source_keys(encoder_outputs)
        queries = self.query_dense(decoder_hidden)
        scale = 1.0 / float(queries.shape[-1]) ** 0.5
        scores = ops.einsum("btk,bsk->bts", ops.cast(queries, "float32") * scale,
                            ops.cast(source_keys, "float32"))
        # Padding gets exactly 0; a row without source tokens is all zeros.
        return masked_softmax(scores, source_mask[:, None, :])

    def call(
        self, decoder_hidden, decoder_inputs, vocabulary_logits, encoder_outputs, source_ids,
        source_keys=None, cross_attention_scores=None, return_copy_details=False, training=None,
        decoder_hidden_mask=None,
    ):
        source_mask = ops.not_equal(source_ids, 0)  # (batch, source)
        copy_weights = self.source_weights(
            decoder_hidden, encoder_outputs, source_mask, source_keys, cross_attention_scores
        )
        if training and self.coverage_weight > 0:
            self.add_loss(self.coverage_weight * coverage_loss(copy_weights, decoder_hidden_mask))
        context = ops.einsum("bts,bsd->btd", copy_weights, ops.cast(encoder_outputs, "float32"))
        gate_inputs = ops.concatenate(
            [ops.cast(decoder_hidden, "float32"), context, ops.cast(decoder_inputs, "float32")],
            axis=-1,
        )
        gate = ops.cast(self.gate_dense(ops.cast(gate_inputs, self.compute_dtype)), "float32")
        # (batch, target, 1): a row with nothing to copy has p_gen = 1.
        has_source = ops.sum(copy_weights, axis=-1, keepdims=True) > 0
        log_p_generate = ops.where(has_source, ops.log_sigmoid(gate), 0.0)
        log_p_copy = ops.where(has_source, ops.log_sigmoid(-gate), NO_COPY_LOG_PROBABILITY)
        vocabulary_size = vocabulary_logits.shape[-1]
        copy = scatter_onto_ids(copy_weights, source_ids, vocabulary_size)
        log_probs = log_add_exp(
            log_p_generate + ops.log_softmax(ops.cast(vocabulary_logits, "float32"), axis=-1),
            log_p_copy + ops.log(ops.maximum(copy, COPY_PROBABILITY_FLOOR)),
        )
        if return_copy_details:
            return log_probs, copy_weights, ops.exp(log_p_generate[..., 0])
        return log_probs

    def compute_output_spec(
        self, decoder_hidden, decoder_inputs, vocabulary_logits, encoder_outputs, source_ids,
        source_keys=None, cross_attention_scores=None, return_copy_details=False, training=None,
        decoder_hidden_mask=None,
    ):
        log_probs = keras.KerasTensor(vocabulary_logits.shape, dtype="float32")
        if not return_copy_details:
            return log_probs
        batch, target = vocabulary_logits.shape[:2]
        return (
            log_probs,
            keras.KerasTensor((batch, target, encoder_outputs.shape[1]), dtype="float32"),
            keras.KerasTensor((batch, target), dtype="float32"),
        )

    def get_config(self):
        config = super().get_config()
        config.update({
            "key_dim": self.key_dim, "copy_attention": self.copy_attention,
            "coverage_weight": self.coverage_weight,
        })
        return config


def coverage_loss(copy_weights, decoder_mask=None):
    """See et al.'s coverage loss: the mean over real decoder steps of
    `Σ_s min(a_ts, Σ_{t' < t} a_t's)`, from copy weights `(batch, target, source)`.

    The running sum is exclusive, so a step is compared with the earlier ones
    only; padded decoder steps come after the real ones and count for nothing.
    """
    weights = ops.cast(copy_weights, "float32")
    coverage = ops.cumsum(weights, axis=1) - weights
    per_step = ops.sum(ops.minimum(weights, coverage), axis=-1)  # (batch, target)
    if decoder_mask is None:
        return ops.mean(per_step)
    mask = ops.cast(decoder_mask, "float32")
    return ops.sum(per_step * mask) / ops.maximum(ops.sum(mask), 1.0)


def log_add_exp(first, second):
    """log(exp(first) + exp(second)), stable for finite inputs.

    `keras.ops.logaddexp` lowers to TensorFlow's `Log1p`, which tf2onnx cannot
    convert; `Softplus` converts (ONNX `Softplus`) and is as accurate.
    """
    return ops.maximum(first, second) + ops.softplus(-ops.abs(first - second))


def scatter_onto_ids(weights, source_ids, vocabulary_size):
    """`(batch, target, vocabulary)`: each weight `(batch, target, source)` added at its
    source token's id `(batch, source)`; repeated ids sum.

    One scatter-add over the flattened output (a one-hot product would cost
    batch·target·source·vocabulary multiply-adds). On TensorFlow it is
    `TensorScatterAdd`, which tf2onnx writes as ONNX `ScatterND` with
    `reduction="add"`; `tf.scatter_nd` would become a `ScatterND` where the last
    duplicate wins.
    """
    shape = ops.shape(weights)
    batch, target = shape[0], shape[1]
    rows = ops.reshape(ops.arange(batch * target, dtype="int32"), (batch, target, 1))
    ids = ops.cast(source_ids, "int32")[:, None, :]
    flat_indices = ops.reshape(rows * vocabulary_size + ids, (-1, 1))
    flat = ops.scatter_update(
        ops.zeros((batch * target * vocabulary_size,), "float32"),
        flat_indices,
        ops.reshape(weights, (-1,)),
        reduction="add",
    )
    return ops.reshape(flat, (batch, target, vocabulary_size))


@keras.saving.register_keras_serializable(package="pipelines.summarization")
class SourceIdMap(keras.layers.Layer):
    """Maps source token ids onto output ids, for a model whose encoder and decoder
    vocabularies differ (a warm start: the checkpoint's pieces in, the decoder's
    restricted vocabulary out).

    The table is a non-trainable int32 weight (saved with the model), 0 by
    default: a source token mapped to 0 is never copied (`PointerGenerator`
    masks it), and its share of the copy attention goes to the tokens that can
    be copied. `warm_start.py` fills it.

    Args:
        source_vocabulary_size: int. Number of source ids.
        **kwargs: base layer keyword arguments (`name`, ...).

    Call arguments:
        source_ids: int tensor `(batch, source)`.

    Returns:
        int32 `(batch, source)`: output ids, 0 where the output vocabulary lacks the token.
    """

    def __init__(self, source_vocabulary_size, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(source_vocabulary_size, int) or source_vocabulary_size < 1:
            raise ValueError(
                "`source_vocabulary_size` must be a positive integer. "
                f"Received: source_vocabulary_size={source_vocabulary_size}"
            )
        self.source_vocabulary_size = source_vocabulary_size

    def build(self, input_shape=None):
        self.output_ids = self.add_weight(
            name="output_ids", shape=(self.source_vocabulary_size,), dtype="int32",
            initializer="zeros", trainable=False,
        )
        self.built = True

    def call(self, source_ids):
        return ops.take(self.output_ids, ops.cast(source_ids, "int32"), axis=0)

    def compute_output_spec(self, source_ids):
        return keras.KerasTensor(source_ids.shape, dtype="int32")

    def get_config(self):
        config = super().get_config()
        config.update({"source_vocabulary_size": self.source_vocabulary_size})
        return config
