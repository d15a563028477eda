"""`python -m pipelines.jax_training`: the earlier name of
`python -m pipelines.summarization.jax_training`, kept so existing commands work."""

import sys

from pipelines.summarization.jax_training import main

if __name__ == "__main__":
    sys.exit(main())
