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
    """The classifier's part of MODEL_CARD.md."""
    test = card["metrics"].get("test") or {}
    valid = card["metrics"].get("valid") or {}
    labels = ", ".join(card["labels"])
    return CardText(
        task=f"Text classification into {len(card['labels'])} classes: {labels}.",
        pipeline_tag="text-classification",
        metric_names=["accuracy", "f1"],
        intended_use=[
            f"- Sorting short English texts into the classes it was trained on ({labels}), in research,",
            "  prototypes and services that check its answers.",
            "- Not for decisions about people without human review, nor for text unlike its training data.",
        ],
        evaluation=[
            ("test", "accuracy", test.get("accuracy")),
            ("test", "macro-F1", test.get("macro_f1")),
            ("validation", "accuracy", valid.get("accuracy")),
        ],
        truncated="the first tokens are kept",
        inputs=[
            "Inputs are raw UTF-8 texts (SavedModel `serving_default`) or token ids",
            "(`predict_token_ids`, ONNX). Every runtime answers `label` (the class name) and",
            "`label_id` (its index). See README, section Export and serving.",
        ],
    )
