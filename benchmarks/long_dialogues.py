"""Longer dialogues: SAMSum pairs joined end to end, their lengths against the defaults,
the baselines on them, and runs scored on them.

    python benchmarks/long_dialogues.py --out runs/samsum_joined            # build + report
    python benchmarks/long_dialogues.py --out runs/samsum_joined --run runs/samsum --run runs/samsum_plain

Each split of SAMSum (train, validation, test) is shuffled with a fixed seed and
its dialogues are joined two by two: the second dialogue's turns follow the
first's, and the two reference summaries are joined with a space. The joined
files are written to `--out` (`train.csv`, `validation.csv`, `test.csv`, the
SAMSum columns), so a run can also be trained on them.

Printed:
1. Token lengths (the run's tokenizer, else one learned from the SAMSum
   training split as `train` learns it) of documents and summaries, SAMSum and
   joined: median, 95th and 99th percentiles, maximum, and how many exceed the
   summarizer's default `--max-document-length` and `--max-summary-length`
   (summaries count their `[EOS]`).
2. On the joined test set: Lead-3 of each half joined, Longest-3, and each
   `--run` (beam 4 by default): ROUGE-1/2/Lsum, names reproduced and invented,
   repetition (`summary_checks`).
"""

import argparse
import csv
import os
import random
import sys

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.summarization import data_directory  # noqa: E402
from benchmarks.summarization import lead_3  # noqa: E402
from benchmarks.summarization import longest_3  # noqa: E402
from pipelines.summarization.config import ModelConfig  # noqa: E402
from pipelines.summarization.evaluation import evaluate_pairs  # noqa: E402
from pipelines.summarization.pairs import read_pairs  # noqa: E402
from pipelines.summarization.rouge import corpus_rouge  # noqa: E402
from pipelines.summarization.summary_checks import summary_checks  # noqa: E402

SPLITS = ("train", "validation", "test")
SEED = 2019


def joined_rows(pairs, seed=SEED):
    """`(dialogue, summary, first_dialogue, second_dialogue)` of pairs joined two by two."""
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    rows = []
    for first, second in zip(order[0::2], order[1::2]):
        rows.append((
            pairs.documents[first].rstrip("\n") + "\n" + pairs.documents[second],
            pairs.summaries[first].strip() + " " + pairs.summaries[second].strip(),
            pairs.documents[first],
            pairs.documents[second],
        ))
    return rows


def write_joined(rows, path):
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["id", "dialogue", "summary"])
        writer.writerows((index, dialogue, summary) for index, (dialogue, summary, _, _) in enumerate(rows))


def length_row(name, lengths, limit):
    lengths = np.asarray(lengths)
    over = int((lengths > limit).sum())
    return (f"| {name} | {np.median(lengths):.0f} | {np.percentile(lengths, 95):.0f} | "
            f"{np.percentile(lengths, 99):.0f} | {lengths.max()} | {over} of {len(lengths)} "
            f"({100 * over / len(lengths):.1f}%) over {limit} |")


def lengths_section(tokenizer, sets, config):
    print("## Token lengths against the defaults\n")
    print("| texts | median | p95 | p99 | max | cut |\n|---|---|---|---|---|---|")
    for name, (documents, summaries) in sets.items():
        document_lengths = np.concatenate([
            tokenizer.tokenize(documents[start : start + 512]).row_lengths().numpy()
            for start in range(0, len(documents), 512)
        ])
        summary_lengths = np.concatenate([
            tokenizer.tokenize_summaries(summaries[start : start + 512]).row_lengths().numpy() + 1
            for start in range(0, len(summaries), 512)
        ])
        print(length_row(f"{name} documents", document_lengths, config.max_document_length))
        print(length_row(f"{name} summaries (+[EOS])", summary_lengths, config.max_summary_length))
    print()


def scores_row(name, predictions, references, dialogues):
    rouge = corpus_rouge(predictions, references)
    checks = summary_checks(predictions, references, dialogues)
    return (f"| {name} | {rouge['rouge1']:.2f} | {rouge['rouge2']:.2f} | {rouge['rougeLsum']:.2f} | "
            f"{checks['names_reproduced']:.1f} | {checks['names_invented']:.1f} | {checks['repetition']:.1f} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samsum", default=os.path.join(data_directory(), "samsum"))
    parser.add_argument("--out", required=True, help="folder for the joined train/validation/test CSVs")
    parser.add_argument("--run", action="append", default=[], help="run directory to score on the joined test set")
    parser.add_argument("--beams", type=int, default=4)
    parser.add_argument("--documents", type=int, default=0, help="score only the first N joined test dialogues")
    args = parser.parse_args(argv)

    os.makedirs(args.out, exist_ok=True)
    samsum, joined = {}, {}
    for split in SPLITS:
        samsum[split] = read_pairs(os.path.join(args.samsum, f"{split}.csv"), "dialogue", "summary")
        joined[split] = joined_rows(samsum[split])
        write_joined(joined[split], os.path.join(args.out, f"{split}.csv"))
    print(f"# SAMSum dialogues joined two by two ({args.out})\n")
    print(", ".join(f"{split}: {len(joined[split])}" for split in SPLITS) + "\n")

    from pipelines.summarization.trained import Summarizer

    summarizers = [Summarizer.load(run) for run in args.run]
    config = summarizers[0].config.model if summarizers else ModelConfig()
    if summarizers:
        tokenizer = summarizers[0].tokenizer
    else:
        from pipelines.summarization.tokenizer import SummarizationTokenizer
        from pipelines.summarization.tokenizer import learn_vocabulary

        train = samsum["train"]
        tokenizer = SummarizationTokenizer(learn_vocabulary(train.documents + train.summaries, 8000))
    lengths_section(tokenizer, {
        "SAMSum train": (samsum["train"].documents, samsum["train"].summaries),
        "joined train": ([row[0] for row in joined["train"]], [row[1] for row in joined["train"]]),
        "SAMSum test": (samsum["test"].documents, samsum["test"].summaries),
        "joined test": ([row[0] for row in joined["test"]], [row[1] for row in joined["test"]]),
    }, config)

    test_rows = joined["test"][: args.documents or None]
    dialogues = [row[0] for row in test_rows]
    references = [row[1] for row in test_rows]
    print(f"## The joined test set ({len(test_rows)} dialogues; ROUGE F1 x 100; names and repetition in %)\n")
    print("| system | R-1 | R-2 | R-Lsum | names reproduced | names invented | repetition |")
    print("|---|---|---|---|---|---|---|")
    lead = [lead_3(first) + "\n" + lead_3(second) for _, _, first, second in test_rows]
    print(scores_row("Lead-3 of each half, joined", lead, references, dialogues))
    print(scores_row("Longest-3", [longest_3(dialogue) for dialogue in dialogues], references, dialogues))
    for run, summarizer in zip(args.run, summarizers):
        pairs = read_pairs(os.path.join(args.out, "test.csv"), "dialogue", "summary", max_rows=len(test_rows))
        _, predictions = evaluate_pairs(summarizer, pairs, beams=args.beams, progress=False)
        print(scores_row(f"{run}, beam {args.beams}", predictions, references, dialogues))
    print()


if __name__ == "__main__":
    main()
