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
from pipelines.common.data_paths import DATA_SPLITS
from pipelines.common.data_paths import is_local_path


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


def model_card(run, task, model_name, version, opset, parity_passed, model_sha256):
    """The model card dict of an export: shared fields and the task's (`task.card_fields`).

    It holds no path of the machine it was made on: the run is named by its
    folder and its `model.keras` sha256 (`model_sha256`), data files by their
    last two path parts.
    """
    return {
        "name": model_name,
        "version": version,
        "task": task.name,
        "source_run": os.path.basename(os.path.normpath(run.path)),
        "source_run_model_sha256": model_sha256,
        "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "metrics": card_metrics(run.metrics or {}),
        **task.card_fields(run),
        "training_data": training_data(run),
        "model": without_paths(dict(run.config.model.__dict__)),
        # Where the encoder's starting weights came from (name, sha256, licence), or None.
        "pretrained_from": without_paths(getattr(run.config.model, "checkpoint", None)),
        "onnx_opset": opset,
        "parity_passed": parity_passed,
        "versions": library_versions(),
    }


def card_metrics(value, digits=4):
    """metrics.json as a card shows it: every float rounded to `digits`
    decimals, data sources (`"source"` keys) without their machine path."""
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, dict):
        return {
            key: shown_source(item) if key == "source" and isinstance(item, str) else card_metrics(item, digits)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [card_metrics(item, digits) for item in value]
    return value


def shown_source(source):
    """A data source as a card shows it: the last two parts of a local path
    (`sst2/train.tsv`), a dataset name (`tfds:…`, `hf:…`) as given."""
    if not is_local_path(source):
        return source
    parts = os.path.normpath(source).split(os.sep)
    return "/".join(parts[-2:])


def without_paths(section):
    """A config section without machine paths: `path` keys dropped, a local
    `init_from` shown by its folder name (a known checkpoint name stays)."""
    if not section:
        return section
    section = {key: value for key, value in section.items() if key != "path"}
    if isinstance(section.get("init_from"), str) and os.sep in section["init_from"]:
        section["init_from"] = os.path.basename(os.path.normpath(section["init_from"]))
    if isinstance(section.get("checkpoint"), dict):
        section["checkpoint"] = without_paths(section["checkpoint"])
    return section


def training_data(run):
    """{split: {"source", "rows"}} of the run's data, rows as metrics.json counts them."""
    metrics = run.metrics or {}
    training = metrics.get("training") or {}
    rows = {
        "train": training.get("train_examples"),
        "valid": (metrics.get("valid") or {}).get("examples", training.get("valid_examples")),
        "test": (metrics.get("test") or {}).get("examples"),
    }
    data = run.config.data
    return {
        split: {"source": shown_source(getattr(data, split)), "rows": rows[split]}
        for split in DATA_SPLITS
        if getattr(data, split, None)
    }


class CardText(typing.NamedTuple):
    """A task's part of MODEL_CARD.md.

    Attributes:
        task: str. The first line: the task and what it answers.
        pipeline_tag: str. The Hugging Face task name (`text-classification`).
        metric_names: list of str. The metrics of the header (`accuracy`, `rouge`).
        intended_use: list of str. What the model is for, and what not.
        evaluation: list of `(split, metric, value)` rows.
        truncated: str. How inputs are cut ("texts truncated to").
        inputs: list of str. The closing note on the inputs each runtime takes.
    """

    task: str
    pipeline_tag: str
    metric_names: list
    intended_use: list
    evaluation: list
    truncated: str
    inputs: list


def card_licence(card):
    """The header's licence: the pretrained checkpoint's where there is one."""
    checkpoint = card.get("pretrained_from") or {}
    return checkpoint.get("licence") or "unknown"


def card_markdown(card, text):
    """MODEL_CARD.md: a Hugging Face-style metadata header, then intended use,
    training data, evaluation, limitations and the export's details."""
    checkpoint = card.get("pretrained_from") or {}
    header = [
        "---",
        f"license: {card_licence(card)}",
        "language: en",
        "library_name: keras",
        f"pipeline_tag: {text.pipeline_tag}",
        "tags: [keras-attention-kit, onnx, tensorflow-serving]",
        "metrics: [" + ", ".join(text.metric_names) + "]",
        *([f"base_model: {checkpoint['name']}"] if checkpoint.get("name") else []),
        "---",
    ]
    data_lines = [
        f"- {split}: `{entry['source']}`" + (f", {entry['rows']:,} rows" if entry["rows"] is not None else "")
        for split, entry in card["training_data"].items()
    ]
    evaluation = ["| split | metric | value |", "| --- | --- | --- |"] + [
        f"| {split} | {metric} | {value if value is not None else 'n/a'} |" for split, metric, value in text.evaluation
    ]
    origin = (
        f"fine-tuned from the pretrained checkpoint {checkpoint.get('name')}; it carries that "
        "checkpoint's knowledge and biases"
        if checkpoint
        else "trained from scratch on the data above only, with no pretrained weights"
    )
    lines = [
        *header,
        f"# {card['name']} version {card['version']}",
        "",
        text.task,
        "",
        "## Intended use",
        "",
        *text.intended_use,
        "",
        "## Training data",
        "",
        *data_lines,
        "- licence of the data: not recorded with it; check its terms before publishing this model",
        "",
        "## Evaluation",
        "",
        *evaluation,
        "",
        "## Limitations",
        "",
        f"- {origin}",
        "- English: built and tested on English text (lower-cased WordPiece vocabulary)",
        f"- inputs longer than {card['tokenizer']['max_length']} tokens are cut: {text.truncated}",
        "- errors are not uniform across kinds of text; measure them on your own data before relying on it",
        "",
        "## Export",
        "",
        f"- trained run: `{card['source_run']}` (model.keras sha256 `{card['source_run_model_sha256']}`)",
        f"- vocabulary: {card['tokenizer']['vocabulary_size']} WordPiece tokens, "
        f"sha256 `{card['tokenizer']['vocabulary_sha256']}`",
        *pretrained_lines(checkpoint),
        f"- ONNX opset {card['onnx_opset']}; parity gate passed: {card['parity_passed']}",
        "- built with " + ", ".join(f"{name} {version}" for name, version in card["versions"].items()),
        "",
        *text.inputs,
        "",
    ]
    return "\n".join(lines)


def pretrained_lines(checkpoint):
    """The card's line on the pretrained checkpoint the model started from (none without):
    a classifier's encoder, or a summarizer's encoder and decoder."""
    if not checkpoint:
        return []
    licence = checkpoint.get("licence") or "not stated in the checkpoint; check it before shipping"
    return [
        f"- fine-tuned from the pretrained checkpoint {checkpoint.get('name')} "
        f"(`model.safetensors` sha256 `{checkpoint.get('sha256')}`); its licence: {licence}"
    ]


def write_model_card(version_dir, card, text):
    """Writes `model_card.json` and `MODEL_CARD.md` (`text`: the task's `CardText`)."""
    write_json_atomic(os.path.join(version_dir, layout.MODEL_CARD_JSON), card)
    write_text_atomic(os.path.join(version_dir, layout.MODEL_CARD_MARKDOWN), card_markdown(card, text))


def source_run_dir(card, runs_dir="runs"):
    """The run directory a model card names: the path cards used to record,
    else `runs_dir/NAME`; None if neither exists."""
    for candidate in (card["source_run"], os.path.join(runs_dir, card["source_run"])):
        if os.path.isfile(os.path.join(candidate, "config.json")):
            return candidate
    return None
