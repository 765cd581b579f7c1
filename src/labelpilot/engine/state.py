"""Task statuses and the one function that changes them.

Every change is checked against ``ALLOWED`` and appended to the task's events as a level-0 event;
runner steps are recorded as sub-events of the ``running`` event.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from labelpilot.ids import now_ms, utcnow
from labelpilot.tasks.tables import Task, TaskEvent

QUEUING, INITIALIZING, RUNNING, FAILED, SUCCEEDED, STOPPING, STOPPED = -1, 0, 1, 2, 3, 4, 5
ACTIVE = (QUEUING, INITIALIZING, RUNNING, STOPPING)
RUNNING_LIKE = (QUEUING, INITIALIZING, RUNNING)
FINISHED = (FAILED, SUCCEEDED, STOPPED)

STATUS_NAMES = {
    QUEUING: "queuing",
    INITIALIZING: "initializing",
    RUNNING: "running",
    FAILED: "failed",
    SUCCEEDED: "succeeded",
    STOPPING: "stopping",
    STOPPED: "stopped",
}

# status -> statuses it may move to. RUNNING/INITIALIZING -> QUEUING is the retry of a task
# whose worker was lost.
ALLOWED: dict[int, frozenset[int]] = {
    QUEUING: frozenset({INITIALIZING, STOPPING, FAILED}),
    INITIALIZING: frozenset({RUNNING, FAILED, STOPPING, QUEUING}),
    RUNNING: frozenset({SUCCEEDED, FAILED, STOPPING, QUEUING}),
    STOPPING: frozenset({STOPPED, FAILED}),
    FAILED: frozenset(),
    SUCCEEDED: frozenset(),
    STOPPED: frozenset(),
}

# Event status of a level-0 event while its task is in a status, and once the task left it.
_EVENT_STATUS = {
    QUEUING: "waiting",
    INITIALIZING: "running",
    RUNNING: "running",
    STOPPING: "running",
    FAILED: "failed",
    SUCCEEDED: "success",
    STOPPED: "success",
}


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


def transition(
    session: Session,
    task: Task,
    new_status: int,
    *,
    code: str | None = None,
    message: str | None = None,
    error_code: str | None = None,
    error_msg: str | None = None,
    error_detail: str | None = None,
    now: datetime | None = None,
) -> None:
    """Move ``task`` to ``new_status`` (checked) and append the event that records it."""
    old = task.status
    if new_status not in ALLOWED.get(old, frozenset()):
        raise TransitionError(
            f"task {task.id}: {STATUS_NAMES.get(old, old)} -> "
            f"{STATUS_NAMES.get(new_status, new_status)} is not allowed"
        )
    now = now or utcnow()
    at = now_ms()
    finished = new_status in FINISHED
    # The previous level-0 event ends; it ends "failed" only if the task failed.
    _close_open_events(session, task.id, "failed" if new_status == FAILED else "success", at)
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
    if new_status == INITIALIZING and task.started_at is None:
        task.started_at = now
    if new_status == QUEUING:
        task.worker_id = None
        task.lease_expires_at = None
    if finished:
        task.finished_at = now
        task.worker_id = None
        task.lease_expires_at = None
        if new_status == SUCCEEDED:
            task.progress = 100.0
    description = message or ""
    if error_msg:
        description = error_msg
    session.add(
        TaskEvent(
            task_id=task.id,
            parent_id=None,
            ordinal=next_ordinal(session, task.id),
            level=0,
            name=STATUS_NAMES[new_status],
            description=description,
            status=_EVENT_STATUS[new_status],
            create_time=at,
            end_time=at if finished else None,
            error_code=error_code,
            error_message=error_msg,
        )
    )
    session.flush()
