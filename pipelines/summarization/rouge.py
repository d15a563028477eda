"""ROUGE-1, ROUGE-2 and ROUGE-Lsum F1 × 100 with Google's `rouge-score` package.

The settings are those of the anchor figures: rouge-score's default tokenizer
(lower-case, letters and digits only), Porter stemming, and ROUGE-Lsum over
sentences split by `sentences.split_sentences` (one per line, in predictions
and references alike). Corpus figures are the mean of per-summary F1 scores
(no bootstrap resampling, so they are deterministic). `paired_bootstrap`
compares two systems on the same summaries.
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


def paired_bootstrap(scores, baseline_scores, *, samples=10_000, confidence=0.95, seed=0):
    """The mean per-summary difference `scores − baseline_scores` and its percentile
    bootstrap interval, resampling summaries with their pairs kept (Koehn 2004).

    Args:
        scores, baseline_scores: sequences of float, one per summary, the same
            summaries in the same order (e.g. `rouge_scores(...)["rouge1"]` of two
            systems).
        samples: int. Bootstrap resamples.
        confidence: float in (0, 1). The interval's coverage.
        seed: int. The resampling's seed, so a report can be reproduced.

    Returns:
        `{"difference", "low", "high"}` (floats, the scores' unit): the interval is
        above 0 when `low > 0`.
    """
    scores = np.asarray(scores, np.float64)
    baseline_scores = np.asarray(baseline_scores, np.float64)
    if scores.shape != baseline_scores.shape or scores.ndim != 1 or not len(scores):
        raise ValueError(
            "paired_bootstrap needs two equally long, non-empty lists of per-summary scores; "
            f"received {scores.shape} and {baseline_scores.shape}"
        )
    differences = scores - baseline_scores
    rng = np.random.default_rng(seed)
    means = np.empty(samples)
    for start in range(0, samples, 1000):  # bounded memory on large test sets
        rows = min(1000, samples - start)
        means[start : start + rows] = differences[rng.integers(0, len(differences), (rows, len(differences)))].mean(axis=1)
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(means, [tail, 100 - tail])
    return {"difference": float(differences.mean()), "low": float(low), "high": float(high)}
