"""The export half of `make demo`: export a trained run, then answer one input with each runtime.

    python -m export.demo runs/demo --name sst2 [--out saved_models] [--text TEXT]

Runs `python -m export` (which prints the parity table and refuses to publish
on a parity failure), then answers one text (a dialogue for a summarizer)
with the Keras model, the reloaded SavedModel (`serving_default`, as TF
Serving would) and onnxruntime.
"""

import argparse
import os
import shlex
import sys

from pipelines.common.command_line import add_verbose_option
from pipelines.common.command_line import quiet_tensorflow_start

os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m export.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("--name", default="sst2")
    parser.add_argument("--out", default="saved_models")
    parser.add_argument("--text", help="the input to answer (default: an example for the run's task)")
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
    text = arguments.text or task.example
    print(f"\nOne answer from each runtime for {text!r}:")
    for runtime, answer in task.demo_answers(run, version_dir, text).items():
        print(f"  {runtime:<30} {answer}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
