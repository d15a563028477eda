"""Float64 NumPy references for the layers, written from the papers' formulas.

Nothing here calls `keras_attention`: a reference reads a layer's weights and
recomputes its output in float64 so that a test can compare the two.
"""

import numpy as np
from keras import ops


def to_numpy(x, dtype=np.float64):
    """A backend tensor or variable as a NumPy array of `dtype`."""
    array = np.asarray(ops.convert_to_numpy(x))
    return array if dtype is None else array.astype(dtype)


def masked_softmax(logits, mask=None, axis=-1):
    """Softmax over `axis` that ignores entries where `mask` is False.

    Masked entries are exactly 0; a row with no kept entry is all zeros.
    """
    logits = np.asarray(logits, dtype=np.float64)
    if mask is None:
        mask = np.ones(logits.shape, dtype=bool)
    mask = np.broadcast_to(np.asarray(mask).astype(bool), logits.shape)
    kept = np.where(mask, logits, -np.inf)
    row_max = np.max(kept, axis=axis, keepdims=True)
    row_max = np.where(np.isfinite(row_max), row_max, 0.0)
    unnormalized = np.where(mask, np.exp(np.where(mask, logits, row_max) - row_max), 0.0)
    total = np.sum(unnormalized, axis=axis, keepdims=True)
    return np.where(total > 0, unnormalized / np.where(total > 0, total, 1.0), 0.0)


def sinusoidal_encoding(length, dim, start=0, max_wavelength=10000.0):
    """PE[pos, 2i] = sin(pos / w^(2i/d)), PE[pos, 2i+1] = cos(pos / w^(2i/d))."""
    positions = np.arange(start, start + length, dtype=np.float64)[:, None]
    encoding = np.zeros((length, dim), dtype=np.float64)
    for feature in range(dim):
        pair = 2 * (feature // 2)
        angle = positions[:, 0] / max_wavelength ** (pair / dim)
        encoding[:, feature] = np.sin(angle) if feature % 2 == 0 else np.cos(angle)
    return encoding


def sinusoidal_angles(length, dim, start=0, max_wavelength=10000.0):
    """The angle pos / w^(2i/d) behind each entry of `sinusoidal_encoding`."""
    positions = np.arange(start, start + length, dtype=np.float64)[:, None]
    pairs = 2 * (np.arange(dim) // 2)
    return positions / max_wavelength ** (pairs / dim)[None, :]


def rotary_embedding(x, positions, max_wavelength=10000.0):
    """RoPE (Su et al., 2021), half-split pairing: feature i pairs with i + d/2.

    x: (batch, length, heads, head_dim); positions: (length,).
    """
    x = np.asarray(x, dtype=np.float64)
    head_dim = x.shape[-1]
    half = head_dim // 2
    frequencies = max_wavelength ** (-2.0 * np.arange(half) / head_dim)
    angles = np.asarray(positions, dtype=np.float64)[:, None] * frequencies[None, :]
    cos = np.cos(angles)[None, :, None, :]
    sin = np.sin(angles)[None, :, None, :]
    first, second = x[..., :half], x[..., half:]
    return np.concatenate([first * cos - second * sin, second * cos + first * sin], -1)


def causal_mask(query_len, key_len, offset=0):
    """(query_len, key_len) boolean: query t (at position t + offset) sees keys <= it."""
    return (np.arange(query_len)[:, None] + offset) >= np.arange(key_len)[None, :]


def multi_head_attention(
    layer, query, value, key=None, mask=None, causal=False, rope_offset=0
):
    """Reference of `MultiHeadAttention` from its weights.

    Projections, per-head softmax(Q Kᵀ / sqrt(d_k)) V with a masked softmax
    (fully masked rows give zero attention), then the output projection.
    `mask` is a boolean (batch, query_len, key_len) array: True may attend.

    Returns `(output, weights)` with weights of shape (batch, heads, q, k).
    """
    query = np.asarray(query, dtype=np.float64)
    value = np.asarray(value, dtype=np.float64)
    key = value if key is None else np.asarray(key, dtype=np.float64)
    q = np.einsum("btf,fhd->bthd", query, to_numpy(layer.query_kernel))
    k = np.einsum("bsf,fhd->bshd", key, to_numpy(layer.key_kernel))
    v = np.einsum("bsf,fhd->bshd", value, to_numpy(layer.value_kernel))
    if layer.use_bias:
        q = q + to_numpy(layer.query_bias)
        k = k + to_numpy(layer.key_bias)
        v = v + to_numpy(layer.value_bias)
    if layer.use_rope:
        q = rotary_embedding(
            q, rope_offset + np.arange(q.shape[1]), layer.rope_max_wavelength
        )
        k = rotary_embedding(
            k, rope_offset + np.arange(k.shape[1]), layer.rope_max_wavelength
        )
    batch, query_len, key_len = query.shape[0], query.shape[1], key.shape[1]
    full_mask = np.ones((batch, query_len, key_len), dtype=bool)
    if mask is not None:
        full_mask &= np.broadcast_to(np.asarray(mask, dtype=bool), full_mask.shape)
    if causal:
        full_mask &= causal_mask(query_len, key_len)[None]
    logits = np.einsum("bthd,bshd->bhts", q, k) / np.sqrt(layer.key_dim)
    weights = masked_softmax(logits, full_mask[:, None], axis=-1)
    attended = np.einsum("bhts,bshd->bthd", weights, v)
    output = np.einsum("bthd,hdo->bto", attended, to_numpy(layer.output_kernel))
    if layer.use_bias:
        output = output + to_numpy(layer.output_bias)
    return output, weights


def attention_pooling(layer, inputs, mask=None):
    """Reference of `AttentionPooling`: score_k(t) = v_k · tanh(W h_t + b).

    Masked softmax over time per head; head k pools its own slice of the
    features. Returns `(pooled, weights)` with weights (batch, heads, time).
    """
    inputs = np.asarray(inputs, dtype=np.float64)
    hidden = np.tanh(
        inputs @ to_numpy(layer.hidden_dense.kernel) + to_numpy(layer.hidden_dense.bias)
    )
    scores = hidden @ to_numpy(layer.score_dense.kernel)  # (batch, time, heads)
    scores = np.transpose(scores, (0, 2, 1))
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)[:, None, :]
    weights = masked_softmax(scores, mask, axis=-1)
    batch, time, features = inputs.shape
    heads = layer.num_heads
    per_head = inputs.reshape(batch, time, heads, features // heads)
    pooled = np.einsum("bht,bthd->bhd", weights, per_head).reshape(batch, features)
    return pooled, weights


def layer_norm(layer, x):
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(-1, keepdims=True)
    variance = x.var(-1, keepdims=True)
    normalized = (x - mean) / np.sqrt(variance + layer.epsilon)
    return normalized * to_numpy(layer.gamma) + to_numpy(layer.beta)


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))


def feed_forward(layer, x):
    """Reference of `FeedForward` with the tanh-approximate GELU."""
    hidden = gelu_tanh(
        np.asarray(x, np.float64) @ to_numpy(layer.intermediate_dense.kernel)
        + to_numpy(layer.intermediate_dense.bias)
    )
    return hidden @ to_numpy(layer.output_dense.kernel) + to_numpy(
        layer.output_dense.bias
    )


def _residual(normalize_first, norm, sublayer, x):
    if normalize_first:
        return x + sublayer(layer_norm(norm, x))
    return layer_norm(norm, x + sublayer(x))


def transformer_encoder_block(block, x, padding_mask=None):
    """Reference of `TransformerEncoderBlock` (pre- or post-norm)."""
    x = np.asarray(x, dtype=np.float64)
    mask = None
    if padding_mask is not None:
        mask = np.asarray(padding_mask, dtype=bool)[:, None, :]

    def attend(h):
        return multi_head_attention(block.self_attention, h, h, mask=mask)[0]

    x = _residual(block.normalize_first, block.attention_norm, attend, x)
    return _residual(
        block.normalize_first,
        block.feed_forward_norm,
        lambda h: feed_forward(block.feed_forward, h),
        x,
    )


def transformer_decoder_block(
    block,
    x,
    encoder=None,
    decoder_padding_mask=None,
    encoder_padding_mask=None,
    return_cross_attention_weights=False,
):
    """Reference of `TransformerDecoderBlock`: causal self-attention (keys
    masked by the decoder padding), cross-attention (keys masked by the
    encoder padding only), feed-forward. With `return_cross_attention_weights`
    returns `(output, weights)`, the weights `(batch, heads, target, source)`."""
    x = np.asarray(x, dtype=np.float64)
    self_mask = None
    if decoder_padding_mask is not None:
        self_mask = np.asarray(decoder_padding_mask, dtype=bool)[:, None, :]
    cross_mask = None
    if encoder_padding_mask is not None:
        cross_mask = np.asarray(encoder_padding_mask, dtype=bool)[:, None, :]

    def self_attend(h):
        return multi_head_attention(
            block.self_attention, h, h, mask=self_mask, causal=True
        )[0]

    x = _residual(block.normalize_first, block.self_attention_norm, self_attend, x)
    cross_weights = [None]  # set by cross_attend
    if encoder is not None:
        encoder = np.asarray(encoder, dtype=np.float64)

        def cross_attend(h):
            output, cross_weights[0] = multi_head_attention(
                block.cross_attention, h, encoder, mask=cross_mask
            )
            return output

        x = _residual(block.normalize_first, block.cross_attention_norm, cross_attend, x)
    output = _residual(
        block.normalize_first,
        block.feed_forward_norm,
        lambda h: feed_forward(block.feed_forward, h),
        x,
    )
    if return_cross_attention_weights:
        return output, cross_weights[0]
    return output
