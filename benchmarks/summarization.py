"""Summarization benchmark: ROUGE against the anchors, training speed, generation speed.

    python benchmarks/summarization.py --run runs/samsum            # full test set
    python benchmarks/summarization.py --run runs/samsum-short --documents 16 --rouge-documents 100

Prints, for a run directory written by `python -m pipelines.summarization train`:

1. ROUGE-1 / ROUGE-2 / ROUGE-Lsum (F1 × 100, rouge-score, Porter stemming) of
   the run on the SAMSum test set (from its metrics.json when it was trained
   with --test, else computed here), beside Lead-3 and Longest-3 recomputed
   with the same scorer and the anchor figures of DESIGN.md.
2. Training time and tokens/s (encoder + decoder tokens) from metrics.json.
3. Generation speed at exactly `--new-tokens` new tokens per summary (the end
   token is forbidden until then): new summary tokens per second for greedy and
   for beam 4, XLA-compiled, each with the key/value cache and recomputing the
   decoder over the whole fixed-size prefix buffer at every step, and the
   cache's speed-up. Fixed shapes make the XLA baseline recompute all
   `--new-tokens` positions every step, so a second greedy comparison, in
   graph mode without XLA, recomputes only the prefix generated so far
   (growing by one token per step). Decoding time is the generation time minus
   the encoder pass over the same batches, timed alone: long dialogues make the
   encoder a large, cache-independent share. Runs are interleaved and the
   fastest of `--repeats` passes counts, which tames other jobs' load on a
   shared CPU.
4. With several `--run`s (e.g. warm-started and from scratch, trained with
   `--snapshot-minutes 15`): a table of the runs side by side, and ROUGE-1 on
   the first `--curve-documents` validation dialogues (greedy) of every
   snapshot in each run's `snapshots/` and of its final model, against
   training minutes, drawn into `--curve-png`.
   With the figures of `summary_checks`: names reproduced and invented, repetition,
   and a paired bootstrap of the first run against each other one on their test
   predictions (`rouge.paired_bootstrap`). `--recorded-predictions FILE` adds the
   test predictions of a run whose directory is gone (run directories stay on the
   machine that trained them; benchmarks/results keeps the 60-minute runs'
   predictions), so a pair can be completed in a later session.
5. Truecasing: ROUGE of the test predictions as printed and lower-cased; the
   scorer lower-cases, so the two must be equal.

    python benchmarks/summarization.py --run runs/samsum_warm --run runs/samsum_scratch \
        --curve-png benchmarks/results/summarization_curves.png
"""

import argparse
import dataclasses
import json
import os
import sys
import time

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pipelines.decoding.settings import DecodingSettings  # noqa: E402
from pipelines.summarization.evaluation import evaluate_pairs  # noqa: E402
from pipelines.summarization.evaluation import evaluation_paths  # noqa: E402
from pipelines.summarization.pairs import read_pairs  # noqa: E402
from pipelines.summarization.rouge import corpus_rouge  # noqa: E402
from pipelines.summarization.rouge import paired_bootstrap  # noqa: E402
from pipelines.summarization.rouge import rouge_scores  # noqa: E402
from pipelines.summarization.trained import Summarizer  # noqa: E402

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHED = "key/value cache"
ENCODER_ONLY = "encoder only"
ANCHORS = {  # DESIGN.md: predictions one turn per line, references not split into sentences
    "Lead-3 (DESIGN.md anchor)": (31.30, 8.66, 27.59),
    "Longest-3 (DESIGN.md anchor)": (32.31, 10.29, 28.03),
    "Transformer from scratch, SAMSum paper": (36.62, 11.18, 33.06),
}


def data_directory():
    return os.environ.get("KERAS_ATTENTION_DATA", os.path.join(REPOSITORY, "..", "shared", "data"))


def turns(dialogue):
    return [line for line in dialogue.splitlines() if line.strip()]


def lead_3(dialogue):
    return "\n".join(turns(dialogue)[:3])


def longest_3(dialogue):
    lines = turns(dialogue)
    return "\n".join(sorted(lines, key=len, reverse=True)[:3])


def rouge_row(name, scores):
    return f"| {name} | {scores[0]:.2f} | {scores[1]:.2f} | {scores[2]:.2f} |"


def rouge_section(run, summarizer, metrics, test_pairs, rouge_documents, beams):
    print("## ROUGE on the SAMSum test set (F1 x 100, rouge-score, Porter stemming)\n")
    pairs = test_pairs
    if rouge_documents:
        pairs = dataclasses.replace(
            pairs, documents=pairs.documents[:rouge_documents],
            summaries=pairs.summaries[:rouge_documents],
            line_numbers=pairs.line_numbers[:rouge_documents],
        )
    # The latest report on this file, `train --test`'s or a later `evaluate`'s (e.g. with
    # other search settings), beside the predictions the other sections read.
    test = metrics.get("test")
    rouge_path, _ = evaluation_paths(run, test_pairs.source, beams)
    if os.path.exists(rouge_path):
        with open(rouge_path, encoding="utf-8") as file:
            test = json.load(file)
    if test is None or rouge_documents or test["search"]["beams"] != beams:
        test, _ = evaluate_pairs(summarizer, pairs, beams=beams)
    print(f"{len(pairs)} test dialogues; ROUGE-Lsum over sentence-split predictions and references\n")
    print("| system | R-1 | R-2 | R-Lsum |\n|---|---|---|---|")
    print(rouge_row(f"this run, beam {test['search']['beams']}",
                    (test["rouge1"], test["rouge2"], test["rougeLsum"])))
    for name, baseline in (("Lead-3", lead_3), ("Longest-3", longest_3)):
        scores = corpus_rouge([baseline(d) for d in pairs.documents], pairs.summaries)
        figures = (scores["rouge1"], scores["rouge2"], scores["rougeLsum"])
        print(rouge_row(f"{name} (same scorer)", figures))
    for name, scores in ANCHORS.items():
        print(rouge_row(name, scores))
    print()
    if "names_reproduced" in test:  # reports written before summary_checks lack them
        print("Names a reference takes from its dialogue, written exactly; names written that the")
        print("dialogue never mentions; summaries that repeat a word back to back or a content bigram:\n")
        print("| system | names reproduced % | names invented % | repetition % |\n|---|---|---|---|")
        print(f"| this run, beam {test['search']['beams']} | {test['names_reproduced']:.1f} | "
              f"{test['names_invented']:.1f} | {test['repetition']:.1f} |")
        print()
    return test


def training_section(metrics):
    training = metrics.get("training", {})
    print("## Training\n")
    if not training:
        print("metrics.json has no training figures\n")
        return
    budget = " (stopped on the time budget)" if training.get("stopped_on_time_budget") else ""
    print(f"- time: {training['seconds'] / 60:.1f} min for {training['epochs']} epochs "
          f"({training['steps']} steps){budget}")
    print(f"- speed: {training['tokens_per_second']:.0f} tokens/s (encoder + decoder tokens)")
    print(f"- model: {training['parameters']:,} parameters")
    validation = metrics.get("validation", {})
    if validation:
        print(f"- validation: loss {validation['loss']:.3f}, "
              f"next-token accuracy {validation['accuracy']:.3f}")
    print()


def growing_prefix_greedy(inference, new_tokens):
    """A greedy decoder that reruns the decoder over the prefix so far at every step.

    Forbids what the pipeline's search forbids ([PAD], [BOS]; [EOS] before the
    last step), so it picks the same tokens as cached greedy search.
    """
    import tensorflow as tf

    from pipelines.summarization.tokenizer import END_ID
    from pipelines.summarization.tokenizer import PAD_ID
    from pipelines.summarization.tokenizer import START_ID

    @tf.function(reduce_retracing=True)
    def next_token(prefix, encoder_outputs, padding_mask, encoder_ids, allow_end):
        logits = inference.decode(prefix, encoder_outputs, padding_mask, encoder_ids)[:, -1]
        vocabulary = tf.range(tf.shape(logits)[-1])
        forbidden = (vocabulary == PAD_ID) | (vocabulary == START_ID)
        forbidden |= (vocabulary == END_ID) & tf.logical_not(allow_end)
        logits = tf.where(forbidden[None, :], -1e9, logits)
        return tf.argmax(logits, axis=-1, output_type=tf.int32)

    encode = tf.function(inference.encode)

    def run(encoder_ids):
        encoder_outputs, padding_mask = encode(encoder_ids)
        prefix = tf.fill([encoder_ids.shape[0], 1], START_ID)
        for step in range(new_tokens):
            last = tf.constant(step == new_tokens - 1)
            token = next_token(prefix, encoder_outputs, padding_mask, encoder_ids, last)
            prefix = tf.concat([prefix, token[:, None]], axis=1)
        return prefix[:, 1:]

    return run


def padded_batches(summarizer, document_ids, batch_size):
    """The encoder inputs exactly as `Generator.generate_ids` pads them."""
    import tensorflow as tf

    from pipelines.summarization.generation import pad_batch

    max_length = summarizer.config.model.max_document_length
    ordered = sorted((ids[:max_length] for ids in document_ids), key=len)
    return [
        tf.constant(pad_batch(ordered[start : start + batch_size], batch_size, max_length))
        for start in range(0, len(ordered), batch_size)
    ]


def generation_runners(summarizer, batches, new_tokens, batch_size):
    """`{(search, decoding): callable}` over the padded batches, plus the encoders alone."""
    import tensorflow as tf

    def over_batches(function):
        # One array per batch: batches are padded to different bucket lengths.
        return lambda: [np.asarray(function(ids)) for ids in batches]

    runners = {}
    for beams in (1, 4):
        search = "greedy, XLA" if beams == 1 else f"beam {beams}, XLA"
        options = DecodingSettings(beams=beams, max_length=new_tokens, min_length=new_tokens - 1)
        for use_cache, decoding in ((True, CACHED), (False, "recompute prefix buffer")):
            generator = summarizer.generator(options, batch_size=batch_size, use_cache=use_cache)
            runners[(search, decoding)] = over_batches(generator.generate_batch)
    graph_generator = summarizer.generator(
        DecodingSettings(beams=1, max_length=new_tokens, min_length=new_tokens - 1),
        batch_size=batch_size, jit_compile=False,
    )
    inference = graph_generator.inference
    runners[("greedy, graph mode", CACHED)] = over_batches(graph_generator.generate_batch)
    runners[("greedy, graph mode", "recompute growing prefix")] = over_batches(
        growing_prefix_greedy(inference, new_tokens)
    )
    for jit_compile, search in ((True, "greedy, XLA"), (False, "greedy, graph mode")):
        encode = tf.function(lambda ids: inference.encode(ids)[0], jit_compile=jit_compile)
        runners[(search, ENCODER_ONLY)] = over_batches(encode)
    runners[("beam 4, XLA", ENCODER_ONLY)] = runners[("greedy, XLA", ENCODER_ONLY)]
    return runners


def interleaved_best_times(runners, repeats):
    """Warm up every runner, then time them in turns; keep each one's fastest pass.

    Turns spread other jobs' load on a shared CPU evenly over the runners, and
    the minimum is the pass least slowed by them.
    """
    outputs = {key: run() for key, run in runners.items()}  # traces and compiles
    best = {key: float("inf") for key in runners}
    for _ in range(repeats):
        for key, run in runners.items():
            start = time.perf_counter()
            run()
            best[key] = min(best[key], time.perf_counter() - start)
    return best, outputs


def generation_section(summarizer, documents, new_tokens, batch_size, repeats):
    print(f"## Generation speed: {len(documents)} test dialogues, exactly {new_tokens} new tokens "
          f"each, batches of {batch_size}, fastest of {repeats} interleaved passes\n")
    document_ids = summarizer.tokenizer.tokenize(documents).to_list()
    batches = padded_batches(summarizer, document_ids, batch_size)
    runners = generation_runners(summarizer, batches, new_tokens, batch_size)
    best, outputs = interleaved_best_times(runners, repeats)
    new_token_count = len(documents) * new_tokens
    print("Decoding = generation minus the encoder pass over the same batches (timed alone).\n")
    print("| search | decoding | total s | decoding s | new tokens/s (decoding) | cache speed-up "
          "(decoding) | (total) |")
    print("|---|---|---|---|---|---|---|")
    searches = dict.fromkeys(search for search, _ in runners)
    for search in searches:
        encoder_seconds = best[(search, ENCODER_ONLY)]
        cached = best[(search, CACHED)]
        for (row_search, decoding), seconds in best.items():
            if row_search != search or decoding == ENCODER_ONLY:
                continue
            decode_seconds = max(seconds - encoder_seconds, 1e-6)
            speed_up = ""
            if decoding != CACHED:
                cached_decode = max(cached - encoder_seconds, 1e-6)
                speed_up = f"{decode_seconds / cached_decode:.1f}x | {seconds / cached:.1f}x"
            print(f"| {search} | {decoding} | {seconds:.2f} | {decode_seconds:.2f} | "
                  f"{new_token_count / decode_seconds:.0f} | {speed_up or ' | '} |")
    print(f"\nencoder alone: {best[('greedy, XLA', ENCODER_ONLY)]:.2f} s (XLA), "
          f"{best[('greedy, graph mode', ENCODER_ONLY)]:.2f} s (graph mode)")
    same = all(
        all(map(np.array_equal, outputs[(search, CACHED)], output))
        for (search, decoding), output in outputs.items()
        if decoding not in (CACHED, ENCODER_ONLY)
    )
    print(f"every decoding chose the same tokens as its cached counterpart: {same}\n")
    # End to end (encoder included), with the cache: what a user of `summarize` gets.
    return {
        search: new_token_count / best[(search, CACHED)] for search in ("greedy, XLA", "beam 4, XLA")
    }


def truecasing_section(run, test):
    """ROUGE of the run's test predictions as printed, and lower-cased: equal, since the
    scorer lower-cases; truecasing is for readers, not for the score."""
    found = test_predictions(run, test)
    if found is None:
        return
    predictions, references = found
    cased = corpus_rouge(predictions, references)
    lowered = corpus_rouge([text.lower() for text in predictions], references)
    keys = ("rouge1", "rouge2", "rougeLsum")
    differences = [abs(cased[key] - lowered[key]) for key in keys]
    changed = sum(text != text.lower() for text in predictions)
    print(f"## Truecasing\n\n{changed} of {len(predictions)} test summaries have capitals restored; "
          f"ROUGE-1/2/Lsum with them {'/'.join(f'{cased[k]:.4f}' for k in keys)}, lower-cased "
          f"{'/'.join(f'{lowered[k]:.4f}' for k in keys)}: largest difference {max(differences):.4f}\n")


def comparison_section(summarizers, results):
    print("## The runs side by side\n")
    print("| run | R-1 | R-2 | R-Lsum | parameters | training min | epochs | training tokens/s "
          "| greedy tokens/s | beam 4 tokens/s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for run, result in results.items():
        test, training = result["test"], result["metrics"].get("training", {})
        speeds = {search: f"{value:.0f}" for search, value in result["generation"].items()}
        print(f"| {os.path.basename(os.path.normpath(run))} | {test['rouge1']:.2f} | {test['rouge2']:.2f} | "
              f"{test['rougeLsum']:.2f} | {summarizers[run].model.count_params():,} | "
              f"{training.get('seconds', 0) / 60:.1f} | {training.get('epochs', '?')} | "
              f"{training.get('tokens_per_second', 0):.0f} | {speeds.get('greedy, XLA', '—')} | "
              f"{speeds.get('beam 4, XLA', '—')} |")
    print("\nGeneration tokens/s: end to end with the key/value cache, encoder included, XLA.\n")
    names_and_repetition_table(results)


def names_and_repetition_table(results):
    if not all("names_reproduced" in result["test"] for result in results.values()):
        return
    print("| run | names reproduced % | names invented % | repetition % |\n|---|---|---|---|")
    for run, result in results.items():
        test = result["test"]
        print(f"| {os.path.basename(os.path.normpath(run))} | {test['names_reproduced']:.1f} | "
              f"{test['names_invented']:.1f} | {test['repetition']:.1f} |")
    print()


def test_predictions(run, test):
    """The run's test predictions and references, as `evaluate` or `train --test` wrote them, or None."""
    _, path = evaluation_paths(run, test["source"], test["search"]["beams"])
    if not os.path.exists(path):
        return None
    return read_predictions(path)


def read_predictions(path):
    """`(predictions, references)` of a predictions file (`evaluate`'s JSON Lines, or a
    copy kept in benchmarks/results without the dialogues)."""
    with open(path, encoding="utf-8") as file:
        rows = [json.loads(line) for line in file if line.strip()]
    return [row["prediction"] for row in rows], [row["reference"] for row in rows]


def bootstrap_section(results, recorded=()):
    """Each later run, then each recorded predictions file, against the first run: the mean
    per-dialogue ROUGE difference with its 95% paired bootstrap interval."""
    runs = list(results)
    first = test_predictions(runs[0], results[runs[0]]["test"])
    if first is None:
        return
    others = [(os.path.basename(os.path.normpath(run)), test_predictions(run, results[run]["test"]))
              for run in runs[1:]]
    others += [(f"recorded: {os.path.basename(path)}", read_predictions(path)) for path in recorded]
    print(f"## Paired bootstrap against {os.path.basename(os.path.normpath(runs[0]))} "
          "(10,000 resamples of the test dialogues, 95% interval)\n")
    print("| run | R-1 difference [interval] | R-2 difference [interval] | R-Lsum difference [interval] |")
    print("|---|---|---|---|")
    first_scores = rouge_scores(*first)
    for name, other in others:
        if other is None or other[1] != first[1]:
            print(f"| {name} | no test predictions of the same dialogues on disk | | |")
            continue
        scores = rouge_scores(*other)
        cells = []
        for rouge_type in ("rouge1", "rouge2", "rougeLsum"):
            # first − other: positive when the first run scores higher.
            result = paired_bootstrap(first_scores[rouge_type], scores[rouge_type])
            cells.append(f"{result['difference']:+.2f} [{result['low']:+.2f}, {result['high']:+.2f}]")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\nA difference is the first run's score minus this run's, per dialogue, averaged; the "
          "first run is better with 95% confidence where the interval's lower end is above 0.\n")


def snapshot_points(run):
    """`[(minutes, weights file or None for the final model)]` of a run, in order."""
    index_path = os.path.join(run, "snapshots", "index.json")
    points = []
    if os.path.exists(index_path):
        with open(index_path, encoding="utf-8") as file:
            for entry in json.load(file)["snapshots"]:
                points.append((entry["minutes"], os.path.join(run, "snapshots", entry["file"])))
    seconds = summarizer_metrics(run).get("training", {}).get("seconds")
    if seconds:
        points.append((seconds / 60, None))
    return points


def curves_section(summarizers, valid_path, documents, png_path):
    from pipelines.common.plots import plt
    from pipelines.common.plots import save_figure

    print(f"## ROUGE-1 on the first {documents} validation dialogues (greedy) against training minutes\n")
    print("| run | minutes | weights | R-1 | R-2 | R-Lsum |\n|---|---|---|---|---|---|")
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for run, summarizer in summarizers.items():
        data = summarizer.config.data
        pairs = read_pairs(valid_path, data.document_column, data.summary_column)
        pairs = dataclasses.replace(
            pairs, documents=pairs.documents[:documents], summaries=pairs.summaries[:documents],
            line_numbers=pairs.line_numbers[:documents],
        )
        final_weights = summarizer.model.get_weights()
        minutes, scores = [], []
        for minute, weights in snapshot_points(run):
            if weights is None:
                summarizer.model.set_weights(final_weights)
            else:
                summarizer.model.load_weights(weights)
            report, _ = evaluate_pairs(summarizer, pairs, beams=1, progress=False)
            label = "final (best validation loss)" if weights is None else os.path.basename(weights)
            print(f"| {os.path.basename(os.path.normpath(run))} | {minute:.1f} | {label} | "
                  f"{report['rouge1']:.2f} | {report['rouge2']:.2f} | {report['rougeLsum']:.2f} |")
            minutes.append(minute)
            scores.append(report["rouge1"])
        summarizer.model.set_weights(final_weights)
        axis.plot(minutes, scores, marker="o", label=os.path.basename(os.path.normpath(run)))
    for minute in (15, 30, 60):
        axis.axvline(minute, color="grey", linewidth=0.5, linestyle=":")
    axis.set_xlabel("training minutes (2 CPU cores)")
    axis.set_ylabel(f"validation ROUGE-1 (first {documents} dialogues, greedy)")
    axis.legend()
    axis.grid(alpha=0.3)
    save_figure(figure, png_path)
    print(f"\nlearning curves: {png_path}\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", action="append",
                        help="run directory from `train`; repeat to compare runs (default: runs/samsum)")
    parser.add_argument("--test", default=os.path.join(data_directory(), "samsum", "test.csv"))
    parser.add_argument("--beams", type=int, default=4, help="beam width for ROUGE")
    parser.add_argument("--rouge-documents", type=int, default=0,
                        help="score only the first N test dialogues (0: all)")
    parser.add_argument("--documents", type=int, default=32,
                        help="dialogues timed for generation (0: no generation timing)")
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes; the best counts")
    parser.add_argument("--valid", default=os.path.join(data_directory(), "samsum", "validation.csv"))
    parser.add_argument("--curve-documents", type=int, default=200,
                        help="validation dialogues scored per snapshot for the learning curves")
    parser.add_argument("--curve-png", help="learning curves of the runs' snapshots (PNG)")
    parser.add_argument("--recorded-predictions", action="append", default=[], metavar="JSONL",
                        help="test predictions of a run no longer on disk (e.g. benchmarks/results/"
                             "samsum_60min/*.jsonl), bootstrapped against the first --run; repeatable")
    args = parser.parse_args(argv)
    runs = args.run or [os.path.join(REPOSITORY, "runs", "samsum")]

    summarizers, results = {}, {}
    for run in runs:
        if not os.path.exists(os.path.join(run, "model.keras")):
            sys.exit(f"error: {run} holds no trained run; train one first, e.g. "
                     "python -m pipelines.summarization train ... --out runs/samsum")
        print(f"# {run}\n")
        summarizer = summarizers[run] = Summarizer.load(run)
        metrics = summarizer_metrics(run)
        config = summarizer.config.data
        test_pairs = read_pairs(args.test, config.document_column, config.summary_column)
        test = rouge_section(run, summarizer, metrics, test_pairs, args.rouge_documents, args.beams)
        truecasing_section(run, test)
        training_section(metrics)
        speeds = {}
        if args.documents:
            speeds = generation_section(
                summarizer, test_pairs.documents[: args.documents], args.new_tokens, args.batch_size,
                args.repeats,
            )
        results[run] = {"test": test, "metrics": metrics, "generation": speeds}
    if len(runs) > 1:
        comparison_section(summarizers, results)
    if len(runs) > 1 or args.recorded_predictions:
        bootstrap_section(results, args.recorded_predictions)
    if args.curve_png:
        curves_section(summarizers, args.valid, args.curve_documents, args.curve_png)


def summarizer_metrics(run_dir):
    path = os.path.join(run_dir, "metrics.json")
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as file:
        return json.load(file)


if __name__ == "__main__":
    main()
