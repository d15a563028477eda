"""Scoring a summarizer on (document, summary) pairs: ROUGE and predictions files."""

import json
import os
import time

from pipelines.common.atomic import write_json_atomic
from pipelines.common.atomic import write_text_atomic
from pipelines.summarization.rouge import corpus_rouge
from pipelines.summarization.summary_checks import summary_checks
from pipelines.summarization.trained import generate
from pipelines.summarization.trained import options_dict

EVALUATION_DIR = "evaluation"
SAMPLE_PREDICTIONS_FILE = "sample_predictions.jsonl"


def evaluate_pairs(summarizer, pairs, *, progress=True, batch_size=None, **search_overrides):
    """Generates summaries for `pairs` and scores them against the references.

    Args:
        summarizer: `Summarizer`.
        pairs: `Pairs` with summaries.
        progress: bool. Show a progress bar while generating.
        batch_size: int. Documents per generation batch.
        **search_overrides: search options of `generate` (beams, max_length, ...).

    Returns:
        `(report, predictions)`: a JSON-ready dict with `rouge1`, `rouge2`,
        `rougeLsum` (F1 × 100), names kept and invented and repetition
        (`summary_checks`), the search options, counts and timing; and the
        list of generated summaries.
    """
    options = summarizer.search_options(batch_size=batch_size, **search_overrides)
    start = time.perf_counter()
    predictions = generate(
        summarizer, pairs.documents, progress=progress, batch_size=batch_size, **search_overrides
    )
    seconds = time.perf_counter() - start
    report = corpus_rouge(predictions, pairs.summaries)
    report.update(summary_checks(predictions, pairs.summaries, pairs.documents))
    report.update(
        {
            "examples": len(pairs),
            "source": pairs.source,
            "search": options_dict(options),
            "generation_seconds": round(seconds, 1),
            "documents_per_second": round(len(pairs) / seconds, 2),
            "bad_rows": pairs.bad_rows.to_dict(),
        }
    )
    return report, predictions


def write_predictions(path, pairs, predictions, limit=None):
    """JSON Lines, one `{line, prediction, reference, document}` per example."""
    rows = []
    for index, prediction in enumerate(predictions[:limit] if limit else predictions):
        rows.append(
            json.dumps(
                {
                    "line": pairs.line_numbers[index],
                    "prediction": prediction,
                    "reference": pairs.summaries[index],
                    "document": pairs.documents[index],
                },
                ensure_ascii=False,
            )
        )
    write_text_atomic(path, "\n".join(rows) + "\n")


def evaluation_paths(run_dir, source, beams):
    """Where `evaluate` writes the ROUGE report and the predictions of one data file."""
    stem = os.path.splitext(os.path.basename(source.rstrip("/")))[0] or "data"
    stem = stem.replace(":", "_").replace("/", "_")
    base = os.path.join(run_dir, EVALUATION_DIR, f"{stem}.beams{beams}")
    return base + ".rouge.json", base + ".predictions.jsonl"


def write_evaluation(run_dir, pairs, report, predictions):
    """Writes the report and the predictions beside their references; returns both paths."""
    rouge_path, predictions_path = evaluation_paths(run_dir, pairs.source, report["search"]["beams"])
    write_predictions(predictions_path, pairs, predictions)
    write_json_atomic(rouge_path, report)
    return rouge_path, predictions_path
