"""Every `>>>` example in the docstrings of `pipelines` runs, and prints what it shows.

Every module of the package and its subpackages is searched; one that does not
import fails `test_every_module_imports` with its name. The examples see `keras`,
`np`, `tf` and their module's own names (see package_doctests.py), and
`run_dir`, a trained classification run (the `tiny_run` fixture), where they use it.
"""

import pytest

from package_doctests import package_examples
from package_doctests import names_used
from package_doctests import run_example

EXAMPLES, IMPORT_FAILURES = package_examples("pipelines")
# Names an example may use for files the tests make, and the fixture that makes each.
FIXTURE_GLOBALS = {"run_dir": "tiny_run"}


def test_every_module_imports():
    assert not IMPORT_FAILURES, "\n".join(f"{name}: {error}" for name, error in IMPORT_FAILURES.items())


def test_the_documented_parts_have_examples():
    names = {test.name for test in EXAMPLES}
    assert {
        "pipelines.pretrained",
        "pipelines.pretrained.encoder.build_pretrained_encoder",
        "pipelines.pretrained.tokenizer.CheckpointTokenizer",
        "pipelines.pretrained.tokenizer_layer.CheckpointTokenizerLayer",
        "pipelines.classification.heldout",
        "pipelines.classification.text_classifier.TextClassifier",
        "pipelines.classification.trained.TrainedClassifier",
        "pipelines.summarization.tokenizer.SummarizationTokenizer",
    } <= names


@pytest.mark.parametrize("example", EXAMPLES, ids=[test.name for test in EXAMPLES])
def test_docstring_example(example, request):
    extra = {
        name: request.getfixturevalue(fixture)
        for name, fixture in FIXTURE_GLOBALS.items()
        if name in names_used(example)
    }
    run_example(example, extra)
