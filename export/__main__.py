"""`python -m export --help`."""

import os
import sys

# Quiet TensorFlow's start-up chatter; export runs on the TensorFlow backend.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from export.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
