"""Tiny random BERT checkpoints in the Hugging Face layout, for tests that need a
pretrained directory without the real one: config.json, model.safetensors (or a
sharded index), vocab.txt and optionally a README.md model card.

    weights = write_tiny_bert_checkpoint(tmp_path / "tiny_bert")
    weights = write_tiny_bert_checkpoint(tmp_path / "cls", prefix="bert.", shards=2)
    write_tokenizer_files(tmp_path / "tiny_bert")   # tokenizer.json and its configs too

The default shape is 2 layers, hidden 8, 2 heads, intermediate 16, vocabulary
20 and 16 positions: large enough to catch transposed (out, in) weights, small
enough to build an encoder in well under a second.
"""

import json
import os

import numpy as np

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = [
    "the", "a", "film", "is", "good", "bad", "great", "dull", "and", "it",
    "story", "of", "funny", "boring", "acting", "not", "very", "so", "was", "movie",
]
LETTERS = [chr(code) for code in range(ord("a"), ord("z") + 1)]
# The checkpoint the classifier tests fine-tune: its 100 pieces hold every letter and
# `##` letter, so every English word tokenizes; 64 positions; width 16 (8 pooling heads divide it).
CLASSIFIER_CHECKPOINT = {
    "vocabulary_size": 100, "max_positions": 64, "hidden_dim": 16, "num_heads": 2, "intermediate_dim": 32,
}


def tiny_bert_config(
    num_layers=2,
    hidden_dim=8,
    num_heads=2,
    intermediate_dim=16,
    vocabulary_size=20,
    max_positions=16,
    type_vocabulary_size=2,
    hidden_act="gelu",
    model_type="bert",
):
    """A Hugging Face BertConfig dict with these sizes (keys as config.json spells them)."""
    return {
        "architectures": ["BertModel"],
        "model_type": model_type,
        "vocab_size": vocabulary_size,
        "hidden_size": hidden_dim,
        "num_hidden_layers": num_layers,
        "num_attention_heads": num_heads,
        "intermediate_size": intermediate_dim,
        "max_position_embeddings": max_positions,
        "type_vocab_size": type_vocabulary_size,
        "hidden_act": hidden_act,
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "layer_norm_eps": 1e-12,
        "position_embedding_type": "absolute",
        "pad_token_id": 0,
    }


def random_bert_weights(config, seed=0, include_pooler=True):
    """Canonical `BertModel` tensor name → random float32 array, shaped as in PyTorch.

    Scales are large enough (0.2, LayerNorm scales around 1) that a transposed or
    misplaced tensor changes an encoder's output visibly.
    """
    rng = np.random.default_rng(seed)
    hidden, intermediate = config["hidden_size"], config["intermediate_size"]

    def array(*shape, center=0.0):
        return (center + 0.2 * rng.standard_normal(shape)).astype(np.float32)

    def linear(prefix, in_dim, out_dim):
        return {f"{prefix}.weight": array(out_dim, in_dim), f"{prefix}.bias": array(out_dim)}

    def layer_norm(prefix):
        return {f"{prefix}.weight": array(hidden, center=1.0), f"{prefix}.bias": array(hidden)}

    weights = {
        "embeddings.word_embeddings.weight": array(config["vocab_size"], hidden),
        "embeddings.position_embeddings.weight": array(config["max_position_embeddings"], hidden),
        "embeddings.token_type_embeddings.weight": array(config["type_vocab_size"], hidden),
        **layer_norm("embeddings.LayerNorm"),
    }
    for layer in range(config["num_hidden_layers"]):
        prefix = f"encoder.layer.{layer}."
        for projection in ("query", "key", "value"):
            weights.update(linear(prefix + f"attention.self.{projection}", hidden, hidden))
        weights.update(linear(prefix + "attention.output.dense", hidden, hidden))
        weights.update(layer_norm(prefix + "attention.output.LayerNorm"))
        weights.update(linear(prefix + "intermediate.dense", hidden, intermediate))
        weights.update(linear(prefix + "output.dense", intermediate, hidden))
        weights.update(layer_norm(prefix + "output.LayerNorm"))
    if include_pooler:
        weights.update(linear("pooler.dense", hidden, hidden))
    return weights


def tiny_vocabulary(size):
    """`size` WordPiece tokens: the specials, lower-case words, letters, `##` letters,
    then BERT-style `[unusedN]` fillers."""
    # "a" is both a word and a letter: keep its first place only (ids are unique).
    tokens = list(dict.fromkeys(SPECIAL_TOKENS + WORDS + LETTERS + ["##" + letter for letter in LETTERS]))
    tokens += [f"[unused{index}]" for index in range(max(0, size - len(tokens)))]
    return tokens[:size]


def write_tiny_bert_checkpoint(
    directory,
    *,
    num_layers=2,
    hidden_dim=8,
    num_heads=2,
    intermediate_dim=16,
    vocabulary_size=20,
    max_positions=16,
    type_vocabulary_size=2,
    hidden_act="gelu",
    model_type="bert",
    prefix="",
    include_pooler=True,
    include_position_ids=True,
    missing_tensors=(),
    extra_tensors=None,
    dtype="float32",
    shards=1,
    config_overrides=None,
    drop_config_keys=(),
    name=None,
    licence=None,
    seed=0,
):
    """Writes a random BERT checkpoint into `directory`; returns the tensors written.

    The returned dict is exactly what the weights files hold: names with `prefix`
    (e.g. "bert."), arrays in `dtype` ("float32", "float16", "float64" or
    "bfloat16"), the `embeddings.position_ids` int64 buffer when
    `include_position_ids`, and `extra_tensors` (full names, written as given).
    `missing_tensors` lists canonical names to leave out. `shards` > 1 writes
    `model-0000i-of-0000N.safetensors` files and a `model.safetensors.index.json`.
    `config_overrides` is merged into config.json after `drop_config_keys` are
    removed, and changes only config.json (the weights keep the sizes above), so a
    test can make the two disagree; `name` sets `_name_or_path`; `licence` writes a
    README.md front matter.
    """
    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    config = tiny_bert_config(
        num_layers, hidden_dim, num_heads, intermediate_dim, vocabulary_size,
        max_positions, type_vocabulary_size, hidden_act, model_type,
    )
    if name is not None:
        config["_name_or_path"] = name
    for key in drop_config_keys:
        config.pop(key, None)
    config.update(config_overrides or {})

    canonical = random_bert_weights(tiny_bert_config(
        num_layers, hidden_dim, num_heads, intermediate_dim, vocabulary_size, max_positions, type_vocabulary_size,
    ), seed=seed, include_pooler=include_pooler)
    written = {
        prefix + tensor_name: tensor.astype(numpy_dtype(dtype))
        for tensor_name, tensor in canonical.items()
        if tensor_name not in missing_tensors
    }
    if include_position_ids:
        written[prefix + "embeddings.position_ids"] = np.arange(max_positions, dtype=np.int64)[None, :]
    written.update(extra_tensors or {})

    write_json(os.path.join(directory, "config.json"), config)
    write_weights(directory, written, shards)
    with open(os.path.join(directory, "vocab.txt"), "w", encoding="utf-8") as file:
        file.write("\n".join(tiny_vocabulary(vocabulary_size)) + "\n")
    if licence is not None:
        with open(os.path.join(directory, "README.md"), "w", encoding="utf-8") as file:
            file.write(f"---\nlanguage: en\nlicense: {licence}\ntags:\n- tiny\n---\n\n# A tiny random BERT\n")
    return written


def write_tokenizer_files(directory, vocabulary_size=20):
    """Adds the Hugging Face tokenizer files of a BERT checkpoint: `tokenizer.json`
    (built with `tokenizers` from the tiny vocabulary), `tokenizer_config.json`
    and `special_tokens_map.json`."""
    from pipelines.pretrained.tokenizer import CheckpointTokenizer

    directory = os.fspath(directory)
    tokenizer = CheckpointTokenizer(tiny_vocabulary(vocabulary_size), max_length=16)
    with open(os.path.join(directory, "tokenizer.json"), "w", encoding="utf-8") as file:
        file.write(tokenizer.build_huggingface_tokenizer().to_str())
    write_json(os.path.join(directory, "tokenizer_config.json"), {
        "do_lower_case": True, "strip_accents": None, "tokenize_chinese_chars": True,
        "unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]",
        "mask_token": "[MASK]", "model_max_length": 16,
    })
    write_json(os.path.join(directory, "special_tokens_map.json"), {
        "unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]",
        "mask_token": {"content": "[MASK]", "lstrip": False, "normalized": False},
    })


def numpy_dtype(dtype):
    if dtype == "bfloat16":
        import ml_dtypes  # a Keras dependency; gives NumPy a bfloat16 dtype

        return ml_dtypes.bfloat16
    return np.dtype(dtype)


def write_weights(directory, tensors, shards):
    from safetensors.numpy import save_file

    metadata = {"format": "pt"}  # what transformers writes
    if shards == 1:
        save_file(tensors, os.path.join(directory, "model.safetensors"), metadata=metadata)
        return
    names = list(tensors)
    weight_map = {}
    for shard in range(shards):
        file_name = f"model-{shard + 1:05d}-of-{shards:05d}.safetensors"
        shard_names = names[shard::shards]
        save_file({n: tensors[n] for n in shard_names}, os.path.join(directory, file_name), metadata=metadata)
        weight_map.update({n: file_name for n in shard_names})
    total_size = sum(tensor.nbytes for tensor in tensors.values())
    write_json(
        os.path.join(directory, "model.safetensors.index.json"),
        {"metadata": {"total_size": total_size}, "weight_map": dict(sorted(weight_map.items()))},
    )


def shard_paths(directory):
    """The shard files of a sharded tiny checkpoint, in file-name order."""
    directory = os.fspath(directory)
    return sorted(
        os.path.join(directory, name) for name in os.listdir(directory)
        if name.startswith("model-") and name.endswith(".safetensors")
    )


def write_json(path, data):
    with open(path, "w", encoding="utf-8") as file:
        json.dump(data, file, indent=2)
