"""The layout of a run directory, the one place that names its files.

    RUN_DIR/
      config.json            everything needed to rebuild the run
      tokenizer/             vocabulary.txt + tokenizer.json
      model.keras            the trained model (loads with safe_mode=True)
      metrics.json           validation/test figures and bad-row reports
      history.json           per-epoch losses and metrics
      training_curves.png, confusion_matrix.png
      logs/                  TensorBoard
      checkpoints/           best weights so far (survives interruptions)
      snapshots/             weights every N minutes of training, when asked (learning curves)
      backup/                BackupAndRestore state; present only while a run is unfinished
"""

import os
import shutil

from pipelines.common.atomic import write_json_atomic
from pipelines.common.errors import UserInputError
from pipelines.common.run_files import read_json_file

# Training steps between two backups in backup/ (one is also made at every epoch end).
DEFAULT_BACKUP_STEPS = 100


class RunDirectory:
    """Paths inside one run directory, and its state (fresh, interrupted, finished)."""

    def __init__(self, path):
        self.path = os.fspath(path)

    def _join(self, *parts):
        return os.path.join(self.path, *parts)

    @property
    def config_path(self):
        return self._join("config.json")

    @property
    def tokenizer_dir(self):
        return self._join("tokenizer")

    @property
    def model_path(self):
        return self._join("model.keras")

    @property
    def metrics_path(self):
        return self._join("metrics.json")

    @property
    def history_path(self):
        return self._join("history.json")

    @property
    def training_curves_path(self):
        return self._join("training_curves.png")

    @property
    def confusion_matrix_path(self):
        return self._join("confusion_matrix.png")

    @property
    def logs_dir(self):
        return self._join("logs")

    @property
    def best_weights_path(self):
        return self._join("checkpoints", "best.weights.h5")

    @property
    def backup_dir(self):
        return self._join("backup")

    @property
    def snapshots_dir(self):
        return self._join("snapshots")

    def is_finished(self):
        return os.path.exists(self.model_path)

    def is_interrupted(self):
        """A run started here and has not finished: `train` resumes it."""
        return not self.is_finished() and os.path.exists(self.config_path)

    def has_files(self):
        return os.path.isdir(self.path) and bool(os.listdir(self.path))

    def create(self):
        os.makedirs(self.path, exist_ok=True)

    def clear(self):
        """Removes everything a previous run left (for `--overwrite`)."""
        if os.path.isdir(self.path):
            shutil.rmtree(self.path)
        self.create()

    def require_finished(self):
        """Raises a user error unless this holds a finished run."""
        if not os.path.isdir(self.path):
            raise UserInputError(f"{self.path}: no such run directory; pass the --out of a `train` run")
        if not self.is_finished() and not os.path.exists(self.config_path):
            raise UserInputError(
                f"{self.path}: not a run directory (no config.json, no model.keras); "
                "pass the --out of a `train` run"
            )
        if not self.is_finished():
            raise UserInputError(
                f"{self.path}: no model.keras — training has not finished; "
                "rerun the same `train` command to resume it"
            )

    def read_json(self, path, default=None):
        if not os.path.exists(path):
            return default
        return read_json_file(path)

    def write_json(self, path, data):
        write_json_atomic(path, data)
