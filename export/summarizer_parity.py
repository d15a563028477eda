"""The summarizer's parity gate: Keras, the reloaded SavedModel and onnxruntime generate alike.

Every case is a list of dialogues and a search (greedy, or beam search with
the SavedModel's `beam_search` width). Each runtime goes from the raw text to
the summary on its own: Keras is the pipeline (`SummarizationTokenizer`, the
run's compiled `Generator`, `detokenize` and `restore_case`, which is what
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

import numpy as np

from export.parity import RUNTIMES
from export.summarizer_saved_model import SUMMARY_IDS_OUTPUT
from export.summarizer_saved_model import SUMMARY_OUTPUT
from export.summarizer_saved_model import TEXT_SIGNATURES
from export.saved_model import TOKENIZE

GREEDY_THRESHOLD = 0.99
BEAM_THRESHOLD = 0.95
THRESHOLDS = {"greedy": GREEDY_THRESHOLD, "beam": BEAM_THRESHOLD}
BATCH_SIZE = 8
SINGLE_DIALOGUES = 8


class SummaryParityCase:
    """Dialogues for one row of the parity table, and how to decode them."""

    def __init__(self, name, search, batch_size, texts):
        self.name = name
        self.search = search
        self.batch_size = batch_size
        self.texts = list(texts)


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
        from pipelines.summarization.postprocessing.python_text import restore_case

        new_texts = list(dict.fromkeys(text for text in texts if (search, text) not in self.answers))
        if new_texts:
            summarizer = self.run.summarizer
            generator = summarizer.generator(summarizer.search_options(beams=self.beams[search]))
            summary_ids = generator.generate_ids(self.token_ids(new_texts))
            lower_case = self.run.tokenizer.detokenize(summary_ids).numpy()
            for text, ids, summary in zip(new_texts, summary_ids, lower_case):
                self.answers[search, text] = (ids, restore_case(summary.decode("utf-8"), text))
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


def batches(items, batch_size):
    return [items[start : start + batch_size] for start in range(0, len(items), batch_size)]


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


def tokens_until_end(ids, end_id):
    ids = [int(token) for token in ids]
    return ids[: ids.index(end_id) + 1] if end_id in ids else [token for token in ids if token]


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


def one_token_dialogue(tokenizer):
    """A vocabulary word that the tokenizer turns into exactly one token."""
    for token in tokenizer.vocabulary:
        if token.isalpha() and len(tokenizer.tokenize([token]).to_list()[0]) == 1:
            return token
    raise ValueError("no vocabulary token tokenizes to a single id")


def long_dialogue(texts, tokenizer, max_document_length):
    """Test dialogues joined until the text is longer than the model's input (it is cut)."""
    pieces, length = [], 0
    for text in texts * (max_document_length + 1):
        pieces.append(text)
        length += len(tokenizer.tokenize([text]).to_list()[0])
        if length > max_document_length:
            break
    return "\n".join(pieces)


def summarizer_parity_cases(texts, tokenizer, max_document_length, beams):
    """The `SummaryParityCase`s for a summarizer, given real test dialogues."""
    texts = list(texts)
    long_text = long_dialogue(texts, tokenizer, max_document_length)
    return [
        SummaryParityCase(f"test dialogues, greedy, batches of {BATCH_SIZE}", "greedy", BATCH_SIZE, texts),
        SummaryParityCase("test dialogues, greedy, batch 1", "greedy", 1, texts[:SINGLE_DIALOGUES]),
        SummaryParityCase(f"test dialogues, beam {beams}, batches of {BATCH_SIZE}", "beam", BATCH_SIZE, texts),
        SummaryParityCase("one-token dialogue", "greedy", 1, [one_token_dialogue(tokenizer)]),
        SummaryParityCase("empty dialogue + a real one", "greedy", 2, ["", texts[0]]),
        SummaryParityCase(
            f"dialogue > {max_document_length} tokens (cut) + a short one, beam {beams}",
            "beam", 2, [long_text, texts[-1]],
        ),
    ]


def run_summarizer_parity(cases, runtimes, end_id, beams):
    """The parity report (parity.json contents) of `cases` over the three runtimes."""
    for search in THRESHOLDS:  # the pipeline generates every dialogue of a search in one call
        texts = [text for case in cases if case.search == search for text in case.texts]
        if texts:
            runtimes["keras"].summaries(texts, search)
    results = []
    for case in cases:
        outputs, tokenization_identical = run_case(case, runtimes)
        results.append(compare(case, outputs, tokenization_identical, end_id))
    return {
        "task": "summarization",
        "passed": all(result["passed"] for result in results),
        "thresholds": {"greedy": GREEDY_THRESHOLD, f"beam {beams}": BEAM_THRESHOLD},
        "runtimes": {
            "keras": "model.keras through the pipeline: tensorflow-text tokenizer, XLA-compiled "
            "generation, detokenize, restore_case (what `summarize` prints)",
            "savedmodel": "reloaded SavedModel text signatures (serving_default, beam_search)",
            "onnx": "onnxruntime encoder + decoder step, numpy search, tokenizers (Hugging Face)",
        },
        "cases": results,
    }


def format_summarizer_parity_table(report):
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
    widths = [max(len(row[column]) for row in [header] + lines) for column in range(len(header))]
    render = lambda row: "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()  # noqa: E731
    title = (
        "parity vs Keras: identical generated token sequences, "
        f"{'PASSED' if report['passed'] else 'FAILED'}"
    )
    return "\n".join([title, render(header)] + [render(line) for line in lines])
