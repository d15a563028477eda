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

    With `from_log_probabilities=True` the predictions are already normalized
    log-probabilities (a copying summarizer's mixture, see `PointerGenerator`)
    and are used as they are: the loss is `(1 − ε)·(−log p_label) + ε·mean(−log p)`,
    the cross-entropy against `(1 − ε)·onehot + ε/V`.

    Args:
        label_smoothing: float in [0, 1). Defaults to 0.1.
        from_log_probabilities: bool. Predictions are log-probabilities, not
            logits. Defaults to False.
        reduction: Keras reduction. Defaults to `"mean_with_sample_weight"`.
        name: str. Defaults to `"smoothed_sparse_cross_entropy"`.
    """

    def __init__(
        self,
        label_smoothing=0.1,
        from_log_probabilities=False,
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
        self.from_log_probabilities = from_log_probabilities

    def call(self, y_true, y_pred):
        log_probs = ops.cast(y_pred, "float32")
        if not self.from_log_probabilities:
            log_probs = ops.log_softmax(log_probs, axis=-1)
        labels = ops.expand_dims(ops.cast(y_true, "int32"), -1)
        label_loss = -ops.squeeze(ops.take_along_axis(log_probs, labels, axis=-1), -1)
        uniform_loss = -ops.mean(log_probs, axis=-1)
        return (1.0 - self.label_smoothing) * label_loss + self.label_smoothing * uniform_loss

    def get_config(self):
        config = super().get_config()
        config.update(
            {"label_smoothing": self.label_smoothing, "from_log_probabilities": self.from_log_probabilities}
        )
        return config
