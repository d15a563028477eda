"""Progress that reads well off a terminal: `ProgressLines`, `ProgressLogger`, `fit_reporting`,
and a `train` command whose standard output goes to a file."""

import io
import sys
import threading
import time

import keras
import numpy as np
import pytest

from pipelines.common.callbacks import ProgressLogger
from pipelines.common.callbacks import fit_reporting
from pipelines.common.progress import ProgressLines
from pipelines.common.progress import format_duration
from pipelines.common.progress import progress_bar

CONTROL_CHARACTERS = ("\r", "\x1b", "\b")


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class StampedStream(io.StringIO):
    """Records the clock's time of every line written."""

    def __init__(self, clock):
        super().__init__()
        self.clock = clock
        self.stamps = []

    def write(self, text):
        self.stamps += [self.clock.now] * text.count("\n")
        return super().write(text)


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_durations_read_as_seconds_minutes_or_hours():
    assert [format_duration(s) for s in (0, 42.4, 185, 3600 + 125)] == ["0s", "42s", "3m05s", "1h02m"]


def test_progress_lines_come_first_then_every_interval_then_at_the_end():
    clock = FakeClock()
    stream = io.StringIO()
    progress = ProgressLines(100, unit_name="document", interval=30, stream=stream, clock=clock)
    for done in range(1, 101):
        clock.now += 1  # one second per document
        progress.update(done)
    assert stream.getvalue().splitlines() == [
        "documents 1/100 (1%) - 1s elapsed",
        "documents 31/100 (31%) - 31s elapsed, about 1m09s left",
        "documents 61/100 (61%) - 1m01s elapsed, about 39s left",
        "documents 91/100 (91%) - 1m31s elapsed, about 9s left",
        "documents 100/100 (100%) - 1m40s elapsed",
    ]


def test_progress_lines_show_values_and_count_with_add():
    stream = io.StringIO()
    progress = ProgressLines(None, label="batch", interval=0, stream=stream, clock=FakeClock())
    progress.add(2, {"loss": 0.51234, "tiny": 1e-5})
    progress.add(3)
    assert stream.getvalue().splitlines() == [
        "batch 2 - loss 0.5123 - tiny 1.0000e-05 - 0s elapsed",
        "batch 5 - 0s elapsed",
    ]


def test_progress_bar_is_keras_bar_on_a_terminal_only(monkeypatch):
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    lines = progress_bar(10, unit_name="document")
    lines.close()
    assert isinstance(lines, ProgressLines) and lines.heartbeat is not None
    monkeypatch.setattr(sys, "stdout", Terminal())
    assert isinstance(progress_bar(10, unit_name="document"), keras.utils.Progbar)


def reporting(verbose, stream=None):
    with fit_reporting(verbose, stream) as chosen:
        return chosen


def test_fit_reporting_chooses_by_where_output_goes():
    assert reporting("auto", Terminal()) == (1, [])
    verbose, callbacks = reporting("auto", io.StringIO())
    assert verbose == 0 and [type(callback) for callback in callbacks] == [ProgressLogger]
    verbose, callbacks = reporting("lines", Terminal())  # --progress overrides
    assert verbose == 0 and [type(callback) for callback in callbacks] == [ProgressLogger]
    assert reporting(2, io.StringIO()) == (2, []) and reporting(0) == (0, [])
    with pytest.raises(ValueError, match="verbose='bar'"):
        reporting("bar")


class Tick(keras.callbacks.Callback):
    """Each training or validation batch takes `seconds` on the fake clock."""

    def __init__(self, clock, seconds):
        super().__init__()
        self.clock, self.seconds = clock, seconds

    def on_train_batch_begin(self, batch, logs=None):
        self.clock.now += self.seconds

    def on_test_batch_begin(self, batch, logs=None):
        self.clock.now += self.seconds

    def on_predict_batch_begin(self, batch, logs=None):
        self.clock.now += self.seconds


def test_fit_writes_a_plain_line_every_interval_and_at_each_epoch_end():
    keras.utils.set_random_seed(1)
    x = np.random.default_rng(0).normal(size=(40, 3)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    clock = FakeClock()
    stream = StampedStream(clock)
    logger = ProgressLogger(interval=30, stream=stream, clock=clock, heartbeat=False)
    model.fit(
        x, y, batch_size=4, epochs=2, validation_data=(x[:8], y[:8]), verbose=0,
        callbacks=[Tick(clock, seconds=7), logger],
    )
    text = stream.getvalue()
    lines = text.splitlines()
    assert not any(character in text for character in CONTROL_CHARACTERS)
    assert lines[0] == "fit: 2 epoch(s) of 10 steps; a line every 30s and at each epoch's end"
    # 7 s per step: a line every fifth step (35 s), and one at each epoch's end.
    assert lines[1].startswith("epoch 1/2 step 5/10 (50%) - ")
    assert "loss " in lines[1] and "accuracy " in lines[1] and lines[1].endswith("35s elapsed, about 35s left")
    ends = [line for line in lines if " done in " in line]
    assert [line.split(" done")[0] for line in ends] == ["epoch 1/2", "epoch 2/2"]
    assert all("val_loss " in line and "val_accuracy " in line for line in ends)
    assert ends[1].startswith("epoch 2/2 done in 1m24s (2m48s since fit began) - ")
    gaps = np.diff(stream.stamps)
    assert len(stream.stamps) == len(lines) and gaps.max() <= 30 + 7


def test_predict_writes_a_plain_line_every_interval():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    clock = FakeClock()
    stream = io.StringIO()
    model.predict(
        np.zeros((40, 3), "float32"), batch_size=4, verbose=0,
        callbacks=[Tick(clock, seconds=20), ProgressLogger(interval=30, stream=stream, clock=clock, heartbeat=False)],
    )
    assert stream.getvalue().splitlines() == [
        "predict batch 2/10 (20%) - 40s elapsed, about 2m40s left",
        "predict batch 4/10 (40%) - 1m20s elapsed, about 2m00s left",
        "predict batch 6/10 (60%) - 2m00s elapsed, about 1m20s left",
        "predict batch 8/10 (80%) - 2m40s elapsed, about 40s left",
        "predict batch 10/10 (100%) - 3m20s elapsed",
    ]


class SlowStep(keras.callbacks.Callback):
    """The second training step takes `seconds` of real time (a first step that compiles, say)."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds

    def on_train_batch_begin(self, batch, logs=None):
        if batch == 1:
            time.sleep(self.seconds)


class Fail(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        raise RuntimeError("stop")


def heartbeats_running():
    time.sleep(0.3)  # a stopped thread ends at its next wake-up, within interval / 4
    return [thread for thread in threading.enumerate() if thread.name == "progress-heartbeat"]


def test_a_step_longer_than_the_interval_gets_heartbeat_lines():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    data = np.zeros((12, 3), "float32"), np.zeros((12,), "float32")
    stream = io.StringIO()
    with fit_reporting("lines", stream) as (verbose, reporters):
        reporters[0].interval = 0.2
        model.fit(*data, batch_size=4, epochs=1, verbose=verbose, callbacks=[SlowStep(1.0), *reporters])
    lines = stream.getvalue().splitlines()
    beats = [line for line in lines if line.endswith(" - step 2 running")]
    assert 2 <= len(beats) <= 6, lines  # one every 0.2 s of the 1 s step
    assert beats[0].startswith("epoch 1/1 step 1/3 (33%) - ")
    assert not heartbeats_running()
    logger = reporters[0]
    logger.phase = None  # between validation and the epoch's end: checkpoints and backups
    assert logger.heartbeat_line(logger.started + 75) == "fit: 1m15s since it began; saving or preparing between steps"
    logger.start_phase(3, "epoch 1/1 step", "step")
    logger.phase.seen = 3  # after the last step, e.g. while Keras gathers the outputs
    assert logger.heartbeat_line(logger.clock()).endswith("step 3/3 (100%) - 0s elapsed - finishing")


def test_a_failed_fit_stops_the_heartbeat():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(RuntimeError, match="stop"):
        with fit_reporting("lines", io.StringIO()) as (verbose, reporters):
            reporters[0].interval = 0.2
            model.fit(np.zeros((8, 3)), np.zeros((8,)), verbose=verbose, callbacks=[*reporters, Fail()])
    assert not heartbeats_running()


def test_progress_lines_heartbeat_covers_a_slow_unit_and_stops_at_the_end():
    stream = io.StringIO()
    progress = ProgressLines(3, unit_name="document", interval=0.2, stream=stream, heartbeat=True)
    progress.add(1)
    time.sleep(1.0)  # the second document is slow
    progress.add(2)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("documents 1/3 (33%) - ") and lines[-1].startswith("documents 3/3 (100%) - ")
    beats = lines[1:-1]
    assert 2 <= len(beats) <= 6 and all(line.startswith("documents 1/3 (33%) - ") for line in beats)
    assert all(line.endswith(" - still running") for line in beats)
    assert not heartbeats_running()


def test_train_with_output_to_a_file_writes_plain_short_lines(tiny_run_log):
    """The default `--progress` when standard output is a file, not a terminal."""
    assert not any(character in tiny_run_log for character in CONTROL_CHARACTERS)
    lines = tiny_run_log.splitlines()
    assert max(len(line) for line in lines) < 500
    assert any(line.startswith("fit: 1 epoch(s) of ") for line in lines)
    assert any(line.startswith("epoch 1/1 done in ") and "val_accuracy" in line for line in lines)
    assert "evaluating the kept weights on valid: 80 texts" in lines
    assert lines[-1].startswith("test: accuracy ")
