"""The parity report: each case through Keras, the reloaded SavedModel and onnxruntime.

Each task's `parity_check.py` runs and judges one case (one row of the report)
and names its table's columns; this module knows nothing of tasks. A report is
what `parity.json` holds: the task's name, whether every case passed, the
task's pass criteria, what each runtime is, and one row per case; an export
with `--quantize int8` adds the task's `"int8"` entry (its `int8_parity.py`).
"""

import os

from export import layout
from export.onnx_session import INT8
from export.onnx_session import read_onnx_config
import time

RUNTIMES = ("keras", "savedmodel", "onnx")


def batches(items, batch_size):
    return [items[start : start + batch_size] for start in range(0, len(items), batch_size)]


def parity_report(task, cases, check_case, criteria, runtimes, log=None):
    """The parity report (parity.json contents).

    Args:
        task: str. The task's name, recorded in the report.
        cases: list. The task's parity cases.
        check_case: callable case → its row (a dict with a bool `"passed"`).
        criteria: dict. The task's pass criteria (a tolerance, thresholds), recorded.
        runtimes: dict. What each of `RUNTIMES` is, recorded.
        log: callable taking a progress line per case, or None.
    """
    results = []
    for number, case in enumerate(cases, 1):
        started = time.perf_counter()
        results.append(check_case(case))
        if log is not None:
            outcome = "ok" if results[-1]["passed"] else "FAILED"
            log(f"    case {number}/{len(cases)} {case.name}: {outcome} ({time.perf_counter() - started:.1f} s)")
    return {
        "task": task,
        "passed": all(result["passed"] for result in results),
        **criteria,
        "runtimes": runtimes,
        "cases": results,
    }


def with_int8_entry(report, version_dir, int8_entry):
    """Adds `int8_entry(onnx_dir)` as the report's `"int8"` when config.json lists int8 files;
    the report then passes only if that entry passes too."""
    onnx_dir = os.path.join(version_dir, layout.ONNX_DIR)
    if INT8 in read_onnx_config(onnx_dir):
        report["int8"] = int8_entry(onnx_dir)
        report["passed"] = report["passed"] and report["int8"]["passed"]
    return report


def render_table(title, header, lines):
    """The title, then `header` and `lines` (tuples of str) in left-aligned columns."""
    widths = [max(len(row[column]) for row in [header] + lines) for column in range(len(header))]

    def render(row):
        return "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()

    return "\n".join([title, render(header)] + [render(line) for line in lines])


def verdict(passed):
    """The title's word for a whole report."""
    return "PASSED" if passed else "FAILED"
