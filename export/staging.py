"""Publishing a version folder atomically.

Everything is written into a staging folder beside the version
(`NAME/.staging-VERSION-pidPID`), which TF Serving ignores because its name is
not all digits, and renamed to `NAME/VERSION` only once the export succeeded.
A server polling the base path therefore sees no version or a complete one. A
process killed mid-way leaves only its staging folder, which the next export
of the same model removes. One killed between the two renames of `--overwrite`
leaves the old version as `NAME/.replaced-VERSION-pidPID`; the next export puts
it back if no version took its place.
"""

import contextlib
import os
import re
import shutil

from pipelines.common.errors import UserInputError

_LEFTOVER = re.compile(r"^\.(staging|replaced)-(\d+)-pid(\d+)$")
REJECTED_PREFIX = "rejected-"


class VersionStaging:
    """A staging folder for `model_dir/version`.

    Args:
        model_dir: str. `saved_models/NAME`.
        version: int. The version to publish.
        overwrite: bool. Replace a published version of that number.

    Use `open()` to create the folder, write into `.path`, then `publish()`;
    `discard()` (or `reject()`, which keeps the files for inspection) otherwise.
    """

    def __init__(self, model_dir, version, overwrite=False):
        self.model_dir = os.fspath(model_dir)
        self.version = version
        self.overwrite = overwrite
        self.target = os.path.join(self.model_dir, str(version))
        self.path = os.path.join(self.model_dir, f".staging-{version}-pid{os.getpid()}")

    def open(self):
        os.makedirs(self.model_dir, exist_ok=True)
        remove_abandoned_staging(self.model_dir)  # may put a version back: check after
        self.check_target_free()
        shutil.rmtree(self.path, ignore_errors=True)
        os.makedirs(self.path)
        return self

    def check_target_free(self):
        if os.path.exists(self.target) and not self.overwrite:
            raise UserInputError(
                f"{self.target} already exists; choose another --version or pass --overwrite"
            )

    def publish(self):
        """Renames the staging folder to the version folder (replacing it if asked)."""
        self.check_target_free()
        if not os.path.exists(self.target):
            os.rename(self.path, self.target)
            return self.target
        # Two renames: the old version disappears for an instant, never half-replaced.
        replaced = os.path.join(self.model_dir, f".replaced-{self.version}-pid{os.getpid()}")
        os.rename(self.target, replaced)
        try:
            os.rename(self.path, self.target)
        except OSError:
            os.rename(replaced, self.target)
            raise
        shutil.rmtree(replaced, ignore_errors=True)
        return self.target

    def reject(self):
        """Keeps a failed export as `NAME/rejected-VERSION` (never served) and returns it."""
        rejected = os.path.join(self.model_dir, f"{REJECTED_PREFIX}{self.version}")
        shutil.rmtree(rejected, ignore_errors=True)
        os.rename(self.path, rejected)
        return rejected

    def discard(self):
        shutil.rmtree(self.path, ignore_errors=True)


@contextlib.contextmanager
def staged_version(model_dir, version, overwrite=False):
    """Yields an open `VersionStaging`; discards its folder if the block raises."""
    staging = VersionStaging(model_dir, version, overwrite).open()
    try:
        yield staging
    except BaseException:
        staging.discard()
        raise


def remove_abandoned_staging(model_dir):
    """Cleans up after exports whose process no longer runs (killed exports).

    Their staging folders are removed. A version they were replacing is put
    back under its number when no version took its place, else removed.
    """
    for entry in os.listdir(model_dir):
        match = _LEFTOVER.match(entry)
        if not match or process_is_alive(int(match.group(3))):
            continue
        path = os.path.join(model_dir, entry)
        version_path = os.path.join(model_dir, match.group(2))
        if match.group(1) == "replaced" and not os.path.exists(version_path):
            os.rename(path, version_path)
        else:
            shutil.rmtree(path, ignore_errors=True)


def process_is_alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
