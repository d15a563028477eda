"""Checks made before hours of work: the output folder can be written and has room.

A training run or an export that fails on its first checkpoint, or on its last
file, wastes everything before it. `check_writable` runs first (it creates the
folder and writes, fsyncs and removes a probe file); `check_free_space` runs
once the parameter count is known, before `fit` or before the export writes.
"""

import contextlib
import os
import shutil
import tempfile

from pipelines.common.errors import UserInputError

# Float32 copies of the weights a training run may hold on disk at once:
# model.keras (1) + best weights (1) + the backup with AdamW's two moments (3)
# + the backup's previous copy (3) + a temporary file while one is rewritten (3).
TRAINING_WEIGHT_COPIES = 11
# An export holds the SavedModel variables and the ONNX initializers, and
# briefly a replaced version beside the new one.
EXPORT_WEIGHT_COPIES = 4
BYTES_PER_PARAMETER = 4
# Logs, plots, tokenizer, history, graph definitions.
MARGIN_BYTES = 64 * 2**20


def check_writable(path):
    """Creates `path` if needed and writes, fsyncs and removes a probe file in it.

    Raises:
        UserInputError: the folder cannot be created or written, naming the
            path, the reason and the fix.
    """
    path = os.fspath(path)
    try:
        os.makedirs(path, exist_ok=True)
        descriptor, probe = tempfile.mkstemp(dir=path, prefix=".write-probe-")
        try:
            os.write(descriptor, b"\0" * 4096)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
            os.remove(probe)
    except OSError as error:
        reason = error.strerror or str(error)
        raise UserInputError(
            f"{path}: cannot write the output folder ({reason}); choose another --out "
            "or make it writable"
        ) from None


def required_bytes(parameters, weight_copies):
    """Disk space for `weight_copies` float32 copies of `parameters` weights, plus a margin."""
    return int(parameters) * BYTES_PER_PARAMETER * weight_copies + MARGIN_BYTES


def check_free_space(path, parameters, weight_copies=TRAINING_WEIGHT_COPIES):
    """Raises a user error unless the disk holding `path` has room for the run's files."""
    needed = required_bytes(parameters, weight_copies)
    free = shutil.disk_usage(os.fspath(path)).free
    if free < needed:
        raise UserInputError(
            f"{os.fspath(path)}: {format_bytes(free)} free, but a model of {int(parameters):,} "
            f"parameters needs about {format_bytes(needed)} for its files; free some space "
            "or choose another --out"
        )


def format_bytes(count):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024


@contextlib.contextmanager
def removed_if_start_fails(path):
    """Removes the folder `path` if the block raises and `path` did not exist before.

    Wraps the start of a run (output checks, data, vocabulary, config.json),
    never its training: a run that fails to start leaves no folder behind,
    while an interrupted one keeps its backup to resume from.
    """
    existed = os.path.lexists(path)
    try:
        yield
    except BaseException:
        if not existed and os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        raise


@contextlib.contextmanager
def undone_if_failed_before_backup(path, backup_dir, existed, log=print):
    """Wraps a fresh run's training: if it raises before its first backup, the run's
    files go, so that `--out` is as it was (removed if it did not exist, `existed`
    False; emptied otherwise) and rerunning starts afresh instead of "resuming" a
    run that never was. Said in one line through `log`.

    A run with a backup keeps everything: rerunning resumes from it. An
    interrupt (Ctrl-C) keeps everything too: rerunning resumes, or starts again.
    """
    try:
        yield
    except Exception:
        if os.path.isdir(backup_dir) and os.listdir(backup_dir):
            raise
        if not existed:
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.isdir(path):
            for name in os.listdir(path):
                entry = os.path.join(path, name)
                if os.path.isdir(entry) and not os.path.islink(entry):
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    os.remove(entry)
        log(f"{path}: the run failed before its first backup; its files were removed, so rerunning starts afresh")
        raise
