"""One trained run directory → one published, parity-checked version folder.

load the run → stage `NAME/.staging-VERSION-pidN/` → SavedModel + vocabulary
asset → warmup records → ONNX files (loaded in onnxruntime) + tokenizer.json →
with `quantize="int8"`, their int8 copies (export/quantization.py) → parity
gate on the reloaded artifacts → parity.json + model card → rename to
`NAME/VERSION` if parity passed, else keep it as `NAME/rejected-VERSION`.

The steps are shared; what differs by task (the artifacts, the parity gate,
the model card, the column of the parity texts) is the task's `TaskExport`,
looked up in the registry (export/tasks.py) by the run's task.
"""

import dataclasses
import os

from export import layout
from export.model_card import model_card
from export.model_card import write_model_card
from export.onnx_conversion import DEFAULT_OPSET
from export.onnx_metadata import stamp_onnx_folder
from export.quantization import quantize_onnx_folder
from export.run_loader import load_run
from export.staging import remove_abandoned_staging
from export.staging import staged_version
from export.tasks import task_export
from pipelines.common.atomic import write_json_atomic
from pipelines.common.data_paths import resolve_recorded_path
from pipelines.common.errors import UserInputError
from pipelines.common.preflight import EXPORT_WEIGHT_COPIES
from pipelines.common.preflight import check_free_space
from pipelines.common.preflight import check_writable
from pipelines.common.run_files import files_sha256
from pipelines.common.tables import read_table


@dataclasses.dataclass
class ExportResult:
    """What `export_run` produced.

    Attributes:
        passed: bool. Whether the parity gate passed (and the version was published).
        path: str. `NAME/VERSION` when published, `NAME/rejected-VERSION` otherwise.
        version: int.
        parity: dict. The parity report (also in `path/parity.json`).
        task: `TaskExport`. The run's task.
    """

    passed: bool
    path: str
    version: int
    parity: dict
    task: object


def export_run(
    run_dir,
    name,
    *,
    version=None,
    out="saved_models",
    overwrite=False,
    parity_texts=None,
    text_column=None,
    parity_rows=None,
    opset=DEFAULT_OPSET,
    quantize=None,
    log=print,
):
    """Exports the run in `run_dir` as `out/name/version`; see the module docstring.

    Args:
        run_dir: str. A finished run directory.
        name: str. The model name (one folder name, no separators).
        version: int. Defaults to one more than the highest published version.
        out: str. The base path (TF Serving's model_base_path parent).
        overwrite: bool. Replace an existing `out/name/version`.
        parity_texts: str. File of real texts for the parity gate; defaults
            to the run's test file.
        text_column: str. Its text column; defaults to the run's (the
            document column of a summarization run).
        parity_rows: int. Use at most this many texts from it; defaults to
            the task's (1000 texts for a classifier, 100 dialogues for a
            summarizer).
        opset: int. ONNX opset, 17 or 18.
        quantize: str. `"int8"` also writes int8 copies of the ONNX files,
            checked in the parity gate against the float ones; None (default)
            writes float files only.
        log: callable for progress lines.

    Returns:
        An `ExportResult`. A failed parity gate is a result (`passed=False`),
        not an exception; unusable inputs raise `UserInputError`.
    """
    layout.validate_model_name(name)
    model_dir = os.path.join(out, name)
    if os.path.isdir(model_dir):
        remove_abandoned_staging(model_dir)  # before counting versions (see staging.py)
    version = layout.validate_version(version) if version is not None else layout.next_version(model_dir)
    run = load_run(run_dir)
    task = task_export(run.task)
    text_column = text_column or task.text_column(run)
    parity_rows = parity_rows or task.parity_rows
    texts = read_parity_texts(run, parity_texts, text_column, parity_rows)
    references = None
    if quantize:  # labels or reference summaries score the int8 files
        source = parity_source(run, parity_texts)
        references = read_parity_references(source, text_column, task.reference_column(run), texts)
    check_writable(model_dir)
    check_free_space(model_dir, run.model.count_params(), EXPORT_WEIGHT_COPIES)
    with staged_version(model_dir, version, overwrite) as staging:
        log(f"writing {name} version {version} (staged in {staging.path})")
        task.write_artifacts(run, staging.path, name, texts, opset, log)
        if quantize:
            log(f"  {quantize} ONNX (onnxruntime dynamic quantization)")
            quantize_onnx_folder(os.path.join(staging.path, layout.ONNX_DIR), task.onnx_model_files, quantize)
        model_sha256 = files_sha256([run.directory.model_path])  # named by every ONNX file and the card
        stamp_onnx_folder(os.path.join(staging.path, layout.ONNX_DIR), task.name, opset, model_sha256)
        log(f"parity gate on {len(texts)} test {task.inputs} and edge cases")
        report = task.check_parity(run, staging.path, texts, references, log)
        write_json_atomic(os.path.join(staging.path, layout.PARITY_REPORT), report)
        card = model_card(run, task, name, version, opset, report["passed"], model_sha256)
        write_model_card(staging.path, card, task.card_text(card))
        path = staging.publish() if report["passed"] else staging.reject()
    return ExportResult(passed=report["passed"], path=path, version=version, parity=report, task=task)


def parity_source(run, source):
    """The file of parity texts: `source`, or the run's test file."""
    if source:
        return source
    if not run.config.data.test:
        raise UserInputError("the run names no test file for the parity gate; pass --parity-texts FILE")
    return resolve_recorded_path(run.config.data.test, run.path, "data.test", "--parity-texts")


def read_parity_texts(run, source, column, limit):
    source = parity_source(run, source)
    texts = read_table(source, column).texts[:limit]
    if not texts:
        raise UserInputError(f"{source}: no texts in column {column!r} for the parity gate")
    return texts


def read_parity_references(source, column, reference_column, texts):
    """The references (labels or summaries) of the parity `texts`, row for row; None when
    the file has no `reference_column` or a row lacks its reference."""
    try:
        table = read_table(source, column, reference_column)
    except UserInputError:  # no such column, or a file of texts only
        return None
    if table.texts[: len(texts)] != texts:  # rows without a reference were skipped
        return None
    return table.labels[: len(texts)]
