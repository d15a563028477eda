"""A summarizer whose encoder and decoder start from a BERT-family checkpoint
(`train --init-from DIR|minilm`), after Rothe, Narayan & Severyn (2020).

    documents → the checkpoint's tokenizer → the checkpoint's encoder (all its layers)
    summaries → the decoder vocabulary → BertTiedEmbedding (rows of the checkpoint's
                table, its positions, type-0 row and LayerNorm)
              → N × TransformerDecoderBlock, post-norm as the checkpoint's layers:
                self-attention (now causal), feed-forward and both LayerNorms from
                checkpoint layer `decoder_source_layers[i]`; cross-attention and its
                LayerNorm new
              → logits = hidden · tableᵀ + bias (the decoder's table again)

The decoder's vocabulary is the checkpoint's word pieces that occur in the
training summaries, every single-character piece of printable ASCII (so any
word can still be spelled) and the summarization special tokens. Restricting
the output softmax to it makes every output step several times cheaper than
over the checkpoint's 30,522 pieces, and the decoder speaks its own ids end to
end: generation, the search's special ids, the detokenizer and the export need
no mapping back.
"""

import string

import numpy as np

from pipelines.common.errors import UserInputError
from pipelines.pretrained.bert_weights import EMBEDDINGS_NORM
from pipelines.pretrained.bert_weights import POSITION_EMBEDDINGS
from pipelines.pretrained.bert_weights import TOKEN_TYPE_EMBEDDINGS
from pipelines.pretrained.bert_weights import WORD_EMBEDDINGS
from pipelines.pretrained.bert_weights import bias_name
from pipelines.pretrained.bert_weights import weight_name
from pipelines.pretrained.encoder import assign_checked
from pipelines.pretrained.encoder import encoder_weight_assignments
from pipelines.pretrained.encoder import layer_weight_assignments
from pipelines.summarization.model import COPY_ID_MAP
from pipelines.summarization.model import DECODER_EMBEDDING
from pipelines.summarization.model import decoder_block_name
from pipelines.summarization.special_tokens import SPECIAL_TOKENS

# The checkpoint row each special token of the decoder starts from; [NL] (a line
# break in a summary) takes an unused row where there is one.
SPECIAL_TOKEN_ROWS = {
    "[PAD]": ("[PAD]",),
    "[UNK]": ("[UNK]",),
    "[BOS]": ("[CLS]",),
    "[EOS]": ("[SEP]",),
    "[NL]": ("[unused0]", "[SEP]"),
}
SUFFIX_INDICATOR = "##"


def decoder_vocabulary(checkpoint_vocabulary, summaries):
    """The decoder's tokens: specials, then the checkpoint pieces the summaries use.

    Args:
        checkpoint_vocabulary: list of str. The checkpoint's tokens by id.
        summaries: list of str. The training summaries.

    Returns:
        A list of str: `SPECIAL_TOKENS`, then pieces in the checkpoint's order.
    """
    # Imported here: the vocabulary needs TensorFlow, the model above does not.
    from pipelines.summarization.tokenizer import SummarizationTokenizer

    pieces = checkpoint_pieces(checkpoint_vocabulary)
    full = SummarizationTokenizer(list(SPECIAL_TOKENS) + pieces)
    used = set()
    for start in range(0, len(summaries), 1024):
        used.update(full.tokenize(summaries[start : start + 1024]).flat_values.numpy().tolist())
    used_pieces = {full.vocabulary[index] for index in used if index >= len(SPECIAL_TOKENS)}
    characters = set(string.ascii_letters + string.digits + string.punctuation)
    spelled = {piece for piece in pieces if piece.removeprefix(SUFFIX_INDICATOR) in characters}
    kept = used_pieces | spelled
    return list(SPECIAL_TOKENS) + [piece for piece in pieces if piece in kept]


def checkpoint_pieces(checkpoint_vocabulary):
    """The checkpoint's word pieces: its tokens without the bracketed special ones."""
    return [
        token for token in checkpoint_vocabulary
        if token not in SPECIAL_TOKENS and not (token.startswith("[") and token.endswith("]"))
    ]


def checkpoint_rows(decoder_tokens, checkpoint_vocabulary):
    """For each decoder token, the id of the checkpoint row it starts from."""
    ids = {token: index for index, token in enumerate(checkpoint_vocabulary)}
    rows = []
    for token in decoder_tokens:
        candidates = SPECIAL_TOKEN_ROWS.get(token, (token,))
        found = [ids[candidate] for candidate in candidates if candidate in ids]
        if not found:
            raise UserInputError(
                f"the checkpoint's vocabulary has none of {list(candidates)} for the decoder token "
                f"{token!r}; pass a BERT-family checkpoint with [PAD], [UNK], [CLS] and [SEP]"
            )
        rows.append(found[0])
    return np.array(rows, np.int64)


def copy_id_map(checkpoint_vocabulary, decoder_tokens):
    """int32 `(checkpoint vocabulary,)`: the decoder id of each checkpoint piece, 0 for
    the pieces the decoder vocabulary lacks and for the checkpoint's special tokens
    ([CLS], [SEP], ... are never copied; `SourceIdMap`)."""
    decoder_ids = {token: index for index, token in enumerate(decoder_tokens)}
    pieces = set(checkpoint_pieces(checkpoint_vocabulary))
    return np.array(
        [decoder_ids.get(token, 0) if token in pieces else 0 for token in checkpoint_vocabulary],
        np.int32,
    )


def default_source_layers(decoder_layers, checkpoint_layers):
    """Checkpoint layers spread evenly through its depth, ending with the last.

    3 of 6 → [1, 3, 5]; 6 of 6 → all; the lower layers of a sentence encoder
    are the most lexical, its upper ones the most contextual, and a decoder
    needs both (as DistilBERT takes every other layer of BERT).
    """
    if not 1 <= decoder_layers <= checkpoint_layers:
        raise UserInputError(
            f"--decoder-layers {decoder_layers}: the checkpoint has {checkpoint_layers} layers "
            f"to start decoder blocks from; pass 1 to {checkpoint_layers}"
        )
    return [(index + 1) * checkpoint_layers // decoder_layers - 1 for index in range(decoder_layers)]


def warm_start_assignments(model, checkpoint, checkpoint_vocabulary, decoder_tokens, source_layers):
    """(variable, array) pairs: every weight of `model` that comes from `checkpoint`.

    The encoder's layers take their tensors as the pretrained encoder does;
    the decoder's embedding its rows, positions, type-0 row and LayerNorm;
    decoder block i the self-attention, feed-forward and LayerNorms of layer
    `source_layers[i]`. Cross-attention and its LayerNorm are left as built.
    """
    weights, settings = checkpoint.weights, checkpoint.settings
    pairs = encoder_weight_assignments(model, weights, settings)
    embedding = model.get_layer(DECODER_EMBEDDING)
    rows = checkpoint_rows(decoder_tokens, checkpoint_vocabulary)
    pairs += [
        (embedding.embeddings, weights[weight_name(WORD_EMBEDDINGS)][rows]),
        (embedding.type_embedding, weights[weight_name(TOKEN_TYPE_EMBEDDINGS)][0]),
        (
            embedding.position_embedding.position_embeddings,
            weights[weight_name(POSITION_EMBEDDINGS)][: embedding.max_length],
        ),
        (embedding.norm.gamma, weights[weight_name(EMBEDDINGS_NORM)]),
        (embedding.norm.beta, weights[bias_name(EMBEDDINGS_NORM)]),
    ]
    for index, source in enumerate(source_layers):
        block = model.get_layer(decoder_block_name(index))
        pairs += layer_weight_assignments(
            weights, settings, source, block.self_attention, block.self_attention_norm,
            block.feed_forward, block.feed_forward_norm,
        )
    if COPY_ID_MAP in {layer.name for layer in model.layers}:
        pairs.append(
            (model.get_layer(COPY_ID_MAP).output_ids, copy_id_map(checkpoint_vocabulary, decoder_tokens))
        )
    return [(variable, np.ascontiguousarray(value)) for variable, value in pairs]


def load_warm_start_weights(model, checkpoint, checkpoint_vocabulary, decoder_tokens, source_layers):
    """Copies the checkpoint into `model`; every shape is checked before any is set.

    Returns the number of variables set.
    """
    assignments = warm_start_assignments(
        model, checkpoint, checkpoint_vocabulary, decoder_tokens, source_layers
    )
    assign_checked(assignments)
    return len(assignments)
