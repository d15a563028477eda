"""The model card of an exported version: what it is, how good, built with what.

Written as `model_card.json` (for tools) and `MODEL_CARD.md` (for people). The
fields and lines that differ by task come from the task's own `model_card.py`.
"""

import datetime
import os
import typing

from export import layout
from pipelines.common.atomic import write_json_atomic
from pipelines.common.atomic import write_text_atomic


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


def model_card(run, task, model_name, version, opset, parity_passed):
    """The model card dict of an export: shared fields and the task's (`task.card_fields`)."""
    return {
        "name": model_name,
        "version": version,
        "task": task.name,
        "source_run": os.path.abspath(run.path),
        "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "metrics": run.metrics,
        **task.card_fields(run),
        "model": run.config.model.__dict__,
        # Where the encoder's starting weights came from (path, sha256, licence), or None.
        "pretrained_from": getattr(run.config.model, "checkpoint", None),
        "onnx_opset": opset,
        "parity_passed": parity_passed,
        "versions": library_versions(),
    }


class CardText(typing.NamedTuple):
    """A task's lines of MODEL_CARD.md.

    Attributes:
        task: str. The first line: the task and what it answers.
        quality: list of str. The test metrics.
        truncated: str. How inputs are cut ("texts truncated to").
        inputs: list of str. The closing note on the inputs each runtime takes.
    """

    task: str
    quality: list
    truncated: str
    inputs: list


def card_markdown(card, text):
    """A short human-readable card; `text` is the task's `CardText` of `card`."""
    lines = [
        f"# {card['name']} version {card['version']}",
        "",
        text.task,
        f"- trained run: `{card['source_run']}`",
        *text.quality,
        f"- vocabulary: {card['tokenizer']['vocabulary_size']} WordPiece tokens, "
        f"sha256 `{card['tokenizer']['vocabulary_sha256']}`; {text.truncated} "
        f"{card['tokenizer']['max_length']} tokens",
        *pretrained_lines(card.get("pretrained_from")),
        f"- ONNX opset {card['onnx_opset']}; parity gate passed: {card['parity_passed']}",
        "- built with " + ", ".join(f"{name} {version}" for name, version in card["versions"].items()),
        "",
        *text.inputs,
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


def write_model_card(version_dir, card, text):
    """Writes `model_card.json` and `MODEL_CARD.md` (`text`: the task's `CardText`)."""
    write_json_atomic(os.path.join(version_dir, layout.MODEL_CARD_JSON), card)
    write_text_atomic(os.path.join(version_dir, layout.MODEL_CARD_MARKDOWN), card_markdown(card, text))
