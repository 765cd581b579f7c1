"""Reading a dataset's samples with their labels as ``SampleRecord`` batches (exports, version
publishing), and a published version's frozen records."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import Text, and_, cast, select
from sqlalchemy.sql import ColumnElement

from labelpilot.datasets.tables import STATE_ALL, DatasetVersion, Sample, SampleLabel
from labelpilot.db import Database
from labelpilot.formats._records import LabelRecord, SampleRecord
from labelpilot.storage import Storage

RECORDS = "records.jsonl"  # a version's frozen samples, one JSON object per line
# samples per read: PostgreSQL hash-joins a batch against all the labels of a small dataset,
# so fewer, larger batches cost less (2,000: 2.4x the bare write at 100,000 samples)
BATCH = 10000


def _json(text: str | None) -> dict[str, Any]:
    """A JSON column read as text (orjson decodes several times faster than the column type)."""
    if not text or text == "{}":
        return {}
    value = orjson.loads(text)
    return value if isinstance(value, dict) else {}


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch of records is built.

    A batch allocates tens of thousands of small objects, none in a cycle; each allocation burst
    triggers collections that walk every tracked object of the process, and a worker that has
    imported the ML stack holds hundreds of thousands of them: measured, the collections were
    over half the time of a PostgreSQL export. Reference counting still frees everything.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def iter_records(
    db: Database,
    dataset_id: str,
    conditions: Sequence[ColumnElement[bool]] = (),
    *,
    confirmed_labels_only: bool = False,
    batch: int = BATCH,
) -> Iterator[list[SampleRecord]]:
    """The dataset's samples with their labels in batches of ``batch`` samples, keyset-paged on
    the sample name (a range of the ``(dataset_id, name)`` unique index per batch, one short
    read each; any other order sorts the whole dataset per batch); ``confirmed_labels_only``:
    to-be-confirmed samples come without labels."""
    after: str | None = None
    while True:
        page = select(
            Sample.id,
            Sample.name,
            Sample.source,
            Sample.sample_type,
            Sample.state,
            cast(Sample.meta, Text).label("meta"),
            Sample.sample_usage,
        ).where(Sample.dataset_id == dataset_id, *conditions)
        if after is not None:
            page = page.where(Sample.name > after)
        p = page.order_by(Sample.name).limit(batch).subquery()
        on = SampleLabel.sample_id == p.c.id
        if confirmed_labels_only:
            on = and_(on, p.c.state == STATE_ALL)
        # one query per batch: the page's samples joined to their labels (one row per label)
        q = (
            select(
                *p.c,
                SampleLabel.name,
                SampleLabel.type,
                SampleLabel.score,
                SampleLabel.annotated_by,
                cast(SampleLabel.property, Text),
            )
            .outerjoin(SampleLabel, on)
            .order_by(p.c.name, SampleLabel.position)
        )
        with db.read() as s:
            rows = s.connection().execute(q).all()  # Core rows: no ORM loading
        if not rows:
            return
        with no_cyclic_gc():
            out: list[SampleRecord] = []
            last: SampleRecord | None = None
            marks: list[LabelRecord] = []
            # plain tuple unpacking: attribute access on rows costs more than the query
            for sid, name, source, stype, _, meta, usage, lname, ltype, score, by, prop in rows:
                if last is None or last.id != sid:
                    if last is not None:
                        last.labels = tuple(marks)
                    marks = []
                    last = SampleRecord(sid, name, source, stype, usage, (), _json(meta))
                    out.append(last)
                if lname is not None:
                    marks.append(LabelRecord(lname, ltype, score, by, _json(prop)))
            if last is not None:
                last.labels = tuple(marks)
        yield out
        after = out[-1].name


def read_records(storage: Storage, version: DatasetVersion) -> list[SampleRecord]:
    """A published version's frozen samples and labels."""
    data = storage.get(f"{version.storage_prefix}{RECORDS}").decode()
    return [SampleRecord.from_json(orjson.loads(line)) for line in data.splitlines() if line]
