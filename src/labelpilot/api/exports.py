"""Export tasks (DATA_MANAGEMENT §6): create (a data task), list, status, and the download of
the result as a zip archive streamed file by file (a LabelPilot extension)."""

from __future__ import annotations

import dataclasses
import re
import zipfile
from collections.abc import Iterator
from typing import IO, Annotated, Any, cast

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from labelpilot.api import schemas as s
from labelpilot.api import translate
from labelpilot.api.deps import (
    DatasetForRead,
    DatasetForWrite,
    ProjectId,
    ReadSession,
    Svc,
    WriteSession,
)
from labelpilot.api.openapi import errors
from labelpilot.api.render.tolerant import each, stored_json
from labelpilot.api.retry import RetryingRoute
from labelpilot.datasets.service import get_dataset
from labelpilot.datasets.tables import Dataset
from labelpilot.errors import (
    BadRequest,
    DatasetNotFound,
    ExportRunning,
    ExportTaskNotFound,
    InvalidExportParameter,
    InvalidExportPath,
    SampleNotFound,
    VersionNotFound,
)
from labelpilot.ids import short_id
from labelpilot.paging import page_of
from labelpilot.storage import Storage
from labelpilot.tasks.data import queue_data_task
from labelpilot.tasks.status import TaskStatus
from labelpilot.tasks.tables import Task

router = APIRouter(tags=["export tasks"], route_class=RetryingRoute)
BASE = "/v2/{project_id}/datasets/{dataset_id}/export-tasks"
ONE = "/v2/{project_id}/datasets/{resource_id}/export-tasks/{task_id}"
EXPORT_TYPE = 21
STATUS = {
    TaskStatus.QUEUING: "INIT",
    TaskStatus.INITIALIZING: "INIT",
    TaskStatus.RUNNING: "RUNNING",
    TaskStatus.STOPPING: "RUNNING",
    TaskStatus.SUCCEEDED: "SUCCESSED",  # sic, as ModelArts spells it
    TaskStatus.FAILED: "FAILED",
    TaskStatus.STOPPED: "FAILED",
}
SEGMENT = re.compile(r"^[A-Za-z0-9._-]+$")


class ExportTaskParams(s.ExportParams):
    train_sample_ratio: str | float | None = None  # type: ignore[assignment]
    clear_difficult: bool | None = None


class CreateExportTaskRequest(s.In):
    path: str | None = None
    export_type: int | None = None
    export_format: int | None = None
    export_params: ExportTaskParams | None = None
    sample_state: str | None = None
    version_id: str | None = None
    version_format: str | None = None
    source_type_header: str | None = None
    annotation_format: str | None = None
    with_column_header: bool | None = None


class CreateExportTaskResponse(s.Out):
    task_id: str


class ExportTaskOut(s.Out):
    task_id: str
    dataset_id: str
    path: str | None = None
    export_type: int
    export_format: int | None = None
    export_params: dict[str, Any] = {}
    annotation_format: str
    version_format: str | None = None
    version_id: str | None = None
    sample_state: str | None = None
    source_type_header: str | None = None
    with_column_header: bool | None = None
    status: str
    progress: float
    total_sample_count: int
    finished_sample_count: int
    total_count: int
    error_code: str | None = None
    error_msg: str | None = None
    create_time: int
    update_time: int
    export_path: str | None = None
    file_count: int | None = None


class ListExportTasksResponse(s.Out):
    total_count: int
    export_tasks: list[ExportTaskOut]


def _prefix(path: str | None, task_id: str, dataset_id: str) -> str:
    """The output's storage prefix: ``exports/<path>/<task_id>/``; a path is a directory of
    LabelPilot's storage (``/bucket/dir/``), never a server path."""
    if not path:
        return f"datasets/{dataset_id}/exports/{task_id}/"
    raw = path.split("://", 1)[1] if "://" in path else path
    parts = [p for p in raw.strip("/").split("/") if p]
    if not parts or any(p in (".", "..") or not SEGMENT.match(p) for p in parts):
        raise InvalidExportPath(
            "path must be a storage directory like /bucket/dir/ (letters, digits, '.', '_', "
            "'-'; no '..')"
        )
    return f"exports/{'/'.join(parts)}/{task_id}/"


def _ratio(value: str | float | None) -> float:
    if value is None or value == "":
        return 1.0
    try:
        ratio = float(value)
    except ValueError as exc:
        raise BadRequest("export_params.train_sample_ratio must be a number in [0, 1]") from exc
    if not 0.0 <= ratio <= 1.0:
        raise BadRequest("export_params.train_sample_ratio must be a number in [0, 1]")
    return ratio


def _format(body: CreateExportTaskRequest) -> str:
    """``annotation_format`` (any case), or class folders for ``export_format`` 1 (tree)."""
    if body.export_format not in (None, 1, 2):
        raise InvalidExportParameter(
            f"export_format {body.export_format} is not 1 (tree) or 2 (tile)"
        )
    if body.annotation_format:
        return body.annotation_format.upper()
    return "CLASS_FOLDERS" if body.export_format == 1 else "MANIFEST"


def _config(body: CreateExportTaskRequest, prefix: str) -> dict[str, Any]:
    params = body.export_params or ExportTaskParams()
    if params.export_dest not in (None, "", "DIR"):
        raise InvalidExportParameter(
            "export_params.export_dest NEW_DATASET is not available; use DIR"
        )
    conditions = [translate.condition(c) for c in params.search_conditions or []]
    return {
        "prefix": prefix,
        "path": body.path,
        "export_type": 3 if body.export_type is None else body.export_type,
        "export_format": body.export_format,
        "annotation_format": _format(body),
        "sample_state": body.sample_state or params.sample_state or None,
        "search_conditions": [dataclasses.asdict(c) for c in conditions],
        "samples": list(params.samples or []),
        "version_id": body.version_id,
        "version_format": body.version_format,
        "clear_hard_property": params.clear_hard_property is not False,
        "ratio_sample_usage": bool(params.ratio_sample_usage),
        "train_sample_ratio": _ratio(params.train_sample_ratio),
        "source_type_header": body.source_type_header,
        "with_column_header": body.with_column_header,
        "export_params": params.model_dump(mode="json", exclude_none=True),
    }


def export_out(task: Task) -> ExportTaskOut:
    config = stored_json(task.config or {}, f"task {task.id} config")
    result = stored_json(task.result or {}, f"task {task.id} result")
    total = int(result.get("total_sample_count") or 0)
    created = int(task.create_time.timestamp() * 1000)
    return ExportTaskOut(
        task_id=task.id,
        dataset_id=task.dataset_id,
        path=config.get("path"),
        export_type=int(config.get("export_type", 3)),
        export_format=config.get("export_format"),
        export_params=config.get("export_params") or {},
        annotation_format=str(config.get("annotation_format", "MANIFEST")),
        version_format=config.get("version_format"),
        version_id=config.get("version_id"),
        sample_state=config.get("sample_state"),
        source_type_header=config.get("source_type_header"),
        with_column_header=config.get("with_column_header"),
        status=STATUS[TaskStatus(task.status)],
        progress=round(task.progress, 2),
        total_sample_count=total,
        finished_sample_count=int(result.get("finished_sample_count") or 0),
        total_count=total,
        error_code=task.error_code,
        error_msg=task.error_msg,
        create_time=created,
        update_time=int(task.updated_at.timestamp() * 1000),
        export_path=result.get("export_path"),
        file_count=result.get("file_count"),
    )


def _task(session: ReadSession, dataset: Dataset, task_id: str) -> Task:
    task = session.get(Task, task_id)
    if task is None or task.dataset_id != dataset.id or task.type != EXPORT_TYPE:
        raise ExportTaskNotFound(task_id)
    return task


@router.post(
    BASE,
    response_model=CreateExportTaskResponse,
    responses=errors(
        InvalidExportParameter,
        InvalidExportPath,
        DatasetNotFound,
        VersionNotFound,
        ExportRunning,
    ),
)
def create_export_task(
    dataset: DatasetForWrite, body: CreateExportTaskRequest, session: WriteSession, svc: Svc
) -> CreateExportTaskResponse:
    """Queue an export; a worker writes the files (poll the status)."""
    task_id = short_id()
    config = _config(body, _prefix(body.path, task_id, dataset.id))
    task = queue_data_task(
        session, svc.kinds, dataset=dataset, task_type="export", config=config, task_id=task_id
    )
    return CreateExportTaskResponse(task_id=task.id)


@router.get(
    BASE,
    response_model=ListExportTasksResponse,
    response_model_exclude_none=True,
    responses=errors(DatasetNotFound),
)
def list_export_tasks(
    dataset: DatasetForRead,
    session: ReadSession,
    export_type: Annotated[int | None, Query(ge=0, le=3)] = None,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    marker: str | None = None,
) -> ListExportTasksResponse:
    """Export tasks newest first; ``marker`` (a task id) pages after that task."""
    q = select(Task).where(Task.dataset_id == dataset.id, Task.type == EXPORT_TYPE)
    rows = list(session.scalars(q.order_by(Task.create_time.desc(), Task.id.desc())))
    if export_type is not None:
        rows = [t for t in rows if int((t.config or {}).get("export_type", 3)) == export_type]
    page = page_of(rows, offset=offset, limit=limit, marker=marker, key=lambda t: t.id)
    return ListExportTasksResponse(
        total_count=len(rows), export_tasks=each(page, export_out, "task")
    )


@router.get(
    ONE,
    response_model=ExportTaskOut,
    response_model_exclude_none=True,
    responses=errors(DatasetNotFound, ExportTaskNotFound),
)
def get_export_task(
    resource_id: str, task_id: str, project_id: ProjectId, session: ReadSession
) -> ExportTaskOut:
    """An export task's status, progress and counts (``resource_id`` is the dataset id)."""
    dataset = get_dataset(session, project_id, resource_id)
    return export_out(_task(session, dataset, task_id))


class _Sink:
    """A write-only file for ``zipfile`` whose bytes are taken out as they come."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.offset = 0

    def write(self, data: bytes) -> int:
        self.chunks.append(bytes(data))
        self.offset += len(data)
        return len(data)

    def tell(self) -> int:
        return self.offset

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        out, self.chunks = b"".join(self.chunks), []
        return out


def zip_stream(storage: Storage, prefix: str) -> Iterator[bytes]:
    """The files below ``prefix`` as a zip, one file in memory at a time."""
    sink = _Sink()
    with zipfile.ZipFile(cast(IO[bytes], sink), "w", zipfile.ZIP_DEFLATED) as archive:
        for key in storage.list(prefix):
            with archive.open(key[len(prefix) :], "w") as entry:
                entry.write(storage.get(key))
            yield sink.take()
    yield sink.take()


@router.get(
    BASE + "/{task_id}/download",
    response_class=StreamingResponse,
    responses=errors(DatasetNotFound, ExportTaskNotFound, SampleNotFound),
)
def download_export(
    dataset: DatasetForRead, task_id: str, session: ReadSession, svc: Svc
) -> StreamingResponse:
    """The finished export as a zip archive, streamed (LabelPilot extension)."""
    task = _task(session, dataset, task_id)
    if task.status != TaskStatus.SUCCEEDED:
        raise BadRequest(
            f"export task {task_id} has not finished: {STATUS[TaskStatus(task.status)]}"
        )
    prefix = str((task.config or {}).get("prefix", ""))
    return StreamingResponse(
        zip_stream(svc.storage, prefix),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{task_id}.zip"'},
    )
