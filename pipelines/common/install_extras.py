"""Which install extra brings which import, and the one-line error when one is missing.

`pip install keras-attention-kit` installs the layers with Keras and NumPy only;
`pipelines` needs the `[pipelines]` extra (TensorFlow and the text tools) and
`export` the `[export]` extra (pyproject.toml lists them). The Keras-only parts
(`pipelines.jax_training` and the summarizer's model) import without either.
"""

import contextlib
import importlib.util

# Per extra, the top-level import names it brings and the distribution each
# comes from; an extra also brings the imports of the extras it includes.
EXTRA_IMPORTS = {
    "tensorflow": {"tensorflow": "TensorFlow"},
    "pipelines": {
        "tensorflow_text": "tensorflow-text",
        "tensorboard": "tensorboard",
        "matplotlib": "matplotlib",
        "rouge_score": "rouge-score",
        "tokenizers": "tokenizers",
    },
    "export": {
        "tf2onnx": "tf2onnx",
        "onnx": "onnx",
        "onnxruntime": "onnxruntime",
        "tensorflow_serving": "tensorflow-serving-api",
    },
}
INCLUDED_EXTRAS = {"tensorflow": (), "pipelines": ("tensorflow",), "export": ("pipelines",)}


def extra_imports(extra):
    """{import name: distribution} of everything `pip install "keras-attention-kit[extra]"` brings."""
    imports = {}
    for included in INCLUDED_EXTRAS[extra]:
        imports.update(extra_imports(included))
    imports.update(EXTRA_IMPORTS[extra])
    return imports


def missing_extra_error(extra, import_name):
    distribution = extra_imports(extra)[import_name]
    return ImportError(f'{extra} needs {distribution}: pip install "keras-attention-kit[{extra}]"')


@contextlib.contextmanager
def explain_missing(extra):
    """Turns the ModuleNotFoundError of an import that `extra` brings into the one-line hint."""
    try:
        yield
    except ModuleNotFoundError as error:
        import_name = (error.name or "").partition(".")[0]
        if import_name not in extra_imports(extra):
            raise
        raise missing_extra_error(extra, import_name) from None


def require(extra, import_names=None):
    """Raises the one-line hint unless every one of `import_names` (default: all
    that `extra` brings) is installed.

    Looks the names up without importing them, so it costs nothing where they are.
    """
    for import_name in import_names or extra_imports(extra):
        if importlib.util.find_spec(import_name) is None:
            raise missing_extra_error(extra, import_name)
