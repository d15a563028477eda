"""The registry of export tasks: each registered once, each described by one `TaskExport`.

As optimum's `TasksManager` registers an exporter per task, every task here is
a folder with the same files for the same roles, and one line in `TASKS`:

    export/classifier/          export/summarizer/
      run.py                      the loaded run directory
      saved_model.py              SavedModel signatures (+ warmup requests)
      onnx_graph.py               ONNX conversion (+ onnx/config.json)
      onnx_runner.py              onnxruntime inference, no TensorFlow
      parity_cases.py             the parity gate's inputs
      parity_check.py             the three runtimes, the gate, its table
      int8_parity.py              with --quantize int8: the int8 files against the float ones
      model_card.py               the task's part of the model card
      task.py                     `TASK`: the `TaskExport` tying them together

The shared steps (staging, layout, warmup, serving, ONNX conversion, the
parity report, the model card) sit beside the folders and know no task; the
task is read from a run's config.json (`"task"`), and everything that differs
by task is looked up here. Task modules are imported on first use, so reading
this registry imports no TensorFlow.
"""

import dataclasses
import importlib

from pipelines.common.errors import UserInputError
from pipelines.common.sectioned_config import CLASSIFICATION
from pipelines.common.sectioned_config import SUMMARIZATION

# Adding a task: a folder beside these two and one line here.
TASKS = {
    CLASSIFICATION: "export.classifier.task",
    SUMMARIZATION: "export.summarizer.task",
}


@dataclasses.dataclass(frozen=True)
class TaskExport:
    """What export does differently for one task.

    Attributes:
        name: str. The task, as config.json and model_card.json spell it.
        inputs: str. What the parity texts are, for the progress line.
        parity_rows: int. Default number of parity texts.
        text_column: callable run → the column of the parity texts.
        reference_column: callable run → the column of their references (labels,
            or reference summaries), for the int8 parity entry.
        load_run: callable `RunDirectory` → the loaded run.
        write_artifacts: callable `(run, version_dir, name, texts, opset, log)`:
            the SavedModel, its warmup records and the `onnx/` folder.
        check_parity: callable `(run, version_dir, texts, references, log)` →
            the parity report; `references` (None when the file has none) score
            the int8 files when config.json lists them; `log` takes a progress
            line per case.
        format_parity_table: callable report → the table printed after export.
        card_fields: callable run → the task's fields of model_card.json.
        card_text: callable card → the task's `model_card.CardText`.
        onnx_runner: the class that runs the `onnx/` folder (`.load(onnx_dir)`).
        onnx_model_files: tuple of str. The `onnx/config.json` keys naming the
            model files (what `--quantize int8` quantizes).
        example: str. An input for the demo.
        demo_answers: callable `(run, version_dir, text)` → {runtime: answer line}.
    """

    name: str
    inputs: str
    parity_rows: int
    text_column: object
    reference_column: object
    load_run: object
    write_artifacts: object
    check_parity: object
    format_parity_table: object
    card_fields: object
    card_text: object
    onnx_runner: object
    onnx_model_files: tuple
    example: str
    demo_answers: object


def task_export(name):
    """The registered `TaskExport` of the task `name`; a user error for an unknown one."""
    if name not in TASKS:
        raise UserInputError(
            f"export knows no task {name!r}; it exports {', '.join(sorted(TASKS))} runs "
            "(the \"task\" of the run's config.json)"
        )
    task = importlib.import_module(TASKS[name]).TASK
    if task.name != name:
        raise ValueError(f"{TASKS[name]}.TASK is named {task.name!r}, registered as {name!r}")
    return task


def all_task_exports():
    """Every registered `TaskExport`, in registration order."""
    return [task_export(name) for name in TASKS]
