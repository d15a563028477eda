"""Inference speed of one exported version in Keras, the SavedModel and onnxruntime.

    python benchmarks/inference.py saved_models/sst2/1 [--threads 2] [--rounds 5]
    python benchmarks/inference.py saved_models/samsum/1 [--dialogues 16] [--rounds 3]

The model card says which task the version is; the export registry
(export/tasks.py) gives its ONNX runner.

Classifier:

Same texts (SST-2 test sentences), one process, interleaved rounds (each
round times every runtime once, so drift hits them alike); medians reported.

- batch 1: latency of one text → probabilities, tokenization included.
- batch 32: throughput in texts/s, tokenization included.
- model only: the same with token ids in (SavedModel `predict_token_ids`
  against onnxruntime's session), to separate tokenizer and graph costs.

Keras is `tokenizer.tokenize` + `model.predict_on_batch` (its compiled predict
step); the SavedModel is its `serving_default` signature; onnxruntime is
`OnnxClassifier` (Hugging Face tokenizer + session). TensorFlow gets
`--threads` intra-op threads and 1 inter-op thread; onnxruntime runs with 1
intra-op thread (`OnnxClassifier`'s default) and with `--threads`, sequential
execution, ORT_ENABLE_ALL graph optimization, no spinning. Ratios are against the SavedModel.

int8 (an export made with `--quantize int8`): the int8 files run as further
onnxruntime rows of the same tables, and a last table gives each precision's
ONNX file size (MB, all model files) and quality against the float files:
the classifier's accuracy on every text of the test file (batches of 32) and
its label agreement with the float file; the summarizer's ROUGE (as the
pipeline computes it, with the run's default search) on the first
`--rouge-dialogues` test dialogues, their token agreement with the float
files, and the time of that generation in batches of 32.

Summarizer: greedy generation at batch 1, in new tokens per second (tokens
generated up to and including `[EOS]`, summed over the dialogues, divided by
the time), over the first `--dialogues` test dialogues, interleaved rounds,
medians. "ids in" times the search alone: the SavedModel's
`generate_token_ids` (TensorFlow graph: `tf.while_loop`, cached decoder step,
not XLA-compiled) against `OnnxSummarizer.generate_ids` (encoder + decoder
step sessions, numpy search loop), with the pipeline's XLA-compiled
`Generator` (what `summarize` runs) as a third reference. "texts in" adds
tokenization, detokenization and truecasing: `serving_default` against
`OnnxSummarizer.summarize`. Every runtime generates the same tokens on these
dialogues or the script says how many differ.
"""

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

BATCH = 32
SINGLE_TEXTS = 64


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("version_dir", help="an exported saved_models/NAME/VERSION folder")
    parser.add_argument("--run-dir", help="the trained run (default: runs/ and the model card's source_run)")
    parser.add_argument("--texts", help="texts file (default: the run's test file)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dialogues", type=int, default=16, help="summarizer: dialogues per round")
    parser.add_argument("--rouge-dialogues", type=int, default=100,
                        help="summarizer with int8 files: dialogues for the ROUGE table")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    return parser.parse_args()


def configure_tensorflow(threads):
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow already running (a caller in the same process): keep its threads
        print(f"TensorFlow was already initialised: its thread pools stay as they are, not {threads} intra-op")


def load_runtimes(arguments):
    """{name: (texts → probabilities, token ids → probabilities)} for every runtime."""
    import tensorflow as tf

    from export.run_loader import load_run
    from export.serving import load_saved_model

    run = load_run(arguments.run_dir)
    saved_model = load_saved_model(arguments.version_dir)
    onnx_dir = os.path.join(arguments.version_dir, "onnx")
    sessions = {
        (precision, threads): arguments.task.onnx_runner.load(onnx_dir, intra_op_threads=threads, precision=precision)
        for precision in onnx_precisions(onnx_dir)
        for threads in sorted({1, arguments.threads})
    }
    serving = saved_model.signatures["serving_default"]
    by_ids = saved_model.signatures["predict_token_ids"]

    def keras_texts(texts):
        return run.model.predict_on_batch(run.tokenizer.tokenize(texts))

    runtimes = {
        "keras": (keras_texts, lambda ids: run.model.predict_on_batch(ids)),
        "savedmodel": (
            lambda texts: serving(texts=tf.constant(texts))["probabilities"].numpy(),
            lambda ids: by_ids(token_ids=tf.constant(ids))["probabilities"].numpy(),
        ),
    }
    for (precision, threads), classifier in sessions.items():
        runtimes[onnx_name(threads, precision)] = (classifier.predict_probabilities, classifier.predict_token_ids)
    return run, runtimes


def onnx_precisions(onnx_dir):
    """The precisions of an exported `onnx/` folder: float32, and int8 if it was quantized."""
    from export.onnx_session import FLOAT32
    from export.onnx_session import INT8
    from export.onnx_session import read_onnx_config

    return (FLOAT32, INT8) if INT8 in read_onnx_config(onnx_dir) else (FLOAT32,)


def onnx_name(threads, precision="float32"):
    name = "onnxruntime" if precision == "float32" else f"onnxruntime {precision}"
    return f"{name} ({threads} thread{'s' if threads > 1 else ''})"


def onnx_file_megabytes(onnx_dir, precision, keys):
    """The size of a precision's model files (`config[key]` for each key), in MB."""
    from export.onnx_session import model_path
    from export.onnx_session import read_onnx_config

    config = read_onnx_config(onnx_dir)
    return sum(os.path.getsize(model_path(onnx_dir, config, key, precision)) for key in keys) / 1e6


def seconds(function, inputs):
    start = time.perf_counter()
    for item in inputs:
        function(item)
    return time.perf_counter() - start


def measure(runtimes, single_inputs, batch_inputs, rounds, mode):
    """Median batch-1 latency (ms) and batch-32 throughput (texts/s) per runtime."""
    index = 0 if mode == "texts" else 1
    samples = {name: {"latency": [], "throughput": []} for name in runtimes}
    for name, functions in runtimes.items():  # warm up: trace, allocate, cache
        seconds(functions[index], single_inputs[:8] + batch_inputs[:2])
    for _ in range(rounds):
        for name, functions in runtimes.items():
            elapsed = seconds(functions[index], single_inputs)
            samples[name]["latency"].append(1000 * elapsed / len(single_inputs))
            if batch_inputs:  # none: latency only
                elapsed = seconds(functions[index], batch_inputs)
                samples[name]["throughput"].append(BATCH * len(batch_inputs) / elapsed)
    return {
        name: {key: statistics.median(values) for key, values in figures.items() if values}
        for name, figures in samples.items()
    }


def format_table(title, figures):
    reference = figures["savedmodel"]
    lines = [title, f"{'runtime':<31}{'batch 1 ms':>12}{'× SavedModel':>14}{'batch 32 texts/s':>18}"
             f"{'× SavedModel':>14}{'batch 32 ms':>13}"]
    for name, values in figures.items():
        lines.append(
            f"{name:<31}{values['latency']:>12.3f}{reference['latency'] / values['latency']:>13.2f}×"
            f"{values['throughput']:>18.0f}{values['throughput'] / reference['throughput']:>13.2f}×"
            f"{1000 * BATCH / values['throughput']:>13.2f}"
        )
    return "\n".join(lines)


def summarizer_runtimes(arguments):
    """The run and {name: (texts → None, token ids → summary ids)} at batch 1, greedy."""
    import tensorflow as tf

    from export.run_loader import load_run
    from export.serving import load_saved_model

    run = load_run(arguments.run_dir)
    saved_model = load_saved_model(arguments.version_dir)
    onnx_dir = os.path.join(arguments.version_dir, "onnx")
    generator = run.summarizer.generator(run.search_options(1), batch_size=1)
    serving = saved_model.signatures["serving_default"]
    by_ids = saved_model.signatures["generate_token_ids"]
    runtimes = {
        "keras (pipeline, XLA)": (None, lambda ids: generator.generate_ids([ids])),
        "savedmodel": (
            lambda text: serving(texts=tf.constant([text]))["summary"].numpy(),
            lambda ids: by_ids(token_ids=tf.constant([ids], tf.int32))["summary_ids"].numpy(),
        ),
    }
    for precision in onnx_precisions(onnx_dir):
        for threads in sorted({1, arguments.threads}):
            summarizer = arguments.task.onnx_runner.load(onnx_dir, intra_op_threads=threads, precision=precision)
            runtimes[onnx_name(threads, precision)] = (
                lambda text, summarizer=summarizer: summarizer.summarize([text]),
                lambda ids, summarizer=summarizer: summarizer.generate_ids([ids]),
            )
    return run, runtimes


def new_tokens(summary_ids, end_id):
    """Tokens generated per summary, `[EOS]` included."""
    row = [int(token) for token in summary_ids[0]]
    return row.index(end_id) + 1 if end_id in row else sum(1 for token in row if token)


def measure_generation(runtimes, dialogues, token_ids, rounds, end_id):
    """Median new tokens/s per runtime and mode, and how many outputs differ from the SavedModel."""
    answers = {name: [functions[1](ids) for ids in token_ids] for name, functions in runtimes.items()}
    for functions in runtimes.values():  # warm up text signatures too
        if functions[0] is not None:
            functions[0](dialogues[0])
    tokens = sum(new_tokens(ids, end_id) for ids in answers["savedmodel"])
    differ = {
        name: sum(not (a == b).all() for a, b in zip(answer, answers["savedmodel"]))
        for name, answer in answers.items()
    }
    samples = {(name, mode): [] for name in runtimes for mode in ("ids", "texts")}
    for _ in range(rounds):
        for name, functions in runtimes.items():
            samples[name, "ids"].append(tokens / seconds(functions[1], token_ids))
            if functions[0] is not None:
                samples[name, "texts"].append(tokens / seconds(functions[0], dialogues))
    figures = {key: statistics.median(values) for key, values in samples.items() if values}
    return figures, tokens, differ


def summarizer_main(arguments):
    run, runtimes = summarizer_runtimes(arguments)
    from pipelines.common.data_paths import resolve_recorded_path
    from pipelines.common.tables import read_table
    from pipelines.summarization.tokenizer import END_ID

    source = arguments.texts or resolve_recorded_path(run.config.data.test, run.path, "data.test", "--texts")
    dialogues = read_table(source, run.config.data.document_column).texts[: arguments.dialogues]
    token_ids = run.tokenizer.tokenize(dialogues).to_list()
    print(f"{len(dialogues)} dialogues from {source}; greedy, batch 1, max {run.config.generation.max_length} "
          f"tokens; {arguments.threads} TensorFlow intra-op threads (1 inter-op), {arguments.rounds} "
          f"interleaved rounds, medians; {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f} at start")
    figures, tokens, differ = measure_generation(runtimes, dialogues, token_ids, arguments.rounds, END_ID)
    print(f"{tokens} new tokens per round ([EOS] included)\n")
    reference = {mode: figures["savedmodel", mode] for mode in ("ids", "texts")}
    print(f"{'runtime':<26}{'ids in tok/s':>14}{'× SavedModel':>14}{'texts in tok/s':>16}{'× SavedModel':>14}"
          f"{'  outputs ≠ SavedModel':>22}")
    for name in runtimes:
        ids_figure = figures[name, "ids"]
        line = f"{name:<26}{ids_figure:>14.1f}{ids_figure / reference['ids']:>13.2f}×"
        if (name, "texts") in figures:
            texts_figure = figures[name, "texts"]
            line += f"{texts_figure:>16.1f}{texts_figure / reference['texts']:>13.2f}×"
        else:
            line += f"{'—':>16}{'':>14}"
        print(line + f"{differ[name]:>22}")
    ratio = figures[onnx_name(1), "ids"] / reference["ids"]
    print(f"\nonnxruntime (1 thread) vs SavedModel, greedy generation at batch 1: {ratio:.2f}× (target ≥ 1.5×)")
    quality = None
    if len(onnx_precisions(onnx_dir_of(arguments))) > 1:
        table = read_table(source, run.config.data.document_column, run.config.data.summary_column)
        quality = summarizer_precision_table(
            onnx_dir_of(arguments), table.texts[: arguments.rouge_dialogues],
            table.labels[: arguments.rouge_dialogues], run.beams, END_ID,
        )
    if arguments.json:
        with open(arguments.json, "w", encoding="utf-8") as file:
            json.dump({"threads": arguments.threads, "new_tokens": tokens, "differ": differ,
                       "tokens_per_second": {f"{name} / {mode}": value for (name, mode), value in figures.items()},
                       "precisions": quality},
                      file, indent=2)


def onnx_dir_of(arguments):
    return os.path.join(arguments.version_dir, "onnx")


def summarizer_precision_table(onnx_dir, dialogues, references, beams, end_id):
    """File size, ROUGE, token agreement with float and batch-32 generation time, per precision."""
    from export.summarizer.int8_parity import token_agreement
    from export.summarizer.onnx_runner import OnnxSummarizer
    from export.summarizer.onnx_runner import tokens_until_end
    from export.summarizer.task import TASK
    from pipelines.summarization.rouge import corpus_rouge

    figures = {}
    for precision in onnx_precisions(onnx_dir):
        summarizer = OnnxSummarizer.load(onnx_dir, precision=precision)
        summarizer.summarize(dialogues[:2], beams=beams)  # warm up
        start = time.perf_counter()
        sequences, summaries = [], []
        for first in range(0, len(dialogues), BATCH):
            batch = dialogues[first : first + BATCH]
            summary_ids = summarizer.generate_ids(summarizer.tokenize(batch), beams=beams)
            sequences.extend(tokens_until_end(row, end_id) for row in summary_ids)
            summaries.extend(summarizer.texts_of(summary_ids, batch))
        elapsed = time.perf_counter() - start
        figures[precision] = {
            "megabytes": onnx_file_megabytes(onnx_dir, precision, TASK.onnx_model_files),
            "rouge": corpus_rouge(summaries, references),
            "token_agreement": token_agreement(figures["float32"]["sequences"], sequences)
            if figures else 1.0,
            "seconds": elapsed,
            "new_tokens": sum(len(sequence) for sequence in sequences),
            "sequences": sequences,
        }
    print(f"\nONNX precisions: {len(dialogues)} test dialogues, beams {beams}, batches of {BATCH}, "
          f"1 thread; load average {os.getloadavg()[0]:.1f}")
    print(f"{'precision':<11}{'files MB':>10}{'R-1':>8}{'R-2':>8}{'R-Lsum':>8}{'token agreement':>17}"
          f"{'seconds':>9}{'new tok/s':>11}")
    for precision, values in figures.items():
        rouge = values["rouge"]
        print(f"{precision:<11}{values['megabytes']:>10.2f}{rouge['rouge1']:>8.2f}{rouge['rouge2']:>8.2f}"
              f"{rouge['rougeLsum']:>8.2f}{values['token_agreement']:>17.2%}{values['seconds']:>9.1f}"
              f"{values['new_tokens'] / values['seconds']:>11.1f}")
    for values in figures.values():
        del values["sequences"]
    return figures


def main():
    from export.tasks import task_export
    from pipelines.common.errors import UserInputError
    from pipelines.common.sectioned_config import CLASSIFICATION
    from pipelines.common.sectioned_config import SUMMARIZATION

    arguments = parse_arguments()
    configure_tensorflow(arguments.threads)
    with open(os.path.join(arguments.version_dir, "model_card.json"), encoding="utf-8") as file:
        card = json.load(file)
    if arguments.run_dir is None:
        from export.model_card import source_run_dir

        arguments.run_dir = source_run_dir(card)
        if arguments.run_dir is None:
            sys.exit(f"error: the run {card['source_run']!r} of {arguments.version_dir} is not under runs/; pass --run-dir")
    try:
        arguments.task = task_export(card["task"])
    except UserInputError as error:
        sys.exit(f"error: {error}")
    benchmarks = {CLASSIFICATION: classifier_main, SUMMARIZATION: summarizer_main}
    if arguments.task.name not in benchmarks:
        sys.exit(f"error: no inference benchmark for the task {arguments.task.name!r} yet")
    benchmarks[arguments.task.name](arguments)


def classifier_main(arguments):
    run, runtimes = load_runtimes(arguments)
    from pipelines.common.data_paths import resolve_recorded_path
    from pipelines.common.tables import read_table

    source = arguments.texts or resolve_recorded_path(run.config.data.test, run.path, "data.test", "--texts")
    texts = read_table(source, run.config.data.text_column).texts
    single_texts = [[text] for text in texts[:SINGLE_TEXTS]]
    batch_texts = [texts[start : start + BATCH] for start in range(0, len(texts) - BATCH + 1, BATCH)][:8]
    single_ids = [run.tokenizer.tokenize(batch).numpy() for batch in single_texts]
    batch_ids = [run.tokenizer.tokenize(batch).numpy() for batch in batch_texts]
    print(f"{len(texts)} texts from {source}; {arguments.threads} TensorFlow intra-op threads "
          f"(1 inter-op), {arguments.rounds} interleaved rounds, medians; "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    results = {
        "texts in (tokenization included)": measure(runtimes, single_texts, batch_texts, arguments.rounds, "texts"),
        "token ids in (model only)": measure(runtimes, single_ids, batch_ids, arguments.rounds, "ids"),
    }
    for title, figures in results.items():
        print()
        print(format_table(title, figures))
    texts_in = results["texts in (tokenization included)"]
    ratio = texts_in["savedmodel"]["latency"] / texts_in[onnx_name(1)]["latency"]
    print(f"\nonnxruntime (default session, 1 thread) vs SavedModel at batch 1, texts in: "
          f"{ratio:.2f}× (target ≥ 1.5×)")
    quality = None
    if len(onnx_precisions(onnx_dir_of(arguments))) > 1:
        table = read_table(source, run.config.data.text_column, run.config.data.label_column)
        quality = classifier_precision_table(onnx_dir_of(arguments), table.texts, table.labels, run.labels)
    if arguments.json:
        with open(arguments.json, "w", encoding="utf-8") as file:
            json.dump({"threads": arguments.threads, "results": results, "precisions": quality}, file, indent=2)


def classifier_precision_table(onnx_dir, texts, references, labels):
    """File size, test accuracy and label agreement with float (batches of 32), per precision."""
    import numpy as np

    from export.classifier.int8_parity import accuracy
    from export.classifier.onnx_runner import OnnxClassifier
    from export.classifier.task import TASK

    label_ids = {}
    for precision in onnx_precisions(onnx_dir):
        classifier = OnnxClassifier.load(onnx_dir, precision=precision)
        label_ids[precision] = np.concatenate([
            classifier.predict_probabilities(texts[start : start + BATCH]).argmax(axis=-1)
            for start in range(0, len(texts), BATCH)
        ])
    figures = {
        precision: {
            "megabytes": onnx_file_megabytes(onnx_dir, precision, TASK.onnx_model_files),
            "accuracy": accuracy(ids, references, labels),
            "label_agreement": float(np.mean(ids == label_ids["float32"])),
        }
        for precision, ids in label_ids.items()
    }
    print(f"\nONNX precisions: all {len(texts)} test texts, batches of {BATCH}")
    print(f"{'precision':<11}{'file MB':>9}{'accuracy':>10}{'labels = float32':>18}")
    for precision, values in figures.items():
        print(f"{precision:<11}{values['megabytes']:>9.2f}{values['accuracy']:>10.4f}"
              f"{values['label_agreement']:>18.2%}")
    return figures


if __name__ == "__main__":
    main()
