"""The export half of `make demo`: export a trained run, then answer a few inputs with each runtime.

    python -m export.demo runs/demo_minilm --name sst2_minilm [--out saved_models] [--text TEXT ...]

Runs `python -m export` (which prints the parity table and refuses to publish
on a parity failure), then answers each text (a dialogue for a summarizer)
with the Keras model, the reloaded SavedModel (`serving_default`, as TF
Serving would) and onnxruntime, and ends with where the exported version is
and the run's test figures.
"""

import argparse
import os
import shlex
import sys

from pipelines.common.command_line import CommandLineParser
from pipelines.common.command_line import add_verbose_option
from pipelines.common.command_line import quiet_tensorflow_start

os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def main(argv=None):
    parser = CommandLineParser(prog="python -m export.demo", description=__doc__,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("--name", default="sst2_minilm")
    parser.add_argument("--out", default="saved_models")
    parser.add_argument(
        "--text", action="append",
        help="an input to answer; repeat for several (default: an example for the run's task)",
    )
    add_verbose_option(parser)
    arguments = parser.parse_args(argv)
    quiet_tensorflow_start(arguments.verbose)
    from export import cli
    from export.layout import next_version
    from export.run_loader import load_run
    from export.tasks import task_export

    version = next_version(os.path.join(arguments.out, arguments.name))
    command = [arguments.run_dir, "--name", arguments.name, "--out", arguments.out]
    command += ["--verbose"] if arguments.verbose else []
    print(f"\n$ python -m export {shlex.join(command)}", flush=True)
    status = cli.main(command)
    if status:
        return status
    version_dir = os.path.join(arguments.out, arguments.name, str(version))
    run = load_run(arguments.run_dir)
    task = task_export(run.task)
    for text in arguments.text or [task.example]:
        print(f"\nOne answer from each runtime for {text!r}:")
        for runtime, answer in task.demo_answers(run, version_dir, text).items():
            print(f"  {runtime:<30} {answer}")
    print(f"\nThe exported version: {version_dir} (SavedModel for TF Serving, onnx/ for onnxruntime, "
          "parity.json, the model card)")
    figures = describe_test_figures(run.metrics)
    if figures:
        print(f"Its test figures, from {os.path.join(arguments.run_dir, 'metrics.json')}: {figures}")
    return 0


def describe_test_figures(metrics):
    """The run's test accuracy or ROUGE in a few words, or None."""
    test = metrics.get("test") or {}
    if "accuracy" in test:
        return f"accuracy {test['accuracy']:.4f} on {test.get('examples', '?')} texts"
    if "rouge1" in test:
        return (
            f"ROUGE-1/2/Lsum {test['rouge1']:.2f} / {test['rouge2']:.2f} / {test['rougeLsum']:.2f} "
            f"on {test.get('examples', '?')} documents"
        )
    return None


if __name__ == "__main__":
    sys.exit(main())
