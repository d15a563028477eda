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

from pipelines.common.lazy_exports import lazy_exports

_EXPORTS = {
    "build_summarizer": "pipelines.summarization.model",
    "compile_summarizer": "pipelines.summarization.fitting",
    "corpus_rouge": "pipelines.summarization.rouge",
    "DecodingSettings": "pipelines.decoding.settings",
    "evaluate_pairs": "pipelines.summarization.evaluation",
    "generate": "pipelines.summarization.trained",
    "GenerationConfig": "pipelines.summarization.config",
    "Generator": "pipelines.summarization.generation",
    "InferenceModel": "pipelines.summarization.inference",
    "learn_vocabulary": "pipelines.summarization.tokenizer",
    "make_dataset": "pipelines.summarization.data",
    "ModelConfig": "pipelines.summarization.config",
    "Pairs": "pipelines.summarization.pairs",
    "read_pairs": "pipelines.summarization.pairs",
    "SearchOptions": "pipelines.summarization.generation",  # DecodingSettings' former name
    "SummarizationTokenizer": "pipelines.summarization.tokenizer",
    "Summarizer": "pipelines.summarization.trained",
    "SummarizerConfig": "pipelines.summarization.config",
    "train": "pipelines.summarization.training",
    "TrainingConfig": "pipelines.summarization.config",
    "WarmupCosineSchedule": "pipelines.summarization.learning_rate",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, extra="pipelines")
