"""A small trained classification run, made by the classification pipeline's own `train`.

A few hundred SST-2 rows, one epoch, a tiny model: non-trivial probabilities
in well under a minute on 2 cores, in exactly the layout `train` writes. The
test file is the whole SST-2 test set, so the parity gate sees real texts.
"""

import csv
import os

from pipelines.classification.config import default_config
from pipelines.classification.training import train_classifier

DATA_DIR = os.environ.get(
    "KERAS_ATTENTION_DATA", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data")
)
SST2_DIR = os.path.join(DATA_DIR, "sst2")
SAMSUM_DIR = os.path.join(DATA_DIR, "samsum")
MODEL_NAME = "tiny"
PARITY_ROWS = 64
TRAIN_ROWS = 400
VALID_ROWS = 100
MAX_LENGTH = 32
TINY_MODEL = {"embedding_dim": 16, "num_blocks": 1, "num_heads": 2, "intermediate_dim": 32}


def sst2_path(split):
    return os.path.join(SST2_DIR, f"{split}.tsv")


def head_of_table(source, destination, rows):
    """Copies the header and the first `rows` rows of a TSV file."""
    with open(source, encoding="utf-8") as file:
        lines = [next(file) for _ in range(rows + 1)]
    with open(destination, "w", encoding="utf-8") as file:
        file.writelines(lines)
    return destination


def make_classifier_run(path, max_length=MAX_LENGTH, architecture=None, epochs=1):
    """Trains into `path/run` with `train_classifier` and returns the run directory.

    `architecture` overrides `ModelConfig` fields; defaults to a tiny model
    (`{}` keeps the pipeline's default architecture, for benchmarks).
    """
    os.makedirs(path, exist_ok=True)
    config = default_config(
        tokenizer={"vocabulary_size": 600, "max_length": max_length},
        model=TINY_MODEL if architecture is None else architecture,
        training={"epochs": epochs, "batch_size": 32},
        data={
            "train": head_of_table(sst2_path("train"), os.path.join(path, "train.tsv"), TRAIN_ROWS),
            "valid": head_of_table(sst2_path("dev"), os.path.join(path, "dev.tsv"), VALID_ROWS),
            "test": sst2_path("test"),
            "text_column": "sentence",
            "label_column": "label",
        },
    )
    config.model.max_length = max_length
    run_dir = os.path.join(path, "run")
    train_classifier(config, run_dir, verbose=0, log=lambda line: None)
    return run_dir


SUMMARIZER_NAME = "tiny-summarizer"
SUMMARIZER_TRAIN_ROWS = 160
SUMMARIZER_VALID_ROWS = 4
SUMMARIZER_TEST_ROWS = 12
TINY_SUMMARIZER = {
    "max_document_length": 96, "max_summary_length": 16, "hidden_dim": 16, "intermediate_dim": 32,
    "num_heads": 2, "encoder_layers": 1, "decoder_layers": 2, "dropout": 0.0,
}
# Short generation keeps every runtime's search quick; beams 4 as the export's beam signature;
# batches of 16 hold every parity dialogue, so the pipeline compiles one shape per search.
TINY_GENERATION = {"beams": 4, "max_length": 12, "min_length": 2, "no_repeat_ngram_size": 2, "batch_size": 16}


def samsum_path(split):
    return os.path.join(SAMSUM_DIR, f"{split}.csv")


def head_of_csv(source, destination, rows):
    """Copies the header and the first `rows` records of a CSV file (records span lines)."""
    with open(source, newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        records = [next(reader) for _ in range(rows + 1)]
    with open(destination, "w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows(records)
    return destination


def make_summarizer_run(path, init_from=None, copy_attention="head"):
    """Trains a tiny summarizer on SAMSum rows into `path/run` with the pipeline's `train`.

    The run names no test file (its ROUGE evaluation would cost time); the
    first SAMSum test rows are written to `path/test.csv` for the parity gate.
    With `init_from` (a checkpoint directory) it is warm-started from it, the
    checkpoint fixing the width, heads and encoder. `copy_attention` is what
    its copy head copies with (`ModelConfig.copy_attention`).
    """
    from pipelines.summarization.config import SummarizerConfig
    from pipelines.summarization.training import train

    os.makedirs(path, exist_ok=True)
    config = SummarizerConfig.from_dict({
        "tokenizer": {"vocabulary_size": 500},
        "model": dict(TINY_SUMMARIZER, init_from=init_from, copy_attention=copy_attention),
        "training": {"epochs": 1, "batch_size": 16, "warmup_steps": 2, "learning_rate": 0.003},
        "generation": dict(TINY_GENERATION),
        "data": {
            "train": head_of_csv(samsum_path("train"), os.path.join(path, "train.csv"), SUMMARIZER_TRAIN_ROWS),
            "valid": head_of_csv(samsum_path("validation"), os.path.join(path, "valid.csv"), SUMMARIZER_VALID_ROWS),
            "document_column": "dialogue",
            "summary_column": "summary",
        },
    })
    head_of_csv(samsum_path("test"), os.path.join(path, "test.csv"), SUMMARIZER_TEST_ROWS)
    run_dir = os.path.join(path, "run")
    train(config, run_dir, log=lambda line: None)
    return run_dir
