"""Export a trained run directory as a TF Serving SavedModel and ONNX, behind a parity gate.

`python -m export RUN_DIR --name NAME` (see `export.cli`), or `export.exporter.export_run`.
`export.onnx_runtime` (classifier) and `export.onnx_summarizer` (summarizer:
generation loops in numpy) run the ONNX files with onnxruntime alone; this package
imports nothing heavy at the top level so that it stays TensorFlow-free.
"""

from pipelines.common.install_extras import require

require("export", ("onnxruntime", "tokenizers"))  # what every part of export needs
