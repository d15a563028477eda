"""Export a trained run directory as a TF Serving SavedModel and ONNX, behind a parity gate.

`python -m export RUN_DIR --name NAME` (see `export.cli`), or `export.exporter.export_run`.
One folder per task (`export/classifier/`, `export/summarizer/`, registered in
`export.tasks`); each folder's `onnx_runner` runs the ONNX files with onnxruntime alone
(`OnnxClassifier`; `OnnxSummarizer`, generation loops in numpy). This package
imports nothing heavy at the top level so that it stays TensorFlow-free.
"""

from pipelines.common.install_extras import require

require("export", ("onnxruntime", "tokenizers"))  # what every part of export needs
