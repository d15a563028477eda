"""One trained run directory → one published, parity-checked version folder.

load the run → stage `NAME/.staging-VERSION-pidN/` → SavedModel + vocabulary
asset → warmup records → ONNX files (loaded in onnxruntime) + tokenizer.json →
parity gate on the reloaded artifacts → parity.json + model card → rename to
`NAME/VERSION` if parity passed, else keep it as `NAME/rejected-VERSION`.

The steps are shared; what differs by task (the artifacts, the parity gate,
the model card, the column of the parity texts) is one `TaskExport` per task.
"""

import dataclasses
import json
import os

from export import layout
from export.model_card import classifier_card
from export.model_card import summarizer_card
from export.model_card import write_model_card
from export.onnx_conversion import DEFAULT_OPSET
from export.onnx_conversion import convert_classifier
from export.onnx_runtime import ATTENTION_MASK_INPUT
from export.onnx_runtime import PROBABILITIES_OUTPUT
from export.onnx_runtime import TOKEN_IDS_INPUT
from export.onnx_runtime import OnnxClassifier
from export.parity import KerasRuntime
from export.parity import OnnxRuntime
from export.parity import SavedModelRuntime
from export.parity import run_parity
from export.parity_cases import classifier_parity_cases
from export.onnx_summarizer import OnnxSummarizer
from export.run_loader import CLASSIFICATION
from export.run_loader import SUMMARIZATION
from export.run_loader import load_run
from export.saved_model import load_saved_model
from export.saved_model import write_classifier_saved_model
from export.staging import remove_abandoned_staging
from export.staging import staged_version
from export.summarizer_onnx import DECODER_STEP_FILE
from export.summarizer_onnx import ENCODER_FILE
from export.summarizer_onnx import cache_shape
from export.summarizer_onnx import convert_summarizer
from export.summarizer_parity import KerasSummarizerRuntime
from export.summarizer_parity import OnnxSummarizerRuntime
from export.summarizer_parity import SavedModelSummarizerRuntime
from export.summarizer_parity import run_summarizer_parity
from export.summarizer_parity import summarizer_parity_cases
from export.summarizer_saved_model import summarizer_warmup_inputs
from export.summarizer_saved_model import write_summarizer_saved_model
from export.summary_text import build_dialogue_tokenizer
from export.text_tokenizer import save_text_tokenizer
from export.text_tokenizer import text_tokenizer_from_settings
from export.warmup import classifier_warmup_logs
from export.warmup import predict_request
from export.warmup import write_warmup_file
from pipelines.common.errors import UserInputError
from pipelines.common.preflight import EXPORT_WEIGHT_COPIES
from pipelines.common.preflight import check_free_space
from pipelines.common.preflight import check_writable
from pipelines.common.tables import read_table
from pipelines.decoding.settings import FORBIDDEN_SCORE
from pipelines.summarization.inference import InferenceModel
from pipelines.summarization.special_tokens import END_ID
from pipelines.summarization.special_tokens import SEARCH_IDS

DEFAULT_PARITY_ROWS = 1000
# Generation is slow (three runtimes, greedy and beam): fewer dialogues by default.
DEFAULT_SUMMARIZER_PARITY_ROWS = 100


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
    parity_rows=None,
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
        text_column: str. Its text column; defaults to the run's (the
            document column of a summarization run).
        parity_rows: int. Use at most this many texts from it; defaults to
            1000 texts for a classifier, 100 dialogues for a summarizer.
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
    task = TASK_EXPORTS[run.task]
    texts = read_parity_texts(
        run, parity_texts, text_column or task.text_column(run), parity_rows or task.parity_rows
    )
    check_writable(model_dir)
    check_free_space(model_dir, run.model.count_params(), EXPORT_WEIGHT_COPIES)
    with staged_version(model_dir, version, overwrite) as staging:
        log(f"writing {name} version {version} (staged in {staging.path})")
        task.write_artifacts(run, staging.path, name, texts, opset, log)
        log(f"parity gate on {len(texts)} test {task.inputs} and edge cases")
        report = task.check_parity(run, staging.path, texts)
        write_json(os.path.join(staging.path, layout.PARITY_REPORT), report)
        write_model_card(staging.path, task.model_card(run, name, version, opset, report["passed"]))
        path = staging.publish() if report["passed"] else staging.reject()
    return ExportResult(passed=report["passed"], path=path, version=version, parity=report)


def read_parity_texts(run, source, column, limit):
    source = source or run.config.data.test
    if not source:
        raise UserInputError("the run names no test file for the parity gate; pass --parity-texts FILE")
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


def write_summarizer_artifacts(run, version_dir, name, texts, opset, log):
    log("  SavedModel (serving_default, beam_search, generate_token_ids, beam_search_token_ids, tokenize)")
    write_summarizer_saved_model(run, version_dir)
    logs = [
        predict_request(name, signature, inputs)
        for signature, inputs in summarizer_warmup_inputs(texts, run.tokenizer)
    ]
    write_warmup_file(version_dir, logs)
    log(f"  ONNX encoder and decoder step (opset {opset}) and tokenizer.json")
    onnx_dir = os.path.join(version_dir, layout.ONNX_DIR)
    os.makedirs(onnx_dir)
    max_length = run.config.generation.max_length
    convert_summarizer(run.model, onnx_dir, max_length, opset)
    tokenizer = build_dialogue_tokenizer(run.tokenizer.vocabulary)
    save_text_tokenizer(tokenizer, os.path.join(version_dir, layout.ONNX_TOKENIZER))
    write_json(os.path.join(version_dir, layout.ONNX_CONFIG), summarizer_onnx_config(run, opset))


def summarizer_onnx_config(run, opset):
    """`onnx/config.json`: everything `OnnxSummarizer.load` and other clients need."""
    inference = InferenceModel(run.model)
    heads, head_dim = cache_shape(inference)
    generation = run.search_options(run.beams)
    return {
        "task": run.task,
        "encoder_file": ENCODER_FILE,
        "decoder_step_file": DECODER_STEP_FILE,
        "tokenizer_file": os.path.basename(layout.ONNX_TOKENIZER),
        "max_document_length": run.max_document_length,
        "generation": generation.to_dict(),  # `DecodingSettings`
        "special_ids": dataclasses.asdict(SEARCH_IDS),  # `SpecialIds`
        "forbidden_score": FORBIDDEN_SCORE,
        "decoder_layers": len(inference.decoder_blocks),
        "cache_shape": [2, generation.max_length, heads, head_dim],
        "opset": opset,
        "encoder": {
            "inputs": {"encoder_ids": "int32 [batch, source]; 0 = [PAD]"},
            "outputs": {
                "encoder_padding_mask": "int32 [batch, source]",
                "cross_key_values_i": "float32 [batch, 2, source, heads, head_dim], one per decoder layer",
            },
        },
        "decoder_step": {
            "inputs": {
                "token_ids": "int32 [batch, 1]; the token at position index ([BOS] at 0)",
                "index": "int32 scalar",
                "encoder_padding_mask": "from the encoder",
                "past_key_values_i": "float32 [batch] + cache_shape; zeros before the first step",
                "cross_key_values_i": "from the encoder",
            },
            "outputs": {
                "logits": "float32 [batch, vocabulary]; of the token at index + 1",
                "present_key_values_i": "past_key_values_i with this step written at index",
            },
        },
    }


def check_summarizer_parity(run, version_dir, texts):
    """The summarizer's parity report of the artifacts in `version_dir`, each reloaded from disk."""
    runtimes = {
        "keras": KerasSummarizerRuntime(run, run.beams),
        "savedmodel": SavedModelSummarizerRuntime(load_saved_model(version_dir)),
        "onnx": OnnxSummarizerRuntime(
            OnnxSummarizer.load(os.path.join(version_dir, layout.ONNX_DIR)), run.beams
        ),
    }
    cases = summarizer_parity_cases(texts, run.tokenizer, run.max_document_length, run.beams)
    return run_summarizer_parity(cases, runtimes, END_ID, run.beams)


@dataclasses.dataclass(frozen=True)
class TaskExport:
    """What export does differently for one task.

    Attributes:
        inputs: str. What the parity texts are, for the progress line.
        parity_rows: int. Default number of parity texts.
        text_column: callable run → the column of the parity texts.
        write_artifacts: callable `(run, version_dir, name, texts, opset, log)`.
        check_parity: callable `(run, version_dir, texts)` → the parity report.
        model_card: callable `(run, name, version, opset, passed)` → the card dict.
    """

    inputs: str
    parity_rows: int
    text_column: object
    write_artifacts: object
    check_parity: object
    model_card: object


# Module functions are looked up at call time, so tests can replace them.
TASK_EXPORTS = {
    CLASSIFICATION: TaskExport(
        inputs="texts",
        parity_rows=DEFAULT_PARITY_ROWS,
        text_column=lambda run: run.config.data.text_column,
        write_artifacts=lambda *args: write_classifier_artifacts(*args),
        check_parity=lambda *args: check_classifier_parity(*args),
        model_card=lambda *args: classifier_card(*args),
    ),
    SUMMARIZATION: TaskExport(
        inputs="dialogues",
        parity_rows=DEFAULT_SUMMARIZER_PARITY_ROWS,
        text_column=lambda run: run.config.data.document_column,
        write_artifacts=lambda *args: write_summarizer_artifacts(*args),
        check_parity=lambda *args: check_summarizer_parity(*args),
        model_card=lambda *args: summarizer_card(*args),
    ),
}
