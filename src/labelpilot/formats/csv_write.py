"""Text samples as CSV (RFC 4180, a header row ``text,labels,usage``; several labels joined by
``;``) or JSON lines (``{"id", "text", "labels", "usage"}``)."""

from __future__ import annotations

import csv
import io
import json

from labelpilot.formats._records import SampleRecord

CSV_HEADER = ("text", "labels", "usage")
LABEL_SEPARATOR = ";"


def csv_header() -> str:
    return _row(CSV_HEADER)


def _row(values: tuple[str, ...]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow(values)
    return buf.getvalue()


def csv_row(record: SampleRecord, text: str) -> str:
    """One CSV row (with its CRLF) of a text sample."""
    labels = LABEL_SEPARATOR.join(lb.name for lb in record.labels)
    return _row((text, labels, record.usage or ""))


def jsonl_line(record: SampleRecord, text: str) -> str:
    """One JSON line (no newline) of a text sample."""
    obj = {
        "id": record.id,
        "text": text,
        "labels": [lb.name for lb in record.labels],
        "usage": record.usage,
    }
    return json.dumps(obj, ensure_ascii=False)
