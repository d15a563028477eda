"""`make demo`: fine-tune the packaged MiniLM checkpoint for one epoch over a fixed
random sample of SST-2's training phrases with its word-piece embeddings fixed
(about 10 minutes of fitting on 2 CPU cores, 14 for the whole demo), print its
test accuracy, then show `predict` and `explain` on the trained run directory. `make demo` then exports
it (`python -m export.demo`); `make demo-scratch` does the same with the
from-scratch classifier (every setting at its default, about 2 minutes).

    KERAS_BACKEND=tensorflow python -m pipelines.demo

Environment: KERAS_ATTENTION_DATA (default ../shared/data beside the repository),
KERAS_ATTENTION_DEMO_INIT_FROM (the checkpoint for `--init-from`; default minilm,
empty: train from scratch),
KERAS_ATTENTION_DEMO_EPOCHS (default: 1 when fine-tuning, else the training
default, 3; one epoch of fine-tuning is level with three on held-out sentences),
KERAS_ATTENTION_DEMO_TRAIN_SAMPLE (training phrases drawn when fine-tuning,
default DEMO_TRAIN_SAMPLE; empty: all 60,614, about 22 minutes of fitting),
KERAS_ATTENTION_DEMO_OUT (default runs/demo_minilm, or runs/demo from scratch).
"""

import json
import os
import shlex
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from pipelines.classification.cli import main as classification_main  # noqa: E402
from pipelines.classification.config import default_config  # noqa: E402
from pipelines.common.command_line import quiet_tensorflow_start  # noqa: E402

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA = os.path.join(REPOSITORY, "..", "shared", "data")
# One epoch of fine-tuning is level with three on held-out sentences (BENCHMARKS.md).
DEFAULT_INIT_FROM = "minilm"
FINE_TUNING_EPOCHS = 1
# The fine-tune that fits the demo's 15 minutes on 2 CPU cores: this many training
# phrases (seeded), and the word-piece table fixed (30% less time per SST-2 epoch).
# Chosen on held-out sentences (BENCHMARKS.md, "The demo's fine-tune").
DEMO_TRAIN_SAMPLE = "35000"
EXAMPLES = [
    "a gorgeous, witty, seductive movie.",
    "the plot is nothing but boilerplate clichés from start to finish.",
    "not as good as the first one, but still fun.",
]


def run(arguments):
    """Prints the command as a user would type it, then runs it in-process."""
    print(f"\n$ python -m pipelines.classification {shlex.join(arguments)}", flush=True)
    status = classification_main(arguments)
    if status:
        sys.exit(status)


def main():
    quiet_tensorflow_start("--verbose" in sys.argv[1:])
    sst2 = os.path.join(os.environ.get("KERAS_ATTENTION_DATA", DEFAULT_DATA), "sst2")
    if not os.path.exists(os.path.join(sst2, "train.tsv")):
        sys.exit(f"error: SST-2 not found in {sst2}; set KERAS_ATTENTION_DATA to the data folder")
    init_from = os.environ.get("KERAS_ATTENTION_DEMO_INIT_FROM", DEFAULT_INIT_FROM) or None
    out = os.environ.get(
        "KERAS_ATTENTION_DEMO_OUT", os.path.join("runs", "demo_minilm" if init_from else "demo")
    )
    default_epochs = FINE_TUNING_EPOCHS if init_from else default_config().training.epochs
    epochs = os.environ.get("KERAS_ATTENTION_DEMO_EPOCHS", str(default_epochs))
    sample = os.environ.get("KERAS_ATTENTION_DEMO_TRAIN_SAMPLE", DEMO_TRAIN_SAMPLE) if init_from else ""
    if sample and not sample.isdigit():
        sys.exit(f"error: KERAS_ATTENTION_DEMO_TRAIN_SAMPLE={sample!r}: give a number of phrases, or leave it empty for all")
    model = f"a classifier fine-tuned from {init_from}" if init_from else "the default attention classifier"
    phrases = f"{int(sample):,} training phrases" if sample else "all training phrases"
    print(f"Training {model} on SST-2 for {epochs} epoch(s) over {phrases} → {out}")
    fine_tuning = ["--init-from", init_from, "--freeze-token-embeddings"] if init_from else []
    run(
        ["train", *fine_tuning]
        + (["--train-sample", sample] if sample else [])
        + [
            "--train", os.path.join(sst2, "train.tsv"),
            "--valid", os.path.join(sst2, "dev.tsv"),
            "--test", os.path.join(sst2, "test.tsv"),
            "--text-column", "sentence",
            "--label-column", "label",
            "--out", out,
            "--epochs", epochs,
            "--overwrite",
        ]
    )
    with open(os.path.join(out, "metrics.json"), encoding="utf-8") as file:
        test = json.load(file)["test"]
    print(f"\nSST-2 test accuracy: {test['accuracy']:.4f} (macro-F1 {test['macro_f1']:.4f}, {test['examples']} sentences)")
    run(["predict", out, *EXAMPLES])
    run(["explain", out, EXAMPLES[0], "--out", os.path.join(out, "explain.png")])
    print(f"\nThe run directory {out} holds config.json, tokenizer/, model.keras, metrics.json, "
          "history.json, training_curves.png, confusion_matrix.png and TensorBoard logs/.")


if __name__ == "__main__":
    main()
