"""What each warm-start choice costs per training step, on real SAMSum batches.

    python benchmarks/warm_start_choices.py                  # MiniLM, 12 timed steps per choice

For `train --init-from` the 60-minute budget buys about two epochs, so the step
time decides how much the model learns. Each row builds the warm-started model
with one setting changed from the defaults, loads the checkpoint, and times
`train_on_batch` on the same documents (the first batches of the shuffled,
length-sorted training stream, batch 16), after two untimed steps that trace
the graph. Tokens/s counts real encoder + decoder tokens. Rows are timed in
turns, `--rounds` times, and each row's fastest round counts, which tames
other jobs' load on a shared CPU; the load average is printed.
"""

import argparse
import dataclasses
import os
import sys
import time

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pipelines.pretrained.tokenizer import checkpoint_tokenizer  # noqa: E402
from pipelines.summarization.config import default_config  # noqa: E402
from pipelines.summarization.data import make_dataset  # noqa: E402
from pipelines.summarization.fitting import compile_summarizer  # noqa: E402
from pipelines.summarization.model import build_summarizer  # noqa: E402
from pipelines.summarization.pairs import read_pairs  # noqa: E402
from pipelines.summarization.special_tokens import SPECIAL_TOKENS  # noqa: E402
from pipelines.summarization.tokenizer import SummarizationTokenizer  # noqa: E402
from pipelines.summarization.training import read_warm_start_checkpoint  # noqa: E402
from pipelines.summarization.training import warm_start_tokenizer  # noqa: E402
from pipelines.summarization.warm_start import checkpoint_pieces  # noqa: E402
from pipelines.summarization.warm_start import load_warm_start_weights  # noqa: E402
from pipelines.summarization.warm_start_tokenizer import WarmStartTokenizer  # noqa: E402

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass(frozen=True)
class Choice:
    name: str
    decoder_layers: int = 3
    full_vocabulary: bool = False
    max_document_length: int = 512


CHOICES = (
    Choice("defaults (3 decoder blocks, summary vocabulary, 512 tokens)"),
    Choice("6 decoder blocks (all the checkpoint's layers)", decoder_layers=6),
    Choice("1 decoder block", decoder_layers=1),
    Choice("full checkpoint vocabulary in the output softmax", full_vocabulary=True),
    Choice("documents cut at 256 tokens", max_document_length=256),
)


def full_vocabulary_tokenizer(tokenizer):
    """The same document tokenizer; summaries over every checkpoint piece."""
    pieces = checkpoint_pieces(tokenizer.document_tokenizer.vocabulary)
    return WarmStartTokenizer(tokenizer.document_tokenizer, SummarizationTokenizer(list(SPECIAL_TOKENS) + pieces))


def prepare(choice, init_from, pairs, steps):
    """(compiled model, batches, real tokens per batch) for one choice."""
    config = default_config(init_from=init_from)
    config.model.decoder_layers = choice.decoder_layers
    config.model.max_document_length = choice.max_document_length
    checkpoint = read_warm_start_checkpoint(config, log=lambda line: None)
    documents = checkpoint_tokenizer(checkpoint, config.model.max_document_length, log=lambda line: None)
    tokenizer = warm_start_tokenizer(documents, pairs.summaries)
    if choice.full_vocabulary:
        tokenizer = full_vocabulary_tokenizer(tokenizer)
    config.model.vocabulary_size = tokenizer.vocabulary_size
    model = compile_summarizer(build_summarizer(config.model), config.training)
    load_warm_start_weights(
        model, checkpoint, tokenizer.document_tokenizer.vocabulary, tokenizer.vocabulary,
        config.model.decoder_source_layers,
    )
    dataset = make_dataset(
        pairs.documents, pairs.summaries, tokenizer=tokenizer,
        max_document_length=config.model.max_document_length,
        max_summary_length=config.model.max_summary_length,
        batch_size=config.training.batch_size, shuffle=True, seed=1337,
    )
    batches = list(dataset.take(steps + 2).as_numpy_iterator())
    tokens = [
        int((inputs["encoder_ids"] != 0).sum() + weights.sum()) for inputs, _, weights in batches
    ]
    return model, batches, tokens, tokenizer.vocabulary_size, model.count_params()


def time_steps(model, batches):
    for inputs, labels, weights in batches[:2]:  # traces the step
        model.train_on_batch(inputs, labels, sample_weight=weights)
    start = time.perf_counter()
    for inputs, labels, weights in batches[2:]:
        model.train_on_batch(inputs, labels, sample_weight=weights)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--init-from", default="minilm")
    parser.add_argument(
        "--train", default=os.path.join(REPOSITORY, "..", "shared", "data", "samsum", "train.csv")
    )
    parser.add_argument("--rows", type=int, default=2000, help="training rows read (vocabulary, batches)")
    parser.add_argument("--steps", type=int, default=12, help="timed steps per choice and round")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)

    pairs = read_pairs(args.train, "dialogue", "summary", max_rows=args.rows)
    prepared = {choice: prepare(choice, args.init_from, pairs, args.steps) for choice in CHOICES}
    best = {choice: float("inf") for choice in CHOICES}
    for _ in range(args.rounds):
        for choice, (model, batches, *_rest) in prepared.items():
            best[choice] = min(best[choice], time_steps(model, batches))
    print(f"load average before timing: {os.getloadavg()[0]:.2f}; {args.steps} steps of batch 16, "
          f"fastest of {args.rounds} rounds\n")
    print("| choice | parameters | decoder vocabulary | s/step | tokens/s | step time vs defaults |")
    print("|---|---|---|---|---|---|")
    baseline = best[CHOICES[0]] / args.steps
    for choice in CHOICES:
        _, _, tokens, vocabulary, parameters = prepared[choice]
        seconds = best[choice] / args.steps
        print(f"| {choice.name} | {parameters:,} | {vocabulary:,} | {seconds:.2f} | "
              f"{np.sum(tokens[2:]) / best[choice]:.0f} | {seconds / baseline:.2f}x |")


if __name__ == "__main__":
    main()
