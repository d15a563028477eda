"""Token-level cross-entropy with label smoothing over integer targets."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="pipelines.summarization")
class SmoothedSparseCrossEntropy(keras.losses.Loss):
    """Cross-entropy from logits against int labels, with label smoothing.

    The target distribution puts `1 - label_smoothing` on the label and spreads
    `label_smoothing` uniformly over the vocabulary (Szegedy et al., 2016), which
    keras' sparse cross-entropy does not offer. The default reduction averages
    over the sample weights, so with weights 0 on padding the loss is the mean
    over real tokens, whatever the amount of padding.

    Args:
        label_smoothing: float in [0, 1). Defaults to 0.1.
        reduction: Keras reduction. Defaults to `"mean_with_sample_weight"`.
        name: str. Defaults to `"smoothed_sparse_cross_entropy"`.
    """

    def __init__(
        self,
        label_smoothing=0.1,
        reduction="mean_with_sample_weight",
        name="smoothed_sparse_cross_entropy",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(
                f"`label_smoothing` must be in [0, 1). Received: label_smoothing={label_smoothing}"
            )
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        log_probs = ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1)
        labels = ops.expand_dims(ops.cast(y_true, "int32"), -1)
        label_loss = -ops.squeeze(ops.take_along_axis(log_probs, labels, axis=-1), -1)
        uniform_loss = -ops.mean(log_probs, axis=-1)
        return (1.0 - self.label_smoothing) * label_loss + self.label_smoothing * uniform_loss

    def get_config(self):
        config = super().get_config()
        config.update({"label_smoothing": self.label_smoothing})
        return config
