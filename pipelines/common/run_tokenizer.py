"""Reading back the tokenizer a run directory holds, whichever kind it is: the learned
`WordPieceTokenizer` (`"type": "wordpiece"`) or a pretrained checkpoint's
`CheckpointTokenizer` (`"type": "checkpoint_wordpiece"`). A module of its own because it
needs both, and pipelines/pretrained/tokenizer.py builds on pipelines/common/tokenizer.py."""

import os

from pipelines.common.errors import UserInputError
from pipelines.common.run_files import read_json_file
from pipelines.common.tokenizer import SETTINGS_FILE
from pipelines.common.tokenizer import WordPieceTokenizer
from pipelines.pretrained.tokenizer import CheckpointTokenizer


def load_tokenizer(directory):
    """The tokenizer a run saved in `directory`, whichever kind its settings name."""
    settings_path = os.path.join(directory, SETTINGS_FILE)
    settings = read_json_file(settings_path)
    kind = settings.get("type") if isinstance(settings, dict) else None
    if kind == WordPieceTokenizer.TYPE:
        return WordPieceTokenizer.load(directory)
    if kind == CheckpointTokenizer.TYPE:
        return CheckpointTokenizer.load(directory)
    raise UserInputError(
        f"{settings_path}: unknown tokenizer type {kind!r} (expected 'wordpiece' or "
        "'checkpoint_wordpiece'); restore the run's tokenizer files or train again"
    )
