"""Tiny synthetic sentiment data for the pipeline tests: a few hundred rows from
templates, so the tests need no download and no dataset beside the repository."""

import json
import random

POSITIVE = ["good", "great", "charming", "wonderful", "moving", "funny", "smart"]
NEGATIVE = ["bad", "dull", "awful", "boring", "tedious", "clumsy", "flat"]
TEMPLATES = [
    "a {} film",
    "the acting is {}",
    "{} and {} from start to finish",
    "what a {} story , truly {}",
    "it is {} .",
]
# Settings small enough to train in seconds on two CPU cores.
TINY_MODEL_OPTIONS = [
    "--hidden-dim", "16",
    "--encoder-layers", "1",
    "--num-heads", "2",
    "--intermediate-dim", "32",
    "--vocabulary-size", "300",
    "--max-length", "16",
    "--batch-size", "32",
]


def make_rows(count, seed):
    """`count` (text, "pos"/"neg") rows from the templates."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        label = rng.choice(["pos", "neg"])
        words = POSITIVE if label == "pos" else NEGATIVE
        template = rng.choice(TEMPLATES)
        text = template.format(*(rng.choice(words) for _ in range(template.count("{}"))))
        rows.append((text, label))
    return rows


def write_tsv(path, rows, header=("sentence", "label")):
    with open(path, "w", encoding="utf-8") as file:
        file.write("\t".join(header) + "\n")
        for row in rows:
            file.write("\t".join(row) + "\n")
    return str(path)


def write_jsonl(path, records):
    with open(path, "w", encoding="utf-8") as file:
        for record in records:
            file.write((record if isinstance(record, str) else json.dumps(record)) + "\n")
    return str(path)


def train_command(data, out, *extra):
    return [
        "train",
        "--train", data["train"],
        "--valid", data["valid"],
        "--test", data["test"],
        "--text-column", "sentence",
        "--label-column", "label",
        "--out", str(out),
        "--epochs", "1",
        "--progress", "none",
        *TINY_MODEL_OPTIONS,
        *extra,
    ]
