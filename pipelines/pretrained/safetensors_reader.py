"""Reading float tensors from a Hugging Face directory's safetensors files, every problem one line.

    paths = find_weight_files(directory)       # model.safetensors, or the shards its index names
    headers = read_headers(paths, is_skipped)  # name → TensorHeader (dtype, shape); no data read
    problems = shape_problems({name: header.shape for name, header in headers.items()}, expected)
    tensors = read_tensors(headers)            # name → float32 NumPy array, refused if not finite

Nothing here knows a model family: the caller says which stored tensors it has no
use for and which shapes it expects, so that every name and shape is checked
from the headers before any tensor data is read. Files are read with
safetensors' NumPy API: no PyTorch, and never a pickle (`pytorch_model.bin`
files can run arbitrary code when loaded); a directory that holds only those is
refused with the command that converts it. Every problem is one
`UserInputError` line naming the file.
"""

import dataclasses
import glob
import os

import numpy as np

from pipelines.common.errors import UserInputError
from pipelines.common.finite import non_finite_count
from pipelines.pretrained.schema import WEIGHTS_INDEX_SCHEMA
from pipelines.pretrained.schema import read_checkpoint_json

WEIGHTS_FILE = "model.safetensors"
WEIGHTS_INDEX_FILE = "model.safetensors.index.json"

# safetensors dtype names of the float tensors that are read (as float32).
FLOAT_DTYPES = ("F16", "BF16", "F32", "F64")
CONVERT_TO_SAFETENSORS = (
    "python -c \"from transformers import AutoModel; "
    "AutoModel.from_pretrained('{directory}').save_pretrained('{directory}', safe_serialization=True)\""
)
MAX_LISTED_TENSORS = 10


def find_weight_files(directory):
    """The safetensors files holding the weights, in the order they are hashed."""
    single = os.path.join(directory, WEIGHTS_FILE)
    if os.path.isfile(single):
        return [single]
    index = os.path.join(directory, WEIGHTS_INDEX_FILE)
    if os.path.isfile(index):
        return shard_files(index, directory)
    if glob.glob(os.path.join(glob.escape(directory), "*.bin")):
        raise UserInputError(
            f"{directory} holds only PyTorch .bin weights: pickle files can run arbitrary code when "
            "loaded, so they are never read; convert them to safetensors with "
            + CONVERT_TO_SAFETENSORS.format(directory=directory)
        )
    raise UserInputError(
        f"{directory}: no weights file ({WEIGHTS_FILE} or {WEIGHTS_INDEX_FILE}); "
        "download the checkpoint's safetensors weights into it"
    )


def shard_files(index_path, directory):
    """The shards an index names, sorted by file name (model-00001-of-N first).

    The index is checked against `WEIGHTS_INDEX_SCHEMA`: every shard is a plain
    file name, so none is followed out of the directory.
    """
    index = read_checkpoint_json(index_path, WEIGHTS_INDEX_SCHEMA, "download the checkpoint's index file again")
    paths = []
    for shard in sorted(set(index["weight_map"].values())):
        path = os.path.join(directory, shard)
        if not os.path.isfile(path):
            raise UserInputError(f"{path} not found, but {WEIGHTS_INDEX_FILE} lists it; download the missing shard")
        paths.append(path)
    return paths


@dataclasses.dataclass(frozen=True)
class TensorHeader:
    """What a safetensors header says of one tensor: its file, dtype name ("F32") and shape."""

    path: str
    dtype: str
    shape: tuple


def read_headers(paths, is_skipped):
    """Stored name → `TensorHeader` of every tensor in the files; no tensor data is read.

    Tensors for which `is_skipped(stored_name)` is true (buffers, heads the
    caller has no use for) are left out whatever their dtype; any other tensor
    that is not float is refused here, as is a name stored in two files.
    """
    safe_open = import_safe_open()
    headers = {}
    for path in paths:
        with safetensors_errors(path):
            with safe_open(path, framework="numpy") as file:
                for name in file.keys():
                    if name in headers:
                        raise UserInputError(f"{path}: tensor {name!r} is also in another shard; fix the index")
                    if is_skipped(name):
                        continue  # never read: an int64 buffer, a head the caller replaces
                    tensor = file.get_slice(name)
                    dtype = tensor.get_dtype()
                    if dtype not in FLOAT_DTYPES:
                        raise UserInputError(
                            f"{path}: tensor {name!r} has dtype {dtype}; only float weights (F32, F16, BF16, F64) "
                            "are supported — use an unquantized checkpoint"
                        )
                    headers[name] = TensorHeader(path, dtype, tuple(tensor.get_shape()))
    return headers


class safetensors_errors:
    """Turns whatever safetensors raises for a bad file (its own SafetensorError,
    OSError, ...) into a one-line `UserInputError` naming the file."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if error is None or isinstance(error, UserInputError) or not isinstance(error, Exception):
            return False
        raise UserInputError(
            f"{self.path}: not a readable safetensors file ({first_line(error)}); download it again"
        ) from None


def read_tensors(headers):
    """The tensors `headers` lists, as float32 NumPy arrays under their stored names.

    Each tensor is checked for NaN and infinity once in float32 (a float64 value
    beyond float32's range becomes an infinity), naming the first that holds any.
    """
    safe_open = import_safe_open()
    tensors = {}
    for path in dict.fromkeys(header.path for header in headers.values()):
        names = [name for name, header in headers.items() if header.path == path]
        with safetensors_errors(path):
            with safe_open(path, framework="numpy") as file:
                for name in names:
                    tensor = read_float32(file, name, path)
                    check_finite(tensor, name, path)
                    tensors[name] = tensor
    return tensors


def import_safe_open():
    try:
        from safetensors import safe_open
    except ImportError:
        raise UserInputError(
            "reading checkpoints needs safetensors; run `pip install 'keras-attention-kit[pretrained]'`"
        ) from None
    return safe_open


def read_float32(file, name, path):
    dtype = file.get_slice(name).get_dtype()
    if dtype == "BF16":
        return read_bfloat16(file, name, path)
    with np.errstate(over="ignore"):  # a float64 value beyond float32's range: inf, refused next
        return np.ascontiguousarray(file.get_tensor(name), dtype=np.float32)


def read_bfloat16(file, name, path):
    """A bfloat16 tensor as float32 (exact). NumPy knows bfloat16 only once `ml_dtypes`
    (a Keras dependency) is imported; safetensors then returns such arrays."""
    try:
        import ml_dtypes  # noqa: F401  (registers the bfloat16 dtype with NumPy)

        tensor = file.get_tensor(name)
    except (ImportError, TypeError):
        tensor = None
    if tensor is None or tensor.dtype.name != "bfloat16":
        raise UserInputError(
            f"{path}: tensor {name!r} is bfloat16, which NumPy cannot read without ml_dtypes; "
            "`pip install ml-dtypes`, or convert the checkpoint to float32"
        )
    return np.ascontiguousarray(tensor, dtype=np.float32)


def check_finite(tensor, name, path):
    count = non_finite_count(tensor)
    if count:
        raise UserInputError(
            f"{path}: tensor {name!r} holds {count:,} NaN or infinite values (of {tensor.size:,}) in float32; "
            "the weights are corrupt or overflowed — download the checkpoint again"
        )


def first_line(error):
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def shape_problems(shapes, expected, optional_prefixes=()):
    """Every missing, unexpected and wrongly shaped tensor, as one line; "" if none.

    Args:
        shapes: dict. Tensor name → shape (a tuple), as the headers give them.
        expected: dict. Tensor name → the shape the model needs, in the order to list them.
        optional_prefixes: tuple of str. Groups of tensors a file may lack as a whole
            (a pooler): a group the file holds no tensor of is not missing; a group it
            holds any tensor of must be complete.

    Returns:
        `missing: a, b and N more; unexpected: ...; wrong shape: c expected (8,), found (4,)`.
    """
    absent_groups = tuple(
        prefix for prefix in optional_prefixes if not any(name.startswith(prefix) for name in shapes)
    )
    missing = [name for name in expected if name not in shapes and not name.startswith(absent_groups)]
    unexpected = [name for name in shapes if name not in expected]
    wrong_shapes = [
        f"{name} expected {expected[name]}, found {shape}"
        for name, shape in shapes.items()
        if name in expected and shape != expected[name]
    ]
    return listed_problems({"missing": missing, "unexpected": unexpected, "wrong shape": wrong_shapes})


def listed_problems(names_by_kind):
    """`kind: a, b and N more; ...` naming at most about MAX_LISTED_TENSORS tensors in all,
    at least one of each kind, so the message stays one readable line."""
    budget = MAX_LISTED_TENSORS
    parts = []
    for kind, names in names_by_kind.items():
        if not names:
            continue
        shown = names[: max(budget, 1)]
        budget -= len(shown)
        more = f" and {len(names) - len(shown)} more" if len(names) > len(shown) else ""
        parts.append(f"{kind}: {', '.join(shown)}{more}")
    return "; ".join(parts)
