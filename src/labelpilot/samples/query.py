"""ListSamples: state, label and score filters and search conditions compiled to SQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, and_, cast, exists, func, or_, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from labelpilot.datasets.tables import STATE_ALL, STATE_AUTO, STATE_NONE, Dataset, Sample
from labelpilot.datasets.tables import SampleLabel as SampleLabelRow
from labelpilot.errors import BadRequest, SampleNotFound
from labelpilot.samples import attributes as attr
from labelpilot.samples.types import Condition, SampleFilter

# Accepted sample_state filter values -> stored state (None: a valid state nothing here is in).
STATE_FILTERS: dict[str, str | None] = {
    "__ALL__": STATE_ALL,
    "__NONE__": STATE_NONE,
    "__AUTO_ANNOTATION__": STATE_AUTO,
    "MANUAL_ANNOTATION": STATE_ALL,
    "UN_ANNOTATION": STATE_NONE,
    "AUTO_ANNOTATION": STATE_AUTO,
    **dict.fromkeys(
        (
            "__UNCHECK__",
            "__ACCEPTED__",
            "__REJECTED__",
            "__UNREVIEWED__",
            "__REVIEWED__",
            "__WORKFORCE_SAMPLED__",
            "__WORKFORCE_SAMPLED_UNCHECK__",
            "__WORKFORCE_SAMPLED_CHECKED__",
            "__WORKFORCE_SAMPLED_ACCEPTED__",
            "__WORKFORCE_SAMPLED_REJECTED__",
        )
    ),
}


def _range(value: str, field: str) -> tuple[float, float]:
    try:
        lo, hi = (float(x) for x in value.split("-", 1))
    except ValueError as exc:
        raise BadRequest(f"{field} must look like 'min-max', e.g. '0.1-0.9'") from exc
    return lo, hi


def _has_label(*conds: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists().where(SampleLabelRow.sample_id == Sample.id, *conds)


def _meta_str(key: str) -> ColumnElement[Any]:
    return cast(Sample.meta[key].as_string(), String)


def hard_flag() -> ColumnElement[bool]:
    """True for a hard-example sample (``@modelarts:hard`` as ModelArts and older rows write it)."""
    return _meta_str(attr.HARD).in_(["1", "1.0", "true"])


def _op(value: str | None, default: str, field: str) -> str:
    op = (value or default).upper()
    if op not in ("AND", "OR"):
        raise BadRequest(f"{field} must be AND or OR")
    return op


def _condition(i: int, c: Condition) -> list[ColumnElement[bool]]:
    f = f"search_conditions[{i}]"
    if c.unsupported:
        raise BadRequest(f"{f}.{c.unsupported[0]} is not supported by LabelPilot")
    out: list[ColumnElement[bool]] = []
    if c.labels:
        parts = []
        for lb in c.labels:
            conds: list[ColumnElement[bool]] = []
            if lb.name is not None:
                conds.append(SampleLabelRow.name == lb.name)
            if lb.type is not None:
                conds.append(SampleLabelRow.type == lb.type)
            if lb.has_property:
                raise BadRequest(f"{f}.label_list.labels.property is not supported by LabelPilot")
            parts.append(_has_label(*conds))
        op = _op(c.labels_op, "OR", f"{f}.label_list.op")
        out.append(and_(*parts) if op == "AND" else or_(*parts))
    if c.metadata:
        op = _op(c.metadata_op, "AND", f"{f}.metadata.op")
        props = [_meta_str(k).in_([str(v) for v in vals]) for k, vals in c.metadata.items()]
        out.append(and_(*props) if op == "AND" else or_(*props))
    if c.hard is not None:
        if c.hard not in ("0", "1"):
            raise BadRequest(f"{f}.hard must be '0' or '1'")
        hard = hard_flag()
        out.append(hard if c.hard == "1" else ~func.coalesce(hard, False))
    if c.sample_name is not None:
        # the name, or its last path parts: compared as text, not with LIKE, which has
        # wildcards and on SQLite ignores the case of ASCII letters
        tail = "/" + c.sample_name
        ends = func.substr(Sample.name, func.length(Sample.name) - len(tail) + 1) == tail
        out.append(or_(Sample.name == c.sample_name, ends))
    if c.sample_dir is not None:
        if not c.sample_dir.endswith("/"):
            raise BadRequest(f"{f}.sample_dir must end with '/'")
        out.append(Sample.source.startswith(c.sample_dir, autoescape=True))
    if c.score is not None:
        lo, hi = _range(c.score, f"{f}.score")
        out.append(_has_label(SampleLabelRow.score >= lo, SampleLabelRow.score <= hi))
    if c.coefficient is not None:
        lo, hi = _range(c.coefficient, f"{f}.coefficient")
        coef = Sample.meta[attr.HARD_COEFFICIENT].as_float()
        out.append(and_(coef >= lo, coef <= hi))
    return out


def sample_conditions(
    where: SampleFilter, *, any_condition: bool = False
) -> list[ColumnElement[bool]] | None:
    """The WHERE terms of ``where`` (the dataset aside); None when its state matches nothing.
    ``any_condition``: the search conditions are OR-combined (export tasks), else AND."""
    out: list[ColumnElement[bool]] = []
    if where.only_state is not None:
        out.append(Sample.state == where.only_state)
    if where.sample_state is not None:
        if where.sample_state not in STATE_FILTERS:
            raise BadRequest(f"sample_state '{where.sample_state}' is not a valid sample state")
        stored = STATE_FILTERS[where.sample_state]
        if stored is None:
            return None
        out.append(Sample.state == stored)
    if where.label_name is not None:
        out.append(_has_label(SampleLabelRow.name == where.label_name))
    if where.label_type is not None:
        out.append(_has_label(SampleLabelRow.type == where.label_type))
    if where.low_score is not None or where.high_score is not None:
        lo = 0.0 if where.low_score is None else where.low_score
        hi = 1.0 if where.high_score is None else where.high_score
        out.append(_has_label(SampleLabelRow.score >= lo, SampleLabelRow.score <= hi))
    parts = [_condition(i, c) for i, c in enumerate(where.conditions)]
    if any_condition and parts:
        # a condition without terms matches every sample
        out.append(or_(*(and_(*terms) if terms else true() for terms in parts)))
    else:
        out += [term for terms in parts for term in terms]
    return out


def list_samples(
    session: Session,
    ds: Dataset,
    *,
    where: SampleFilter,
    offset: int = 0,
    limit: int = 10,
    order: str = "desc",
    sort_by: str = "sample_time",
) -> tuple[int, list[Sample]]:
    """Filtered, paged samples (``offset`` is a page index, as for tasks).

    ``sort_by`` ``hard_coefficient`` orders by the samples' hard-example coefficient (highest
    first with ``order`` desc; samples without one last either way), then by time.
    """
    conditions = sample_conditions(where)
    if conditions is None:
        return 0, []
    q = select(Sample).where(Sample.dataset_id == ds.id, *conditions)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    key: tuple[Any, ...] = (Sample.sample_time.asc(), Sample.id.asc())
    if order == "desc":
        key = (Sample.sample_time.desc(), Sample.id.desc())
    if sort_by == "hard_coefficient":
        coefficient = Sample.meta[attr.HARD_COEFFICIENT].as_float()
        first = coefficient.desc() if order == "desc" else coefficient.asc()
        key = (first.nulls_last(), *key)
    rows = session.scalars(q.order_by(*key).offset(offset * limit).limit(limit)).all()
    return total, list(rows)


def get_sample(session: Session, ds: Dataset, sid: str) -> Sample:
    sample = session.get(Sample, sid)
    if sample is None or sample.dataset_id != ds.id:
        raise SampleNotFound(sid)
    return sample
