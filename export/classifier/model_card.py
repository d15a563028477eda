"""The classifier's part of the model card: labels, tokenizer, accuracy."""

from export.model_card import CardText


def card_fields(run):
    """The classifier's fields of model_card.json."""
    return {
        "labels": run.labels,
        "tokenizer": {
            "type": getattr(run.tokenizer, "TYPE", "wordpiece"),
            "vocabulary_size": run.tokenizer.vocabulary_size,
            "vocabulary_sha256": run.vocabulary_sha256(),
            "max_length": run.max_length,
            "lower_case": run.tokenizer.lower_case,
        },
    }


def card_text(card):
    """The classifier's lines of MODEL_CARD.md."""
    test = card["metrics"].get("test") or {}
    return CardText(
        task=f"- task: {card['task']}; labels: {', '.join(card['labels'])}",
        quality=[
            f"- test accuracy: {test.get('accuracy', 'n/a')}; macro-F1: {test.get('macro_f1', 'n/a')}",
        ],
        truncated="texts truncated to",
        inputs=[
            "Inputs are raw UTF-8 texts (SavedModel `serving_default`) or token ids",
            "(`predict_token_ids`, ONNX). See README, section Export and serving.",
        ],
    )
