"""The export half of `make demo`: export a trained run, then answer one text with each runtime.

    python -m export.demo runs/demo --name sst2 [--out saved_models]

Runs `python -m export` (which prints the parity table and refuses to publish
on a parity failure), then predicts one text with the Keras model, the
reloaded SavedModel (`serving_default`, as TF Serving would) and onnxruntime.
"""

import argparse
import os
import shlex
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

EXAMPLE = "a gorgeous, witty, seductive movie."


def predictions_from_each_runtime(run_dir, version_dir, text):
    """{runtime: (label, probabilities)} for one text."""
    import numpy as np
    import tensorflow as tf

    from export.onnx_runtime import OnnxClassifier
    from export.run_loader import load_run
    from export.saved_model import load_saved_model

    run = load_run(run_dir)
    keras_probabilities = np.asarray(run.model(run.tokenizer.tokenize([text]), training=False))[0]
    served = load_saved_model(version_dir).signatures["serving_default"](texts=tf.constant([text]))
    onnx = OnnxClassifier.load(os.path.join(version_dir, "onnx")).predict([text])[0]
    return {
        "Keras (model.keras)": (run.labels[int(keras_probabilities.argmax())], keras_probabilities.tolist()),
        "SavedModel (serving_default)": (
            served["label"].numpy()[0].decode("utf-8"),
            served["probabilities"].numpy()[0].tolist(),
        ),
        "onnxruntime (no TensorFlow)": (onnx["label"], list(onnx["probabilities"].values())),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m export.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("--name", default="sst2")
    parser.add_argument("--out", default="saved_models")
    parser.add_argument("--text", default=EXAMPLE)
    arguments = parser.parse_args(argv)
    from export import cli
    from export.layout import next_version

    version = next_version(os.path.join(arguments.out, arguments.name))
    command = [arguments.run_dir, "--name", arguments.name, "--out", arguments.out]
    print(f"\n$ python -m export {shlex.join(command)}", flush=True)
    status = cli.main(command)
    if status:
        return status
    version_dir = os.path.join(arguments.out, arguments.name, str(version))
    print(f"\nOne prediction from each runtime for {arguments.text!r}:")
    for runtime, (label, probabilities) in predictions_from_each_runtime(
        arguments.run_dir, version_dir, arguments.text
    ).items():
        shown = ", ".join(f"{p:.6f}" for p in probabilities)
        print(f"  {runtime:<30} label {label}  probabilities [{shown}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
