"""AdamW with linear warmup then cosine decay, the optimizer both pipelines train with."""

import keras


def optimizer_step(optimizer):
    """The optimizer's step count as an int (under a strategy its variable is mirrored)."""
    return int(keras.ops.convert_to_numpy(optimizer.iterations))


# Normalization scales/offsets and biases are not decayed (as in BERT).
NOT_DECAYED = ["bias", "gamma", "beta"]


def warmup_cosine_schedule(peak_learning_rate, total_steps, warmup_fraction=0.05):
    """Linear warmup from 0 to the peak over `warmup_fraction` of the steps, then
    cosine decay to 0 at `total_steps` (a serializable Keras schedule)."""
    if total_steps <= 0:
        raise ValueError(f"`total_steps` must be positive. Received: total_steps={total_steps}")
    warmup_steps = int(warmup_fraction * total_steps)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0,
        decay_steps=max(total_steps - warmup_steps, 1),
        warmup_target=peak_learning_rate,
        warmup_steps=warmup_steps,
    )


def adamw(peak_learning_rate, total_steps, weight_decay=0.01, warmup_fraction=0.05, clipnorm=1.0):
    """AdamW on the warmup-cosine schedule, with gradient-norm clipping."""
    optimizer = keras.optimizers.AdamW(
        learning_rate=warmup_cosine_schedule(peak_learning_rate, total_steps, warmup_fraction),
        weight_decay=weight_decay,
        clipnorm=clipnorm,
    )
    optimizer.exclude_from_weight_decay(var_names=NOT_DECAYED)
    return optimizer
