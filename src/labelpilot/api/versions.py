"""Dataset versions (DATA_MANAGEMENT §4): publish (a data task), list, get, delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import Field

from labelpilot.api import schemas as s
from labelpilot.api.deps import DatasetForRead, DatasetForWrite, ReadSession, Svc, WriteSession
from labelpilot.api.openapi import errors
from labelpilot.api.render.tolerant import each
from labelpilot.api.retry import RetryingRoute
from labelpilot.datasets import versions
from labelpilot.datasets.tables import DatasetVersion
from labelpilot.datasets.types import DatasetType
from labelpilot.errors import (
    BadRequest,
    DatasetNotFound,
    NotAvailable,
    SplitNotPossible,
    VersionNameTaken,
    VersionNotFound,
    VersionPublishing,
)
from labelpilot.ids import short_id
from labelpilot.tasks.data import queue_data_task
from labelpilot.tasks.status import TERMINAL, TaskStatus
from labelpilot.tasks.tables import Task

router = APIRouter(tags=["dataset versions"], route_class=RetryingRoute)
BASE = "/v2/{project_id}/datasets/{dataset_id}/versions"
FORMATS = {"default": "Default", "carbondata": "CarbonData", "csv": "CSV"}
FORMAT_CODES = {0: "Default", 1: "CarbonData", 2: "CSV"}
ECHOED = ("export_images", "with_column_header", "crop", "label_task_type", "label_task_id")
TAGS: dict[int, list[str]] = {
    DatasetType.IMAGE_CLASSIFICATION: ["Image", "Image classification"],
    DatasetType.OBJECT_DETECTION: ["Image", "Object detection"],
    DatasetType.TEXT_CLASSIFICATION: ["Text", "Text classification"],
}


class CreateVersionRequest(s.In):
    version_name: str | None = None
    version_format: str | None = None
    description: str | None = Field(None, max_length=256)
    clear_hard_property: bool = True
    export_images: bool = False
    remove_sample_usage: bool = True
    train_evaluate_sample_ratio: str | float | None = None
    with_column_header: bool = True
    crop: bool | None = None
    label_task_type: int | None = None
    label_task_id: str | None = None


class CreateVersionResponse(s.Out):
    version_id: str


class LabelStats(s.Out):
    name: str
    type: int
    property: dict[str, Any] = {}
    count: int
    sample_count: int


class VersionOut(s.Out):
    version_id: str
    version_name: str
    version_format: str
    description: str
    status: int
    is_current: bool
    previous_version_id: str | None = None
    create_time: int
    update_time: int
    task_type: int
    label_type: str
    tags: list[str] = []
    total_sample_count: int
    annotated_sample_count: int
    total_sub_sample_count: int = 0
    annotated_sub_sample_count: int = 0
    clear_hard_property: bool
    remove_sample_usage: bool
    export_images: bool = False
    with_column_header: bool = True
    crop: bool | None = None
    label_task_type: int | None = None
    label_task_id: str | None = None
    train_evaluate_sample_ratio: str
    manifest_path: str | None = None
    data_path: str | None = None
    label_stats: list[LabelStats] | None = None
    code: str | None = None
    message: str | None = None
    task_id: str | None = None


class ListVersionsResponse(s.Out):
    total_number: int
    versions: list[VersionOut]


def _ratio(value: str | float | None) -> float:
    if value is None or value == "":
        return 1.0
    try:
        ratio = float(value)
    except ValueError as exc:
        raise BadRequest("train_evaluate_sample_ratio must be a number in [0, 1]") from exc
    if not 0.0 <= ratio <= 1.0:
        raise BadRequest("train_evaluate_sample_ratio must be a number in [0, 1]")
    return ratio


def _new_version(body: CreateVersionRequest) -> versions.NewVersion:
    name = body.version_name
    if name is not None and not versions.VERSION_NAME.match(name):
        raise BadRequest("version_name must be 1-32 letters, digits, '_' or '-'")
    fmt = FORMATS.get((body.version_format or "Default").lower())
    if fmt is None:
        raise BadRequest("version_format must be Default, CarbonData or CSV")
    if fmt != "Default":
        raise NotAvailable(f"version_format {fmt} (table datasets) is not available yet")
    if body.export_images:
        raise NotAvailable("export_images (copying the images into the version) is not built")
    description = body.description or ""
    if any(c in description for c in "!<>=&\"'"):
        raise BadRequest("description must not contain any of !<>=&\"'")
    return versions.NewVersion(
        version_name=name,
        version_format=fmt,
        description=description,
        clear_hard_property=body.clear_hard_property,
        remove_sample_usage=body.remove_sample_usage,
        train_evaluate_sample_ratio=_ratio(body.train_evaluate_sample_ratio),
        options={k: getattr(body, k) for k in ECHOED if getattr(body, k) is not None},
    )


def _status(v: DatasetVersion, task: Task | None) -> tuple[int, str | None, str | None]:
    """A creating version whose task ended without publishing (lost, failed) shows failed."""
    ended = task is not None and task.status in TERMINAL and task.status != TaskStatus.SUCCEEDED
    if v.status == versions.CREATING and task is not None and ended:
        return versions.FAILED, task.error_code, task.error_msg or task.message
    return v.status, v.code, v.message


def version_out(
    v: DatasetVersion, dataset_type: int, svc: Svc, task: Task | None, with_stats: bool
) -> VersionOut:
    status, code, message = _status(v, task)
    opts = v.options or {}
    multi = any(st["count"] > st["sample_count"] for st in v.label_stats or [])
    return VersionOut(
        version_id=v.id,
        version_name=v.version_name,
        version_format=v.version_format,
        description=v.description,
        status=status,
        is_current=v.is_current,
        previous_version_id=v.previous_version_id,
        create_time=v.create_time,
        update_time=v.update_time,
        task_type=dataset_type,
        label_type="multi" if multi else "single",
        tags=TAGS.get(dataset_type, []),
        total_sample_count=v.total_sample_count,
        annotated_sample_count=v.annotated_sample_count,
        clear_hard_property=bool(opts.get("clear_hard_property", True)),
        remove_sample_usage=bool(opts.get("remove_sample_usage", True)),
        export_images=bool(opts.get("export_images", False)),
        with_column_header=bool(opts.get("with_column_header", True)),
        crop=opts.get("crop"),
        label_task_type=opts.get("label_task_type"),
        label_task_id=opts.get("label_task_id"),
        train_evaluate_sample_ratio=v.train_evaluate_sample_ratio,
        manifest_path=svc.storage.url(versions.manifest_key(v)) if status == 1 else None,
        data_path=svc.storage.url(v.storage_prefix) if status == 1 else None,
        label_stats=[LabelStats(**st) for st in v.label_stats or []] if with_stats else None,
        code=code,
        message=message,
        task_id=v.task_id,
    )


def _tasks(session: ReadSession, rows: list[DatasetVersion]) -> dict[str, Task]:
    ids = [v.task_id for v in rows if v.task_id and v.status == versions.CREATING]
    if not ids:
        return {}
    return {t.id: t for t in session.query(Task).filter(Task.id.in_(ids))}


@router.post(
    BASE,
    status_code=201,
    response_model=CreateVersionResponse,
    responses=errors(
        VersionNameTaken, SplitNotPossible, VersionPublishing, DatasetNotFound, NotAvailable
    ),
)
def create_version(
    dataset: DatasetForWrite,
    session: WriteSession,
    svc: Svc,
    body: CreateVersionRequest | None = None,
) -> CreateVersionResponse:
    """Publish a version: 201 at once with status 0; a task writes the manifest (status 1)."""
    new = _new_version(body or CreateVersionRequest())
    task_id = short_id()
    version = versions.create_version(session, dataset, new, task_id)
    queue_data_task(
        session,
        svc.kinds,
        dataset=dataset,
        task_type="publish-version",
        config={"version_id": version.id},
        task_id=task_id,
    )
    return CreateVersionResponse(version_id=version.id)


@router.get(
    BASE,
    response_model=ListVersionsResponse,
    response_model_exclude_none=True,
    responses=errors(DatasetNotFound),
)
def list_versions(
    dataset: DatasetForRead,
    session: ReadSession,
    svc: Svc,
    status: Annotated[int | None, Query(ge=0, le=4)] = None,
    train_evaluate_ratio: str | None = None,
    version_format: Annotated[int | None, Query(ge=0, le=2)] = None,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
    marker: str | None = None,
) -> ListVersionsResponse:
    """Versions newest first, without ``label_stats``; ``marker`` pages after a version id."""
    ratio = None
    if train_evaluate_ratio:
        try:
            lo, hi = (float(x) for x in train_evaluate_ratio.split(","))
        except ValueError as exc:
            raise BadRequest(
                "train_evaluate_ratio must look like 'min,max', e.g. '0.0,1.0'"
            ) from exc
        ratio = (lo, hi)
    total, rows = versions.list_versions(
        session,
        dataset.id,
        status=status,
        ratio=ratio,
        version_format=FORMAT_CODES[version_format] if version_format is not None else None,
        offset=offset,
        limit=limit,
        marker=marker,
    )
    tasks = _tasks(session, rows)
    out = each(
        rows,
        lambda v: version_out(
            v, dataset.dataset_type, svc, tasks.get(v.task_id or ""), with_stats=False
        ),
        "version",
    )
    return ListVersionsResponse(total_number=total, versions=out)


@router.get(
    BASE + "/{version_id}",
    response_model=VersionOut,
    response_model_exclude_none=True,
    responses=errors(DatasetNotFound, VersionNotFound),
)
def get_version(
    dataset: DatasetForRead, version_id: str, session: ReadSession, svc: Svc
) -> VersionOut:
    """One version with its ``label_stats``."""
    v = versions.get_version(session, dataset.id, version_id)
    task = _tasks(session, [v]).get(v.task_id or "")
    return version_out(v, dataset.dataset_type, svc, task, with_stats=True)


@router.delete(
    BASE + "/{version_id}",
    status_code=204,
    response_class=Response,
    responses=errors(DatasetNotFound, VersionNotFound, VersionPublishing),
)
def delete_version(dataset: DatasetForWrite, version_id: str, session: WriteSession) -> None:
    """Delete a version (its files stay); the newest normal one left becomes current."""
    v = versions.get_version(session, dataset.id, version_id)
    task = _tasks(session, [v]).get(v.task_id or "")
    if v.status == versions.CREATING and task is not None and task.status in TERMINAL:
        v.status = versions.FAILED  # its task ended without publishing: it can go
    versions.delete_version(session, v)
