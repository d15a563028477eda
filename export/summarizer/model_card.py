"""The summarizer's part of the model card: tokenizer, generation settings, ROUGE."""

from export.model_card import CardText


def card_fields(run):
    """The summarizer's fields of model_card.json."""
    from pipelines.summarization.trained import options_dict

    return {
        "tokenizer": {
            "type": "wordpiece_lines",
            "vocabulary_size": run.tokenizer.vocabulary_size,
            "vocabulary_sha256": run.vocabulary_sha256(),
            "max_length": run.max_document_length,
            "lower_case": True,
        },
        "generation": {
            "greedy": options_dict(run.search_options(1)),
            "beam_search": options_dict(run.search_options(run.beams)),
        },
    }


def card_text(card):
    """The summarizer's lines of MODEL_CARD.md."""
    test = card["metrics"].get("test") or {}
    return CardText(
        task=f"- task: {card['task']}; greedy (`serving_default`) and beam search "
        f"(`beam_search`, {card['generation']['beam_search']['beams']} beams)",
        quality=[
            f"- test ROUGE-1/2/Lsum: {test.get('rouge1', 'n/a')} / {test.get('rouge2', 'n/a')} / "
            f"{test.get('rougeLsum', 'n/a')}",
        ],
        truncated="dialogues cut to",
        inputs=[
            "Inputs are raw UTF-8 dialogues (SavedModel `serving_default`, `beam_search`) or token",
            "ids (`generate_token_ids`, ONNX). See README, section Export and serving.",
        ],
    )
