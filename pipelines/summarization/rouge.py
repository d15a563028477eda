"""ROUGE-1, ROUGE-2 and ROUGE-Lsum F1 × 100 with Google's `rouge-score` package.

The settings are those of the anchor figures: rouge-score's default tokenizer
(lower-case, letters and digits only), Porter stemming, and ROUGE-Lsum over
sentences split by `sentences.split_sentences` (one per line, in predictions
and references alike). Corpus figures are the mean of per-summary F1 scores
(no bootstrap resampling, so they are deterministic).
"""

import numpy as np
from rouge_score import rouge_scorer

from pipelines.summarization.sentences import one_sentence_per_line

ROUGE_TYPES = ("rouge1", "rouge2", "rougeLsum")


def rouge_scores(predictions, references):
    """Per-summary F1 × 100 for each of `ROUGE_TYPES`.

    Args:
        predictions: list of str.
        references: list of str, parallel to `predictions`.

    Returns:
        A dict `{rouge_type: list of float}`.
    """
    if len(predictions) != len(references):
        raise ValueError(
            f"predictions and references differ in number: {len(predictions)} vs {len(references)}"
        )
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    per_summary = {rouge_type: [] for rouge_type in ROUGE_TYPES}
    for prediction, reference in zip(predictions, references):
        scores = scorer.score(one_sentence_per_line(reference), one_sentence_per_line(prediction))
        for rouge_type in ROUGE_TYPES:
            per_summary[rouge_type].append(100.0 * scores[rouge_type].fmeasure)
    return per_summary


def corpus_rouge(predictions, references):
    """Mean F1 × 100 over the corpus, rounded to 2 decimals: `{rouge_type: float}`.

    Example:

    >>> corpus_rouge(["the cat sat"], ["the cat sat down"])["rouge1"]
    85.71
    """
    if not predictions:
        raise ValueError("No predictions to score.")
    per_summary = rouge_scores(predictions, references)
    return {rouge_type: round(float(np.mean(values)), 2) for rouge_type, values in per_summary.items()}
