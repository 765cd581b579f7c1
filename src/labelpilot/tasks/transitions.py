"""The one function that changes a task's status, and the events that record each change.

Every change is checked against ``status.ALLOWED`` and appended to the task's events as a level-0
event; runner steps are recorded as sub-events of the ``running`` event.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from labelpilot.ids import now_ms, utcnow
from labelpilot.tasks.status import (
    EVENT_STATUS,
    TERMINAL,
    TaskStatus,
    allowed,
    closing_event_status,
)
from labelpilot.tasks.tables import Task, TaskEvent


class TransitionError(RuntimeError):
    """A status change that the state machine does not allow."""


def _close_open_events(session: Session, task_id: str, status: str, at: int) -> None:
    open_events = session.scalars(
        select(TaskEvent).where(
            TaskEvent.task_id == task_id,
            TaskEvent.end_time.is_(None),
        )
    )
    for ev in open_events:
        ev.end_time = at
        if ev.status in ("waiting", "running"):
            ev.status = status


def next_ordinal(session: Session, task_id: str) -> int:
    current = session.scalar(
        select(func.max(TaskEvent.ordinal)).where(TaskEvent.task_id == task_id)
    )
    return (current or 0) + 1


def _status_of(task: Task) -> TaskStatus | None:
    return None if task.status is None else TaskStatus(task.status)


def transition(
    session: Session,
    task: Task,
    new_status: TaskStatus,
    *,
    code: str | None = None,
    message: str | None = None,
    error_code: str | None = None,
    error_msg: str | None = None,
    error_detail: str | None = None,
    now: datetime | None = None,
    lost: bool = False,
) -> None:
    """Move ``task`` to ``new_status`` (checked) and append the event that records it.

    A task not created yet (``status`` None) may only enter ``queuing``: its row and its first
    event are flushed together. ``lost``: the attempt that ran ended without an outcome (its
    worker is gone); its open events end "lost".
    """
    old = _status_of(task)
    new_status = TaskStatus(new_status)
    if not allowed(old, new_status):
        raise TransitionError(
            f"task {task.id}: {old.label if old is not None else 'new'} -> "
            f"{new_status.label} is not allowed"
        )
    now = now or utcnow()
    at = now_ms()
    finished = new_status in TERMINAL
    if old is None:
        ordinal = 1
    else:
        # The previous level-0 event (and any step of a lost attempt) ends.
        _close_open_events(session, task.id, closing_event_status(new_status, lost=lost), at)
        ordinal = next_ordinal(session, task.id)
    task.status = new_status
    task.updated_at = now
    if code is not None:
        task.code = code
    if message is not None:
        task.message = message
    if error_code is not None:
        task.error_code = error_code
    if error_msg is not None:
        task.error_msg = error_msg
    if error_detail is not None:
        task.error_detail = error_detail
    if new_status == TaskStatus.INITIALIZING and task.started_at is None:
        task.started_at = now
    if new_status == TaskStatus.QUEUING:
        task.worker_id = None
        task.lease_expires_at = None
    if finished:
        task.finished_at = now
        task.worker_id = None
        task.lease_expires_at = None
        if new_status == TaskStatus.SUCCEEDED:
            task.progress = 100.0
    description = message or ""
    if error_msg:
        description = error_msg
    if old is None:
        session.add(task)
        session.flush()  # the row first: the database's one-active-task index judges it here
    session.add(
        TaskEvent(
            task_id=task.id,
            parent_id=None,
            ordinal=ordinal,
            level=0,
            name=new_status.label,
            description=description,
            status=EVENT_STATUS[new_status],
            create_time=at,
            end_time=at if finished else None,
            error_code=error_code,
            error_message=error_msg,
        )
    )
    session.flush()
