"""The `>>>` examples in the docstrings of every module of a package, subpackages included.

Shared by tests/pipelines/test_pipelines_docstring_examples.py and
tests/export/test_export_docstring_examples.py. The examples see `keras`, `np`,
`tf` and the names of their own module, as a reader who did `import keras`,
`import numpy as np`, `import tensorflow as tf` and `from <module> import *`
would; a test may add names that stand for files it made (a run directory, an
exported version), and each example says what such a name holds.
"""

import doctest
import importlib
import pkgutil
import re

import keras
import numpy as np
import tensorflow as tf

OPTION_FLAGS = doctest.NORMALIZE_WHITESPACE


def module_names(package_name, failures):
    """The package and every module under it, walking subpackages.

    A subpackage that does not import is still listed (importing it again
    records why in `failures`); nothing is left out unreported.
    """
    package = importlib.import_module(package_name)
    walked = pkgutil.walk_packages(package.__path__, package_name + ".", onerror=lambda name: None)
    return [package_name] + sorted(info.name for info in walked)


def package_examples(*package_names):
    """`(examples, failures)`: the `doctest.DocTest`s with examples of every module
    of the packages, and `{module name: error}` for each module that did not import."""
    finder = doctest.DocTestFinder(exclude_empty=True)
    examples, failures = [], {}
    for package_name in package_names:
        for name in module_names(package_name, failures):
            try:
                module = importlib.import_module(name)
            except Exception as error:  # reported by the caller's test, with the module's name
                failures[name] = f"{type(error).__name__}: {error}"
                continue
            globs = {**vars(module), "keras": keras, "np": np, "tf": tf}
            examples += [test for test in finder.find(module, globs=globs) if test.examples]
    return examples, failures


def names_used(example):
    """The identifiers an example's source mentions."""
    return set(re.findall(r"[A-Za-z_]\w*", "\n".join(part.source for part in example.examples)))


def run_example(example, extra_globals):
    """Runs a `DocTest` with `extra_globals` added; fails with doctest's own report."""
    example.globs.update(extra_globals)
    report = []
    runner = doctest.DocTestRunner(optionflags=OPTION_FLAGS)
    runner.run(example, out=report.append)
    failed, attempted = runner.summarize(verbose=False)
    assert attempted and not failed, (
        f"{example.name}: {failed} of {attempted} examples failed\n" + "".join(report)
    )
