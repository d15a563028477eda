"""Learning-rate warmup and cosine decay over a step or time budget."""

import math
import time

import keras

from pipelines.common.optimizers import optimizer_step


def warmup_cosine(step, decay_fraction, *, peak, warmup_steps, min_ratio):
    """Linear warmup to `peak` over `warmup_steps`, then cosine decay.

    `decay_fraction` in [0, 1] says how far through the decay the run is; the
    rate ends at `peak * min_ratio`.
    """
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    cosine = 0.5 * (1.0 + math.cos(math.pi * min(max(decay_fraction, 0.0), 1.0)))
    return peak * (min_ratio + (1.0 - min_ratio) * cosine)


class WarmupCosineSchedule(keras.callbacks.Callback):
    """Sets the optimizer's learning rate before every batch; ends the run on budget.

    The run's progress is the larger of `steps / total_steps` and
    `elapsed / max_seconds`, so with a time budget the decay is stretched or
    squeezed to end exactly when the time is up, whatever the machine's speed,
    and training stops there (after the batch in flight). The elapsed time
    counts the validation passes, and the last one measured is reserved for the
    validation that follows the final batch (before the first one is measured:
    a third of a training step per validation batch), so `fit` ends within the
    budget.
    Without a budget it is a plain step schedule. Progress is read from
    `optimizer.iterations`, so a resumed run continues its schedule (its clock
    restarts).

    Args:
        peak: float. Learning rate at the end of warmup.
        warmup_steps: int. Steps of linear warmup.
        total_steps: int. Steps in the whole run (epochs × batches).
        min_ratio: float. Final rate as a fraction of `peak`.
        max_seconds: float. Time budget for `fit`; None for none.
        validation_steps: int. Batches per validation pass.
    """

    def __init__(
        self, peak, warmup_steps, total_steps, min_ratio=0.05, max_seconds=None,
        validation_steps=0,
    ):
        super().__init__()
        self.peak = peak
        self.warmup_steps = warmup_steps
        self.total_steps = max(total_steps, 1)
        self.min_ratio = min_ratio
        self.max_seconds = max_seconds
        self.validation_steps = validation_steps
        self.stopped_on_budget = False

    def on_train_begin(self, logs=None):
        self.start_time = time.monotonic()
        self.warmup_end_progress = None
        self.latest_progress = 0.0
        self.validation_seconds = None
        self.timed_from = None  # (time, step) after the first batch, which also traces

    def on_test_begin(self, logs=None):
        self.validation_start = time.monotonic()

    def on_test_end(self, logs=None):
        self.validation_seconds = time.monotonic() - self.validation_start

    def progress(self, step):
        """Fraction of the run done, never decreasing."""
        fraction = step / self.total_steps
        if self.max_seconds:
            elapsed = time.monotonic() - self.start_time + self.final_validation_seconds(step)
            fraction = max(fraction, elapsed / self.max_seconds)
        self.latest_progress = max(self.latest_progress, fraction)
        return self.latest_progress

    def final_validation_seconds(self, step):
        if self.validation_seconds is not None:
            return self.validation_seconds
        if self.timed_from is None or step <= self.timed_from[1]:
            return 0.0
        start_time, start_step = self.timed_from
        step_seconds = (time.monotonic() - start_time) / (step - start_step)
        return step_seconds * self.validation_steps / 3

    def on_train_batch_begin(self, batch, logs=None):
        step = optimizer_step(self.model.optimizer)
        progress = self.progress(step)
        if step >= self.warmup_steps and self.warmup_end_progress is None:
            self.warmup_end_progress = min(progress, 0.99)
        decay_fraction = 0.0
        if self.warmup_end_progress is not None:
            decay_fraction = (progress - self.warmup_end_progress) / (1.0 - self.warmup_end_progress)
        rate = warmup_cosine(
            step, decay_fraction, peak=self.peak, warmup_steps=self.warmup_steps,
            min_ratio=self.min_ratio,
        )
        self.model.optimizer.learning_rate.assign(rate)

    def on_train_batch_end(self, batch, logs=None):
        if self.timed_from is None:
            self.timed_from = (time.monotonic(), optimizer_step(self.model.optimizer))
        step = optimizer_step(self.model.optimizer)
        if self.progress(step) >= 1.0:
            # Reaching `total_steps` is the planned end, not the budget's.
            self.stopped_on_budget = self.max_seconds is not None and step < self.total_steps
            self.model.stop_training = True
