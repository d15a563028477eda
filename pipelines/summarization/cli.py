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

from pipelines.common.argument_types import finite_float
from pipelines.common.argument_types import fraction
from pipelines.common.argument_types import non_negative_float
from pipelines.common.argument_types import non_negative_int
from pipelines.common.argument_types import positive_float
from pipelines.common.argument_types import positive_int
from pipelines.common.distribution import DISTRIBUTIONS
from pipelines.common.errors import UserInputError
from pipelines.common.errors import run_command
from pipelines.common.run_directory import DEFAULT_BACKUP_STEPS

DEFAULTS_NOTE = "defaults are the SAMSum settings (see README)"
JAX_ROUTE = """training where only JAX is installed (no TensorFlow):
  python -m pipelines.summarization prepare-arrays --train ... --valid ... --out BUNDLE
  KERAS_BACKEND=jax python -m pipelines.summarization.jax_training BUNDLE --out WEIGHTS
  python -m pipelines.summarization import-weights BUNDLE WEIGHTS --out RUN_DIR
"""


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
    group.add_argument("--batch-size", type=positive_int, help="documents per generation batch")


def search_overrides(args):
    return {
        "beams": args.beams,
        "max_length": args.max_length,
        "min_length": args.min_length,
        "length_penalty": args.length_penalty,
        "no_repeat_ngram_size": args.no_repeat_ngram_size,
        "batch_size": args.batch_size,
    }


def add_run_options(parser, defaults, trains_here=True):
    """The data, training and model options of `train` (and `prepare-arrays`)."""
    data = parser.add_argument_group(
        "data (CSV, TSV, JSON Lines, tfds:NAME:SPLIT, hf:NAME[,CONFIG]:SPLIT)"
    )
    data.add_argument("--train", required=True, help="training pairs")
    data.add_argument("--valid", required=True, help="validation pairs (model selection)")
    data.add_argument("--test", help="test pairs: ROUGE in metrics.json after training")
    data.add_argument("--document-column", required=True, help="column holding the documents")
    data.add_argument("--summary-column", required=True, help="column holding the summaries")
    data.add_argument("--max-train-rows", type=positive_int, help="use only the first N training rows")

    training = parser.add_argument_group("training")
    training.add_argument("--epochs", type=positive_int, default=defaults.training.epochs)
    training.add_argument(
        "--max-minutes", type=non_negative_float, default=defaults.training.max_minutes,
        help="time budget for training; the learning rate decays to end with it; 0: none "
        "(default: %(default)s)",
    )
    training.add_argument("--batch-size", type=positive_int, default=defaults.training.batch_size)
    training.add_argument("--learning-rate", type=positive_float, default=defaults.training.learning_rate)
    training.add_argument("--warmup-steps", type=non_negative_int, default=defaults.training.warmup_steps)
    training.add_argument("--label-smoothing", type=fraction, default=defaults.training.label_smoothing)
    training.add_argument("--seed", type=int, default=defaults.training.seed)
    training.add_argument("--jit-compile", action="store_true", help="XLA-compile the training step")
    if trains_here:  # options of `train` itself, not of `prepare-arrays`
        training.add_argument(
            "--backup-steps", type=positive_int, default=DEFAULT_BACKUP_STEPS,
            help="training steps between backups of the resumable state (one is also made at "
            "every epoch end); a killed run resumes from the last one (default: %(default)s)",
        )
        training.add_argument(
            "--distribute", choices=DISTRIBUTIONS, default=defaults.training.distribute,
            help="data parallelism: mirrored = all local GPUs; multiworker = the cluster in "
            "TF_CONFIG (needs --max-minutes 0). --batch-size is the global batch",
        )

    model = parser.add_argument_group("model")
    model.add_argument("--vocabulary-size", type=positive_int, default=defaults.tokenizer.vocabulary_size)
    model.add_argument("--hidden-dim", type=positive_int, default=defaults.model.hidden_dim)
    model.add_argument("--intermediate-dim", type=positive_int, default=defaults.model.intermediate_dim)
    model.add_argument("--heads", type=positive_int, default=defaults.model.num_heads)
    model.add_argument("--encoder-layers", type=positive_int, default=defaults.model.encoder_layers)
    model.add_argument("--decoder-layers", type=positive_int, default=defaults.model.decoder_layers)
    model.add_argument("--dropout", type=fraction, default=defaults.model.dropout)
    model.add_argument(
        "--max-document-length", type=positive_int, default=defaults.model.max_document_length
    )
    model.add_argument(
        "--max-summary-length", type=positive_int, default=defaults.model.max_summary_length
    )
    parser.add_argument(
        "--beams", type=positive_int, default=defaults.generation.beams,
        help="beam width saved as the run's default and used for --test",
    )


def build_parser():
    from pipelines.summarization.config import SummarizerConfig

    defaults = SummarizerConfig()
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.summarization",
        description="Abstractive summarization with an encoder-decoder Transformer.",
        epilog=JAX_ROUTE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser(
        "train", help="train a summarizer into a run directory", description=DEFAULTS_NOTE
    )
    add_run_options(train, defaults)
    train.add_argument("--out", required=True, help="the run directory to write")
    train.add_argument("--overwrite", action="store_true", help="replace what --out holds")

    prepare = commands.add_parser(
        "prepare-arrays",
        help="tokenize train/valid into arrays for training without TensorFlow",
        description="Learn the vocabulary and write the teacher-forcing arrays, tokenizer and "
        "settings to a bundle folder for `python -m pipelines.summarization.jax_training`. " + DEFAULTS_NOTE,
    )
    add_run_options(prepare, defaults, trains_here=False)
    prepare.add_argument("--out", required=True, help="the bundle folder to write")
    prepare.add_argument("--overwrite", action="store_true", help="replace what --out holds")

    import_weights = commands.add_parser(
        "import-weights",
        help="build a run directory from a bundle and the weights trained from it",
        description="Load the weights written by `python -m pipelines.summarization.jax_training`, check that "
        "they reproduce the recorded outputs, then write a run directory as `train` does "
        "(validation figures, sample predictions, test ROUGE when the bundle names --test).",
    )
    import_weights.add_argument("bundle", metavar="BUNDLE", help="folder written by prepare-arrays")
    import_weights.add_argument("weights", metavar="WEIGHTS", help="folder written by jax_training")
    import_weights.add_argument("--out", required=True, help="the run directory to write")
    import_weights.add_argument("--overwrite", action="store_true", help="replace what --out holds")

    evaluate = commands.add_parser("evaluate", help="ROUGE of a trained run on a data file")
    evaluate.add_argument("run_dir", metavar="RUN_DIR")
    evaluate.add_argument("--data", required=True, help="pairs to score")
    evaluate.add_argument("--document-column", help="defaults to the training column")
    evaluate.add_argument("--summary-column", help="defaults to the training column")
    add_search_options(evaluate)

    summarize = commands.add_parser("summarize", help="summarize texts with a trained run")
    summarize.add_argument("run_dir", metavar="RUN_DIR")
    summarize.add_argument(
        "texts", nargs="*", metavar="TEXT", help=r"documents; the two characters \n mean a line break"
    )
    summarize.add_argument(
        "--file", help="a .txt file (one document) or a CSV/TSV/JSON Lines file (one per row)"
    )
    summarize.add_argument("--document-column", help="defaults to the training column")
    add_search_options(summarize)
    return parser


def config_from_args(args):
    from pipelines.summarization.config import SummarizerConfig

    config = SummarizerConfig()
    config.data.train, config.data.valid, config.data.test = args.train, args.valid, args.test
    config.data.document_column = args.document_column
    config.data.summary_column = args.summary_column
    config.data.max_train_rows = args.max_train_rows
    config.tokenizer.vocabulary_size = args.vocabulary_size
    for name in ("epochs", "max_minutes", "batch_size", "learning_rate", "warmup_steps",
                 "label_smoothing", "seed", "jit_compile"):
        setattr(config.training, name, getattr(args, name))
    config.training.distribute = getattr(args, "distribute", config.training.distribute)
    model = config.model
    model.hidden_dim, model.intermediate_dim = args.hidden_dim, args.intermediate_dim
    model.num_heads, model.dropout = args.heads, args.dropout
    model.encoder_layers, model.decoder_layers = args.encoder_layers, args.decoder_layers
    model.max_document_length = args.max_document_length
    model.max_summary_length = args.max_summary_length
    if model.hidden_dim % model.num_heads:
        raise UserInputError(
            f"--hidden-dim {model.hidden_dim} is not divisible by --heads {model.num_heads}; "
            "make the width a multiple of the number of heads"
        )
    config.generation.beams = args.beams
    return config


def run_train(args):
    from pipelines.summarization.training import train

    metrics = train(
        config_from_args(args), args.out, overwrite=args.overwrite, log=print,
        backup_steps=args.backup_steps,
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
    from pipelines.summarization.pairs import read_pairs
    from pipelines.summarization.evaluation import evaluate_pairs
    from pipelines.summarization.evaluation import write_evaluation
    from pipelines.summarization.trained import Summarizer

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
    summarizer = Summarizer.load(args.run_dir)
    if args.file:
        column = args.document_column or summarizer.config.data.document_column
        documents = read_documents(args.file, column)
    else:
        documents = [text.replace("\\n", "\n") for text in args.texts]
    overrides = search_overrides(args)
    batch_size = overrides["batch_size"] or summarizer.config.generation.batch_size
    summaries = generate(
        summarizer, documents, progress=len(documents) > batch_size, **overrides
    )
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
    return run_command(COMMANDS[args.command], args)
