"""Counting rows that cannot be used, so none is dropped silently."""

import collections

# Reasons, in the order reports list them.
EMPTY_TEXT = "empty_text"
MISSING_LABEL = "missing_label"
UNKNOWN_LABEL = "unknown_label"
UNPARSEABLE = "unparseable"
REASON_DESCRIPTIONS = {
    EMPTY_TEXT: "empty text",
    MISSING_LABEL: "missing label",
    UNKNOWN_LABEL: "label not seen in training",
    UNPARSEABLE: "unparseable line",
}
_EXAMPLE_LINES_KEPT = 5


class BadRows:
    """Skipped rows of one source, by reason, with the first few line numbers.

    Example:

    >>> bad = BadRows("train.tsv")
    >>> bad.add("empty_text", line=4)
    >>> bad.describe()
    'train.tsv: skipped 1 bad row: 1 empty text (line 4)'
    """

    def __init__(self, source):
        self.source = source
        self.counts = collections.Counter()
        self.example_lines = collections.defaultdict(list)

    def add(self, reason, line):
        if reason not in REASON_DESCRIPTIONS:
            raise ValueError(f"Unknown bad-row reason. Received: reason={reason!r}")
        self.counts[reason] += 1
        if len(self.example_lines[reason]) < _EXAMPLE_LINES_KEPT:
            self.example_lines[reason].append(line)

    @property
    def total(self):
        return sum(self.counts.values())

    def to_dict(self):
        """JSON-ready: every reason's count (zeros included) and example lines."""
        return {
            "source": self.source,
            "total": self.total,
            "counts": {reason: self.counts[reason] for reason in REASON_DESCRIPTIONS},
            "example_lines": {reason: lines for reason, lines in self.example_lines.items()},
        }

    def describe(self):
        """One line for the terminal."""
        if not self.total:
            return f"{self.source}: no bad rows"
        parts = []
        for reason, description in REASON_DESCRIPTIONS.items():
            if self.counts[reason]:
                lines = self.example_lines[reason]
                more = ", ..." if self.counts[reason] > len(lines) else ""
                where = "line" if len(lines) == 1 and not more else "lines"
                line_list = ", ".join(str(line) for line in lines)
                parts.append(f"{self.counts[reason]} {description} ({where} {line_list}{more})")
        plural = "row" if self.total == 1 else "rows"
        return f"{self.source}: skipped {self.total} bad {plural}: " + "; ".join(parts)
