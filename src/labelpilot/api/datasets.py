"""Dataset and label routes."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from labelpilot.api import schemas as s
from labelpilot.api.deps import ProjectId, ReadSession, Svc, WriteSession
from labelpilot.datasets import service as datasets

router = APIRouter(tags=["datasets"])


@router.post(
    "/v2/{project_id}/datasets",
    status_code=201,
    response_model=s.CreateDatasetResponse,
    response_model_exclude_none=True,
)
def create_dataset(
    project_id: ProjectId, body: s.CreateDatasetRequest, session: WriteSession, svc: Svc
) -> s.CreateDatasetResponse:
    """Create a dataset; files under ``data_sources`` are imported as samples."""
    ds, n = datasets.create_dataset(session, svc.storage, project_id, body, svc.import_policy)
    return s.CreateDatasetResponse(dataset_id=ds.id, imported_sample_count=n)


@router.get(
    "/v2/{project_id}/datasets",
    response_model=s.ListDatasetsResponse,
    response_model_exclude_none=True,
)
def list_datasets(
    project_id: ProjectId,
    session: ReadSession,
    svc: Svc,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,  # offset * limit must fit in SQL
    search_content: str | None = None,
    dataset_type: int | None = None,
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
        datasets=[datasets.dataset_out(session, svc.storage, d, c[d.id]) for d in rows],
        total_number=total,
    )


@router.get(
    "/v2/{project_id}/datasets/{dataset_id}",
    response_model=s.DatasetOut,
    response_model_exclude_none=True,
)
def get_dataset(
    project_id: ProjectId, dataset_id: str, session: ReadSession, svc: Svc
) -> s.DatasetOut:
    """A dataset with its sample counters and labels."""
    ds = datasets.get_dataset(session, project_id, dataset_id)
    return datasets.dataset_out(session, svc.storage, ds)


@router.delete("/v2/{project_id}/datasets/{dataset_id}", status_code=204, response_class=Response)
def delete_dataset(project_id: ProjectId, dataset_id: str, session: WriteSession, svc: Svc) -> None:
    """Delete a dataset, its samples and tasks (source directories are left untouched)."""
    datasets.delete_dataset(
        session, svc.storage, datasets.get_dataset(session, project_id, dataset_id)
    )


@router.post(
    "/v2/{project_id}/datasets/{dataset_id}/data-annotations/labels",
    response_model=s.BatchResponse,
    response_model_exclude_none=True,
)
def create_labels(
    project_id: ProjectId, dataset_id: str, body: s.LabelsRequest, session: WriteSession
) -> s.BatchResponse:
    ds = datasets.get_dataset(session, project_id, dataset_id)
    return datasets.create_labels(session, ds, body.labels)


@router.get(
    "/v2/{project_id}/datasets/{dataset_id}/data-annotations/labels",
    response_model=s.ListLabelsResponse,
    response_model_exclude_none=True,
)
def list_labels(
    project_id: ProjectId, dataset_id: str, session: ReadSession
) -> s.ListLabelsResponse:
    ds = datasets.get_dataset(session, project_id, dataset_id)
    return s.ListLabelsResponse(labels=[datasets.label_out(lb) for lb in ds.labels])
