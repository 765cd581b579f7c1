"""What a runner sees of its task: config, storage, progress, steps and stop checks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from labelpilot.config import Settings
from labelpilot.db import Database
from labelpilot.errors import LabelPilotError
from labelpilot.ids import now_ms, utcnow
from labelpilot.storage import Storage
from labelpilot.tasks.status import EVENT_LOST, TaskStatus
from labelpilot.tasks.tables import Task, TaskEvent
from labelpilot.tasks.transitions import next_ordinal

T = TypeVar("T")


class TaskStopped(Exception):
    """Raised inside a runner when its task was asked to stop."""


class TaskLost(Exception):
    """Raised when this worker no longer owns the task (its lease was taken over)."""


class TaskFailed(Exception):
    """A runner's controlled failure: the catalogue error whose code and message it reports."""

    def __init__(self, error: LabelPilotError) -> None:
        super().__init__(error.error_msg)
        self.code = error.error_code
        self.message = error.error_msg


@dataclass
class RunContext:
    """Handed to ``Runner.run``: ids and config, never live ORM objects."""

    task_id: str
    dataset_id: str
    project_id: str
    task_type: str
    config: dict[str, Any]
    collect_key_sample: bool
    model_id: str | None
    worker_id: str
    db: Database
    storage: Storage
    settings: Settings
    stop_flag: threading.Event = field(default_factory=threading.Event)
    lost_flag: threading.Event = field(default_factory=threading.Event)
    _last_poll: float = 0.0
    _running_event_id: int | None = None
    # computations a stop left running (see ``interruptible``); the worker waits for them
    # before it takes the next task, so two tasks never compute at once in one worker
    abandoned: list[threading.Thread] = field(default_factory=list)

    def check_stop(self, poll_seconds: float = 0.25) -> None:
        """Raise ``TaskStopped``/``TaskLost`` if the task was stopped or taken over."""
        now = time.monotonic()
        if now - self._last_poll >= poll_seconds:
            self._last_poll = now
            with self.db.read() as s:
                row = s.execute(
                    select(Task.status, Task.worker_id).where(Task.id == self.task_id)
                ).one_or_none()
            if row is None or row.worker_id != self.worker_id:
                self.lost_flag.set()
            elif row.status == TaskStatus.STOPPING:
                self.stop_flag.set()
        if self.lost_flag.is_set():
            raise TaskLost(self.task_id)
        if self.stop_flag.is_set():
            raise TaskStopped(self.task_id)

    def interruptible(self, work: Callable[[], T], poll_seconds: float = 0.1) -> T:
        """Run ``work()`` (a long call without stop checks of its own) and watch for a stop.

        The call runs in a helper thread while this one checks for a stop every
        ``poll_seconds``; on a stop ``TaskStopped`` is raised at once and the call's result,
        when it comes, is dropped; the worker records the stop at once and waits for the call to
        end before it takes another task. Only for computations: a write must not be left running.
        """
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["value"] = work()
            except BaseException as exc:  # handed to the waiting thread below
                box["error"] = exc

        helper = threading.Thread(target=target, name=f"task-{self.task_id}", daemon=True)
        helper.start()
        while helper.is_alive():
            helper.join(poll_seconds)
            if helper.is_alive():
                try:
                    self.check_stop()
                except (TaskStopped, TaskLost):
                    self.abandoned.append(helper)
                    raise
        if "error" in box:
            raise box["error"]
        value: T = box["value"]
        return value

    def progress(self, percent: float) -> None:
        """Record progress (0-100) and check for a stop."""
        pct = max(0.0, min(100.0, float(percent)))
        self.db.run(
            lambda s: s.execute(
                update(Task)
                .where(Task.id == self.task_id, Task.worker_id == self.worker_id)
                .values(progress=pct, updated_at=utcnow())
            )
        )
        self.check_stop()

    def set_result(self, **fields: Any) -> None:
        """Merge ``fields`` into the task's result now (visible while it runs)."""

        def merge(s: Session) -> None:
            task = s.get(Task, self.task_id)
            if task is not None and task.worker_id == self.worker_id:
                task.result = {**(task.result or {}), **fields}

        self.db.run(merge)

    def _parent_event_id(self) -> int | None:
        if self._running_event_id is None:
            with self.db.read() as s:
                self._running_event_id = s.scalar(
                    select(TaskEvent.id)
                    .where(TaskEvent.task_id == self.task_id, TaskEvent.level == 0)
                    .where(TaskEvent.name == "running")
                    .order_by(TaskEvent.id.desc())
                    .limit(1)
                )
        return self._running_event_id

    @contextmanager
    def step(self, name: str, description: str = "") -> Iterator[None]:
        """A sub-event of the ``running`` event, timed, marked failed if the block raises."""
        parent = self._parent_event_id()

        def open_event(s: Session) -> int:
            ev = TaskEvent(
                task_id=self.task_id,
                parent_id=parent,
                ordinal=next_ordinal(s, self.task_id),
                level=1,
                name=name,
                description=description,
                status="running",
                create_time=now_ms(),
            )
            s.add(ev)
            s.flush()
            return ev.id

        ev_id = self.db.run(open_event)
        status, err = "success", None
        try:
            yield
        except TaskStopped:
            status = "failed"
            err = "stopped"
            raise
        except BaseException as exc:
            status, err = "failed", str(exc)[:500]
            raise
        finally:

            def close_event(s: Session) -> None:
                ev = s.get(TaskEvent, ev_id)
                if ev is not None and ev.status != EVENT_LOST:  # the reaper's word stands
                    ev.status = status
                    ev.end_time = now_ms()
                    ev.error_message = err

            self.db.run(close_event)

    def is_running(self) -> bool:
        with self.db.read() as s:
            return (
                s.scalar(select(Task.status).where(Task.id == self.task_id)) == TaskStatus.RUNNING
            )
