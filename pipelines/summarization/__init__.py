"""Abstractive summarization: an encoder-decoder Transformer from keras_attention layers.

    pairs = read_pairs("train.csv", "dialogue", "summary")
    tokenizer = SummarizationTokenizer(learn_vocabulary(pairs.documents + pairs.summaries, 8000))
    dataset = make_dataset(pairs.documents, pairs.summaries, tokenizer=tokenizer,
                           max_document_length=512, max_summary_length=80, shuffle=True)
    model = compile_summarizer(build_summarizer(ModelConfig(tokenizer.vocabulary_size)),
                               TrainingConfig())
    model.fit(dataset, epochs=..., callbacks=[WarmupCosineSchedule(1e-3, 300, total_steps)])
    summarizer = Summarizer(model, tokenizer, SummarizerConfig())
    generate(summarizer, ["Amanda: I baked cookies.\\nJerry: Sure!"], beams=4)
    corpus_rouge(predictions, references)   # ROUGE-1/2/Lsum F1 x 100

`train(config, out)` does all of it into a run directory, which `Summarizer.load`
reads back; `python -m pipelines.summarization` is the command line.

Names are imported on first use, so the Keras-only modules (`model`,
`fitting`, `config`) load without TensorFlow, as the JAX training route needs.
"""

import importlib

from pipelines.common.install_extras import explain_missing

_EXPORTS = {
    "build_summarizer": "pipelines.summarization.model",
    "compile_summarizer": "pipelines.summarization.fitting",
    "corpus_rouge": "pipelines.summarization.rouge",
    "evaluate_pairs": "pipelines.summarization.evaluation",
    "generate": "pipelines.summarization.summarizer",
    "GenerationConfig": "pipelines.summarization.config",
    "Generator": "pipelines.summarization.generation",
    "InferenceModel": "pipelines.summarization.inference",
    "learn_vocabulary": "pipelines.summarization.tokenizer",
    "make_dataset": "pipelines.summarization.datasets",
    "ModelConfig": "pipelines.summarization.config",
    "Pairs": "pipelines.summarization.data",
    "read_pairs": "pipelines.summarization.data",
    "SearchOptions": "pipelines.summarization.generation",
    "SummarizationTokenizer": "pipelines.summarization.tokenizer",
    "Summarizer": "pipelines.summarization.summarizer",
    "SummarizerConfig": "pipelines.summarization.config",
    "train": "pipelines.summarization.training",
    "TrainingConfig": "pipelines.summarization.config",
    "WarmupCosineSchedule": "pipelines.summarization.learning_rate",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    with explain_missing("pipelines"):
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
