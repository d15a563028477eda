"""`python -m pipelines.summarization train | evaluate | summarize` (see cli.py)."""

import sys

from pipelines.summarization.cli import main

sys.exit(main())
