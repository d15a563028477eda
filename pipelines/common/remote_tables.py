"""Records from online datasets: TensorFlow Datasets and Hugging Face `datasets`.

Both libraries are optional (`pip install "keras-attention-kit[datasets]"`) and
need network access; without them the user gets a one-line error saying so.

Source syntax:
    tfds:NAME:SPLIT            e.g. tfds:glue/sst2:validation
    hf:NAME[,CONFIG]:SPLIT     e.g. hf:stanfordnlp/sst2:train, hf:nyu-mll/glue,sst2:train
"""

import importlib

from pipelines.common.errors import UserInputError

INSTALL_HINT = 'pip install "keras-attention-kit[datasets]"'


def parse_remote_source(source):
    """Splits `tfds:NAME:SPLIT` / `hf:NAME[,CONFIG]:SPLIT` into (kind, name, config, split)."""
    kind, _, rest = source.partition(":")
    name, _, split = rest.rpartition(":")
    if not name or not split:
        raise UserInputError(
            f"{source}: expected {kind}:NAME:SPLIT, for example tfds:glue/sst2:train"
        )
    config = None
    if kind == "hf" and "," in name:
        name, config = name.split(",", 1)
    return kind, name, config, split


def import_optional(module, source):
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserInputError(f"{source}: needs the `{module}` package; {INSTALL_HINT}") from None


def read_remote_records(source):
    """Yields `(record_number, dict)` pairs from an online dataset split."""
    kind, name, config, split = parse_remote_source(source)
    if kind == "tfds":
        return list(read_tfds_records(source, name, split))
    return list(read_hugging_face_records(source, name, config, split))


def read_tfds_records(source, name, split):
    tfds = import_optional("tensorflow_datasets", source)
    try:
        dataset = tfds.load(name, split=split)
    except Exception as error:  # tfds raises many types for unknown names/splits
        raise UserInputError(f"{source}: TensorFlow Datasets could not load it ({error})") from None
    for number, example in enumerate(tfds.as_numpy(dataset), start=1):
        yield number, {key: decode(value) for key, value in example.items()}


def read_hugging_face_records(source, name, config, split):
    datasets = import_optional("datasets", source)
    try:
        dataset = datasets.load_dataset(name, config, split=split)
    except Exception as error:  # network, unknown name or split
        raise UserInputError(f"{source}: Hugging Face datasets could not load it ({error})") from None
    for number, example in enumerate(dataset, start=1):
        yield number, dict(example)


def decode(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if hasattr(value, "item"):  # NumPy scalar
        return value.item()
    return value
