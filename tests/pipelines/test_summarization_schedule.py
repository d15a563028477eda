"""The summarizer's learning-rate schedule: how a run ends."""

import types

import keras

from pipelines.summarization.learning_rate import WarmupCosineSchedule


def run_steps(schedule, steps):
    """Drives the callback like `fit` would, with a stand-in model; returns the step it stopped at."""
    optimizer = types.SimpleNamespace(iterations=0, learning_rate=keras.Variable(0.0))
    model = types.SimpleNamespace(optimizer=optimizer, stop_training=False)
    schedule.set_model(model)
    schedule.on_train_begin()
    for batch in range(steps):
        schedule.on_train_batch_begin(batch)
        optimizer.iterations += 1
        schedule.on_train_batch_end(batch)
        if model.stop_training:
            break
    return optimizer.iterations


def test_reaching_the_planned_steps_is_not_a_time_budget_stop():
    schedule = WarmupCosineSchedule(1e-3, warmup_steps=2, total_steps=5, max_seconds=3600)
    assert run_steps(schedule, 10) == 5
    assert not schedule.stopped_on_budget


def test_running_out_of_time_is_a_time_budget_stop():
    schedule = WarmupCosineSchedule(1e-3, warmup_steps=2, total_steps=1000, max_seconds=1e-9)
    assert run_steps(schedule, 10) < 1000
    assert schedule.stopped_on_budget
