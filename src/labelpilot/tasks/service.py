"""Task services: create, list (the seed), get, stop. The caller owns the transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, exists, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from labelpilot.datasets.service import snapshot_counters
from labelpilot.datasets.tables import Dataset
from labelpilot.errors import DatasetBusy, TaskNameTaken, TaskNotFound
from labelpilot.ids import short_id, utcnow
from labelpilot.tasks.kinds import DEFAULT_LIST_KINDS, KindRegistry, TaskRunner
from labelpilot.tasks.status import RUNNING_LIKE, TERMINAL, TaskStatus
from labelpilot.tasks.tables import ACTIVE_SQL, Task, TaskEvent
from labelpilot.tasks.transitions import transition


@dataclass(frozen=True)
class NewTask:
    """What CreateTask asks for, free of wire types; ``config`` is the stored config object."""

    task_type: str | None = None
    model_id: str | None = None
    collect_key_sample: bool = False
    config: Mapping[str, Any] = field(default_factory=dict)


def refuse_if_running(session: Session, runner: TaskRunner[Any], dataset_id: str) -> None:
    """Raise the kind's running error when a task of this kind is active on the dataset."""
    active = session.scalar(
        select(Task.id)
        .where(Task.dataset_id == dataset_id, Task.type == runner.type)
        .where(text(ACTIVE_SQL))
        .limit(1)
    )
    if active:
        raise runner.running_error(runner.running_message)


def create_task(
    *, session: Session, kinds: KindRegistry, project_id: str, dataset: Dataset, new: NewTask
) -> Task:
    """Validate and queue a task (check order as in the contract's §8); no ML runs here."""
    # only an absent task_type defaults; "" names no kind (400)
    task_type = "auto-label" if new.task_type is None else new.task_type
    runner: TaskRunner[Any] = kinds.intelligent(task_type)
    refuse_if_running(session, runner, dataset.id)
    raw = dict(new.config)
    name = raw.get("name") or (
        f"{runner.task_type}-{utcnow().strftime('%Y%m%d%H%M%S')}-{short_id()[:4]}"
    )
    if runner.unique_names:
        taken = session.scalar(
            select(exists().where(Task.dataset_id == dataset.id, Task.name == name))
        )
        if taken:
            raise TaskNameTaken(f"task name '{name}' is already used on this dataset")
    model_id = new.model_id or raw.get("model_id")
    runner.check_dataset(dataset)
    config = runner.parse_config(raw, model_id)
    runner.check(session, dataset, config)
    now = utcnow()
    result_type = raw.get("result_type")
    task = Task(
        id=short_id(),
        project_id=project_id,
        dataset_id=dataset.id,
        task_type=runner.task_type,
        type=runner.type,
        name=name,
        progress=0.0,
        create_time=now,
        updated_at=now,
        model_id=model_id,
        model_name=raw.get("model_name"),
        model_version=raw.get("model_version"),
        collect_key_sample=new.collect_key_sample,
        config=raw,
        result={},
        export_type=result_type if result_type in (0, 1) else 0,
        attempts=0,
    )
    return enqueue(session, runner, task)


def enqueue(session: Session, runner: TaskRunner[Any], task: Task) -> Task:
    """Snapshot the dataset's counters onto a new ``task`` and move it to QUEUING (one event).

    The kind's running error is raised when the partial unique index (one active task of a kind
    per dataset) catches a concurrent create that ``refuse_if_running`` could not see.
    """
    snapshot_counters(session, task)
    try:
        with session.begin_nested():
            transition(
                session,
                task,
                TaskStatus.QUEUING,
                code=runner.submit_code,
                message=runner.submit_message,
                now=task.create_time,
            )
    except IntegrityError as exc:
        raise runner.running_error(runner.running_message) from exc
    return task


def get_task(session: Session, dataset: Dataset, task_id: str) -> Task:
    task = session.get(Task, task_id)
    if task is None or task.dataset_id != dataset.id:
        raise TaskNotFound(task_id)
    return task


def stop_task(session: Session, task: Task) -> None:
    """Ask a task to stop: queued stops at once, running stops at the worker's next check."""
    if task.status in TERMINAL or task.status == TaskStatus.STOPPING:
        return  # idempotent
    transition(session, task, TaskStatus.STOPPING, message="stop requested")
    if task.worker_id is None:
        transition(session, task, TaskStatus.STOPPED, message="task stopped")


@dataclass(frozen=True)
class TaskPage:
    total: int
    tasks: list[Task]
    running_deploy: bool


def list_tasks(
    *,
    session: Session,
    kinds: KindRegistry,
    dataset: Dataset,
    offset: int,
    limit: int,
    task_type: str | None,
    task_name: str | None,
) -> TaskPage:
    """The seed's list: filtered, newest first, ``offset`` is a page index."""
    types: Sequence[int] = (
        [kinds.get(k).type for k in DEFAULT_LIST_KINDS]
        if task_type is None
        else (kinds.intelligent(task_type, "type").type,)
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
    deploy_type = kinds.get("auto-deploy").type
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
    return TaskPage(total, list(rows), running_deploy)


def task_events(session: Session, task_ids: list[str]) -> list[TaskEvent]:
    """The events of ``task_ids``, per task in order."""
    if not task_ids:
        return []
    return list(
        session.scalars(
            select(TaskEvent)
            .where(TaskEvent.task_id.in_(task_ids))
            .order_by(TaskEvent.task_id, TaskEvent.ordinal)
        ).all()
    )


def active_task_ids(session: Session, dataset_id: str) -> list[str]:
    """The dataset's active tasks (DatasetOut's ``running_tasks_id``)."""
    return [task_id for task_id, _ in active_tasks(session, dataset_id)]


def active_tasks(session: Session, dataset_id: str) -> list[tuple[str, int]]:
    """The dataset's active tasks as ``(id, type)``, oldest first."""
    rows = session.execute(
        select(Task.id, Task.type)
        .where(Task.dataset_id == dataset_id)
        .where(text(ACTIVE_SQL))
        .order_by(Task.create_time, Task.id)
    )
    return [(task_id, int(type_)) for task_id, type_ in rows]


def dataset_status(kinds: KindRegistry, stored: int, active_types: Sequence[int]) -> int:
    """A dataset's status as shown: the stored one, or the one its first active data task
    gives (8 importing, 5 syncing, 6 publishing a version; DATA_MANAGEMENT §5-§7)."""
    for type_ in active_types:
        runner = kinds.by_type(type_)
        if runner is not None and runner.dataset_status is not None:
            return runner.dataset_status
    return stored


def delete_dataset_tasks(session: Session, dataset: Dataset) -> None:
    """Delete a dataset's tasks before the dataset; refused while one is active."""
    active = session.scalar(
        select(Task.id).where(Task.dataset_id == dataset.id).where(text(ACTIVE_SQL)).limit(1)
    )
    if active:
        raise DatasetBusy(f"dataset {dataset.id} has a running task {active}; stop it first")
    session.execute(delete(Task).where(Task.dataset_id == dataset.id))
