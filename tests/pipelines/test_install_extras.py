"""Without their install extra, `pipelines` and `export` stop with one line naming it.

Each case runs in a subprocess that makes a module unimportable, as on a machine
where the extra was not installed (`sys.modules[name] = None`).
"""

import os
import subprocess
import sys
import tomllib

import pytest

from pipelines.common.install_extras import EXTRA_IMPORTS
from pipelines.common.install_extras import INCLUDED_EXTRAS
from pipelines.common.install_extras import explain_missing
from pipelines.common.install_extras import extra_imports

REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PIPELINES_HINT = 'ImportError: pipelines needs TensorFlow: pip install "keras-attention-kit[pipelines]"'


def run_without(blocked, code):
    """Runs `code` with `blocked` unimportable; returns (exit status, stdout, last stderr line)."""
    script = f"import sys\nsys.modules[{blocked!r}] = None\n{code}"
    environment = {**os.environ, "KERAS_BACKEND": "jax"}
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=REPOSITORY, capture_output=True, text=True, env=environment
    )
    last_line = (completed.stderr.strip().splitlines() or [""])[-1]
    return completed.returncode, completed.stdout.strip(), last_line


@pytest.mark.parametrize(
    "code",
    [
        "from pipelines.classification import TrainedClassifier",
        "from pipelines.summarization import Summarizer",
        "from pipelines.pretrained import CheckpointTokenizer",
        "sys.argv = ['x', 'summarize', '.', 'Amanda: hi']\n"
        "import runpy; runpy.run_module('pipelines.summarization', run_name='__main__')",
        "sys.argv = ['x', 'predict', '.', 'a film']\n"
        "import runpy; runpy.run_module('pipelines.classification', run_name='__main__')",
    ],
)
def test_pipelines_without_tensorflow_names_the_extra(code):
    status, _, last_line = run_without("tensorflow", code)
    assert status == 1
    assert last_line == PIPELINES_HINT


def test_keras_only_parts_of_pipelines_import_without_tensorflow():
    code = (
        "from pipelines.summarization import build_summarizer, compile_summarizer, ModelConfig\n"
        "from pipelines.pretrained import build_pretrained_encoder, load_encoder_weights, read_checkpoint\n"
        "import pipelines.jax_training\n"
        "print(build_summarizer.__name__)"
    )
    status, stdout, last_line = run_without("tensorflow", code)
    assert status == 0, last_line
    assert stdout == "build_summarizer"


def test_export_without_onnxruntime_names_the_extra():
    status, _, last_line = run_without("onnxruntime", "import export")
    assert status == 1
    assert last_line == 'ImportError: export needs onnxruntime: pip install "keras-attention-kit[export]"'


def test_a_missing_module_no_extra_brings_is_left_as_it_is():
    with pytest.raises(ModuleNotFoundError, match="no_such_module"):
        with explain_missing("pipelines"):
            import no_such_module  # noqa: F401


def test_export_brings_what_pipelines_brings():
    assert extra_imports("pipelines").items() <= extra_imports("export").items()


def test_every_named_distribution_is_in_its_extra_in_pyproject():
    with open(os.path.join(REPOSITORY, "pyproject.toml"), "rb") as file:
        project = tomllib.load(file)["project"]
    extras = project["optional-dependencies"]
    for extra, imports in EXTRA_IMPORTS.items():
        declared = {requirement.split("[")[0].split(">")[0].split("=")[0].strip().lower()
                    for requirement in extras[extra]}
        for distribution in imports.values():
            assert distribution.lower() in declared, (extra, distribution)
        for included in INCLUDED_EXTRAS[extra]:
            assert f"keras-attention-kit[{included}]" in extras[extra]
    assert set(project["dependencies"]) == {"keras>=3.15,<3.16", "numpy>=1.26,<2.5"}
