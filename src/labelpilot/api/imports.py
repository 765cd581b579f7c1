"""Import tasks and sync (DATA_MANAGEMENT §5, §7): create (a data task), list, status; sync the
dataset's own data sources. The work runs on the task engine, never inside the request."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import field_validator
from sqlalchemy import select

from labelpilot.api import schemas as s
from labelpilot.api.deps import (
    DatasetForRead,
    DatasetForWrite,
    ReadSession,
    Svc,
    WriteSession,
)
from labelpilot.api.openapi import errors
from labelpilot.api.render.tolerant import each, stored_json
from labelpilot.api.retry import RetryingRoute
from labelpilot.datasets.tables import Dataset
from labelpilot.errors import (
    BadRequest,
    DatasetNotFound,
    ImportRunning,
    ImportTaskNotFound,
    NotAvailable,
    PathNotAllowed,
    SyncRunning,
)
from labelpilot.ids import short_id
from labelpilot.paging import page_of
from labelpilot.tasks.data import queue_data_task
from labelpilot.tasks.status import TaskStatus
from labelpilot.tasks.tables import Task

router = APIRouter(tags=["import tasks"], route_class=RetryingRoute)
BASE = "/v2/{project_id}/datasets/{dataset_id}/import-tasks"
SYNC = "/v2/{project_id}/datasets/{dataset_id}/sync-data"
IMPORT_TYPE, SYNC_TYPE = 22, 23
IMPORT_TYPES = {"dir": 0, "manifest": 1, "0": 0, "1": 1}
STATUS = {
    TaskStatus.QUEUING: "QUEUING",
    TaskStatus.INITIALIZING: "STARTING",
    TaskStatus.RUNNING: "RUNNING",
    TaskStatus.STOPPING: "RUNNING",
    TaskStatus.SUCCEEDED: "COMPLETED",
    TaskStatus.FAILED: "FAILED",
    TaskStatus.STOPPED: "FAILED",
}
# request fields stored and echoed as sent (DATA_MANAGEMENT §5.3)
ECHOED = (
    "import_folder",
    "import_origin",
    "with_column_header",
    "data_source",
    "label_format",
)


class LabelRef(s.Open):
    name: str


class CreateImportTaskRequest(s.In):
    import_path: str
    import_type: str | int | None = None
    import_annotations: bool = True
    import_samples: bool = True
    final_annotation: bool = True
    difficult_only: bool = False
    included_labels: list[LabelRef | str] | None = None
    excluded_labels: list[LabelRef | str] | None = None
    import_folder: str | None = None
    import_origin: str | None = None
    data_source: s.DataSource | None = None
    label_format: dict[str, str] | None = None
    with_column_header: bool | None = None
    annotation_format: str | None = None

    @field_validator("import_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.strip():
            raise BadRequest("import_path must not be empty")
        return value


class CreateImportTaskResponse(s.Out):
    task_id: str


class FileStatistics(s.Out):
    file_num_total: int
    file_num_finished: int
    file_size_total: int
    file_size_finished: int


class ImportFailure(s.Out):
    file: str
    reason: str


class ImportTaskOut(s.Out):
    task_id: str
    dataset_id: str
    status: str
    import_path: str
    import_type: int
    total_sample_count: int
    imported_sample_count: int
    annotated_sample_count: int
    unconfirmed_sample_count: int
    total_sub_sample_count: int = 0
    imported_sub_sample_count: int = 0
    total_file_count: int
    finished_file_count: int
    total_file_size: int
    finished_file_size: int
    file_statistics: FileStatistics
    # LabelPilot extensions: what was skipped and why
    duplicate_sample_count: int
    failed_file_count: int
    failures: list[ImportFailure]
    progress: float
    error_code: str | None = None
    error_msg: str | None = None
    create_time: int
    update_ms: int
    elapsed_time: int
    annotation_format: str | None = None
    difficult_only: bool
    final_annotation: bool
    import_annotations: bool
    import_samples: bool
    included_labels: list[dict[str, Any]] | None = None
    excluded_labels: list[dict[str, Any]] | None = None
    import_folder: str | None = None
    import_origin: str | None = None
    with_column_header: bool | None = None
    label_format: dict[str, str] | None = None
    data_source: dict[str, Any] | None = None


class ListImportTasksResponse(s.Out):
    total_count: int
    import_tasks: list[ImportTaskOut]


class SyncStatusOut(s.Out):
    status: str
    dataset_id: str
    task_id: str | None = None
    total_sample_count: int | None = None
    add_sample_count: int | None = None
    deleted_sample_count: int | None = None
    create_time: int | None = None
    duration_time: int | None = None
    error_code: str | None = None
    error_msg: str | None = None


def import_type_of(value: str | int | None, path: str) -> int:
    """``dir``/``manifest`` or 0/1; missing: a path ending in ``.manifest`` is a manifest."""
    if value is None or value == "":
        return 1 if path.rstrip("/").endswith(".manifest") else 0
    code = IMPORT_TYPES.get(str(value).strip().lower())
    if code is None:
        raise BadRequest(f"import_type {value!r} is not one of dir, manifest, 0, 1")
    return code


def _names(labels: list[LabelRef | str] | None) -> list[str]:
    return [lb if isinstance(lb, str) else lb.name for lb in labels or []]


def _config(body: CreateImportTaskRequest) -> dict[str, Any]:
    config: dict[str, Any] = {
        "paths": [body.import_path],
        "import_path": body.import_path,
        "import_type": import_type_of(body.import_type, body.import_path),
        "import_annotations": body.import_annotations,
        "import_samples": body.import_samples,
        "final_annotation": body.final_annotation,
        "difficult_only": body.difficult_only,
        "included_labels": _names(body.included_labels),
        "excluded_labels": _names(body.excluded_labels),
        "annotation_format": body.annotation_format,
    }
    for key in ECHOED:
        value = getattr(body, key)
        if value is not None:
            config[key] = value.model_dump(exclude_none=True) if key == "data_source" else value
    return config


def _ms(task: Task, attr: str) -> int:
    value = getattr(task, attr)
    return int(value.timestamp() * 1000) if value is not None else 0


def import_out(task: Task) -> ImportTaskOut:
    config = stored_json(task.config or {}, f"task {task.id} config")
    result = stored_json(task.result or {}, f"task {task.id} result")
    total = int(result.get("total_sample_count") or 0)
    imported = int(result.get("imported_sample_count") or 0)
    annotated = int(result.get("annotated_sample_count") or 0)
    size = int(result.get("finished_file_size") or 0)
    done = imported + int(result.get("duplicate_sample_count") or 0)
    end = task.finished_at or task.updated_at
    elapsed = (end - task.started_at).total_seconds() if task.started_at and end else 0
    return ImportTaskOut(
        task_id=task.id,
        dataset_id=task.dataset_id,
        status=STATUS[TaskStatus(task.status)],
        import_path=str(config.get("import_path") or ", ".join(config.get("paths") or [])),
        import_type=int(config.get("import_type") or 0),
        total_sample_count=total,
        imported_sample_count=imported,
        annotated_sample_count=annotated,
        unconfirmed_sample_count=0 if config.get("final_annotation", True) else annotated,
        total_file_count=total,
        finished_file_count=done,
        total_file_size=size,
        finished_file_size=size,
        file_statistics=FileStatistics(
            file_num_total=total,
            file_num_finished=done,
            file_size_total=size,
            file_size_finished=size,
        ),
        duplicate_sample_count=int(result.get("duplicate_sample_count") or 0),
        failed_file_count=int(result.get("failed_file_count") or 0),
        failures=[ImportFailure(**f) for f in result.get("failures") or []],
        progress=round(task.progress, 2),
        error_code=task.error_code,
        error_msg=task.error_msg,
        create_time=_ms(task, "create_time"),
        update_ms=_ms(task, "updated_at"),
        elapsed_time=int(max(elapsed, 0)),
        annotation_format=config.get("annotation_format"),
        difficult_only=bool(config.get("difficult_only")),
        final_annotation=config.get("final_annotation", True) is not False,
        import_annotations=config.get("import_annotations", True) is not False,
        import_samples=config.get("import_samples", True) is not False,
        included_labels=[{"name": n} for n in config.get("included_labels") or []] or None,
        excluded_labels=[{"name": n} for n in config.get("excluded_labels") or []] or None,
        **{key: config.get(key) for key in ECHOED},
    )


def _task(session: ReadSession, dataset: Dataset, task_id: str) -> Task:
    task = session.get(Task, task_id)
    if task is None or task.dataset_id != dataset.id or task.type != IMPORT_TYPE:
        raise ImportTaskNotFound(task_id)
    return task


@router.post(
    BASE,
    response_model=CreateImportTaskResponse,
    responses=errors(BadRequest, PathNotAllowed, DatasetNotFound, ImportRunning, NotAvailable),
)
def create_import_task(
    dataset: DatasetForWrite, body: CreateImportTaskRequest, session: WriteSession, svc: Svc
) -> CreateImportTaskResponse:
    """Queue an import of a server directory or manifest; a worker reads the files."""
    task = queue_data_task(
        session,
        svc.kinds,
        dataset=dataset,
        task_type="import",
        config=_config(body),
        task_id=short_id(),
    )
    return CreateImportTaskResponse(task_id=task.id)


@router.get(
    BASE,
    response_model=ListImportTasksResponse,
    response_model_exclude_none=True,
    responses=errors(DatasetNotFound),
)
def list_import_tasks(
    dataset: DatasetForRead,
    session: ReadSession,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    marker: str | None = None,
) -> ListImportTasksResponse:
    """Import tasks newest first; ``marker`` (a task id) pages after that task."""
    q = select(Task).where(Task.dataset_id == dataset.id, Task.type == IMPORT_TYPE)
    rows = list(session.scalars(q.order_by(Task.create_time.desc(), Task.id.desc())))
    page = page_of(rows, offset=offset, limit=limit, marker=marker, key=lambda t: t.id)
    return ListImportTasksResponse(
        total_count=len(rows), import_tasks=each(page, import_out, "task")
    )


@router.get(
    BASE + "/{task_id}",
    response_model=ImportTaskOut,
    response_model_exclude_none=True,
    responses=errors(DatasetNotFound, ImportTaskNotFound),
)
def get_import_task(dataset: DatasetForRead, task_id: str, session: ReadSession) -> ImportTaskOut:
    """An import task's status, counts and the files it skipped, with reasons."""
    return import_out(_task(session, dataset, task_id))


@router.post(
    SYNC,
    status_code=200,
    response_class=Response,
    responses=errors(DatasetNotFound, SyncRunning, NotAvailable, PathNotAllowed),
)
def sync_data(dataset: DatasetForWrite, session: WriteSession, svc: Svc) -> Response:
    """Import what is new in the dataset's data sources (a sync task; no body either way)."""
    paths = [
        str(d.get("data_path"))
        for d in stored_json(dataset.data_sources or [], f"dataset {dataset.id} data_sources")
        if d.get("data_path")
    ]
    if not paths:
        raise BadRequest(f"dataset {dataset.id} has no data_sources to sync")
    config = {"paths": paths, "import_type": 0, "import_annotations": True}
    queue_data_task(session, svc.kinds, dataset=dataset, task_type="sync", config=config)
    return Response(status_code=200)


@router.get(
    SYNC + "/status",
    response_model=SyncStatusOut,
    response_model_exclude_none=True,
    responses=errors(DatasetNotFound),
)
def sync_status(dataset: DatasetForRead, session: ReadSession) -> SyncStatusOut:
    """The newest sync's status; ``NOT_EXIST`` before any sync ran."""
    task = session.scalar(
        select(Task)
        .where(Task.dataset_id == dataset.id, Task.type == SYNC_TYPE)
        .order_by(Task.create_time.desc(), Task.id.desc())
        .limit(1)
    )
    if task is None:
        return SyncStatusOut(status="NOT_EXIST", dataset_id=dataset.id)
    out = import_out(task)
    return SyncStatusOut(
        status=out.status,
        dataset_id=dataset.id,
        task_id=task.id,
        total_sample_count=out.total_sample_count,
        add_sample_count=out.imported_sample_count,
        deleted_sample_count=0,
        create_time=out.create_time,
        duration_time=out.elapsed_time,
        error_code=out.error_code,
        error_msg=out.error_msg,
    )
