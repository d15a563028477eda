"""A trained summarizer (model, tokenizer, settings) and `generate`, texts in, summaries out."""

from pipelines.common.errors import UserInputError
from pipelines.common.progress import progress_bar
from pipelines.common.run_directory import RunDirectory
from pipelines.common.run_files import load_keras_model
from pipelines.common.text_input import check_texts
from pipelines.summarization.config import SummarizerConfig
from pipelines.summarization.generation import Generator
from pipelines.summarization.postprocessing.python_text import restore_document_form
from pipelines.summarization.warm_start_tokenizer import load_tokenizer


class Summarizer:
    """The pieces generation needs, and its compiled generators (reused across calls).

    Args:
        model: the Keras summarizer.
        tokenizer: `SummarizationTokenizer` or `WarmStartTokenizer`.
        config: `SummarizerConfig`; its `generation` section holds the
            default search settings and `model.max_document_length` the
            encoder's input length.
    """

    def __init__(self, model, tokenizer, config):
        self.model = model
        self.tokenizer = tokenizer
        self.config = config
        self._generators = {}

    @classmethod
    def load(cls, run_dir):
        """Loads a finished run directory written by `train`."""
        run = RunDirectory(run_dir)
        run.require_finished()
        config = SummarizerConfig.load(run.config_path)
        tokenizer = load_tokenizer(run.tokenizer_dir)
        model = load_keras_model(run.model_path)
        return cls(model, tokenizer, config)

    def search_options(self, **overrides):
        """`DecodingSettings`: the run's generation section with the non-None overrides."""
        try:
            return self.config.generation.with_overrides(**overrides)
        except ValueError as error:
            raise UserInputError(f"bad generation option: {error}") from None

    def generator(self, options, batch_size=None, use_cache=True, jit_compile=True):
        """The compiled `Generator` for these `DecodingSettings`, built on first use."""
        batch_size = batch_size or options.batch_size
        key = (options.key(), batch_size, use_cache, jit_compile)
        if key not in self._generators:
            self._generators[key] = Generator(
                self.model,
                options,
                max_document_length=self.config.model.max_document_length,
                batch_size=batch_size,
                use_cache=use_cache,
                jit_compile=jit_compile,
            )
        return self._generators[key]


def generate(
    summarizer,
    documents,
    *,
    beams=None,
    max_length=None,
    min_length=None,
    length_penalty=None,
    no_repeat_ngram_size=None,
    repeat_previous_token=None,
    batch_size=None,
    progress=False,
    restore_capitals=True,
    return_ids=False,
):
    """Summaries of `documents` by greedy (`beams=1`) or beam search.

    Options left as None take the run's defaults (`config.generation`).

    Args:
        summarizer: `Summarizer`.
        documents: list of str.
        beams: int. Beam width; 1 is greedy search.
        max_length: int. Most tokens per summary, `[EOS]` included.
        min_length: int. Fewest tokens before the summary may end.
        length_penalty: float. Beam scores are divided by length ** this.
        no_repeat_ngram_size: int. Never repeat an n-gram of this size; 0: off.
        repeat_previous_token: bool. Whether a token may follow itself.
        batch_size: int. Documents per compiled batch.
        progress: bool. Show progress: Keras's bar on a terminal, a plain
            line every 30 seconds otherwise (`progress_bar`).
        restore_capitals: bool. Write names, sentence starts and words with
            punctuation inside (`#Name#`, "3:30pm") as the document does (see
            `postprocessing/python_text.py`). Defaults to True.
        return_ids: bool. Also return each summary's generated ids (None for
            an empty document). Defaults to False.

    Returns:
        A list of str, one summary per document; an empty (or whitespace-only)
        document gets an empty summary. Anything but a list of UTF-8 texts is
        a `UserInputError`. With `return_ids`, `(summaries, ids)`.
    """
    documents = check_texts(documents, "document")
    options = summarizer.search_options(
        beams=beams, max_length=max_length, min_length=min_length,
        length_penalty=length_penalty, no_repeat_ngram_size=no_repeat_ngram_size,
        repeat_previous_token=repeat_previous_token, batch_size=batch_size,
    )
    to_summarize = [document for document in documents if document.strip()]
    if not to_summarize:
        return ([""] * len(documents), [None] * len(documents)) if return_ids else [""] * len(documents)
    generator = summarizer.generator(options)
    document_ids = summarizer.tokenizer.tokenize(to_summarize).to_list()
    bar = progress_bar(len(to_summarize), unit_name="document") if progress else None
    try:
        summary_ids = generator.generate_ids(document_ids, progress=bar)
    finally:
        getattr(bar, "close", lambda: None)()  # plain lines' heartbeat; Keras's bar has none
    summaries = [
        text.decode("utf-8") for text in summarizer.tokenizer.detokenize(summary_ids).numpy()
    ]
    if restore_capitals:
        summaries = [restore_document_form(summary, document) for summary, document in zip(summaries, to_summarize)]
    summaries, rows = iter(summaries), iter(summary_ids)
    kept = [document.strip() for document in documents]
    summaries = [next(summaries) if document else "" for document in kept]
    if return_ids:
        return summaries, [next(rows) if document else None for document in kept]
    return summaries


def options_dict(options):
    """JSON-ready `DecodingSettings`."""
    return options.to_dict()

