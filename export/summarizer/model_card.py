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
    """The summarizer's part of MODEL_CARD.md."""
    test = card["metrics"].get("test") or {}
    validation = card["metrics"].get("validation") or {}
    beams = card["generation"]["beam_search"]["beams"]
    return CardText(
        task=f"Abstractive summarization of dialogues: greedy (`serving_default`) and beam search "
        f"(`beam_search`, {beams} beams).",
        pipeline_tag="summarization",
        metric_names=["rouge"],
        intended_use=[
            "- Summarizing English chat dialogues like those it was trained on into a few sentences,",
            "  for research and prototypes.",
            "- Summaries can leave out or invent facts and names: a person should read them before",
            "  they reach others. Not for medical, legal or other high-stakes records.",
        ],
        evaluation=[
            ("test", "ROUGE-1", test.get("rouge1")),
            ("test", "ROUGE-2", test.get("rouge2")),
            ("test", "ROUGE-Lsum", test.get("rougeLsum")),
            ("validation", "loss", validation.get("loss")),
        ],
        truncated="the start of the dialogue is kept",
        inputs=[
            "Inputs are raw UTF-8 dialogues (SavedModel `serving_default`, `beam_search`) or token",
            "ids (`generate_token_ids`, ONNX). See README, section Export and serving.",
        ],
    )
