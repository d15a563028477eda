"""`python -m export --help`."""

import os
import sys

# Export runs on the TensorFlow backend (`main` hides TensorFlow's start-up lines unless --verbose).
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from export.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
