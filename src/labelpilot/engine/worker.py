"""Workers: claim queued tasks atomically, hold a lease with heartbeats, run, and recover."""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from labelpilot.config import Settings
from labelpilot.datasets.service import snapshot_counters
from labelpilot.db import Database
from labelpilot.engine.context import RunContext, TaskFailed, TaskLost, TaskStopped
from labelpilot.engine.runners import get_runner
from labelpilot.engine.state import (
    FAILED,
    INITIALIZING,
    QUEUING,
    RUNNING,
    STOPPED,
    STOPPING,
    SUCCEEDED,
    transition,
)
from labelpilot.ids import utcnow
from labelpilot.storage import Storage, open_storage
from labelpilot.tasks.kinds import KINDS
from labelpilot.tasks.tables import Task

log = logging.getLogger(__name__)

CODE_SUCCESS = "ModelArts.4996"
CODE_SYSTEM_ERROR = "ModelArts.4999"
CODE_TASK_FAILED = "ModelArts.4392"


def reap_expired(db: Database, settings: Settings) -> int:
    """End or requeue tasks whose worker stopped renewing its lease; return how many."""
    now = utcnow()
    count = 0
    with db.transaction() as s:
        expired = s.scalars(
            select(Task)
            .where(Task.status.in_((INITIALIZING, RUNNING, STOPPING)))
            .where(Task.lease_expires_at < now)
        ).all()
        for task in expired:
            count += 1
            lost = f"worker {task.worker_id} lost (lease expired)"
            if task.status == STOPPING:
                transition(s, task, STOPPED, message=f"task stopped; {lost}")
            elif task.attempts < settings.max_attempts:
                transition(
                    s,
                    task,
                    QUEUING,
                    message=f"{lost}; requeued (attempt {task.attempts + 1} of "
                    f"{settings.max_attempts})",
                )
            else:
                transition(
                    s,
                    task,
                    FAILED,
                    code=CODE_TASK_FAILED,
                    message="task failed",
                    error_code=CODE_SYSTEM_ERROR,
                    error_msg=f"{lost} after {task.attempts} attempt(s)",
                )
    return count


class Worker:
    """Runs one task at a time; many workers (processes, hosts) share one database."""

    def __init__(
        self,
        settings: Settings,
        db: Database | None = None,
        storage: Storage | None = None,
        worker_id: str | None = None,
        parent_pid: int | None = None,
    ) -> None:
        self.settings = settings
        self.parent_pid = parent_pid
        self.db = db or Database(settings.resolved_database_url)
        self.storage = storage or open_storage(settings.resolved_storage_root, settings)
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.shutdown = threading.Event()

    # -- queue ---------------------------------------------------------------------------

    def claim(self) -> str | None:
        """Claim the oldest queued task (conditional update: exactly one worker wins)."""
        lease = timedelta(seconds=self.settings.lease_seconds)
        with self.db.transaction() as s:
            candidates = s.scalars(
                select(Task.id)
                .where(Task.status == QUEUING, Task.worker_id.is_(None))
                .order_by(Task.create_time, Task.id)
                .limit(5)
            ).all()
            for task_id in candidates:
                now = utcnow()
                res = s.execute(
                    update(Task)
                    .where(Task.id == task_id, Task.status == QUEUING, Task.worker_id.is_(None))
                    .values(
                        worker_id=self.worker_id,
                        lease_expires_at=now + lease,
                        attempts=Task.attempts + 1,
                    )
                    .execution_options(synchronize_session=False)
                )
                if res.rowcount == 1:  # type: ignore[attr-defined]
                    task = s.get(Task, task_id)
                    assert task is not None
                    s.refresh(task)
                    transition(s, task, INITIALIZING, message="task assigned to a worker")
                    return task_id
        return None

    def _heartbeat(self, ctx: RunContext, done: threading.Event) -> None:
        lease = timedelta(seconds=self.settings.lease_seconds)
        while not done.wait(self.settings.heartbeat_seconds):
            try:
                with self.db.transaction() as s:
                    res = s.execute(
                        update(Task)
                        .where(Task.id == ctx.task_id, Task.worker_id == self.worker_id)
                        .values(lease_expires_at=utcnow() + lease)
                        .execution_options(synchronize_session=False)
                    )
                    if res.rowcount == 0:  # type: ignore[attr-defined]
                        ctx.lost_flag.set()
                        return
                    status = s.scalar(select(Task.status).where(Task.id == ctx.task_id))
                    if status == STOPPING:
                        ctx.stop_flag.set()
            except Exception:  # keep heartbeating through transient database errors
                log.exception("heartbeat failed for task %s", ctx.task_id)

    # -- execution -----------------------------------------------------------------------

    def _finish(self, task_id: str, status: int, **kwargs: Any) -> None:
        with self.db.transaction() as s:
            task = s.get(Task, task_id)
            if task is None or task.worker_id != self.worker_id:
                return  # taken over by the reaper; nothing of ours to record
            if status == SUCCEEDED and task.status == STOPPING:
                status, kwargs = STOPPED, {"message": "task stopped"}
            if status == STOPPED and task.status in (INITIALIZING, RUNNING):
                transition(s, task, STOPPING, message="stop requested")
            if task.status in (INITIALIZING,) and status == SUCCEEDED:
                transition(s, task, RUNNING)
            result = kwargs.pop("result", None)
            if result:
                task.result = {**(task.result or {}), **result}
                for field in ("model_id", "model_name", "model_version"):
                    if result.get(field):
                        setattr(task, field, result[field])
            snapshot_counters(s, task)
            transition(s, task, status, **kwargs)

    def execute(self, task_id: str) -> None:
        """Run a claimed task to its end state."""
        with self.db.read() as s:
            task = s.get(Task, task_id)
            assert task is not None
            ctx = RunContext(
                task_id=task.id,
                dataset_id=task.dataset_id,
                project_id=task.project_id,
                task_type=task.task_type,
                config=dict(task.config or {}),
                collect_key_sample=task.collect_key_sample,
                model_id=task.model_id,
                worker_id=self.worker_id,
                db=self.db,
                storage=self.storage,
                settings=self.settings,
            )
        done = threading.Event()
        hb = threading.Thread(target=self._heartbeat, args=(ctx, done), daemon=True)
        hb.start()
        try:
            with self.db.transaction() as s:
                task = s.get(Task, task_id)
                assert task is not None
                if task.worker_id != self.worker_id:
                    raise TaskLost(task_id)
                if task.status == STOPPING:
                    raise TaskStopped(task_id)
                transition(s, task, RUNNING, message=f"{task.task_type} task running")
            runner = get_runner(ctx.task_type, self.settings)
            result = runner.run(ctx)
            kind = KINDS[ctx.task_type]
            self._finish(
                task_id,
                SUCCEEDED,
                code=CODE_SUCCESS,
                message=kind.success_message,
                result=result or {},
            )
        except TaskStopped:
            self._finish(task_id, STOPPED, message="task stopped")
        except TaskLost:
            log.warning("task %s was taken over; dropping it", task_id)
        except TaskFailed as exc:
            self._finish(
                task_id,
                FAILED,
                code=exc.code,
                message="task failed",
                error_code=exc.code,
                error_msg=exc.message,
            )
        except Exception as exc:
            log.error("task %s crashed:\n%s", task_id, traceback.format_exc())
            self._finish(
                task_id,
                FAILED,
                code=CODE_SYSTEM_ERROR,
                message="task failed",
                error_code=CODE_SYSTEM_ERROR,
                error_msg="internal error while running the task",
                error_detail=f"{type(exc).__name__}: {exc}"[:2000],
            )
        finally:
            done.set()
            hb.join(timeout=5)

    def run_once(self) -> bool:
        """Reap expired leases, then claim and run one task; False if the queue was empty."""
        reap_expired(self.db, self.settings)
        task_id = self.claim()
        if task_id is None:
            return False
        self.execute(task_id)
        return True

    def run_forever(self) -> None:
        log.info("worker %s started", self.worker_id)
        while not self.shutdown.is_set():
            if self.parent_pid is not None and os.getppid() != self.parent_pid:
                log.warning("parent process %s is gone; worker exits", self.parent_pid)
                return
            try:
                busy = self.run_once()
            except Exception:
                log.exception("worker loop error")
                busy = False
            if not busy:
                self.shutdown.wait(self.settings.poll_seconds)
