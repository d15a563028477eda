"""Every `>>>` example in the docstrings of `export` runs, and prints what it shows.

Every module of the package and its subpackages is searched; one that does not
import fails `test_every_module_imports` with its name. The examples see `keras`,
`np`, `tf` and their module's own names (tests/pipelines/package_doctests.py),
and `version_dir` where they use it: the session's exported classifier for
`export.classifier`, its exported summarizer for `export.summarizer` (conftest.py).
"""

import pytest

from package_doctests import names_used
from package_doctests import package_examples
from package_doctests import run_example

EXAMPLES, IMPORT_FAILURES = package_examples("export")
# Per module prefix, the names an example may use for files the tests make, and the
# fixture that makes each.
FIXTURE_GLOBALS = {
    "export.classifier.": {"version_dir": "version_dir"},
    "export.summarizer.": {"version_dir": "summarizer_version_dir"},
}


def test_every_module_imports():
    assert not IMPORT_FAILURES, "\n".join(f"{name}: {error}" for name, error in IMPORT_FAILURES.items())


def test_the_onnx_runners_have_examples():
    names = {test.name for test in EXAMPLES}
    assert {"export.classifier.onnx_runner", "export.summarizer.onnx_runner"} <= names


@pytest.mark.parametrize("example", EXAMPLES, ids=[test.name for test in EXAMPLES])
def test_docstring_example(example, request):
    fixtures = {}
    for prefix, names in FIXTURE_GLOBALS.items():
        if (example.name + ".").startswith(prefix):
            fixtures.update(names)
    used = names_used(example)
    run_example(example, {name: request.getfixturevalue(fixture) for name, fixture in fixtures.items() if name in used})
