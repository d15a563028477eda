"""A finished summarization run, loaded: everything export needs from it."""

import dataclasses
import os

from export.run_loader import RunFiles
from pipelines.common.run_files import files_sha256
from pipelines.common.tokenizer import VOCABULARY_FILE
from pipelines.common.sectioned_config import SUMMARIZATION

DEFAULT_BEAMS = 4


@dataclasses.dataclass
class SummarizerRun(RunFiles):
    """A finished summarization run, loaded.

    Attributes:
        path: str. The run directory.
        summarizer: the pipeline's `Summarizer` (model, tokenizer, config);
            its generators are the Keras reference of the parity gate.
        metrics: dict. The run's `metrics.json` ({} if absent).
    """

    path: str
    summarizer: object
    metrics: dict
    task: str = SUMMARIZATION

    @property
    def config(self):
        return self.summarizer.config

    @property
    def model(self):
        return self.summarizer.model

    @property
    def tokenizer(self):
        return self.summarizer.tokenizer

    @property
    def is_warm_started(self):
        """Started from a checkpoint (`--init-from`): documents have a tokenizer of their own."""
        return self.config.model.init_from is not None

    @property
    def vocabulary_path(self):
        """The summaries' vocabulary: the ids the SavedModel's token-id signatures return."""
        if self.is_warm_started:
            from pipelines.summarization.warm_start_tokenizer import SUMMARIES_FOLDER

            return os.path.join(self.directory.tokenizer_dir, SUMMARIES_FOLDER, VOCABULARY_FILE)
        return super().vocabulary_path

    def vocabulary_sha256(self):
        """Of every vocabulary the run reads (a warm start: documents' and summaries')."""
        if self.is_warm_started:
            document_vocabulary = os.path.join(self.document_tokenizer_dir, VOCABULARY_FILE)
            return files_sha256([document_vocabulary, self.vocabulary_path])
        return super().vocabulary_sha256()

    @property
    def document_tokenizer_dir(self):
        """Where a warm-started run keeps its checkpoint's tokenizer."""
        from pipelines.summarization.warm_start_tokenizer import DOCUMENTS_FOLDER

        return os.path.join(self.directory.tokenizer_dir, DOCUMENTS_FOLDER)

    @property
    def max_document_length(self):
        return self.config.model.max_document_length

    @property
    def beams(self):
        """Beam width of the beam-search signature: the run's, or 4 if it decodes greedily."""
        return self.config.generation.beams if self.config.generation.beams > 1 else DEFAULT_BEAMS

    def search_options(self, beams):
        """The run's generation settings with `beams` (what `summarize --beams` uses)."""
        return self.summarizer.search_options(beams=beams)


def load_summarizer_run(directory):
    from pipelines.summarization.trained import Summarizer

    return SummarizerRun(
        path=directory.path,
        summarizer=Summarizer.load(directory.path),
        metrics=directory.read_json(directory.metrics_path, default={}),
    )
