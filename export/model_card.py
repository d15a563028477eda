"""The model card of an exported version: what it is, how good, built with what.

Written as `model_card.json` (for tools) and `MODEL_CARD.md` (for people).
"""

import datetime
import json
import os

from export import layout


def library_versions():
    """Versions of everything that produced or checks the artifacts."""
    import keras
    import onnx
    import onnxruntime
    import tensorflow as tf
    import tensorflow_text
    import tf2onnx
    import tokenizers

    return {
        "tensorflow": tf.__version__,
        "tensorflow_text": tensorflow_text.__version__,
        "keras": keras.__version__,
        "tf2onnx": tf2onnx.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "tokenizers": tokenizers.__version__,
    }


def classifier_card(run, model_name, version, opset, parity_passed):
    """The model card dict of a classifier export."""
    return {
        "name": model_name,
        "version": version,
        "task": run.task,
        "labels": run.labels,
        "source_run": os.path.abspath(run.path),
        "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "metrics": run.metrics,
        "tokenizer": {
            "type": getattr(run.tokenizer, "TYPE", "wordpiece"),
            "vocabulary_size": run.tokenizer.vocabulary_size,
            "vocabulary_sha256": run.vocabulary_sha256(),
            "max_length": run.max_length,
            "lower_case": run.tokenizer.lower_case,
        },
        "model": run.config.model.__dict__,
        # Where the encoder's starting weights came from (path, sha256, licence), or None.
        "pretrained_from": getattr(run.config.model, "checkpoint", None),
        "onnx_opset": opset,
        "parity_passed": parity_passed,
        "versions": library_versions(),
    }


def summarizer_card(run, model_name, version, opset, parity_passed):
    """The model card dict of a summarizer export."""
    from pipelines.summarization.trained import options_dict

    return {
        "name": model_name,
        "version": version,
        "task": run.task,
        "source_run": os.path.abspath(run.path),
        "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "metrics": run.metrics,
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
        "model": run.config.model.__dict__,
        "onnx_opset": opset,
        "parity_passed": parity_passed,
        "versions": library_versions(),
    }


def card_markdown(card):
    """A short human-readable card."""
    test = card["metrics"].get("test") or {}
    if card["task"] == "summarization":
        task_lines = [
            f"- task: {card['task']}; greedy (`serving_default`) and beam search "
            f"(`beam_search`, {card['generation']['beam_search']['beams']} beams)",
            f"- test ROUGE-1/2/Lsum: {test.get('rouge1', 'n/a')} / {test.get('rouge2', 'n/a')} / "
            f"{test.get('rougeLsum', 'n/a')}",
        ]
        inputs = [
            "Inputs are raw UTF-8 dialogues (SavedModel `serving_default`, `beam_search`) or token",
            "ids (`generate_token_ids`, ONNX). See README, section Export and serving.",
        ]
        truncated = "dialogues cut to"
    else:
        task_lines = [
            f"- task: {card['task']}; labels: {', '.join(card['labels'])}",
            f"- test accuracy: {test.get('accuracy', 'n/a')}; macro-F1: {test.get('macro_f1', 'n/a')}",
        ]
        inputs = [
            "Inputs are raw UTF-8 texts (SavedModel `serving_default`) or token ids",
            "(`predict_token_ids`, ONNX). See README, section Export and serving.",
        ]
        truncated = "texts truncated to"
    lines = [
        f"# {card['name']} version {card['version']}",
        "",
        task_lines[0],
        f"- trained run: `{card['source_run']}`",
        *task_lines[1:],
        f"- vocabulary: {card['tokenizer']['vocabulary_size']} WordPiece tokens, "
        f"sha256 `{card['tokenizer']['vocabulary_sha256']}`; {truncated} "
        f"{card['tokenizer']['max_length']} tokens",
        *pretrained_lines(card.get("pretrained_from")),
        f"- ONNX opset {card['onnx_opset']}; parity gate passed: {card['parity_passed']}",
        "- built with " + ", ".join(f"{name} {version}" for name, version in card["versions"].items()),
        "",
        *inputs,
        "",
    ]
    return "\n".join(lines)


def pretrained_lines(checkpoint):
    """The card's line on the pretrained checkpoint the encoder started from (none without)."""
    if not checkpoint:
        return []
    licence = checkpoint.get("licence") or "not stated in the checkpoint; check it before shipping"
    return [
        f"- encoder fine-tuned from the pretrained checkpoint {checkpoint.get('name')} "
        f"(`model.safetensors` sha256 `{checkpoint.get('sha256')}`); its licence: {licence}"
    ]


def write_model_card(version_dir, card):
    with open(os.path.join(version_dir, layout.MODEL_CARD_JSON), "w", encoding="utf-8") as file:
        json.dump(card, file, indent=2, ensure_ascii=False)
        file.write("\n")
    with open(os.path.join(version_dir, layout.MODEL_CARD_MARKDOWN), "w", encoding="utf-8") as file:
        file.write(card_markdown(card))
