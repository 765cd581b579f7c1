"""Dataset and label services. They never commit: the caller owns the transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from labelpilot.api import schemas as s
from labelpilot.datasets.tables import STATE_ALL, STATE_AUTO, Dataset, Label, Sample, SampleLabel
from labelpilot.db import after_commit
from labelpilot.errors import BadRequest, DatasetNotFound, LabelPilotError
from labelpilot.ids import now_ms, short_id
from labelpilot.storage import Storage
from labelpilot.tasks.tables import ACTIVE_SQL, Task

if TYPE_CHECKING:
    from labelpilot.samples.service import ImportPolicy

SUPPORTED_DATASET_TYPES = {0, 1, 3, 100, 101, 102, 200, 201, 202, 400, 600, 900}


def get_dataset(session: Session, project_id: str, dataset_id: str) -> Dataset:
    ds = session.get(Dataset, dataset_id)
    if ds is None or ds.project_id != project_id:
        raise DatasetNotFound(dataset_id)
    return ds


def dataset_prefix(dataset_id: str) -> str:
    """Storage key prefix of everything a dataset owns."""
    return f"datasets/{dataset_id}"


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
    session: Session,
    storage: Storage,
    project_id: str,
    req: s.CreateDatasetRequest,
    policy: ImportPolicy | None = None,
) -> tuple[Dataset, int]:
    """Create a dataset, its labels, and import its data sources; return it and the count."""
    from labelpilot.samples.service import import_source

    if req.dataset_type is not None and req.dataset_type not in SUPPORTED_DATASET_TYPES:
        raise BadRequest(f"dataset_type {req.dataset_type} is not a valid dataset type")
    exists = session.scalar(
        select(Dataset.id).where(Dataset.project_id == project_id, Dataset.name == req.dataset_name)
    )
    if exists:
        raise BadRequest(
            f"dataset_name '{req.dataset_name}' is already used", error_code="ModelArts.4351"
        )
    now = now_ms()
    ds = Dataset(
        id=short_id(),
        project_id=project_id,
        name=req.dataset_name,
        description=req.description or "",
        dataset_type=req.dataset_type if req.dataset_type is not None else -1,
        status=1,
        work_path=req.work_path or storage.url(dataset_prefix("") + "work/"),
        work_path_type=req.work_path_type or 0,
        data_sources=[d.model_dump(exclude_none=True) for d in req.data_sources or []],
        workspace_id=req.workspace_id or "0",
        create_time=now,
        update_time=now,
    )
    session.add(ds)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:  # a concurrent create took the name between check and insert
        raise BadRequest(
            f"dataset_name '{req.dataset_name}' is already used", error_code="ModelArts.4351"
        ) from exc
    if req.labels:
        create_labels(session, ds, req.labels)
    imported = 0
    kinds: set[int] = set()
    try:
        for i, src in enumerate(req.data_sources or []):
            if src.data_type not in (None, 0):
                raise BadRequest(
                    f"data_sources[{i}].data_type {src.data_type} is not supported "
                    "(only 0: a directory or storage URL)"
                )
            if not src.data_path:
                raise BadRequest(f"data_sources[{i}].data_path is required")
            if policy is None:
                raise BadRequest("data_sources are not accepted here")
            n, k = import_source(
                session, storage, ds, src.data_path, bool(req.import_annotations), policy
            )
            imported += n
            kinds |= k
    except BaseException:
        # The transaction rolls back; do not leave the files copied so far behind.
        storage.delete_prefix(dataset_prefix(ds.id))
        raise
    if ds.dataset_type == -1:
        ds.dataset_type = 100 if kinds == {1} else 0
        if ds.dataset_type == 100:  # labels made during the import defaulted to images
            for lb in ds.labels:
                lb.type = 100 if lb.type == 0 else lb.type
            session.execute(
                update(SampleLabel)
                .where(SampleLabel.dataset_id == ds.id, SampleLabel.type == 0)
                .values(type=100)
            )
    return ds, imported


class InnerPaths(TypedDict):
    inner_work_path: str
    inner_annotation_path: str
    inner_data_path: str
    inner_log_path: str
    inner_temp_path: str
    inner_task_path: str


def inner_paths(storage: Storage, ds: Dataset) -> InnerPaths:
    base = dataset_prefix(ds.id)
    return {
        "inner_work_path": storage.url(base) + "/",
        "inner_annotation_path": storage.url(f"{base}/annotation") + "/",
        "inner_data_path": storage.url(f"{base}/data") + "/",
        "inner_log_path": storage.url(f"{base}/logs") + "/",
        "inner_temp_path": storage.url(f"{base}/temp") + "/",
        "inner_task_path": storage.url(f"{base}/task") + "/",
    }


def label_out(label: Label) -> s.LabelOut:
    return s.LabelOut(
        name=label.name, type=label.type, property=label.property or {}, attributes=label.attributes
    )


def dataset_out(
    session: Session, storage: Storage, ds: Dataset, c: dict[str, int] | None = None
) -> s.DatasetOut:
    c = c or counters(session, [ds.id])[ds.id]
    running = session.scalars(
        select(Task.id).where(Task.dataset_id == ds.id).where(text(ACTIVE_SQL))
    ).all()
    return s.DatasetOut(
        dataset_id=ds.id,
        dataset_name=ds.name,
        dataset_type=ds.dataset_type,
        status=ds.status,
        description=ds.description,
        data_sources=[s.DataSource.model_validate(d) for d in ds.data_sources or []],
        work_path=ds.work_path,
        work_path_type=ds.work_path_type,
        labels=[label_out(lb) for lb in ds.labels],
        workspace_id=ds.workspace_id,
        create_time=ds.create_time,
        update_time=ds.update_time,
        total_sample_count=c["total"],
        annotated_sample_count=c["annotated"],
        unconfirmed_sample_count=c["unconfirmed"],
        exist_running_task=bool(running),
        running_tasks_id=list(running),
        **inner_paths(storage, ds),
    )


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
    """Delete a dataset with its samples and tasks; its copied files go from storage."""
    active = session.scalar(
        select(Task.id).where(Task.dataset_id == ds.id).where(text(ACTIVE_SQL)).limit(1)
    )
    if active:
        raise LabelPilotError(
            f"dataset {ds.id} has a running task {active}; stop it first",
            error_code="ModelArts.4613",
            status_code=403,
        )
    session.execute(delete(Task).where(Task.dataset_id == ds.id))
    session.delete(ds)
    session.flush()
    prefix = dataset_prefix(ds.id)
    after_commit(session, lambda: storage.delete_prefix(prefix))


# --- labels ---------------------------------------------------------------------------------


def create_labels(session: Session, ds: Dataset, labels: list[s.LabelIn]) -> s.BatchResponse:
    existing = {lb.name for lb in ds.labels}
    results: list[s.BatchResult] = []
    seen: set[str] = set()
    for lb in labels:
        if lb.name in existing or lb.name in seen:
            raise BadRequest(f"label '{lb.name}' already exists", error_code="ModelArts.4411")
        seen.add(lb.name)
        ds.labels.append(
            Label(
                name=lb.name,
                type=lb.type if lb.type is not None else _default_label_type(ds),
                property=lb.property or {},
                attributes=lb.attributes or [],
            )
        )
        results.append(s.BatchResult(success=True, name=lb.name))
    try:
        session.flush()
    except IntegrityError as exc:
        raise BadRequest("label already exists", error_code="ModelArts.4411") from exc
    ds.update_time = now_ms()
    return s.BatchResponse(success=True, results=results)


def _default_label_type(ds: Dataset) -> int:
    return ds.dataset_type if ds.dataset_type in (0, 1, 3, 100, 101, 200) else 0


def ensure_label(session: Session, ds: Dataset, name: str, type_: int | None = None) -> Label:
    """The dataset's label ``name``, created if missing."""
    for lb in ds.labels:
        if lb.name == name:
            return lb
    lb = Label(name=name, type=type_ if type_ is not None else _default_label_type(ds))
    ds.labels.append(lb)
    session.flush()
    return lb
