"""Task services: create, list (the seed), describe, stop. The caller owns the transaction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import exists, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from labelpilot.api import schemas as s
from labelpilot.config import Settings
from labelpilot.datasets.service import get_dataset, snapshot_counters
from labelpilot.datasets.tables import Dataset
from labelpilot.engine.runners import get_runner
from labelpilot.engine.state import FINISHED, QUEUING, RUNNING_LIKE, STOPPED, STOPPING, transition
from labelpilot.errors import BadRequest, Conflict, TaskNotFound
from labelpilot.ids import format_time, short_id, utcnow
from labelpilot.tasks.kinds import DEFAULT_LIST_TYPES, KINDS, TaskKind
from labelpilot.tasks.tables import ACTIVE_SQL, Task, TaskEvent


def kind_of(task_type: str | None, field: str = "task_type") -> TaskKind:
    name = task_type or "auto-label"
    kind = KINDS.get(name)
    if kind is None:
        allowed = ", ".join(KINDS)
        raise BadRequest(f"{field} '{task_type}' is invalid; allowed values: {allowed}")
    return kind


def _running_conflict(session: Session, dataset_id: str, kind: TaskKind) -> str | None:
    return session.scalar(
        select(Task.id)
        .where(Task.dataset_id == dataset_id, Task.type == kind.type)
        .where(text(ACTIVE_SQL))
        .limit(1)
    )


def create_task(
    session: Session,
    settings: Settings,
    project_id: str,
    dataset_id: str,
    req: s.CreateTaskRequest,
) -> Task:
    """Validate and queue a task (check order as in the contract's §8); no ML runs here."""
    ds = get_dataset(session, project_id, dataset_id)
    kind = kind_of(req.task_type)
    runner = get_runner(kind.task_type, settings)
    if _running_conflict(session, ds.id, kind):
        raise Conflict(kind.running_message, error_code=kind.running_code)
    config = req.config or s.SmartTaskConfig()
    name = config.name or f"{kind.task_type}-{utcnow().strftime('%Y%m%d%H%M%S')}-{short_id()[:4]}"
    if kind.task_type == "auto-deploy":
        taken = session.scalar(select(exists().where(Task.dataset_id == ds.id, Task.name == name)))
        if taken:
            raise BadRequest(
                f"task name '{name}' is already used on this dataset",
                error_code="ModelArts.4391",
            )
    runner.check(session, ds, req)
    now = utcnow()
    model_id = req.model_id or config.model_id
    task = Task(
        id=short_id(),
        project_id=project_id,
        dataset_id=ds.id,
        task_type=kind.task_type,
        type=kind.type,
        name=name,
        status=QUEUING,
        code=kind.submit_code,
        message=kind.submit_message,
        progress=0.0,
        create_time=now,
        updated_at=now,
        model_id=model_id,
        model_name=config.model_name,
        model_version=config.model_version,
        collect_key_sample=bool(req.collect_key_sample),
        config=config.model_dump(mode="json", by_alias=True, exclude_none=True),
        result={},
        export_type=config.result_type if config.result_type in (0, 1) else 0,
        attempts=0,
    )
    snapshot_counters(session, task)
    session.add(task)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:  # the partial unique index caught a concurrent create
        raise Conflict(kind.running_message, error_code=kind.running_code) from exc
    session.add(
        TaskEvent(
            task_id=task.id,
            ordinal=1,
            level=0,
            name="queuing",
            description=kind.submit_message,
            status="waiting",
            create_time=int(now.timestamp() * 1000),
        )
    )
    session.flush()
    return task


def get_task(session: Session, project_id: str, dataset_id: str, task_id: str) -> Task:
    get_dataset(session, project_id, dataset_id)
    task = session.get(Task, task_id)
    if task is None or task.dataset_id != dataset_id:
        raise TaskNotFound(task_id)
    return task


def stop_task(session: Session, task: Task) -> None:
    """Ask a task to stop: queued stops at once, running stops at the worker's next check."""
    if task.status in FINISHED or task.status == STOPPING:
        return  # idempotent
    transition(session, task, STOPPING, message="stop requested")
    if task.worker_id is None:
        transition(session, task, STOPPED, message="task stopped")


def list_tasks(
    session: Session,
    dataset: Dataset,
    *,
    offset: int,
    limit: int,
    task_type: str | None,
    task_name: str | None,
) -> tuple[int, list[Task], bool]:
    """The seed's list: filtered, newest first, ``offset`` is a page index."""
    types: Sequence[int] = (
        DEFAULT_LIST_TYPES if task_type is None else (kind_of(task_type, "type").type,)
    )
    q = select(Task).where(Task.dataset_id == dataset.id, Task.type.in_(types))
    if task_name:
        q = q.where(func.lower(Task.name).contains(task_name.lower(), autoescape=True))
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    # Deferred join: page through ids only (index-only), then load the page's rows.
    order = (Task.create_time.desc(), Task.id.desc())
    page_ids = (
        q.with_only_columns(Task.id).order_by(*order).offset(offset * limit).limit(limit)
    ).subquery()
    rows = session.scalars(
        select(Task).join(page_ids, Task.id == page_ids.c.id).order_by(*order)
    ).all()
    deploy_type = KINDS["auto-deploy"].type
    running_deploy = bool(
        session.scalar(
            select(
                exists().where(
                    Task.dataset_id == dataset.id,
                    Task.type == deploy_type,
                    text(ACTIVE_SQL),  # lets the planner use the partial unique index
                    Task.status.in_(RUNNING_LIKE),
                )
            )
        )
    )
    return total, list(rows), running_deploy


# --- rendering ------------------------------------------------------------------------------


def events_by_task(session: Session, task_ids: list[str]) -> dict[str, list[s.Event]]:
    """Each task's event tree: level-0 status events with runner steps as sub-events."""
    if not task_ids:
        return {}
    rows = session.scalars(
        select(TaskEvent)
        .where(TaskEvent.task_id.in_(task_ids))
        .order_by(TaskEvent.task_id, TaskEvent.ordinal)
    ).all()
    now = int(utcnow().timestamp() * 1000)
    children: dict[int, list[TaskEvent]] = defaultdict(list)
    by_id = {r.id: r for r in rows}
    for r in rows:
        if r.parent_id is not None:
            children[r.parent_id].append(r)

    def render(ev: TaskEvent) -> s.Event:
        end = ev.end_time if ev.end_time is not None else now
        subs = [render(c) for c in children.get(ev.id, [])]
        parent = by_id.get(ev.parent_id) if ev.parent_id is not None else None
        return s.Event(
            name=ev.name,
            description=ev.description or None,
            create_time=ev.create_time,
            elapsed_time=max(0, end - ev.create_time),
            error_code=ev.error_code,
            error_message=ev.error_message,
            events=subs or None,
            level=ev.level,
            ordinal=ev.ordinal,
            parent_name=parent.name if parent else None,
            status=ev.status,
        )

    out: dict[str, list[s.Event]] = defaultdict(list)
    for r in rows:
        if r.parent_id is None:
            out[r.task_id].append(render(r))
    return out


def elapsed_seconds(task: Task) -> int:
    if task.started_at is None:
        return 0
    end = task.finished_at or utcnow()
    return max(0, int((end - task.started_at).total_seconds()))


def _result(task: Task, events: list[s.Event] | None) -> s.Result:
    data: dict[str, Any] = {
        "total_sample_count": task.total_sample_count,
        "annotated_sample_count": task.annotated_sample_count,
        "unconfirmed_sample_count": task.unconfirmed_sample_count,
        "continuity": False,
        **(task.result or {}),
    }
    if events:
        data["events"] = events
    return s.Result.model_validate(data)


def running_task(task: Task, events: list[s.Event] | None = None) -> s.RunningTask:
    return s.RunningTask(
        task_id=task.id,
        task_name=task.name,
        dataset_id=task.dataset_id,
        type=task.type,
        status=task.status,
        code=task.code,
        message=task.message,
        error_code=task.error_code,
        error_msg=task.error_msg,
        error_detail=task.error_detail,
        create_time=format_time(task.create_time),
        elapsed_time=elapsed_seconds(task),
        progress=round(task.progress, 2),
        total_sample_count=task.total_sample_count,
        annotated_sample_count=task.annotated_sample_count,
        unconfirmed_sample_count=task.unconfirmed_sample_count,
        model_id=task.model_id,
        model_name=task.model_name,
        model_version=task.model_version,
        export_type=task.export_type,
        config=s.SmartTaskConfig.model_validate(task.config or {}),
        result=_result(task, events),
    )


def task_detail(task: Task, events: list[s.Event] | None = None) -> s.TaskDetail:
    rt = running_task(task, events)
    return s.TaskDetail(
        **rt.model_dump(include=set(s.TaskDetail.model_fields), exclude_none=True),
        resource_id=task.resource_id,
    )
