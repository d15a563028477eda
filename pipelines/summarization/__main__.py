"""`python -m pipelines.summarization train | evaluate | summarize` (see cli.py)."""

import sys

from pipelines.common.install_extras import explain_missing
from pipelines.summarization.cli import main

with explain_missing("pipelines"):  # the commands import TensorFlow when they run
    status = main()
sys.exit(status)
