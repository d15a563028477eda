"""Where each summary token came from: `summarize --explain DIR`.

For a copying summarizer (`PointerGenerator`) every generated token has a
probability made of two parts, `p_gen · softmax(logits)` (written from the
vocabulary) and `(1 − p_gen) · copy` (pointed at in the document). After
generation, the summary is run once more through the decoder (teacher-forced on
the generated ids, the same numbers as the cached steps that produced it) with
the copy head's details, and each token gets:

    token, id          the summary piece
    probability        p(token), the model's own output for it
    p_gen              the gate: the share the vocabulary side could take
    copied_share       (1 − p_gen) · copy(token) / p(token): how much of the
                       token's probability came from pointing at the document
    sources            the document positions it pointed at most (position,
                       piece, attention weight)

The copy attention is the one the run copies with (`copy_attention_kind` in the
JSON): the copy head's own, or the last decoder block's cross-attention averaged
over its heads (renormalized over the pieces that can be copied).

`explain_documents` writes one JSON file and one PNG per document (a heat map
of the copy attention, summary tokens down, document tokens across, with each
token's copied share beside it).
"""

import os

import numpy as np
import tensorflow as tf

from pipelines.common.atomic import write_json_atomic
from pipelines.common.errors import UserInputError
from pipelines.summarization.inference import InferenceModel
from pipelines.summarization.special_tokens import END_ID
from pipelines.summarization.special_tokens import START_ID

TOP_SOURCES = 3
COPY_ATTENTION_TITLES = {"head": "copy head", "cross_attention": "cross-attention, mean of heads"}


def explain_documents(summarizer, documents, summaries_ids, out_dir):
    """Writes `explain_N.json` and `explain_N.png` for each document; returns the JSON dicts.

    Args:
        summarizer: `Summarizer` of a copying run.
        documents: list of str.
        summaries_ids: the generated ids of each document (rows of `Generator.generate_ids`);
            None for a document that was not summarized (empty), which gets no files.
        out_dir: str. Folder to write into (created).
    """
    inference = InferenceModel(summarizer.model)
    if not inference.copies:
        raise UserInputError(
            "--explain shows what a copying summarizer copied; this run was trained with --no-copy"
        )
    os.makedirs(out_dir, exist_ok=True)
    explanations = []
    for number, (document, summary_ids) in enumerate(zip(documents, summaries_ids), start=1):
        if summary_ids is None:
            continue
        explanation = explain_one(summarizer, inference, document, summary_ids)
        base = os.path.join(out_dir, f"explain_{number}")
        write_json_atomic(base + ".json", explanation)
        plot_explanation(explanation, base + ".png")
        explanations.append(explanation)
    return explanations


def explain_one(summarizer, inference, document, summary_ids):
    """The JSON-ready explanation of one document's generated summary ids."""
    tokenizer = summarizer.tokenizer
    max_length = summarizer.config.model.max_document_length
    encoder_ids = tokenizer.tokenize([document]).to_list()[0][:max_length]
    summary_ids = [int(token) for token in summary_ids]
    if END_ID in summary_ids:
        summary_ids = summary_ids[: summary_ids.index(END_ID) + 1]
    summary_ids = [token for token in summary_ids if token]
    encoder_ids = tf.constant([encoder_ids], tf.int32)
    decoder_ids = tf.constant([[START_ID] + summary_ids[:-1]], tf.int32)
    encoded, padding_mask = inference.encode(encoder_ids)
    log_probs, copy_weights, p_generate = inference.decode(
        decoder_ids, encoded, padding_mask, encoder_ids, return_copy_details=True
    )
    source_ids = inference.copy_memory(encoded, encoder_ids).source_ids.numpy()[0]
    log_probs, copy_weights = log_probs.numpy()[0], copy_weights.numpy()[0].astype(np.float64)
    p_generate = p_generate.numpy()[0].astype(np.float64)
    document_vocabulary = getattr(tokenizer, "document_tokenizer", tokenizer).vocabulary
    document_pieces = [document_vocabulary[token] for token in encoder_ids.numpy()[0]]
    tokens = []
    for step, token in enumerate(summary_ids):
        probability = float(np.exp(np.float64(log_probs[step, token])))
        copied = (1.0 - p_generate[step]) * copy_weights[step][source_ids == token].sum()
        top = np.argsort(-copy_weights[step], kind="stable")[:TOP_SOURCES]
        tokens.append({
            "token": tokenizer.vocabulary[token],
            "id": token,
            "probability": probability,
            "p_gen": float(p_generate[step]),
            "copied_share": float(min(copied / probability, 1.0)) if probability > 0 else 0.0,
            "sources": [
                {"position": int(position), "token": document_pieces[position],
                 "weight": float(copy_weights[step, position])}
                for position in top if copy_weights[step, position] > 0
            ],
        })
    summary = tokenizer.detokenize([summary_ids]).numpy()[0].decode("utf-8")
    return {
        "text": document,
        "summary": summary,
        "document_tokens": document_pieces,
        "tokens": tokens,
        "copy_attention": np.round(copy_weights[: len(summary_ids)], 6).tolist(),
        "copy_attention_kind": inference.copy_head.copy_attention,
    }


def plot_explanation(explanation, path):
    """A heat map of the copy attention with each summary token's copied share."""
    from pipelines.common.plots import plt
    from pipelines.common.plots import save_figure

    weights = np.array(explanation["copy_attention"]).reshape(len(explanation["tokens"]), -1)
    source_tokens = explanation["document_tokens"]
    rows, columns = weights.shape
    figure, axis = plt.subplots(figsize=(min(4 + 0.18 * columns, 40), 1.5 + 0.28 * rows))
    image = axis.imshow(weights, aspect="auto", cmap="Blues", vmin=0.0, vmax=max(weights.max(), 1e-6))
    axis.set_yticks(range(rows))
    axis.set_yticklabels(
        [f"{token['token']}  {token['copied_share']:.0%}" for token in explanation["tokens"]], fontsize=8
    )
    axis.set_xticks(range(columns))
    axis.set_xticklabels(source_tokens, rotation=90, fontsize=6)
    axis.set_xlabel("document tokens")
    axis.set_ylabel("summary token  (share of its probability copied)")
    kind = COPY_ATTENTION_TITLES[explanation["copy_attention_kind"]]
    axis.set_title(f"copy attention ({kind}): where each summary token pointed", fontsize=10)
    figure.colorbar(image, ax=axis, fraction=0.02, pad=0.01)
    save_figure(figure, path)
