"""Dataset and label services. They never commit: the caller owns the transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from labelpilot.datasets.tables import STATE_ALL, STATE_AUTO, Dataset, Label, Sample
from labelpilot.datasets.types import (
    SUPPORTED_DATASET_TYPES,
    LabelSpec,
    NewDataset,
    default_label_type,
)
from labelpilot.db import after_commit
from labelpilot.errors import BadRequest, DatasetNameTaken, DatasetNotFound, LabelExists
from labelpilot.ids import now_ms, short_id
from labelpilot.storage import Storage
from labelpilot.storage.keys import dataset_prefix


def get_dataset(session: Session, project_id: str, dataset_id: str) -> Dataset:
    ds = session.get(Dataset, dataset_id)
    if ds is None or ds.project_id != project_id:
        raise DatasetNotFound(dataset_id)
    return ds


def counters(session: Session, dataset_ids: list[str]) -> dict[str, dict[str, int]]:
    """Sample counters per dataset: total, annotated (labeled), unconfirmed (to be confirmed)."""
    out = {d: {"total": 0, "annotated": 0, "unconfirmed": 0} for d in dataset_ids}
    if not dataset_ids:
        return out
    rows = session.execute(
        select(Sample.dataset_id, Sample.state, func.count())
        .where(Sample.dataset_id.in_(dataset_ids))
        .group_by(Sample.dataset_id, Sample.state)
    )
    for dataset_id, state, n in rows:
        c = out[dataset_id]
        c["total"] += n
        if state == STATE_ALL:
            c["annotated"] += n
        elif state == STATE_AUTO:
            c["unconfirmed"] += n
    return out


def snapshot_counters(session: Session, task: Any) -> None:
    """Copy the dataset's current counters onto a task row."""
    c = counters(session, [task.dataset_id])[task.dataset_id]
    task.total_sample_count = c["total"]
    task.annotated_sample_count = c["annotated"]
    task.unconfirmed_sample_count = c["unconfirmed"]


def create_dataset(
    *, session: Session, storage: Storage, project_id: str, new: NewDataset
) -> Dataset:
    """Create a dataset and its labels (its data sources are imported by ``samples``)."""
    if new.dataset_type is not None and new.dataset_type not in SUPPORTED_DATASET_TYPES:
        raise BadRequest(f"dataset_type {new.dataset_type} is not a valid dataset type")
    exists = session.scalar(
        select(Dataset.id).where(Dataset.project_id == project_id, Dataset.name == new.name)
    )
    if exists:
        raise DatasetNameTaken(f"dataset_name '{new.name}' is already used")
    now = now_ms()
    ds = Dataset(
        id=short_id(),
        project_id=project_id,
        name=new.name,
        description=new.description,
        dataset_type=new.dataset_type if new.dataset_type is not None else -1,
        status=1,
        work_path=new.work_path or storage.url(dataset_prefix("") + "work/"),
        work_path_type=new.work_path_type,
        data_sources=[dict(d.stored) for d in new.data_sources],
        workspace_id=new.workspace_id,
        create_time=now,
        update_time=now,
    )
    session.add(ds)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:  # a concurrent create took the name between check and insert
        raise DatasetNameTaken(f"dataset_name '{new.name}' is already used") from exc
    if new.labels:
        create_labels(session, ds, new.labels)
    return ds


def list_datasets(
    session: Session,
    project_id: str,
    *,
    offset: int,
    limit: int,
    search_content: str | None,
    dataset_type: int | None,
    order: str,
    sort_by: str,
) -> tuple[int, list[Dataset]]:
    q = select(Dataset).where(Dataset.project_id == project_id)
    if search_content:
        q = q.where(func.lower(Dataset.name).contains(search_content.lower(), autoescape=True))
    if dataset_type is not None:
        q = q.where(Dataset.dataset_type == dataset_type)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    col = Dataset.name if sort_by == "dataset_name" else Dataset.create_time
    q = q.order_by(col.asc() if order == "asc" else col.desc(), Dataset.id)
    rows = session.scalars(q.offset(offset * limit).limit(limit)).all()
    return total, list(rows)


def delete_dataset(session: Session, storage: Storage, ds: Dataset) -> None:
    """Delete a dataset with its samples; its copied files go from storage after the commit.

    Its tasks go first (``tasks.service.delete_dataset_tasks``, which refuses active ones).
    """
    session.delete(ds)
    session.flush()
    prefix = dataset_prefix(ds.id)
    after_commit(session, lambda: storage.delete_prefix(prefix))


# --- labels ---------------------------------------------------------------------------------


def create_labels(session: Session, ds: Dataset, labels: list[LabelSpec]) -> list[str]:
    """Add labels to a dataset; all or none (a taken name fails the request). Their names."""
    existing = {lb.name for lb in ds.labels}
    names: list[str] = []
    for lb in labels:
        if lb.name in existing or lb.name in names:
            raise LabelExists(f"label '{lb.name}' already exists")
        names.append(lb.name)
        ds.labels.append(
            Label(
                name=lb.name,
                type=lb.type if lb.type is not None else default_label_type(ds.dataset_type),
                property=dict(lb.property),
                attributes=list(lb.attributes),
            )
        )
    try:
        session.flush()
    except IntegrityError as exc:
        raise LabelExists("label already exists") from exc
    ds.update_time = now_ms()
    return names


def ensure_label(session: Session, ds: Dataset, name: str, type_: int | None = None) -> Label:
    """The dataset's label ``name``, created if missing."""
    for lb in ds.labels:
        if lb.name == name:
            return lb
    lb = Label(name=name, type=type_ if type_ is not None else default_label_type(ds.dataset_type))
    ds.labels.append(lb)
    session.flush()
    return lb
