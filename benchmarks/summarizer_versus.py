"""Two exported summarizers side by side: generation speed at batch 1, greedy and beam.

    python benchmarks/summarizer_versus.py saved_models/samsum_copy/1 saved_models/samsum_plain/1 \
        --texts ../shared/data/samsum/test.csv [--dialogues 16] [--rounds 3] [--threads 2]

For each version (e.g. the copying summarizer and the `--no-copy` one, trained the
same way) and each search (greedy; beam search with the beam width the SavedModel's
`beam_search` signature was exported with), new tokens per second (tokens generated
up to and including `[EOS]`, summed over the first `--dialogues` dialogues, divided by
the time) in:

- the SavedModel's token-id signatures (`generate_token_ids`, `beam_search_token_ids`):
  the search alone, TensorFlow graph, `--threads` intra-op threads;
- onnxruntime (`OnnxSummarizer.generate_ids`, encoder + decoder-step sessions and the
  NumPy search) with 1 intra-op thread and with `--threads`.

Both versions get the same dialogues, the same runner settings and the same machine
in the same rounds: every round times every (version, search, runtime) once, and
the median over rounds counts, so drift and other load hit both alike. The last
column is the first version's speed over the second's. Each runtime's tokens are
checked against its own version's SavedModel; the script says how many differ.
"""

import argparse
import json
import os
import statistics
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from benchmarks.inference import configure_tensorflow  # noqa: E402
from benchmarks.inference import new_tokens  # noqa: E402
from benchmarks.inference import seconds  # noqa: E402

SAVED_MODEL = "SavedModel"


def read_card(version_dir):
    from export.layout import MODEL_CARD_JSON

    with open(os.path.join(version_dir, MODEL_CARD_JSON), encoding="utf-8") as file:
        return json.load(file)


def version_runtimes(version_dir, card, threads):
    """`{(search, runtime): token ids of one dialogue → summary ids (1, length)}`, and the
    version's ONNX runner (its tokenizer gives the ids)."""
    import tensorflow as tf

    from export.serving import load_saved_model
    from export.summarizer.onnx_runner import OnnxSummarizer
    from export.summarizer.saved_model import TOKEN_ID_SIGNATURES

    beams = card["generation"]["beam_search"]["beams"]
    saved_model = load_saved_model(version_dir)
    onnx_dir = os.path.join(version_dir, "onnx")
    runners = {count: OnnxSummarizer.load(onnx_dir, intra_op_threads=count) for count in sorted({1, threads})}
    runtimes = {}
    for key, width in (("greedy", 1), ("beam", beams)):
        search = "greedy" if key == "greedy" else f"beam {beams}"
        signature = saved_model.signatures[TOKEN_ID_SIGNATURES[key]]
        runtimes[search, SAVED_MODEL] = (
            lambda ids, signature=signature: signature(token_ids=tf.constant([ids], tf.int32))["summary_ids"].numpy()
        )
        for count, runner in runners.items():
            runtimes[search, f"onnxruntime, {count} thread{'s' if count > 1 else ''}"] = (
                lambda ids, runner=runner, width=width: runner.generate_ids([ids], beams=width)
            )
    return runtimes, runners[1]


def side_by_side(versions, dialogues, rounds, end_id):
    """Median new tokens/s per (version, search, runtime) and outputs that differ from the
    version's SavedModel. `versions`: `{name: (runtimes, onnx runner)}`."""
    token_ids, answers, tokens, differ = {}, {}, {}, {}
    for name, (runtimes, runner) in versions.items():
        token_ids[name] = [list(ids) for ids in runner.tokenize(dialogues)]
        for key, function in runtimes.items():  # warm up, and the tokens each search writes
            answers[(name, *key)] = [function(ids) for ids in token_ids[name]]
        for (search, runtime) in runtimes:
            reference = answers[name, search, SAVED_MODEL]
            tokens[name, search] = sum(new_tokens(ids, end_id) for ids in reference)
            differ[name, search, runtime] = sum(
                not (a.shape == b.shape and (a == b).all()) for a, b in zip(answers[name, search, runtime], reference)
            )
    samples = {key: [] for key in answers}
    for _ in range(rounds):
        for name, (runtimes, _) in versions.items():
            for (search, runtime), function in runtimes.items():
                elapsed = seconds(function, token_ids[name])
                samples[name, search, runtime].append(tokens[name, search] / elapsed)
    figures = {key: statistics.median(values) for key, values in samples.items()}
    return figures, tokens, differ


def print_table(figures, tokens, differ, names):
    first, second = names
    print(f"| search | runtime | {first} new tok/s | {second} new tok/s | {first} / {second} "
          f"| outputs ≠ SavedModel |")
    print("|---|---|---|---|---|---|")
    for (name, search, runtime), value in figures.items():
        if name != first:
            continue
        other = figures[second, search, runtime]
        print(f"| {search} | {runtime} | {value:.1f} | {other:.1f} | {value / other:.3f} | "
              f"{differ[first, search, runtime]} / {differ[second, search, runtime]} |")
    for name in names:
        per_search = ", ".join(f"{search} {count}" for (version, search), count in tokens.items() if version == name)
        print(f"\n{name}: new tokens per round ([EOS] included): {per_search}", end="")
    print()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("version_dirs", nargs=2, metavar="VERSION_DIR",
                        help="two exported summarizer versions (saved_models/NAME/VERSION)")
    parser.add_argument("--texts", required=True, help="dialogues file (CSV/TSV/JSONL with a dialogue column)")
    parser.add_argument("--column", default="dialogue", help="the dialogue column of --texts")
    parser.add_argument("--dialogues", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", help="also write the figures to this JSON file")
    arguments = parser.parse_args(argv)
    paths = [os.path.abspath(path) for path in arguments.version_dirs]
    if paths[0] == paths[1]:
        parser.error("give two different versions")
    names = [os.path.join(os.path.basename(os.path.dirname(path)), os.path.basename(path)) for path in paths]
    if names[0] == names[1]:  # NAME/VERSION alike in two folders
        names = paths
    from pipelines.common.sectioned_config import SUMMARIZATION

    cards = [read_card(path) for path in arguments.version_dirs]
    for path, card in zip(arguments.version_dirs, cards):
        if card.get("task") != SUMMARIZATION:
            parser.error(f"{path} is not an exported summarizer (its model_card.json's task)")

    from pipelines.common.tables import read_table
    from pipelines.summarization.tokenizer import END_ID

    configure_tensorflow(arguments.threads)
    dialogues = read_table(arguments.texts, arguments.column).texts[: arguments.dialogues]
    versions = {
        name: version_runtimes(path, card, arguments.threads)
        for name, path, card in zip(names, arguments.version_dirs, cards)
    }
    print(f"{len(dialogues)} dialogues from {arguments.texts}; batch 1; {arguments.threads} TensorFlow intra-op "
          f"threads (1 inter-op); {arguments.rounds} interleaved rounds, medians; {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f} at start\n")
    figures, tokens, differ = side_by_side(versions, dialogues, arguments.rounds, END_ID)
    print_table(figures, tokens, differ, names)
    if arguments.json:
        with open(arguments.json, "w", encoding="utf-8") as file:
            json.dump({"tokens_per_second": {" / ".join(key): value for key, value in figures.items()},
                       "new_tokens": {" / ".join(key): value for key, value in tokens.items()},
                       "outputs_differing": {" / ".join(key): value for key, value in differ.items()}},
                      file, indent=2)


if __name__ == "__main__":
    main()
