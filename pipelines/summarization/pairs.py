"""Reading (document, summary) pairs from CSV, TSV, JSON Lines or online datasets.

Rows that cannot be used are skipped and counted in a `BadRows` report, never
dropped silently: an empty document counts as "empty text", an empty summary as
"missing label" (the summary is the training target), an unparseable JSON line
as "unparseable". Documents keep their newlines (dialogue turns).

Sources may also name online datasets, `tfds:NAME:SPLIT` or
`hf:NAME[,CONFIG]:SPLIT` (see `pipelines.common.remote_tables`).
"""

import dataclasses
import os

from pipelines.common import bad_rows as bad_row_reasons
from pipelines.common.bad_rows import BadRows
from pipelines.common.errors import UserInputError
from pipelines.common.tables import REMOTE_PREFIXES
from pipelines.common.tables import read_file_records

PLAIN_TEXT_SUFFIXES = (".txt",)


@dataclasses.dataclass
class Pairs:
    """The usable rows of one source.

    Attributes:
        source: str. The path or dataset name read.
        documents: list of str.
        summaries: list of str, parallel to `documents`; None when only
            documents were read.
        line_numbers: list of int. The line (or record number) of each row.
        bad_rows: BadRows. What was skipped and why.
    """

    source: str
    documents: list
    summaries: list
    line_numbers: list
    bad_rows: BadRows

    def __len__(self):
        return len(self.documents)


def read_pairs(source, document_column, summary_column, max_rows=None):
    """Reads the usable (document, summary) rows of a file or online dataset.

    Args:
        source: str. A `.csv`, `.tsv` or `.jsonl` path, or
            `tfds:NAME:SPLIT` / `hf:NAME[,CONFIG]:SPLIT`.
        document_column: str. Column (or JSON key) holding the document.
        summary_column: str. Column holding the reference summary; None to
            read documents only.
        max_rows: int. Keep only the first `max_rows` usable rows (quick runs).

    Returns:
        A `Pairs`.
    """
    records = read_records(source)
    columns = {"--document-column": document_column, "--summary-column": summary_column}
    check_columns(source, records, columns)
    pairs = Pairs(source, [], [] if summary_column else None, [], BadRows(source))
    for line, record in records:
        if max_rows is not None and len(pairs) >= max_rows:
            break
        add_record(pairs, line, record, document_column, summary_column)
    return pairs


def read_documents(source, document_column):
    """Documents to summarize: a `.txt` file is one document; tables give one per row."""
    if not source.startswith(REMOTE_PREFIXES) and source.lower().endswith(PLAIN_TEXT_SUFFIXES):
        if not os.path.isfile(source):
            raise UserInputError(f"{source}: no such file; check the path")
        try:
            with open(source, encoding="utf-8-sig") as file:
                text = file.read()
        except UnicodeDecodeError as error:
            raise UserInputError(f"{source}: not UTF-8 text ({error.reason}); re-encode it as UTF-8") from None
        if not text.strip():
            raise UserInputError(f"{source}: the file is empty; nothing to summarize")
        return [text]
    pairs = read_pairs(source, document_column, None)
    if not pairs.documents:
        raise UserInputError(f"{source}: no non-empty {document_column!r} rows to summarize")
    return pairs.documents


def read_records(source):
    """`(line_number, dict or None)` pairs; None marks an unparseable line."""
    if source.startswith(REMOTE_PREFIXES):
        from pipelines.common.remote_tables import read_remote_records

        return list(read_remote_records(source))
    if source.lower().endswith(PLAIN_TEXT_SUFFIXES):
        raise UserInputError(
            f"{source}: a .txt file holds no columns; use CSV, TSV or JSON Lines with "
            "document and summary columns"
        )
    # Columns are checked below, with this pipeline's option names.
    return read_file_records(source, None, None)


def check_columns(source, records, columns):
    parsed = [record for _, record in records if record is not None]
    if not parsed:
        return
    present = set().union(*(record.keys() for record in parsed))
    for option, column in columns.items():
        if column is not None and column not in present:
            available = ", ".join(repr(name) for name in sorted(present)) or "none"
            raise UserInputError(
                f"{source}: no column {column!r} (columns: {available}); pass the right {option}"
            )


def cell_text(record, column):
    value = record.get(column)
    return "" if value is None else str(value)


def add_record(pairs, line, record, document_column, summary_column):
    if record is None:
        pairs.bad_rows.add(bad_row_reasons.UNPARSEABLE, line)
        return
    document = cell_text(record, document_column)
    if not document.strip():
        pairs.bad_rows.add(bad_row_reasons.EMPTY_TEXT, line)
        return
    if summary_column is not None:
        summary = cell_text(record, summary_column)
        if not summary.strip():
            pairs.bad_rows.add(bad_row_reasons.MISSING_LABEL, line)
            return
        pairs.summaries.append(summary.strip())
    pairs.documents.append(document)
    pairs.line_numbers.append(line)
