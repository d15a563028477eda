"""TF Serving's request batching for an exported version: `batching_params.pbtxt`.

A model server started with `--enable_batching --enable_per_model_batching_parameters`
reads this file from the SavedModel's own folder (the version folder, beside
`saved_model.pb`: `GetPerModelBatchingParams` in TF Serving's
`servables/tensorflow/session_bundle_util.cc`), and merges concurrent requests
into batches of up to `max_batch_size` rows, waiting at most
`batch_timeout_micros` for a batch to fill. The size of the batch thread pool
is the server's, not the model's: `num_batch_threads` in the file given to
`--batching_parameters_file` (TF Serving's advice on CPU: the number of cores).

`pad_variable_length_inputs` stays false. TF Serving pads a shorter request's
tensors with that tensor's own first element (`AddPadding` in
`batching/batching_util.h`), so `predict_token_ids` requests of different
lengths would be padded with their first id ([CLS]) rather than 0, and the
model would read the padding as text. The text signatures need no padding
(strings `[batch]`); clients that send ids pad them with 0 to one length
(e.g. the model's `max_length`, `onnx/config.json`).
"""

import os

from export import layout

# Per task, from BENCHMARKS.md's inference tables (batch 1 against batch 32/16 on
# 2 CPU cores). Classifier: batches of 32 give 1.6× (MiniLM) to 3.6× (the default
# model) the texts/s of one text at a time; waiting 2 ms adds about a tenth of
# MiniLM's 18 ms one-text latency. Summarizer: generation batches up to 16
# dialogues (the pipeline's own batch); one greedy summary takes about 95 ms,
# so 10 ms of waiting is again about a tenth. The queue holds a few seconds of
# work at most; beyond it the server answers UNAVAILABLE at once instead of
# queueing without bound.
BATCHING_PARAMETERS = {
    "classification": {"max_batch_size": 32, "batch_timeout_micros": 2000, "max_enqueued_batches": 8},
    "summarization": {"max_batch_size": 16, "batch_timeout_micros": 10000, "max_enqueued_batches": 4},
}


def batching_parameters_text(task):
    """The `BatchingParameters` text proto for `task` (a key of `BATCHING_PARAMETERS`)."""
    if task not in BATCHING_PARAMETERS:
        raise ValueError(f"no batching parameters for task {task!r}; expected one of {sorted(BATCHING_PARAMETERS)}")
    lines = [
        "# TF Serving batching for this model: serve with --enable_batching",
        "# --enable_per_model_batching_parameters (see README, Serving).",
    ]
    lines += [f"{name} {{ value: {value} }}" for name, value in BATCHING_PARAMETERS[task].items()]
    # False: TF Serving would pad ids with their first element, not 0 (module docstring).
    lines.append("pad_variable_length_inputs: false")
    return "\n".join(lines) + "\n"


def write_batching_parameters(version_dir, task):
    path = os.path.join(version_dir, layout.BATCHING_PARAMETERS_FILE)
    with open(path, "w", encoding="utf-8") as file:
        file.write(batching_parameters_text(task))
    return path
