"""Untrusted files and names: `.keras` files load with safe_mode and never with a Lambda
layer, no pickle anywhere, and export names cannot leave the output root."""

import ast
import os
import re
import shutil

import keras
import pytest

from export import cli as export_cli
from export.layout import validate_model_name
from pipelines.classification.cli import main as classification_main
from pipelines.common.errors import UserInputError
from pipelines.common.run_directory import RunDirectory
from pipelines.common.run_files import load_keras_model
from pipelines.summarization.cli import main as summarization_main
from reliability_helpers import one_line_error

REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PACKAGES = ("keras_attention", "pipelines", "export", "benchmarks")
# Loading and deserializing belong in pipelines/common/run_files.py (safe_mode=True).
MODEL_LOADERS = {"load_model", "deserialize_keras_object", "model_from_json"}
FORBIDDEN_MODULES = {"pickle", "cPickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}


def python_files():
    for package in PACKAGES:
        for directory, _, names in os.walk(os.path.join(REPOSITORY, package)):
            for name in names:
                if name.endswith(".py"):
                    yield os.path.join(directory, name)


# A layer's or model's `from_config` / `compile_from_config` runs inside Keras's own
# `load_model`, and a `deserialize_keras_object` there inherits that load's safe_mode:
# nested deserialization, not a second way in.
NESTED_DESERIALIZERS = {"from_config", "compile_from_config"}


def calls_inside(tree, function_names):
    """The Call nodes inside functions named one of `function_names`."""
    return {
        id(node)
        for function in ast.walk(tree)
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)) and function.name in function_names
        for node in ast.walk(function)
        if isinstance(node, ast.Call)
    }


def calls_and_imports(path):
    """(called names, imported top-level modules, keyword arguments) of one source file;
    `deserialize_keras_object` inside a `from_config` is nested, not counted."""
    with open(path, encoding="utf-8") as file:
        tree = ast.parse(file.read(), path)
    nested = calls_inside(tree, NESTED_DESERIALIZERS)
    called, imported, keywords = set(), set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            function = node.func
            name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
            if not (name == "deserialize_keras_object" and id(node) in nested):
                called.add(name)
            keywords += [(keyword.arg, ast.unparse(keyword.value)) for keyword in node.keywords]
        elif isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    return called, imported, keywords


def test_no_pickle_no_lambda_layer_and_every_model_load_in_safe_mode():
    offenders = []
    for path in python_files():
        relative = os.path.relpath(path, REPOSITORY)
        called, imported, keywords = calls_and_imports(path)
        if imported & FORBIDDEN_MODULES:
            offenders.append(f"{relative}: imports {sorted(imported & FORBIDDEN_MODULES)}")
        if "Lambda" in called:
            offenders.append(f"{relative}: builds a Lambda layer")
        if called & MODEL_LOADERS and relative != os.path.join("pipelines", "common", "run_files.py"):
            offenders.append(f"{relative}: loads a model outside run_files.load_keras_model")
        for name, value in keywords:
            if (name, value) in {("safe_mode", "False"), ("allow_pickle", "True")}:
                offenders.append(f"{relative}: {name}={value}")
        with open(path, encoding="utf-8") as file:
            if "enable_unsafe_deserialization" in file.read():
                offenders.append(f"{relative}: enables unsafe deserialization")
    assert offenders == []
    with open(os.path.join(REPOSITORY, "pipelines", "common", "run_files.py"), encoding="utf-8") as file:
        loads = re.findall(r"keras\.saving\.load_model\(([^)]*)\)", file.read())
    assert loads and all("safe_mode=True" in arguments for arguments in loads)


def lambda_model(function, num_classes=2):
    token_ids = keras.Input((None,), dtype="int32")
    embedded = keras.layers.Embedding(50, 8)(token_ids)
    doubled = keras.layers.Lambda(function, name="payload")(embedded)
    pooled = keras.layers.GlobalAveragePooling1D()(doubled)
    return keras.Model(token_ids, keras.layers.Dense(num_classes, activation="softmax")(pooled))


LAMBDAS = {"python-lambda": lambda x: x * 2.0, "named-function": keras.ops.abs}


def test_only_deserialization_nested_in_from_config_is_exempt(tmp_path):
    source = tmp_path / "module.py"
    source.write_text(
        "import keras\n"
        "class Model(keras.Model):\n"
        "    @classmethod\n"
        "    def from_config(cls, config):\n"
        "        return cls(keras.saving.deserialize_keras_object(config['inner']))\n"
        "def load(config):\n"
        "    return keras.saving.deserialize_keras_object(config)\n"
    )
    called, _, _ = calls_and_imports(str(source))
    assert "deserialize_keras_object" in called  # the module-level `load`
    source.write_text(source.read_text().split("def load")[0])
    called, _, _ = calls_and_imports(str(source))
    assert "deserialize_keras_object" not in called


@pytest.mark.parametrize("kind", LAMBDAS)
def test_a_model_with_a_lambda_layer_is_refused_by_predict_evaluate_and_export(run_copy, tmp_path, capsys, kind):
    run_dir = run_copy()
    lambda_model(LAMBDAS[kind]).save(RunDirectory(run_dir).model_path)
    expected = "refusing to load a model with a Lambda layer ('payload'): it can run arbitrary Python code"
    data = tmp_path / "labelled.tsv"
    data.write_text("sentence\tlabel\na good film\t1\n", encoding="utf-8")
    assert classification_main(["predict", run_dir, "a good film"]) == 2
    assert expected in one_line_error(capsys.readouterr())
    assert classification_main(["evaluate", run_dir, "--data", str(data)]) == 2
    assert expected in one_line_error(capsys.readouterr())
    out = tmp_path / "saved_models"
    assert export_cli.main([run_dir, "--name", "m", "--out", str(out)]) == 2
    assert expected in one_line_error(capsys.readouterr())
    assert not out.exists() or os.listdir(out / "m") == []


def test_a_summarization_run_with_a_lambda_layer_is_refused(summarization_run_dir, tmp_path, capsys):
    run_dir = str(tmp_path / "summarizer")
    shutil.copytree(summarization_run_dir, run_dir)
    lambda_model(LAMBDAS["python-lambda"]).save(RunDirectory(run_dir).model_path)
    assert summarization_main(["summarize", run_dir, "Tom: hi"]) == 2
    assert "refusing to load a model with a Lambda layer" in one_line_error(capsys.readouterr())


def test_keras_safe_mode_is_on_for_the_archive_check_too(tmp_path):
    """Without the Lambda check, Keras' safe_mode still refuses a lambda's bytecode."""
    path = str(tmp_path / "model.keras")
    lambda_model(LAMBDAS["python-lambda"]).save(path)
    with pytest.raises(UserInputError, match="Lambda"):
        load_keras_model(path)
    with pytest.raises(ValueError, match="arbitrary code execution"):
        keras.saving.load_model(path, safe_mode=True, compile=False)


@pytest.mark.parametrize(
    "name",
    ["..", ".", "", "../escape", "a/../b", "a/b", "/etc", "a\\b", "a\x00b", "ends-with-newline\n", "~user", " a", "x" * 101],
)
def test_export_names_that_could_leave_the_output_root_are_refused(classifier_run_dir, tmp_path, capsys, name):
    out = tmp_path / "saved_models"
    assert export_cli.main([classifier_run_dir, "--name", name, "--out", str(out)]) == 2
    assert "invalid model name" in one_line_error(capsys.readouterr())
    assert not out.exists()
    with pytest.raises(UserInputError, match="no path separators"):
        validate_model_name(name)


@pytest.mark.parametrize("version", ["0", "-1", "1.5", "../1", "1/2"])
def test_export_versions_are_positive_integers_only(classifier_run_dir, tmp_path, capsys, version):
    with pytest.raises(SystemExit) as exit_status:
        export_cli.main([classifier_run_dir, "--name", "m", "--version", version, "--out", str(tmp_path / "out")])
    assert exit_status.value.code == 2
    assert "argument --version" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
