"""Time per fine-tuning step of a pretrained classifier, word-piece table trained or fixed.

Builds the `--init-from` classifier (fine-tuning defaults, the checkpoint's weights),
compiles it as `train` does, and times `train_on_batch` on batches of 32 random ids
at each padded length the training buckets use; then once more with
`--freeze-token-embeddings`. Prints ms per step, the ratio, and an epoch's time
estimated from SST-2's bucket counts (the lengths `train` pads its batches to).

    python benchmarks/fine_tuning_step.py [--init-from minilm] [--steps 8]
"""

import argparse
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPOSITORY)

from pipelines.classification.config import default_config  # noqa: E402
from pipelines.classification.model import build_classifier  # noqa: E402
from pipelines.classification.model import compile_classifier  # noqa: E402
from pipelines.classification.text_classifier import apply_checkpoint_settings  # noqa: E402
from pipelines.pretrained.checkpoint import read_checkpoint  # noqa: E402
from pipelines.pretrained.encoder import freeze_token_embeddings  # noqa: E402
from pipelines.pretrained.encoder import load_encoder_weights  # noqa: E402

BATCH = 32
# SST-2 train.tsv's 60,614 phrases by the length `train` pads them to (MiniLM word pieces).
SST2_BUCKETS = {8: 24877, 16: 18743, 32: 13671, 64: 3319, 128: 4}


def step_times(checkpoint, frozen, steps, seed=0):
    config = default_config(init_from=checkpoint.path)
    config.model.num_classes = 2
    apply_checkpoint_settings(config, checkpoint)
    model = build_classifier(config.model)
    load_encoder_weights(model, checkpoint)
    if frozen:
        freeze_token_embeddings(model)
    compile_classifier(model, config.training, steps_per_epoch=1000)
    rng = np.random.default_rng(seed)
    times = {}
    for length in SST2_BUCKETS:
        ids = rng.integers(1000, checkpoint.settings.vocabulary_size, size=(BATCH, length)).astype("int32")
        labels = np.eye(2, dtype="float32")[rng.integers(0, 2, BATCH)]
        for _ in range(2):  # tracing, then one warm step
            model.train_on_batch(ids, labels)
        start = time.perf_counter()
        for _ in range(steps):
            model.train_on_batch(ids, labels)
        times[length] = (time.perf_counter() - start) / steps
    return times


def epoch_seconds(times):
    return sum(-(-count // BATCH) * times[length] for length, count in SST2_BUCKETS.items())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--init-from", default="minilm")
    parser.add_argument("--steps", type=int, default=8, help="timed steps per length")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]  # other jobs' share of the machine, before ours starts
    checkpoint = read_checkpoint(args.init_from)
    trained = step_times(checkpoint, frozen=False, steps=args.steps)
    fixed = step_times(checkpoint, frozen=True, steps=args.steps)
    print(f"{checkpoint.name}, batch {BATCH}, {args.steps} timed steps per length, "
          f"load {load_before:.2f} before the run")
    print("| padded length | word pieces trained | word pieces fixed | fixed / trained |")
    print("|---|---|---|---|")
    for length in SST2_BUCKETS:
        print(f"| {length} | {1000 * trained[length]:.0f} ms | {1000 * fixed[length]:.0f} ms | "
              f"{fixed[length] / trained[length]:.2f} |")
    trained_epoch, fixed_epoch = epoch_seconds(trained), epoch_seconds(fixed)
    print(f"| SST-2 epoch (estimated) | {trained_epoch / 60:.1f} min | {fixed_epoch / 60:.1f} min | "
          f"{fixed_epoch / trained_epoch:.2f} |")


if __name__ == "__main__":
    main()
