"""Reading (text, label) tables from CSV, TSV, JSON Lines or plain text files.

Rows that cannot be used (empty text, missing label, an unparseable JSON line)
are skipped and counted in a `BadRows` report, never dropped silently and never
a crash. Labels that look like integers become ints, so "1" in a CSV and 1 in a
JSON line are the same class; other labels stay (stripped) strings.

Sources may also name online datasets, `tfds:NAME:SPLIT` or
`hf:NAME[,CONFIG]:SPLIT` (see `pipelines.common.remote_tables`).
"""

import csv
import dataclasses
import json
import os
import re

from pipelines.common import bad_rows as bad_row_reasons
from pipelines.common.bad_rows import BadRows
from pipelines.common.errors import UserInputError

DELIMITERS = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
JSON_LINES_SUFFIXES = (".jsonl", ".ndjson", ".json")
PLAIN_TEXT_SUFFIXES = (".txt",)
REMOTE_PREFIXES = ("tfds:", "hf:")
_INTEGER = re.compile(r"^[+-]?\d+$")

# Texts of a few hundred kilobytes are legitimate table cells.
csv.field_size_limit(2**31 - 1)


@dataclasses.dataclass
class Table:
    """The usable rows of one source.

    Attributes:
        source: str. The path or dataset name read.
        texts: list of str. One per usable row.
        labels: list of int or str, parallel to `texts`; None when no label
            column was asked for.
        line_numbers: list of int. The line (or record number) of each row,
            for messages.
        bad_rows: BadRows. What was skipped and why.
        text_column: str. The column the texts were read from.
        label_column: str. The column of the labels; None without labels.
    """

    source: str
    texts: list
    labels: list
    line_numbers: list
    bad_rows: BadRows
    text_column: str = None
    label_column: str = None

    def __len__(self):
        return len(self.texts)


def normalize_label(value):
    """Canonical label: None when missing, int when integer-like, else a stripped str."""
    if value is None or isinstance(value, bool):
        return None if value is None else str(value).lower()
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = str(value).strip()
    if not text:
        return None
    return int(text) if _INTEGER.match(text) else text


def read_table(source, text_column, label_column=None):
    """Reads the usable (text, label) rows of a file or online dataset.

    Args:
        source: str. A `.csv`, `.tsv`, `.jsonl` (or `.txt`, one text per line,
            no labels) path, or `tfds:NAME:SPLIT` / `hf:NAME[,CONFIG]:SPLIT`.
        text_column: str. Column (or JSON key) holding the text.
        label_column: str. Column holding the label; None to read texts only.

    Returns:
        A `Table`.
    """
    if source.startswith(REMOTE_PREFIXES):
        from pipelines.common.remote_tables import read_remote_records

        records = read_remote_records(source)
    else:
        records = read_file_records(source, text_column, label_column)
    return table_from_records(source, records, text_column, label_column)


def read_file_records(path, text_column, label_column):
    """A list of `(line_number, record dict or None)`; None marks an unparseable line."""
    if not os.path.isfile(path):
        raise UserInputError(f"{path}: no such file; check the path")
    suffix = os.path.splitext(path)[1].lower()
    if suffix in DELIMITERS:
        records = read_delimited(path, DELIMITERS[suffix], text_column, label_column)
    elif suffix in JSON_LINES_SUFFIXES:
        records = read_json_lines(path)
    elif suffix in PLAIN_TEXT_SUFFIXES:
        if label_column is not None:
            raise UserInputError(f"{path}: a .txt file holds texts only; use CSV, TSV or JSON Lines for labels")
        records = ((number, {text_column: line.rstrip("\r\n")}) for number, line in read_lines(path))
    else:
        raise UserInputError(
            f"{path}: unsupported file type {suffix or '(none)'!r}; "
            "use .csv, .tsv, .jsonl (or .txt for texts to predict)"
        )
    return list(records)


def read_lines(path):
    try:
        with open(path, encoding="utf-8-sig", newline="") as file:
            yield from enumerate(file, start=1)
    except UnicodeDecodeError as error:
        raise UserInputError(f"{path}: not UTF-8 text ({error.reason}); re-encode it as UTF-8")


def read_delimited(path, delimiter, text_column, label_column):
    try:
        with open(path, encoding="utf-8-sig", newline="") as file:
            reader = csv.DictReader(file, delimiter=delimiter)
            check_columns(path, reader.fieldnames or [], text_column, label_column)
            for row in reader:
                yield reader.line_num, row
    except UnicodeDecodeError as error:
        raise UserInputError(f"{path}: not UTF-8 text ({error.reason}); re-encode it as UTF-8")
    except csv.Error as error:
        raise UserInputError(f"{path}: malformed {'TSV' if delimiter == chr(9) else 'CSV'} ({error})")


def read_json_lines(path):
    for number, line in read_lines(path):
        if not line.strip():
            continue
        if number == 1 and line.lstrip().startswith("["):
            raise UserInputError(
                f"{path}: holds a JSON array; write one JSON object per line (JSON Lines)"
            )
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            record = None
        if not isinstance(record, dict):
            yield number, None
            continue
        yield number, record


def check_columns(source, columns, text_column, label_column):
    for option, column in (("--text-column", text_column), ("--label-column", label_column)):
        if column is not None and column not in columns:
            available = ", ".join(repr(name) for name in columns) or "none"
            raise UserInputError(
                f"{source}: no column {column!r} (columns: {available}); pass the right {option}"
            )


def table_from_records(source, records, text_column, label_column):
    records = list(records)
    parsed = [record for _, record in records if record is not None]
    if records and parsed and not any(text_column in record for record in parsed):
        check_columns(source, sorted(parsed[0]), text_column, None)
    if label_column is not None and parsed and not any(label_column in r for r in parsed):
        check_columns(source, sorted(parsed[0]), None, label_column)
    table = Table(
        source, [], [] if label_column is not None else None, [], BadRows(source), text_column, label_column
    )
    for line, record in records:
        add_record(table, line, record, text_column, label_column)
    return table


def add_record(table, line, record, text_column, label_column):
    if record is None:
        table.bad_rows.add(bad_row_reasons.UNPARSEABLE, line)
        return
    text = record.get(text_column)
    text = "" if text is None else str(text)
    if not text.strip():
        table.bad_rows.add(bad_row_reasons.EMPTY_TEXT, line)
        return
    if label_column is not None:
        label = normalize_label(record.get(label_column))
        if label is None:
            table.bad_rows.add(bad_row_reasons.MISSING_LABEL, line)
            return
        table.labels.append(label)
    table.texts.append(text)
    table.line_numbers.append(line)
