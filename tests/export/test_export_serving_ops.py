"""Exported SavedModels hold only ops the stock TF Serving model server runs.

The classifier's export is checked here; the summarizer's and the pretrained
classifier's beside their own export fixtures (test_export_summarizer.py,
test_export_pretrained.py), each through `export.serving_ops`.
"""


import keras
import tensorflow as tf

from export.serving_ops import ALLOWED_OPS
from export.serving_ops import SERVING_OPS
from export.serving_ops import saved_model_ops
from export.serving_ops import unlisted_ops


def test_classifier_saved_model_uses_only_serving_ops(version_dir):
    assert saved_model_ops(version_dir) & {"FastWordpieceTokenizeWithOffsets", "Einsum"}
    assert unlisted_ops(version_dir) == []


def test_xla_ops_in_a_loop_body_are_reported(tmp_path):
    # ops.slice_update lowers to XlaDynamicUpdateSlice; inside a while body
    # it lives only in the function library, which the check must read.
    class Writer(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
        def write(self, values):
            def body(i, values):
                return i + 1, keras.ops.slice_update(values, (0, i), tf.ones((tf.shape(values)[0], 1)))

            return tf.while_loop(lambda i, _: i < 4, body, (tf.constant(0), values))[1]

    path = str(tmp_path / "writer")
    tf.saved_model.save(Writer(), path)
    assert "XlaDynamicUpdateSlice" in saved_model_ops(path)
    assert unlisted_ops(path) == ["XlaDynamicUpdateSlice"]


def test_every_family_says_why_and_no_op_is_listed_twice():
    listed = [op for _, ops in SERVING_OPS.values() for op in ops]
    assert len(listed) == len(set(listed)) == len(ALLOWED_OPS)
    assert all(reason.strip() for reason, _ in SERVING_OPS.values())
    assert not any(op.startswith("Xla") for op in ALLOWED_OPS)
