"""The task registry and the shape of export/: one folder per task with the same files,
no import circle, no import across task folders; run directories name their task."""

import ast
import json
import os
import shutil
import subprocess
import sys

import pytest

from export.run_loader import load_run
from export.tasks import TASKS
from export.tasks import all_task_exports
from export.tasks import task_export
from pipelines.common.errors import UserInputError

REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EXPORT = os.path.join(REPOSITORY, "export")
ROLE_FILES = {
    "__init__.py", "task.py", "run.py", "saved_model.py", "onnx_graph.py", "onnx_runner.py",
    "parity_cases.py", "parity_check.py", "int8_parity.py", "model_card.py",
}


def task_folders():
    return sorted({module.split(".")[1] for module in TASKS.values()})


def export_modules():
    """{dotted module name: path} of every module under export/."""
    modules = {}
    for folder, _, files in os.walk(EXPORT):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                parts = os.path.relpath(path, REPOSITORY)[:-3].split(os.sep)
                modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imported_modules(path, known):
    """The export modules `path` imports anywhere in the file (lazy imports too)."""
    with open(path, encoding="utf-8") as file:
        tree = ast.parse(file.read())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name in known}


def import_graph():
    modules = export_modules()
    return {module: imported_modules(path, modules) for module, path in modules.items()}


def test_every_registered_task_is_a_folder_with_the_same_role_files():
    assert task_folders() == ["classifier", "summarizer"]
    for folder in task_folders():
        files = {name for name in os.listdir(os.path.join(EXPORT, folder)) if name.endswith(".py")}
        assert files == ROLE_FILES, folder
    assert [task.name for task in all_task_exports()] == list(TASKS)


def test_an_unknown_task_is_a_one_line_user_error():
    with pytest.raises(UserInputError) as error:
        task_export("translation")
    message = str(error.value)
    assert "translation" in message and "classification, summarization" in message
    assert len(message.splitlines()) == 1


def test_no_import_circle_and_no_import_across_task_folders():
    graph = import_graph()
    assert "export.classifier.task" in graph and graph["export.classifier.task"]  # the walk sees imports
    folders = task_folders()
    for module, imports in graph.items():
        own = module.split(".")[1] if module.count(".") >= 2 else None
        for imported in imports:
            other = imported.split(".")[1] if imported.count(".") >= 2 else None
            if other in folders:
                # Shared modules know no task; a task folder knows only itself.
                assert own == other, f"{module} imports {imported}"
    visiting, done = [], set()

    def visit(module):
        if module in visiting:
            raise AssertionError("import circle: " + " → ".join(visiting[visiting.index(module):] + [module]))
        if module in done:
            return
        visiting.append(module)
        for imported in graph[module]:
            visit(imported)
        visiting.pop()
        done.add(module)

    for module in graph:
        visit(module)


def test_reading_the_registry_imports_no_tensorflow():
    script = (
        "import sys\n"
        "from export.tasks import TASKS, task_export\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf2onnx'))\n"
        "print(sorted(TASKS), heavy)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=REPOSITORY, capture_output=True, text=True, check=True
    )
    assert completed.stdout.strip() == "['classification', 'summarization'] []"


def test_a_new_run_records_its_task_and_an_old_one_is_still_recognised(classifier_run_dir, tmp_path):
    with open(os.path.join(classifier_run_dir, "config.json"), encoding="utf-8") as file:
        config = json.load(file)
    assert config["task"] == "classification"
    old_run = tmp_path / "old_run"
    shutil.copytree(classifier_run_dir, old_run)
    del config["task"]  # as written before config.json named its task
    (old_run / "config.json").write_text(json.dumps(config), encoding="utf-8")
    run = load_run(str(old_run))
    assert run.task == "classification" and run.labels == ["0", "1"]
    config["task"] = "translation"
    (old_run / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(UserInputError, match="export knows no task 'translation'"):
        load_run(str(old_run))
