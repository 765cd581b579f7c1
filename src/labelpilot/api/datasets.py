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
from labelpilot.errors import (
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
from labelpilot.samples.importing import create_dataset_with_sources
from labelpilot.tasks import service as tasks

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
    project_id: ProjectId, body: s.CreateDatasetRequest, svc: Svc
) -> s.CreateDatasetResponse:
    """Create a dataset; files under ``data_sources`` are imported as samples.

    Its own transactions: the import commits in bounded batches (``samples.importing``).
    """
    dataset_id, n = create_dataset_with_sources(
        db=svc.db,
        storage=svc.storage,
        project_id=project_id,
        new=translate.new_dataset(body),
        policy=svc.import_policy,
    )
    return s.CreateDatasetResponse(dataset_id=dataset_id, imported_sample_count=n)


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
        datasets=each(
            rows,
            lambda d: dataset_out(svc.storage, d, c[d.id], tasks.active_task_ids(session, d.id)),
            "dataset",
        ),
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
    return dataset_out(svc.storage, dataset, c, tasks.active_task_ids(session, dataset.id))


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
