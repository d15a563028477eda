"""Data paths as a run's config.json records them, and as commands read them back.

`train` records local files as absolute paths, so `evaluate`, `export` and a
resumed `train` find them from any working folder; dataset names
(`tfds:…`, `hf:…`) stay as given. Runs written before recorded paths as typed:
those are tried from the working folder, then from the run directory.
"""

import os

from pipelines.common.errors import UserInputError
from pipelines.common.tables import REMOTE_PREFIXES

DATA_SPLITS = ("train", "valid", "test")


def is_local_path(source):
    return source is not None and not source.startswith(REMOTE_PREFIXES)


def recorded_path(source):
    """`source` as config.json records it: absolute if it is a local path."""
    return os.path.abspath(source) if is_local_path(source) else source


def with_recorded_paths(data_config):
    """Sets the data section's `train`, `valid` and `test` to their recorded form."""
    for split in DATA_SPLITS:
        setattr(data_config, split, recorded_path(getattr(data_config, split)))
    return data_config


def resolve_recorded_path(source, run_dir, field, flag):
    """The existing file a run's recorded `source` names, or a user error.

    Args:
        source: str. The path from config.json (`field`, e.g. `data.test`).
        run_dir: str. The run directory the config.json belongs to.
        field: str. The config key, for the message.
        flag: str. The option that replaces the recorded path, for the message.
    """
    if not is_local_path(source):
        return source
    candidates = [source] if os.path.isabs(source) else [source, os.path.join(run_dir, source)]
    for candidate in candidates:
        if os.path.isfile(candidate):
            return candidate
    raise UserInputError(
        f"{source} (recorded as {field} in {os.path.join(run_dir, 'config.json')}): no such file; "
        f"pass {flag} FILE to use another"
    )
