"""Reading a trained run directory: which task it is, and everything export needs from it.

Export only reads the run directory, through the pipelines' public loaders
(`TrainedClassifier.load`, `Summarizer.load`, `RunDirectory`), so the model,
tokenizer, labels and generation settings are exactly the ones `predict`,
`summarize` and `evaluate` use. The task comes from config.json's `"task"`
(guessed from its sections for runs written before that key existed); each
task's `run.py` loads its kind of run.
"""

import os

from export.tasks import task_export
from pipelines.common.errors import UserInputError
from pipelines.common.run_directory import RunDirectory
from pipelines.common.run_files import files_sha256
from pipelines.common.sectioned_config import config_task
from pipelines.common.tokenizer import VOCABULARY_FILE


class RunFiles:
    """What every kind of run shares: the run directory and its vocabulary file."""

    @property
    def directory(self):
        return RunDirectory(self.path)

    @property
    def vocabulary_path(self):
        return os.path.join(self.directory.tokenizer_dir, VOCABULARY_FILE)

    def vocabulary_sha256(self):
        return files_sha256([self.vocabulary_path])


def detect_task(config):
    """The task name of a run from its config.json contents."""
    task = config_task(config)
    if task is None:
        raise UserInputError(
            "cannot tell the task of this run from its config.json; "
            "export a run directory written by `python -m pipelines.classification train` "
            "or `python -m pipelines.summarization train`"
        )
    return task


def load_run(run_dir):
    """The loaded run in `run_dir`; raises a user error for anything unusable."""
    directory = RunDirectory(run_dir)
    directory.require_finished()
    config = directory.read_json(directory.config_path)
    if config is None:
        raise UserInputError(f"{directory.config_path} not found; is {run_dir} a run directory?")
    return task_export(detect_task(config)).load_run(directory)
