"""Command line: `python -m export RUN_DIR --name NAME [--version N] [--out saved_models]`.

Exit status: 0 when the version is published, 1 when the parity gate fails
(nothing is published; the files stay in NAME/rejected-VERSION for
inspection), 2 for a mistake the user can fix (one line, no traceback).
"""

import argparse
import sys

from pipelines.common.command_line import CommandLineParser
from pipelines.common.command_line import add_verbose_option
from pipelines.common.command_line import quiet_tensorflow_start
from pipelines.common.errors import UserInputError

EXAMPLES = """examples:
  python -m export runs/sst2 --name sst2
  python -m export runs/sst2 --name sst2 --version 3 --overwrite --out /models
  python -m export runs/samsum --name samsum --parity-rows 200
  python -m export runs/sst2 --name sst2 --quantize int8
"""


def positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def build_parser():
    from export.onnx_conversion import DEFAULT_OPSET
    from export.onnx_conversion import SUPPORTED_OPSETS
    from export.onnx_session import QUANTIZATIONS
    from export.tasks import all_task_exports

    default_rows = ", ".join(f"{task.parity_rows} {task.inputs} for {task.name}" for task in all_task_exports())

    parser = CommandLineParser(
        prog="python -m export",
        description="Export a trained run directory as a TF Serving SavedModel and ONNX, "
        "after checking that both answer like the Keras model.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a finished run directory")
    parser.add_argument("--name", required=True, help="model name: the folder under --out")
    parser.add_argument("--version", type=positive_int, help="default: highest existing + 1")
    parser.add_argument("--out", default="saved_models", help="base path (default: saved_models)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing version")
    parser.add_argument("--parity-texts", help="texts for the parity gate (default: the run's test file)")
    parser.add_argument("--text-column", help="their column (default: the run's text or document column)")
    parser.add_argument(
        "--parity-rows", type=positive_int,
        help=f"use at most this many texts (default: {default_rows})",
    )
    parser.add_argument("--opset", type=int, choices=SUPPORTED_OPSETS, default=DEFAULT_OPSET)
    parser.add_argument(
        "--quantize", choices=QUANTIZATIONS,
        help="also write int8 ONNX files (onnxruntime dynamic quantization) beside the float ones, "
        "checked against them in the parity gate",
    )
    add_verbose_option(parser)
    return parser


def main(argv=None):
    """Runs the export; returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    quiet_tensorflow_start(verbose="--verbose" in argv)  # build_parser imports TensorFlow
    arguments = build_parser().parse_args(argv)
    from export.exporter import export_run

    try:
        result = export_run(
            arguments.run_dir,
            arguments.name,
            version=arguments.version,
            out=arguments.out,
            overwrite=arguments.overwrite,
            parity_texts=arguments.parity_texts,
            text_column=arguments.text_column,
            parity_rows=arguments.parity_rows,
            opset=arguments.opset,
            quantize=arguments.quantize,
        )
    except UserInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(result.task.format_parity_table(result.parity))
    if not result.passed:
        print(
            f"error: parity failed, nothing published; the artifacts and parity.json are in "
            f"{result.path} — fix the cause (see the FAIL rows) and export again",
            file=sys.stderr,
        )
        if all(case["passed"] for case in result.parity["cases"]):  # only the int8 entry failed
            print(
                f"the float files passed; the int8 ones answer too differently from them: export without "
                f"--quantize {arguments.quantize} (or see the int8 entry of parity.json)",
                file=sys.stderr,
            )
        return 1
    print(f"published {result.path}")
    return 0
