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
"""

from pipelines.summarization.config import GenerationConfig
from pipelines.summarization.config import ModelConfig
from pipelines.summarization.config import SummarizerConfig
from pipelines.summarization.config import TrainingConfig
from pipelines.summarization.data import Pairs
from pipelines.summarization.data import read_pairs
from pipelines.summarization.datasets import make_dataset
from pipelines.summarization.evaluation import evaluate_pairs
from pipelines.summarization.generation import Generator
from pipelines.summarization.generation import SearchOptions
from pipelines.summarization.inference import InferenceModel
from pipelines.summarization.learning_rate import WarmupCosineSchedule
from pipelines.summarization.model import build_summarizer
from pipelines.summarization.rouge import corpus_rouge
from pipelines.summarization.summarizer import Summarizer
from pipelines.summarization.summarizer import generate
from pipelines.summarization.tokenizer import SummarizationTokenizer
from pipelines.summarization.tokenizer import learn_vocabulary
from pipelines.summarization.training import compile_summarizer
from pipelines.summarization.training import train

__all__ = [
    "GenerationConfig",
    "Generator",
    "InferenceModel",
    "ModelConfig",
    "Pairs",
    "SearchOptions",
    "Summarizer",
    "SummarizerConfig",
    "SummarizationTokenizer",
    "TrainingConfig",
    "WarmupCosineSchedule",
    "build_summarizer",
    "compile_summarizer",
    "corpus_rouge",
    "evaluate_pairs",
    "generate",
    "learn_vocabulary",
    "make_dataset",
    "read_pairs",
    "train",
]
