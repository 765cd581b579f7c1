"""Dataset and label routes."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response

from labelpilot.api import schemas as s
from labelpilot.api import translate
from labelpilot.api.deps import (
    DatasetForRead,
    DatasetForWrite,
    IntQuery,
    Limit,
    Offset,
    ProjectId,
    ReadSession,
    Svc,
    WriteSession,
)
from labelpilot.api.openapi import errors
from labelpilot.api.render.datasets import dataset_out, label_out
from labelpilot.api.render.tolerant import each
from labelpilot.api.retry import RetryingRoute
from labelpilot.datasets import service as datasets
from labelpilot.datasets.tables import Dataset
from labelpilot.datasets.types import DataSourceSpec
from labelpilot.errors import (
    BadRequest,
    DatasetBusy,
    DatasetNameTaken,
    DatasetNotFound,
    ImageTooLarge,
    ImageUnreadable,
    LabelExists,
    NotAvailable,
    PathNotAllowed,
    SampleTooLarge,
)
from labelpilot.runners.importing import SOURCES_FIELD, decide_type
from labelpilot.tasks import service as tasks
from labelpilot.tasks.data import queue_data_task

router = APIRouter(tags=["datasets"], route_class=RetryingRoute)


@router.post(
    "/v2/{project_id}/datasets",
    status_code=201,
    response_model=s.CreateDatasetResponse,
    response_model_exclude_none=True,
    responses=errors(
        DatasetNameTaken,
        ImageUnreadable,
        SampleTooLarge,
        PathNotAllowed,
        ImageTooLarge,
        NotAvailable,
    ),
)
def create_dataset(
    project_id: ProjectId, body: s.CreateDatasetRequest, session: WriteSession, svc: Svc
) -> s.CreateDatasetResponse:
    """Create a dataset; its ``data_sources`` are imported by an import task queued with it.

    The sources are checked first (a refused path leaves no dataset); the answer comes at once
    with the task's id (``import_task_id``), whose status shows the import's progress.
    """
    new = translate.new_dataset(body)
    paths = source_paths(new.data_sources)
    ds = datasets.create_dataset(
        session=session, storage=svc.storage, project_id=project_id, new=new
    )
    if not paths:
        decide_type(session, ds.id, set())
        return s.CreateDatasetResponse(dataset_id=ds.id)
    config = {
        "paths": paths,
        "import_type": 0,
        "import_annotations": new.import_annotations,
        "decide_type": True,
        "field": SOURCES_FIELD,
    }
    task = queue_data_task(session, svc.kinds, dataset=ds, task_type="import", config=config)
    return s.CreateDatasetResponse(dataset_id=ds.id, import_task_id=task.id)


def source_paths(sources: list[DataSourceSpec]) -> list[str]:
    """The directories of a new dataset's ``data_sources`` (400 naming the field otherwise)."""
    paths = []
    for i, src in enumerate(sources):
        if src.data_type not in (None, 0):
            raise BadRequest(
                f"data_sources[{i}].data_type {src.data_type} is not supported "
                "(only 0: a directory or storage URL)"
            )
        if not src.data_path:
            raise BadRequest(f"data_sources[{i}].data_path is required")
        paths.append(src.data_path)
    return paths


@router.get(
    "/v2/{project_id}/datasets",
    response_model=s.ListDatasetsResponse,
    response_model_exclude_none=True,
)
def list_datasets(
    project_id: ProjectId,
    session: ReadSession,
    svc: Svc,
    limit: Limit = 10,
    offset: Offset = 0,
    search_content: str | None = None,
    dataset_type: IntQuery = None,
    order: Literal["asc", "desc"] = "desc",
    sort_by: Literal["create_time", "dataset_name"] = "create_time",
) -> s.ListDatasetsResponse:
    total, rows = datasets.list_datasets(
        session,
        project_id,
        offset=offset,
        limit=limit,
        search_content=search_content,
        dataset_type=dataset_type,
        order=order,
        sort_by=sort_by,
    )
    c = datasets.counters(session, [d.id for d in rows])
    return s.ListDatasetsResponse(
        datasets=each(rows, lambda d: _out(session, svc, d, c[d.id]), "dataset"),
        total_number=total,
    )


@router.get(
    "/v2/{project_id}/datasets/{dataset_id}",
    response_model=s.DatasetOut,
    response_model_exclude_none=True,
    responses=errors(DatasetNotFound),
)
def get_dataset(dataset: DatasetForRead, session: ReadSession, svc: Svc) -> s.DatasetOut:
    """A dataset with its sample counters and labels."""
    c = datasets.counters(session, [dataset.id])[dataset.id]
    return _out(session, svc, dataset, c)


def _out(session: ReadSession, svc: Svc, ds: Dataset, counters: dict[str, int]) -> s.DatasetOut:
    """A dataset as shown: its active tasks, and the status an active data task gives it."""
    active = tasks.active_tasks(session, ds.id)
    status = tasks.dataset_status(svc.kinds, ds.status, [t for _, t in active])
    return dataset_out(svc.storage, ds, counters, [i for i, _ in active], status=status)


@router.delete(
    "/v2/{project_id}/datasets/{dataset_id}",
    status_code=204,
    response_class=Response,
    responses=errors(DatasetNotFound, DatasetBusy),
)
def delete_dataset(dataset: DatasetForWrite, session: WriteSession, svc: Svc) -> None:
    """Delete a dataset, its samples and tasks (source directories are left untouched)."""
    tasks.delete_dataset_tasks(session, dataset)
    datasets.delete_dataset(session, svc.storage, dataset)


@router.post(
    "/v2/{project_id}/datasets/{dataset_id}/data-annotations/labels",
    response_model=s.BatchResponse,
    response_model_exclude_none=True,
    responses=errors(LabelExists, DatasetNotFound),
)
def create_labels(
    dataset: DatasetForWrite, body: s.LabelsRequest, session: WriteSession
) -> s.BatchResponse:
    specs = [translate.label_spec(x, f"labels[{i}]") for i, x in enumerate(body.labels)]
    names = datasets.create_labels(session, dataset, specs)
    return s.BatchResponse(
        success=True, results=[s.BatchResult(success=True, name=n) for n in names]
    )


@router.get(
    "/v2/{project_id}/datasets/{dataset_id}/data-annotations/labels",
    response_model=s.ListLabelsResponse,
    response_model_exclude_none=True,
    responses=errors(DatasetNotFound),
)
def list_labels(dataset: DatasetForRead) -> s.ListLabelsResponse:
    return s.ListLabelsResponse(labels=[label_out(lb) for lb in dataset.labels])
