"""Progress that reads well in a file: plain lines when standard output is not a terminal.

Keras's `Progbar` redraws one line with carriage returns and colour codes
whenever it runs on a POSIX system (Keras 3.15 counts `"posix" in
sys.modules` as an interactive display), so output sent to a file, a CI log
or `nohup` becomes one line of hundreds of kilobytes. `ProgressLines` has the
same `update`/`add` interface and prints a plain line at most every
`interval` seconds and at the end; `progress_bar` picks Keras's bar on a
terminal and `ProgressLines` elsewhere. Training's counterpart, a Keras
callback, is `ProgressLogger` in callbacks.py.
"""

import math
import sys
import threading
import time

# Seconds between two progress lines: well inside a minute even when a step is slow.
PROGRESS_LINE_SECONDS = 30


def writes_to_terminal(stream=None):
    """Whether `stream` (default: standard output) is an interactive terminal."""
    stream = sys.stdout if stream is None else stream
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def format_duration(seconds):
    """`42s`, `3m05s` or `1h02m`."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def format_value(value):
    """A metric as Keras prints it: 4 decimals, or scientific notation when tiny."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isfinite(value) and value != 0 and abs(value) < 1e-3:
        return f"{value:.4e}"
    return f"{value:.4f}"


def format_values(values):
    """`loss 0.4123 - accuracy 0.8100` from a dict or a list of pairs."""
    pairs = values.items() if isinstance(values, dict) else values or ()
    return " - ".join(f"{name} {format_value(value)}" for name, value in pairs)


class Heartbeat:
    """Writes lines, and a line of its own whenever `interval` seconds pass without one.

    Progress lines come after units of work, and one unit can outlast the
    interval (a first step that compiles, a batch of beam search on a busy
    machine). Between `start()` and `stop()` a daemon thread checks a few
    times per interval and, when nothing was written for `interval` seconds,
    writes `describe(now)`: what is still running.

    Args:
        interval: float. Most seconds without a line while running.
        describe: callable from the clock's time to the line to write.
        stream: file object. Defaults to standard output at each write.
        clock: callable returning seconds. Defaults to `time.monotonic`.
        enabled: bool. False: `start` does nothing (lines are still written).
    """

    THREAD_NAME = "progress-heartbeat"

    def __init__(self, interval, describe, stream=None, clock=time.monotonic, enabled=True):
        self.interval = interval
        self.describe = describe
        self.stream = stream
        self.clock = clock
        self.enabled = enabled
        self.last_written = None
        self._lock = threading.Lock()
        self._stop = None

    def write(self, line):
        with self._lock:
            print(line, file=self.stream or sys.stdout, flush=True)
            self.last_written = self.clock()

    def start(self):
        self.stop()
        if self.last_written is None:
            self.last_written = self.clock()
        if self.enabled:
            self._stop = threading.Event()
            threading.Thread(target=self._run, args=(self._stop,), name=self.THREAD_NAME, daemon=True).start()

    def stop(self):
        if self._stop is not None:
            self._stop.set()
            self._stop = None

    def _run(self, stop):
        while not stop.wait(min(1.0, self.interval / 4)):
            now = self.clock()
            if now - self.last_written >= self.interval:
                self.write(self.describe(now))


class ProgressLines:
    """A `keras.utils.Progbar` look-alike that writes plain lines.

    Each line says how far (`documents 96/819 (12%)`), the latest values,
    the time since it began and an estimate of the time left; no carriage
    returns, no colour codes. A line is written at the first update, then
    whenever `interval` seconds have passed since the previous one, and at
    the end.

    Args:
        target: int or None. Total units, if known.
        unit_name: str. What is counted, e.g. `"document"`.
        label: str. Text at the start of each line. Defaults to `unit_name + "s"`.
        interval: float. Least seconds between two lines. Defaults to
            `PROGRESS_LINE_SECONDS`.
        stream: file object. Defaults to standard output at each write.
        clock: callable returning seconds (for tests). Defaults to
            `time.monotonic`.
        write: callable taking one line, in place of printing it to `stream`.
        heartbeat: bool. Between the first line and the end (or `close()`),
            also write a line whenever `interval` seconds pass without one
            (`Heartbeat`). Defaults to False.
    """

    def __init__(self, target, unit_name="step", label=None, interval=PROGRESS_LINE_SECONDS, stream=None,
                 clock=time.monotonic, write=None, heartbeat=False):
        self.target = target
        self.unit_name = unit_name
        self.label = f"{unit_name}s" if label is None else label
        self.interval = interval
        self.stream = stream
        self.clock = clock
        self.writer = write
        self.start = clock()
        self.last_line = None
        self.seen = 0
        self.after_first = None  # (time, count) after the first update: the rate leaves out tracing
        self.heartbeat = Heartbeat(interval, self.waiting_line, stream, clock) if heartbeat else None
        if self.heartbeat is not None:
            self.heartbeat.start()

    def update(self, current, values=None, finalize=None):
        now = self.clock()
        if self.after_first is None and current > 0:
            self.after_first = (now, current)
        self.seen = current
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        due = self.last_line is None or now - self.last_line >= self.interval
        if finalize or due:
            self.write(self.line(current, values, now, finalize))
            self.last_line = now
        if finalize:
            self.close()

    def close(self):
        """Stops the heartbeat (the end does too)."""
        if self.heartbeat is not None:
            self.heartbeat.stop()

    def waiting_line(self, now):
        return self.line(self.seen, None, now, False) + " - still running"

    def add(self, n, values=None):
        self.update(self.seen + n, values)

    def remaining_seconds(self, current, now):
        if self.target is None or self.after_first is None:
            return None
        first_time, first_count = self.after_first
        if current <= first_count:
            return None
        per_unit = (now - first_time) / (current - first_count)
        return per_unit * max(self.target - current, 0)

    def line(self, current, values, now, finalize):
        if self.target:
            parts = [f"{self.label} {current}/{self.target} ({100 * current / self.target:.0f}%)"]
        else:
            parts = [f"{self.label} {current}"]
        if values:
            parts.append(format_values(values))
        timing = f"{format_duration(now - self.start)} elapsed"
        done = finalize or (self.target is not None and current >= self.target)
        remaining = None if done else self.remaining_seconds(current, now)
        if remaining is not None:
            timing += f", about {format_duration(remaining)} left"
        parts.append(timing)
        return " - ".join(parts)

    def write(self, line):
        if self.writer is not None:
            self.writer(line)
        elif self.heartbeat is not None:
            self.heartbeat.write(line)
        else:
            print(line, file=self.stream or sys.stdout, flush=True)


def progress_bar(target, unit_name="step"):
    """Keras's interactive `Progbar` on a terminal; `ProgressLines` with a heartbeat when
    output goes elsewhere (call its `close()` if the loop may stop before the end)."""
    if writes_to_terminal():
        import keras

        return keras.utils.Progbar(target, unit_name=unit_name)
    return ProgressLines(target, unit_name=unit_name, heartbeat=True)
