"""The summarizer's parity gate: Keras, the reloaded SavedModel and onnxruntime generate alike.

Every case is a list of dialogues and a search (greedy, or beam search with
the SavedModel's `beam_search` width). Each runtime goes from the raw text to
the summary on its own: Keras is the pipeline (`SummarizationTokenizer`, the
run's compiled `Generator`, `detokenize` and `restore_document_form`, which is what
`summarize` does, batched as the pipeline batches); the SavedModel runs its
text signature in batches of the case's size; onnxruntime runs
`OnnxSummarizer` (`tokenizers`, numpy search loops) in the same batches.

A case passes when the generated token sequences equal Keras's on at least
`GREEDY_THRESHOLD` (99%) of its dialogues for greedy search and
`BEAM_THRESHOLD` (95%) for beam search, when the dialogues are tokenized
identically by all three, and when every identical token sequence also gives
the identical summary text. Float rounding differs between the runtimes (XLA
for Keras, TensorFlow kernels for the SavedModel, onnxruntime), so a near-tie
between two tokens can go either way; every differing dialogue is listed.
"""

import os

import numpy as np

from export import layout
from export.parity_report import RUNTIMES
from export.parity_report import batches
from export.parity_report import parity_report
from export.parity_report import render_table
from export.parity_report import verdict
from export.parity_report import with_int8_entry
from export.serving import TOKENIZE
from export.serving import load_saved_model
from export.summarizer.int8_parity import format_int8_line
from export.summarizer.int8_parity import int8_entry
from export.summarizer.onnx_runner import OnnxSummarizer
from export.summarizer.onnx_runner import tokens_until_end
from export.summarizer.parity_cases import summarizer_parity_cases
from export.summarizer.saved_model import SUMMARY_IDS_OUTPUT
from export.summarizer.saved_model import SUMMARY_OUTPUT
from export.summarizer.saved_model import TEXT_SIGNATURES
from pipelines.common.sectioned_config import SUMMARIZATION
from pipelines.summarization.tokenizer import END_ID

GREEDY_THRESHOLD = 0.99
BEAM_THRESHOLD = 0.95
THRESHOLDS = {"greedy": GREEDY_THRESHOLD, "beam": BEAM_THRESHOLD}


def check_parity(run, version_dir, texts, references=None, log=None):
    """The summarizer's parity report of the artifacts in `version_dir`, each reloaded from disk.

    With int8 files (`--quantize int8`), the report's `"int8"` entry compares
    them with the float files on `texts`, scored against `references`. `log`
    takes a progress line per case.
    """
    cases = summarizer_parity_cases(texts, run.tokenizer, run.max_document_length, run.beams)
    report = run_summarizer_parity(cases, load_runtimes(run, version_dir), END_ID, run.beams, log)
    return with_int8_entry(
        report, version_dir, lambda onnx_dir: int8_entry(onnx_dir, texts, references, run.beams, END_ID)
    )


def load_runtimes(run, version_dir):
    """The three runtimes of a version: the run's pipeline and the reloaded artifacts."""
    return {
        "keras": KerasSummarizerRuntime(run, run.beams),
        "savedmodel": SavedModelSummarizerRuntime(load_saved_model(version_dir)),
        "onnx": OnnxSummarizerRuntime(
            OnnxSummarizer.load(os.path.join(version_dir, layout.ONNX_DIR)), run.beams
        ),
    }


class KerasSummarizerRuntime:
    """The pipeline: tokenizer, compiled generator, detokenizer, truecasing."""

    def __init__(self, run, beams):
        self.run = run
        self.beams = {"greedy": 1, "beam": beams}
        self.answers = {}  # (search, text) → (ids, summary)

    def token_ids(self, texts):
        return self.run.tokenizer.tokenize(texts).to_list()

    def summaries(self, texts, search):
        """Generated ids and texts; dialogues seen before (with this search) are not redone."""
        from pipelines.summarization.postprocessing.python_text import restore_document_form

        new_texts = list(dict.fromkeys(text for text in texts if (search, text) not in self.answers))
        if new_texts:
            summarizer = self.run.summarizer
            generator = summarizer.generator(summarizer.search_options(beams=self.beams[search]))
            summary_ids = generator.generate_ids(self.token_ids(new_texts))
            lower_case = self.run.tokenizer.detokenize(summary_ids).numpy()
            for text, ids, summary in zip(new_texts, summary_ids, lower_case):
                self.answers[search, text] = (ids, restore_document_form(summary.decode("utf-8"), text))
        answers = [self.answers[search, text] for text in texts]
        return np.stack([ids for ids, _ in answers]), [summary for _, summary in answers]


class SavedModelSummarizerRuntime:
    def __init__(self, saved_model):
        self.signatures = saved_model.signatures

    def token_ids(self, texts):
        token_ids = self.signatures[TOKENIZE](texts=np.array(texts, dtype=object))["token_ids"].numpy()
        return [row[row != 0].tolist() for row in token_ids]

    def summaries(self, texts, search):
        outputs = self.signatures[TEXT_SIGNATURES[search]](texts=np.array(texts, dtype=object))
        return (
            outputs[SUMMARY_IDS_OUTPUT].numpy(),
            [text.decode("utf-8") for text in outputs[SUMMARY_OUTPUT].numpy()],
        )


class OnnxSummarizerRuntime:
    def __init__(self, onnx_summarizer, beams):
        self.summarizer = onnx_summarizer
        self.beams = {"greedy": 1, "beam": beams}

    def token_ids(self, texts):
        return self.summarizer.tokenize(texts)

    def summaries(self, texts, search):
        summary_ids = self.summarizer.generate_ids(self.summarizer.tokenize(texts), beams=self.beams[search])
        return summary_ids, self.summarizer.texts_of(summary_ids, texts)


def run_case(case, runtimes):
    """`{runtime: (ids (rows, max_length), texts)}` and whether the tokenizations agree."""
    keras_ids = runtimes["keras"].token_ids(case.texts)
    tokenization_identical = all(
        runtimes[name].token_ids(case.texts) == keras_ids for name in RUNTIMES[1:]
    )
    outputs = {"keras": runtimes["keras"].summaries(case.texts, case.search)}
    for name in RUNTIMES[1:]:
        parts = [runtimes[name].summaries(texts, case.search) for texts in batches(case.texts, case.batch_size)]
        outputs[name] = (np.concatenate([ids for ids, _ in parts]), [t for _, texts in parts for t in texts])
    return outputs, tokenization_identical


def compare(case, outputs, tokenization_identical, end_id):
    """One parity-table row as a dict (also the case's entry in parity.json)."""
    keras_ids, keras_texts = outputs["keras"]
    rows = len(case.texts)
    identical = {}
    text_differs_on_identical_tokens = 0
    mismatched_rows = set()
    for name in RUNTIMES[1:]:
        ids, texts = outputs[name]
        same = [np.array_equal(ids[row], keras_ids[row]) for row in range(rows)]
        identical[name] = int(sum(same))
        mismatched_rows.update(row for row in range(rows) if not same[row])
        text_differs_on_identical_tokens += sum(
            same[row] and texts[row] != keras_texts[row] for row in range(rows)
        )
        mismatched_rows.update(
            row for row in range(rows) if same[row] and texts[row] != keras_texts[row]
        )
    threshold = THRESHOLDS[case.search]
    fractions = {name: count / rows for name, count in identical.items()}
    passed = (
        all(fraction >= threshold for fraction in fractions.values())
        and tokenization_identical
        and not text_differs_on_identical_tokens
    )
    return {
        "case": case.name,
        "search": case.search,
        "rows": rows,
        "batch_size": case.batch_size,
        "identical_sequences": identical,
        "identical_fraction": fractions,
        "threshold": threshold,
        "token_ids_identical": tokenization_identical,
        "texts_identical_where_tokens_are": not text_differs_on_identical_tokens,
        "passed": bool(passed),
        "mismatches": [
            {
                "row": row,
                "dialogue": case.texts[row],
                **{
                    name: {
                        "summary_ids": tokens_until_end(outputs[name][0][row], end_id),
                        "summary": outputs[name][1][row],
                    }
                    for name in RUNTIMES
                },
            }
            for row in sorted(mismatched_rows)
        ],
    }


def run_summarizer_parity(cases, runtimes, end_id, beams, log=None):
    """The parity report (parity.json contents) of `cases` over the three runtimes."""
    for search in THRESHOLDS:  # the pipeline generates every dialogue of a search in one call
        texts = [text for case in cases if case.search == search for text in case.texts]
        if texts:
            if log is not None:
                log(f"    Keras: {search} summaries of {len(texts)} dialogues")
            runtimes["keras"].summaries(texts, search)

    def check_case(case):
        outputs, tokenization_identical = run_case(case, runtimes)
        return compare(case, outputs, tokenization_identical, end_id)

    return parity_report(
        SUMMARIZATION,
        cases,
        check_case,
        criteria={"thresholds": {"greedy": GREEDY_THRESHOLD, f"beam {beams}": BEAM_THRESHOLD}},
        runtimes={
            "keras": "model.keras through the pipeline: tensorflow-text tokenizer, XLA-compiled "
            "generation, detokenize, restore_document_form (what `summarize` prints)",
            "savedmodel": "reloaded SavedModel text signatures (serving_default, beam_search)",
            "onnx": "onnxruntime encoder + decoder step, numpy search, tokenizers (Hugging Face)",
        },
        log=log,
    )


def format_parity_table(report):
    """The summarizer's parity report as a fixed-width table for the terminal."""
    header = ("case", "rows", "same SavedModel", "same ONNX", "needed", "token ids", "texts", "result")
    lines = []
    for result in report["cases"]:
        identical = result["identical_sequences"]
        lines.append(
            (
                result["case"],
                str(result["rows"]),
                f"{identical['savedmodel']}/{result['rows']}",
                f"{identical['onnx']}/{result['rows']}",
                f"{result['threshold']:.0%}",
                "same" if result["token_ids_identical"] else "differ",
                "same" if result["texts_identical_where_tokens_are"] else "differ",
                "ok" if result["passed"] else "FAIL",
            )
        )
    title = f"parity vs Keras: identical generated token sequences, {verdict(report['passed'])}"
    table = render_table(title, header, lines)
    return table + "\n" + format_int8_line(report["int8"]) if "int8" in report else table
