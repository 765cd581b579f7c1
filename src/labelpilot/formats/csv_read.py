"""Text classification samples from tables and JSON lines: the inverse of ``csv_write`` and the
ModelArts text layout (DATA_MANAGEMENT §5.1 ``label_format``: the text, a separator (Tab), then the
labels joined by ``,``).

A comma-separated table is RFC 4180 (quoted fields may hold commas, quotes and newlines), as
``csv_write`` writes it. Any other delimiter is the ModelArts layout: one sample a line, no
quoting, so a quote in the text is kept as written; the labels are after the last delimiter (labels
hold no Tab, the text may).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from typing import Any

from labelpilot.formats._records import LabelRecord, Problem, SampleRecord
from labelpilot.formats.manifest_read import loads_untrusted, unstorable
from labelpilot.formats.manifest_write import USAGES

CONTENT = "content://"
TEXT_CLASSIFICATION = 100
HEADER = ("text", "labels")


class _Bad(ValueError):
    """A row that cannot be read (a Problem; the row is skipped)."""


def _usage(value: str, problems: list[str]) -> str | None:
    """The upper-cased usage; another value is a problem, the sample reads without one."""
    value = value.strip()
    if not value:
        return None
    if value.upper() in USAGES:
        return value.upper()
    problems.append(f"usage {value!r} is not one of {', '.join(USAGES)}")
    return None


def _record(text: str, labels: list[str], usage: str | None, sample_id: str = "") -> SampleRecord:
    why = unstorable([text, labels])
    if why is not None:
        raise _Bad(why)
    unique = list(dict.fromkeys(labels))  # a label named twice is one label
    return SampleRecord(
        id=sample_id,
        name="",
        source=CONTENT + text,
        sample_type=1,
        usage=usage,
        labels=tuple(LabelRecord(name=n, type=TEXT_CLASSIFICATION) for n in unique),
    )


def _split_labels(cell: str, separator: str) -> list[str]:
    return [name.strip() for name in cell.split(separator) if name.strip()]


# physical lines with their endings (a quoted cell may hold \r\n, \n or \r)
_PHYSICAL = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def _csv_rows(text: str) -> Iterator[tuple[int, list[str] | str]]:
    """RFC 4180 rows with the line each starts on; a row that breaks the quoting rules is its
    reason instead, and reading resumes on the line after the one it starts on."""
    lines = _PHYSICAL.findall(text)
    offset = 0  # lines before the current reader's first
    while offset < len(lines):
        # strict: a stray quote is a problem, not text silently changed
        reader = csv.reader(iter(lines[offset:]), strict=True)
        start = offset + 1
        try:
            for row in reader:
                yield start, row
                start = offset + reader.line_num + 1
            return
        except csv.Error as exc:
            yield start, f"not CSV: {exc}"
            offset = start


def _line_rows(text: str, delimiter: str, columns: int) -> Iterator[tuple[int, list[str]]]:
    """One row a line, split into at most ``columns`` cells from the right (the text is first)."""
    for lineno, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if line.strip():
            yield lineno, line.rsplit(delimiter, columns - 1)


def _is_header(row: list[str]) -> bool:
    return [c.strip().lower() for c in row[:2]] == list(HEADER)


def read_text_table(
    text: str,
    where: str,
    *,
    delimiter: str | None = None,
    label_separator: str = ";",
    with_header: bool | None = None,
) -> tuple[list[SampleRecord], list[Problem]]:
    """Text samples of a table (``source`` = ``content://`` + text, type-100 labels) and the
    rows that could not be read (``where:lineno``).

    Parameters
    ----------
    delimiter
        Between the cells; None: ``,`` when the first line is a ``text,labels`` header or holds
        no Tab, else Tab. For the ModelArts layout pass its ``label_format`` (Tab and ``,``).
    label_separator
        Between the labels of a cell (``csv_write`` joins them by ``;``).
    with_header
        Whether the first row names the columns; None: when it reads ``text,labels...``.
        Named columns are found by name (``text``, ``labels``, ``usage``), others by position.
    """
    text = text.removeprefix("\ufeff")
    if delimiter is None:
        first = text.split("\n", 1)[0]
        delimiter = "," if first.lower().startswith("text,labels") or "\t" not in first else "\t"
    if not delimiter or delimiter == label_separator:
        raise ValueError(f"delimiter {delimiter!r} cannot also be the label separator")
    records: list[SampleRecord] = []
    problems: list[Problem] = []
    columns = {"text": 0, "labels": 1, "usage": 2}
    width = 2  # the ModelArts layout: text and labels
    rows: Iterator[tuple[int, list[str] | str]]
    if delimiter == ",":
        rows = _csv_rows(text)
    else:
        # the header decides how many cells a line splits into; read it first
        head = text.split("\n", 1)[0].removesuffix("\r")
        cells = head.split(delimiter)
        if with_header or (with_header is None and _is_header(cells)):
            width = len(cells)
        rows = _line_rows(text, delimiter, width)
    header_seen = False
    for lineno, row in rows:
        place = f"{where}:{lineno}"
        if isinstance(row, str):
            problems.append(Problem(place, row))
            continue
        if not header_seen:
            header_seen = True
            if with_header or (with_header is None and _is_header(row)):
                named = {c.strip().lower(): i for i, c in enumerate(row)}
                if "text" in named:  # else the columns are by position
                    columns = {k: named[k] for k in ("text", "labels", "usage") if k in named}
                continue
        if not any(c.strip() for c in row):
            continue
        notes: list[str] = []
        try:
            records.append(_row(row, columns, label_separator, notes))
        except _Bad as exc:
            notes.append(str(exc))
        problems += [Problem(place, note) for note in notes]
    return records, problems


def _row(row: list[str], columns: dict[str, int], separator: str, notes: list[str]) -> SampleRecord:
    def cell(key: str) -> str:
        i = columns.get(key)
        return row[i] if i is not None and i < len(row) else ""

    body = cell("text")
    if not body.strip():
        raise _Bad("no text")
    return _record(body, _split_labels(cell("labels"), separator), _usage(cell("usage"), notes))


def _jsonl_record(obj: Any, notes: list[str]) -> SampleRecord:
    if not isinstance(obj, dict):
        raise _Bad("not a JSON object")
    body = obj.get("text")
    if not isinstance(body, str) or not body.strip():
        raise _Bad("no text")
    labels = obj.get("labels")
    if labels is None:
        labels = []
    elif isinstance(labels, str):  # one label written bare: lenient
        labels = [labels]
    if not isinstance(labels, list) or not all(isinstance(n, str) for n in labels):
        raise _Bad("labels is not a list of strings")
    usage = obj.get("usage")
    if usage is not None and not isinstance(usage, str):
        raise _Bad(f"usage {usage!r} is not a string")
    sample_id = obj.get("id")
    if sample_id is not None and not isinstance(sample_id, str):
        raise _Bad(f"id {sample_id!r} is not a string")
    names = [n.strip() for n in labels if n.strip()]
    return _record(body, names, _usage(usage or "", notes), sample_id or "")


def read_jsonl_texts(text: str, where: str) -> tuple[list[SampleRecord], list[Problem]]:
    """Text samples of JSON lines ``{"id", "text", "labels", "usage"}`` (``jsonl_line``) and the
    lines that could not be read (``where:lineno``)."""
    records: list[SampleRecord] = []
    problems: list[Problem] = []
    # split on "\n" alone: ensure_ascii=False leaves U+2028 unescaped inside strings
    for lineno, line in enumerate(text.removeprefix("\ufeff").split("\n"), start=1):
        if not line.strip():
            continue
        place = f"{where}:{lineno}"
        notes: list[str] = []
        try:
            records.append(_jsonl_record(loads_untrusted(line), notes))
        except _Bad as exc:
            notes.append(str(exc))
        except ValueError as exc:
            notes.append(f"not JSON: {exc}")
        problems += [Problem(place, note) for note in notes]
    return records, problems
