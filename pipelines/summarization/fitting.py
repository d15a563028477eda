"""What `fit` needs on any Keras backend: the compile settings and a step clock.

Keras alone (no TensorFlow): `training.py` uses these on TensorFlow and
`pipelines.summarization.jax_training` on JAX, so both train the same objective.
"""

import time

import keras

from pipelines.common.optimizers import NOT_DECAYED
from pipelines.summarization.losses import SmoothedSparseCrossEntropy
from pipelines.summarization.model import COPY_HEAD


def compile_summarizer(model, training, jit_compile=None):
    """Compiles for `fit`: AdamW, label-smoothed loss and token accuracy over real tokens.

    The learning rate is set every batch by `WarmupCosineSchedule`; norms and
    biases get no weight decay. `jit_compile` overrides `training.jit_compile`.
    A copying model's outputs are log-probabilities, which the loss takes as they are.
    """
    copies = any(layer.name == COPY_HEAD for layer in model.layers)
    optimizer = keras.optimizers.AdamW(
        learning_rate=training.learning_rate,
        weight_decay=training.weight_decay,
        beta_2=0.98,
        global_clipnorm=training.gradient_clip_norm,
    )
    optimizer.exclude_from_weight_decay(var_names=NOT_DECAYED)
    model.compile(
        optimizer=optimizer,
        loss=SmoothedSparseCrossEntropy(
            label_smoothing=training.label_smoothing, from_log_probabilities=copies
        ),
        # Weighted by the datasets' sample_weight: padding counts for nothing.
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=training.jit_compile if jit_compile is None else jit_compile,
    )
    return model


class StepClock(keras.callbacks.Callback):
    """Seconds spent in training steps after the first (which also traces the graph)."""

    def __init__(self):
        super().__init__()
        self.seconds = 0.0
        self.steps = 0
        self._traced = False

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if self._traced:
            self.seconds += time.perf_counter() - self._start
            self.steps += 1
        self._traced = True
