"""Dataset statistics in aggregate SQL: samples per state, hard examples and their reasons,
instances and samples per label. Four queries, none of them a loop over samples."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, and_, case, cast, distinct, func, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from labelpilot.datasets.tables import STATE_ALL, STATE_AUTO, STATE_NONE, Dataset, Sample
from labelpilot.datasets.tables import SampleLabel as SampleLabelRow
from labelpilot.errors import BadRequest
from labelpilot.samples import attributes as attr
from labelpilot.samples.query import STATE_FILTERS, hard_flag

# Occurrences of each hard-example reason: JSON arrays unnested by each dialect's own function.
# The LIKE on the JSON text is a cheap prefilter: only rows that mention the key are parsed.
REASONS_SQL = {
    "sqlite": (
        "SELECT r.value, count(*) FROM samples AS s, "
        "json_each(s.metadata, '$.\"{key}\"') AS r "
        "WHERE s.dataset_id = :dataset_id {state} AND s.metadata LIKE '%\"{key}\"%' "
        "AND json_type(s.metadata, '$.\"{key}\"') = 'array' GROUP BY r.value"
    ),
    "postgresql": (
        "SELECT r.value, count(*) FROM samples AS s CROSS JOIN LATERAL "
        "json_array_elements_text(CASE WHEN json_typeof(s.metadata -> '{key}') = 'array' "
        "THEN s.metadata -> '{key}' ELSE '[]'::json END) AS r(value) "
        "WHERE s.dataset_id = :dataset_id {state} AND s.metadata::text LIKE '%\"{key}\"%' "
        "GROUP BY r.value"
    ),
}


@dataclass(frozen=True)
class LabelCount:
    """A dataset label with its instances (``count``) and the samples carrying it."""

    name: str
    type: int
    property: dict[str, Any]
    attributes: list[dict[str, Any]]
    count: int
    sample_count: int


@dataclass(frozen=True)
class DatasetStats:
    """Counts over the dataset's samples (or those in one state)."""

    labels: list[LabelCount]
    unlabeled: int
    labeled: int
    unconfirmed: int
    hard: int
    reasons: dict[int, int]  # hard-example reason id -> samples giving it

    @property
    def total(self) -> int:
        return self.unlabeled + self.labeled + self.unconfirmed


def _state(sample_state: str | None) -> tuple[bool, str | None]:
    """(matches anything, stored state to filter on) of a ``sample_state`` query value."""
    if sample_state is None:
        return True, None
    if sample_state not in STATE_FILTERS:
        raise BadRequest(f"sample_state '{sample_state}' is not a valid sample state")
    stored = STATE_FILTERS[sample_state]
    return stored is not None, stored


def _in_scope(ds: Dataset, state: str | None) -> list[ColumnElement[bool]]:
    where = [Sample.dataset_id == ds.id]
    if state is not None:
        where.append(Sample.state == state)
    return where


def label_counts(session: Session, ds: Dataset, state: str | None) -> dict[str, tuple[int, int]]:
    """Label name -> (instances, samples), over the samples in scope."""
    q = select(
        SampleLabelRow.name, func.count(), func.count(distinct(SampleLabelRow.sample_id))
    ).where(SampleLabelRow.dataset_id == ds.id)
    if state is not None:
        q = q.join(Sample, Sample.id == SampleLabelRow.sample_id).where(Sample.state == state)
    rows = session.execute(q.group_by(SampleLabelRow.name))
    return {name: (n, samples) for name, n, samples in rows}


def reason_counts(session: Session, ds: Dataset, state: str | None) -> dict[int, int]:
    dialect = session.get_bind().dialect.name
    sql = REASONS_SQL[dialect].format(
        key=attr.HARD_REASONS, state="AND s.state = :state" if state is not None else ""
    )
    params = {"dataset_id": ds.id, **({"state": state} if state is not None else {})}
    out: dict[int, int] = {}
    for value, n in session.execute(text(sql), params):
        try:
            reason = int(value)
        except (TypeError, ValueError):  # not a reason id (e.g. a repaired value): not counted
            continue
        out[reason] = out.get(reason, 0) + n
    return out


def dataset_stats(session: Session, ds: Dataset, *, sample_state: str | None) -> DatasetStats:
    """Statistics of ``ds``; ``sample_state`` (a ListSamples state) restricts every count."""
    matches, state = _state(sample_state)
    if not matches:  # a valid state no sample of LabelPilot is in (team workflow)
        empty = [LabelCount(lb.name, lb.type, lb.property, lb.attributes, 0, 0) for lb in ds.labels]
        return DatasetStats(empty, 0, 0, 0, 0, {})
    by_state: dict[str, int] = {}
    hard = 0
    # the LIKE first: only the rows whose JSON mentions the key are parsed
    mentions_hard = cast(Sample.meta, Text).contains(f'"{attr.HARD}"', autoescape=True)
    is_hard = and_(mentions_hard, hard_flag())
    rows = session.execute(
        select(Sample.state, func.count(), func.sum(case((is_hard, 1), else_=0)))
        .where(*_in_scope(ds, state))
        .group_by(Sample.state)
    )
    for st, n, h in rows:
        by_state[st] = n
        hard += h or 0
    counts = label_counts(session, ds, state)
    labels = [
        LabelCount(lb.name, lb.type, lb.property, lb.attributes, *counts.get(lb.name, (0, 0)))
        for lb in ds.labels
    ]
    return DatasetStats(
        labels=labels,
        unlabeled=by_state.get(STATE_NONE, 0),
        labeled=by_state.get(STATE_ALL, 0),
        unconfirmed=by_state.get(STATE_AUTO, 0),
        hard=hard,
        reasons=reason_counts(session, ds, state),
    )


SPLITTABLE_TYPES = frozenset({0, 1, 100, 200})


def split_enabled(ds: Dataset, stats: DatasetStats) -> bool:
    """``data_spliting_enable``: a splittable type, >= 2 labeled samples, and every label in
    use on >= 2 samples, so a train and a validation set can both hold every class."""
    used = [lb.sample_count for lb in stats.labels if lb.sample_count > 0]
    return ds.dataset_type in SPLITTABLE_TYPES and stats.labeled >= 2 and min(used, default=0) >= 2
