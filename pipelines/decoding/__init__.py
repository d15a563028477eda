"""Decoding: the search rules, in TensorFlow and in NumPy side by side.

- `settings.py`: `DecodingSettings` (beams, lengths, length penalty, no-repeat
  n-gram size, repeating the previous token, batch size), the one type the training config's `generation`
  section, the command line, the SavedModel export and the onnxruntime runner
  use; `SpecialIds`; `FORBIDDEN_SCORE`. Plain Python.
- `tf_search.py`: `GreedySearch` and `BeamSearch` as one `tf.while_loop` with
  static shapes (the pipeline's XLA-compiled generation and the SavedModel).
- `numpy_search.py`: the same searches in NumPy, for onnxruntime where
  TensorFlow is not installed.

The rules, the same on both sides (tests/pipelines/test_decoding.py runs both
on the same scores and asserts identical tokens):

- `[PAD]` and `[BOS]` are never generated; `[EOS]` ends a hypothesis and is
  forbidden until `min_length` tokens exist; a token that would repeat an
  n-gram of `no_repeat_ngram_size` generated tokens is forbidden, and so is the
  token just generated unless `repeat_previous_token`. Forbidden
  tokens get `FORBIDDEN_SCORE`, a large finite negative log-probability.
- Greedy search takes the most probable token; beam search keeps fairseq's
  bookkeeping and ranks finished hypotheses by
  `sum of log-probabilities / length ** length_penalty`.
- Hypotheses live in a fixed int32 buffer `(rows, max_length + 1)`: position 0
  holds `[BOS]`, position t the t-th generated token; at step `index`,
  `index` tokens exist and the next goes to `index + 1`. The result drops
  position 0: `(rows, max_length)`, tokens, `[EOS]`, then `[PAD]`.

Changing a rule means changing both files and keeping the shared test green.
Nothing is imported here, so `pipelines.decoding.numpy_search` loads without
TensorFlow.
"""
