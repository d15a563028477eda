"""Every `>>>` example in keras_attention's docstrings runs, and prints what it shows.

The examples see `keras`, `np` and the names of their own module, as a reader
who did `import keras`, `import numpy as np` and `from keras_attention.<module>
import *` would.
"""

import doctest
import importlib
import pkgutil

import keras
import numpy as np
import pytest

import keras_attention


def docstring_examples():
    finder = doctest.DocTestFinder(exclude_empty=True)
    for module_info in pkgutil.iter_modules(keras_attention.__path__):
        module = importlib.import_module(f"keras_attention.{module_info.name}")
        for test in finder.find(module, globs={**vars(module), "keras": keras, "np": np}):
            if test.examples:
                yield test


EXAMPLES = list(docstring_examples())


def test_the_documented_layers_have_examples():
    names = {test.name.split(".")[-1] for test in EXAMPLES}
    assert {
        "MultiHeadAttention",
        "TransformerEncoderBlock",
        "TransformerDecoderBlock",
        "PositionalEncoding",
        "masked_softmax",
    } <= names


@pytest.mark.parametrize("example", EXAMPLES, ids=[test.name for test in EXAMPLES])
def test_docstring_example(example):
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(example)
    failed, attempted = runner.summarize(verbose=False)
    assert attempted and not failed, f"{example.name}: {failed} of {attempted} examples failed"
