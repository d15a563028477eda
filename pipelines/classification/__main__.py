"""`python -m pipelines.classification --help`."""

import os
import sys

# The pipeline's data path is tf.data. (TensorFlow's start-up lines are hidden
# by `main` unless --verbose: see pipelines.common.command_line.)
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from pipelines.common.install_extras import explain_missing  # noqa: E402
from pipelines.classification.cli import main  # noqa: E402

if __name__ == "__main__":
    with explain_missing("pipelines"):  # the commands import TensorFlow when they run
        status = main()
    sys.exit(status)
