"""One trained run directory → one published, parity-checked version folder.

load the run → stage `NAME/.staging-VERSION-pidN/` → SavedModel + vocabulary
asset → warmup records → ONNX file (loaded in onnxruntime) + tokenizer.json →
parity gate on the reloaded artifacts → parity.json + model card → rename to
`NAME/VERSION` if parity passed, else keep it as `NAME/rejected-VERSION`.
"""

import dataclasses
import json
import os

from export import layout
from export.model_card import classifier_card
from export.model_card import write_model_card
from export.onnx_conversion import DEFAULT_OPSET
from export.onnx_conversion import convert_classifier
from export.onnx_runtime import ATTENTION_MASK_INPUT
from export.onnx_runtime import CONFIG_FILE
from export.onnx_runtime import PROBABILITIES_OUTPUT
from export.onnx_runtime import TOKEN_IDS_INPUT
from export.onnx_runtime import OnnxClassifier
from export.parity import KerasRuntime
from export.parity import OnnxRuntime
from export.parity import SavedModelRuntime
from export.parity import run_parity
from export.parity_cases import classifier_parity_cases
from export.run_loader import load_run
from export.saved_model import load_saved_model
from export.saved_model import write_classifier_saved_model
from export.staging import remove_abandoned_staging
from export.staging import staged_version
from export.text_tokenizer import save_text_tokenizer
from export.text_tokenizer import text_tokenizer_from_settings
from export.warmup import classifier_warmup_logs
from export.warmup import write_warmup_file
from pipelines.common.errors import UserInputError
from pipelines.common.preflight import EXPORT_WEIGHT_COPIES
from pipelines.common.preflight import check_free_space
from pipelines.common.preflight import check_writable
from pipelines.common.tables import read_table

DEFAULT_PARITY_ROWS = 1000


@dataclasses.dataclass
class ExportResult:
    """What `export_run` produced.

    Attributes:
        passed: bool. Whether the parity gate passed (and the version was published).
        path: str. `NAME/VERSION` when published, `NAME/rejected-VERSION` otherwise.
        version: int.
        parity: dict. The parity report (also in `path/parity.json`).
    """

    passed: bool
    path: str
    version: int
    parity: dict


def export_run(
    run_dir,
    name,
    *,
    version=None,
    out="saved_models",
    overwrite=False,
    parity_texts=None,
    text_column=None,
    parity_rows=DEFAULT_PARITY_ROWS,
    opset=DEFAULT_OPSET,
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
        text_column: str. Its text column; defaults to the run's.
        parity_rows: int. Use at most this many texts from it.
        opset: int. ONNX opset, 17 or 18.
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
    texts = read_parity_texts(run, parity_texts, text_column, parity_rows)
    check_writable(model_dir)
    check_free_space(model_dir, run.model.count_params(), EXPORT_WEIGHT_COPIES)
    with staged_version(model_dir, version, overwrite) as staging:
        log(f"writing {name} version {version} (staged in {staging.path})")
        write_classifier_artifacts(run, staging.path, name, texts, opset, log)
        log(f"parity gate on {len(texts)} test texts and edge cases")
        report = check_classifier_parity(run, staging.path, texts)
        write_json(os.path.join(staging.path, layout.PARITY_REPORT), report)
        write_model_card(staging.path, classifier_card(run, name, version, opset, report["passed"]))
        path = staging.publish() if report["passed"] else staging.reject()
    return ExportResult(passed=report["passed"], path=path, version=version, parity=report)


def read_parity_texts(run, source, text_column, limit):
    source = source or run.config.data.test
    if not source:
        raise UserInputError("the run names no test file for the parity gate; pass --parity-texts FILE")
    column = text_column or run.config.data.text_column
    texts = read_table(source, column).texts[:limit]
    if not texts:
        raise UserInputError(f"{source}: no texts in column {column!r} for the parity gate")
    return texts


def write_classifier_artifacts(run, version_dir, name, texts, opset, log):
    log("  SavedModel (serving_default, predict_token_ids, tokenize)")
    write_classifier_saved_model(run, version_dir)
    write_warmup_file(version_dir, classifier_warmup_logs(name, texts, run.tokenizer))
    log(f"  ONNX (opset {opset}) and tokenizer.json")
    os.makedirs(os.path.join(version_dir, layout.ONNX_DIR))
    convert_classifier(run.model, os.path.join(version_dir, layout.ONNX_CLASSIFIER), opset)
    tokenizer = text_tokenizer_from_settings(run.vocabulary_path, run.tokenizer_settings_path)
    save_text_tokenizer(tokenizer, os.path.join(version_dir, layout.ONNX_TOKENIZER))
    write_json(os.path.join(version_dir, layout.ONNX_CONFIG), onnx_config(run, opset))


def onnx_config(run, opset):
    """`onnx/config.json`: everything `OnnxClassifier.load` and other clients need."""
    return {
        "task": run.task,
        "labels": run.labels,
        "model_file": os.path.basename(layout.ONNX_CLASSIFIER),
        "tokenizer_file": os.path.basename(layout.ONNX_TOKENIZER),
        "max_length": run.max_length,
        "longest_token_ids": run.longest_token_ids,
        "padding_id": 0,
        "opset": opset,
        "inputs": {
            TOKEN_IDS_INPUT: "int32 [batch, sequence]; 0 = [PAD]; sequence <= longest_token_ids if set",
            ATTENTION_MASK_INPUT: "int32 [batch, sequence]; 1 = real token, 0 = padding",
        },
        "outputs": {PROBABILITIES_OUTPUT: f"float32 [batch, {len(run.labels)}]; softmax over labels"},
    }


def check_classifier_parity(run, version_dir, texts):
    """The parity report of the artifacts in `version_dir`, each reloaded from disk."""
    runtimes = {
        "keras": KerasRuntime(run),
        "savedmodel": SavedModelRuntime(load_saved_model(version_dir)),
        "onnx": OnnxRuntime(OnnxClassifier.load(os.path.join(version_dir, layout.ONNX_DIR))),
    }
    cases = classifier_parity_cases(
        texts, run.tokenizer, run.tokenizer.vocabulary_size, run.longest_token_ids
    )
    return run_parity(cases, runtimes, run.labels)


def write_json(path, data):
    with open(path, "w", encoding="utf-8") as file:
        json.dump(data, file, indent=2, ensure_ascii=False)
        file.write("\n")
