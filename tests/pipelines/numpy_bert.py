"""A float64 NumPy BERT encoder written from the Hugging Face tensors directly.

Independent of keras_attention: it reads the checkpoint's own names and (out, in)
layouts, so a transposed or misplaced weight in our loader shows up as a mismatch.
"""

import math

import numpy as np

erf = np.vectorize(math.erf)

ACTIVATIONS = {
    "gelu": lambda x: 0.5 * x * (1.0 + erf(x / np.sqrt(2.0))),
    "gelu_new": lambda x: 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3))),
    "relu": lambda x: np.maximum(x, 0.0),
}


def layer_norm(x, scale, offset, epsilon):
    mean = x.mean(-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * scale + offset


def bert_hidden_states(weights, config, token_ids):
    """Hidden states `(batch, length, hidden)` of `token_ids` (0 = padding), float64.

    `weights`: canonical BertModel tensor names → arrays; `config`: the
    checkpoint's config.json as a dict.
    """
    w = {name: np.asarray(value, np.float64) for name, value in weights.items() if value.dtype.kind == "f"}
    batch, length = token_ids.shape
    width = config["hidden_size"]
    heads = config["num_attention_heads"]
    head_dim = width // heads
    epsilon = config["layer_norm_eps"]
    activation = ACTIVATIONS[config["hidden_act"]]
    x = (
        w["embeddings.word_embeddings.weight"][token_ids]
        + w["embeddings.token_type_embeddings.weight"][0]
        + w["embeddings.position_embeddings.weight"][:length]
    )
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], epsilon)
    real_keys = (token_ids != 0)[:, None, None, :]
    for index in range(config["num_hidden_layers"]):
        prefix = f"encoder.layer.{index}."

        def linear(inputs, name):
            return inputs @ w[prefix + name + ".weight"].T + w[prefix + name + ".bias"]

        def split_heads(tensor):
            return tensor.reshape(batch, length, heads, head_dim).transpose(0, 2, 1, 3)

        query = split_heads(linear(x, "attention.self.query"))
        key = split_heads(linear(x, "attention.self.key"))
        value = split_heads(linear(x, "attention.self.value"))
        scores = query @ key.transpose(0, 1, 3, 2) / np.sqrt(head_dim)
        scores = np.where(real_keys, scores, -np.inf)
        probabilities = np.exp(scores - scores.max(-1, keepdims=True))
        probabilities /= probabilities.sum(-1, keepdims=True)
        attended = (probabilities @ value).transpose(0, 2, 1, 3).reshape(batch, length, width)
        x = layer_norm(
            linear(attended, "attention.output.dense") + x,
            w[prefix + "attention.output.LayerNorm.weight"],
            w[prefix + "attention.output.LayerNorm.bias"],
            epsilon,
        )
        hidden = activation(linear(x, "intermediate.dense"))
        x = layer_norm(
            linear(hidden, "output.dense") + x,
            w[prefix + "output.LayerNorm.weight"],
            w[prefix + "output.LayerNorm.bias"],
            epsilon,
        )
    return x
