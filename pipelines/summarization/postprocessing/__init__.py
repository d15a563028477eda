"""From generated summary ids to the text a user sees: detokenization and truecasing.

One module per runtime, side by side, giving identical strings
(tests/pipelines/test_summary_postprocessing.py):

- `python_text.py`: plain Python (`re`), for `generate` and the onnxruntime
  runner, which has no TensorFlow; it also holds the spacing patterns both use.
- `graph_text.py`: TensorFlow string ops (RE2, ICU case mapping), for the
  tokenizer's `detokenize` and the SavedModel's signatures.

Nothing is imported here, so `python_text` loads without TensorFlow.
"""
