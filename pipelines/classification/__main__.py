"""`python -m pipelines.classification --help`."""

import os
import sys

# The pipeline's data path is tf.data; quiet TensorFlow's start-up chatter.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pipelines.classification.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
