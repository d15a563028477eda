"""The README's `model.fit` example (examples/classification_fit.py) runs as written."""

import os
import runpy

import numpy as np

import pipelines.classification  # noqa: F401  imported before the example changes folder
from synthetic_data import make_rows
from synthetic_data import write_tsv

EXAMPLE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "examples",
    "classification_fit.py",
)


def test_example_trains_a_classifier_on_tiny_data(tmp_path, monkeypatch):
    write_tsv(tmp_path / "train.tsv", make_rows(300, seed=11))
    write_tsv(tmp_path / "dev.tsv", make_rows(80, seed=12))
    monkeypatch.chdir(tmp_path)  # the example reads train.tsv and dev.tsv from here

    example = runpy.run_path(EXAMPLE, run_name="__main__")

    model, valid_data = example["model"], example["valid_data"]
    assert example["labels"].class_names == ["neg", "pos"]
    assert model.output_shape == (None, 2)
    # The synthetic classes are separated by one word; three epochs learn that.
    _, accuracy = model.evaluate(valid_data, verbose=0)
    assert accuracy >= 0.9
    probabilities = model.predict(valid_data, verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_readme_shows_the_example_verbatim():
    with open(EXAMPLE, encoding="utf-8") as file:
        code = file.read().split('"""', 2)[2].lstrip("\n")  # the code after the docstring
    with open(os.path.join(os.path.dirname(os.path.dirname(EXAMPLE)), "README.md"), encoding="utf-8") as file:
        readme = file.read()
    assert f"```python\n{code}```" in readme
