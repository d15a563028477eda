"""The summarization task's export, registered in export/tasks.py.

Artifacts: the SavedModel (greedy and beam search on texts or token ids,
tokenize) with its warmup records, `onnx/encoder.onnx` and
`onnx/decoder_step.onnx`, the Hugging Face tokenizer and `onnx/config.json`.
The parity gate compares generated token sequences and summary texts.
"""

import os

from export import layout
from export.summarizer import model_card
from export.summarizer import onnx_graph
from export.summarizer import parity_check
from export.summarizer import saved_model
from export.summarizer.onnx_runner import OnnxSummarizer
from export.summarizer.run import load_summarizer_run
from export.summary_text import build_dialogue_tokenizer
from export.tasks import TaskExport
from export.text_tokenizer import CHECKPOINT_TOKENIZER_FILE
from export.text_tokenizer import checkpoint_text_tokenizer
from export.text_tokenizer import save_text_tokenizer
from export.batching import write_batching_parameters
from export.warmup import warmup_logs
from export.warmup import write_warmup_file
from pipelines.common.atomic import write_json_atomic
from pipelines.common.sectioned_config import SUMMARIZATION

# Generation is slow (three runtimes, greedy and beam): fewer dialogues by default.
DEFAULT_PARITY_ROWS = 100
RUNTIME_NAMES = {
    "keras": "Keras (what `summarize` prints)",
    "savedmodel": "SavedModel (serving_default)",
    "onnx": "onnxruntime (no TensorFlow)",
}


def write_artifacts(run, version_dir, name, texts, opset, log):
    log("  SavedModel (serving_default, beam_search, generate_token_ids, beam_search_token_ids, tokenize)")
    saved_model.write_summarizer_saved_model(run, version_dir)
    requests = saved_model.summarizer_warmup_inputs(texts, run.tokenizer)
    write_warmup_file(version_dir, warmup_logs(name, requests))
    write_batching_parameters(version_dir, SUMMARIZATION)
    log(f"  ONNX encoder and decoder step (opset {opset}) and tokenizer.json")
    onnx_dir = os.path.join(version_dir, layout.ONNX_DIR)
    os.makedirs(onnx_dir)
    max_length = run.config.generation.max_length
    onnx_graph.convert_summarizer(run.model, onnx_dir, max_length, opset)
    tokenizer = build_dialogue_tokenizer(run.tokenizer.vocabulary)
    save_text_tokenizer(tokenizer, os.path.join(version_dir, layout.ONNX_TOKENIZER))
    if run.is_warm_started:  # documents take the checkpoint's own tokenizer
        document_tokenizer = checkpoint_text_tokenizer(
            os.path.join(run.document_tokenizer_dir, CHECKPOINT_TOKENIZER_FILE), run.max_document_length
        )
        save_text_tokenizer(document_tokenizer, os.path.join(version_dir, layout.ONNX_DOCUMENT_TOKENIZER))
    write_json_atomic(os.path.join(version_dir, layout.ONNX_CONFIG), onnx_graph.summarizer_onnx_config(run, opset))


def demo_answers(run, version_dir, text):
    """{runtime: its greedy summary of one dialogue}."""
    runtimes = parity_check.load_runtimes(run, version_dir)
    return {
        RUNTIME_NAMES[name]: runtime.summaries([text], "greedy")[1][0]
        for name, runtime in runtimes.items()
    }


TASK = TaskExport(
    name=SUMMARIZATION,
    inputs="dialogues",
    parity_rows=DEFAULT_PARITY_ROWS,
    text_column=lambda run: run.config.data.document_column,
    reference_column=lambda run: run.config.data.summary_column,
    load_run=load_summarizer_run,
    write_artifacts=write_artifacts,
    check_parity=parity_check.check_parity,
    format_parity_table=parity_check.format_parity_table,
    card_fields=model_card.card_fields,
    card_text=model_card.card_text,
    onnx_runner=OnnxSummarizer,
    onnx_model_files=("encoder_file", "decoder_step_file"),
    example="Anna: lunch at 1?\nBen: sure, see you there",
    demo_answers=demo_answers,
)
