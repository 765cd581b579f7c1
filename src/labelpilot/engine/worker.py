"""Workers: claim queued tasks atomically, hold a lease with heartbeats, run, and recover."""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from labelpilot.config import Settings
from labelpilot.datasets.service import snapshot_counters
from labelpilot.db import Database, is_transient
from labelpilot.engine.context import RunContext, TaskFailed, TaskLost, TaskStopped
from labelpilot.errors import LabelPilotError, RunFailed, TaskCode, TaskCrashed
from labelpilot.ids import utcnow
from labelpilot.storage import Storage, open_storage
from labelpilot.tasks.kinds import KindRegistry, TaskResult
from labelpilot.tasks.status import LEASED, TaskStatus, lost_lease_outcome, outcome_path
from labelpilot.tasks.tables import Task
from labelpilot.tasks.transitions import transition

log = logging.getLogger(__name__)


def _record_lost(s: Session, task: Task, settings: Settings, why: str) -> None:
    """End or requeue a task whose attempt was lost; that attempt's open events end "lost"."""
    outcome = lost_lease_outcome(TaskStatus(task.status), task.attempts, settings.max_attempts)
    if outcome == TaskStatus.STOPPED:
        transition(s, task, outcome, message=f"task stopped; {why}", lost=True)
    elif outcome == TaskStatus.QUEUING:
        transition(
            s,
            task,
            outcome,
            message=f"{why}; requeued (attempt {task.attempts + 1} of {settings.max_attempts})",
            lost=True,
        )
    else:
        transition(
            s,
            task,
            outcome,
            code=RunFailed.error_code,
            message="task failed",
            error_code=TaskCrashed.error_code,
            error_msg=f"{why} after {task.attempts} attempt(s)",
            lost=True,
        )


def reap_expired(db: Database, settings: Settings) -> int:
    """End or requeue tasks whose worker stopped renewing its lease; return how many."""

    def reap(s: Session) -> int:
        now = utcnow()
        expired = s.scalars(
            select(Task).where(Task.status.in_(LEASED)).where(Task.lease_expires_at < now)
        ).all()
        for task in expired:
            _record_lost(s, task, settings, f"worker {task.worker_id} lost (lease expired)")
        return len(expired)

    return db.run(reap)


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
        self.kinds = KindRegistry(settings)

    # -- queue ---------------------------------------------------------------------------

    def claim(self) -> str | None:
        """Claim the oldest queued task (conditional update: exactly one worker wins)."""
        return self.db.run(self._claim)

    def _claim(self, s: Session) -> str | None:
        lease = timedelta(seconds=self.settings.lease_seconds)
        candidates = s.scalars(
            select(Task.id)
            .where(Task.status == TaskStatus.QUEUING, Task.worker_id.is_(None))
            .order_by(Task.create_time, Task.id)
            .limit(5)
        ).all()
        for task_id in candidates:
            now = utcnow()
            res = s.execute(
                update(Task)
                .where(
                    Task.id == task_id,
                    Task.status == TaskStatus.QUEUING,
                    Task.worker_id.is_(None),
                )
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
                transition(s, task, TaskStatus.INITIALIZING, message="task assigned to a worker")
                return task_id
        return None

    def _heartbeat(self, ctx: RunContext, done: threading.Event) -> None:
        lease = timedelta(seconds=self.settings.lease_seconds)
        while not done.wait(self.settings.heartbeat_seconds):
            try:
                status = self.db.run(lambda s: self._renew(s, ctx.task_id, lease))
            except Exception:  # keep heartbeating through database errors
                log.exception("heartbeat failed for task %s", ctx.task_id)
                continue
            if status is None:
                ctx.lost_flag.set()
                return
            if status == TaskStatus.STOPPING:
                ctx.stop_flag.set()

    def _renew(self, s: Session, task_id: str, lease: timedelta) -> int | None:
        """Extend our lease; the task's status, or None if it is no longer ours."""
        res = s.execute(
            update(Task)
            .where(Task.id == task_id, Task.worker_id == self.worker_id)
            .values(lease_expires_at=utcnow() + lease)
            .execution_options(synchronize_session=False)
        )
        if res.rowcount == 0:  # type: ignore[attr-defined]
            return None
        return s.scalar(select(Task.status).where(Task.id == task_id))

    # -- execution -----------------------------------------------------------------------

    def _finish(self, task_id: str, outcome: TaskStatus, **kwargs: Any) -> None:
        """Record a run's outcome along the path the outcome rules give."""
        self.db.run(lambda s: self._record_outcome(s, task_id, outcome, dict(kwargs)))

    def _record_outcome(
        self, s: Session, task_id: str, outcome: TaskStatus, kwargs: dict[str, Any]
    ) -> None:
        task = s.get(Task, task_id)
        if task is None or task.worker_id != self.worker_id:
            return  # taken over by the reaper; nothing of ours to record
        path = outcome_path(TaskStatus(task.status), outcome)
        if outcome == TaskStatus.SUCCEEDED and path[-1] == TaskStatus.STOPPED:
            kwargs = {"message": "task stopped"}  # stopped before it could succeed
        result: TaskResult | None = kwargs.pop("result", None)
        if result is not None:
            fields = result.fields()
            if fields:
                task.result = {**(task.result or {}), **fields}
            for field in ("model_id", "model_name", "model_version"):
                if getattr(result, field):
                    setattr(task, field, getattr(result, field))
        for step in path[:-1]:
            message = "stop requested" if step == TaskStatus.STOPPING else None
            transition(s, task, step, message=message)
        snapshot_counters(s, task)
        transition(s, task, path[-1], **kwargs)

    def _fail(self, task_id: str, code: str, message: str) -> None:
        """End a run that failed for a known reason: its code and message, as the user sees it."""
        self._finish(
            task_id,
            TaskStatus.FAILED,
            code=code,
            message="task failed",
            error_code=code,
            error_msg=message,
        )

    def _give_up(self, task_id: str, exc: BaseException) -> None:
        """Hand back a task whose run met a database failure that outlasted the retries."""

        def give_up(s: Session) -> None:
            task = s.get(Task, task_id)
            if task is not None and task.worker_id == self.worker_id:
                why = f"worker {self.worker_id} lost its database ({type(exc).__name__})"
                _record_lost(s, task, self.settings, why)

        self.db.run(give_up)

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
            self.db.run(lambda s: self._start(s, task_id))
            runner = self.kinds.get(ctx.task_type)
            # the config was checked at CreateTask; the worker reads it through the same type
            result = runner.run(ctx, runner.parse_config(ctx.config, ctx.model_id))
            self._finish(
                task_id,
                TaskStatus.SUCCEEDED,
                code=TaskCode.SUCCEEDED,
                message=runner.success_message,
                result=result,
            )
        except TaskStopped:
            self._finish(task_id, TaskStatus.STOPPED, message="task stopped")
        except TaskLost:
            log.warning("task %s was taken over; dropping it", task_id)
        except TaskFailed as exc:
            self._fail(task_id, exc.code, exc.message)
        except LabelPilotError as exc:  # a known reason raised below a runner: say it
            self._fail(task_id, exc.error_code, exc.error_msg)
        except Exception as exc:
            if is_transient(exc):  # the retries ran out: another attempt, not a failed task
                log.warning("task %s: database unavailable; handing it back", task_id)
                self._give_up(task_id, exc)
                return
            # the client gets the incident id only; the log line with the same id has the rest
            incident = uuid.uuid4().hex[:12]
            log.error(
                "task %s crashed (incident %s):\n%s", task_id, incident, traceback.format_exc()
            )
            self._finish(
                task_id,
                TaskStatus.FAILED,
                code=TaskCrashed.error_code,
                message="task failed",
                error_code=TaskCrashed.error_code,
                error_msg=(
                    f"internal error while running the task (incident {incident}: the server's "
                    "log has the details)"
                ),
                error_detail=f"incident {incident}",
            )
        finally:
            done.set()
            hb.join(timeout=5)
            for helper in ctx.abandoned:  # a stopped computation ends before the next task
                helper.join()

    def _start(self, s: Session, task_id: str) -> None:
        task = s.get(Task, task_id)
        assert task is not None
        if task.worker_id != self.worker_id:
            raise TaskLost(task_id)
        if task.status == TaskStatus.STOPPING:
            raise TaskStopped(task_id)
        transition(s, task, TaskStatus.RUNNING, message=f"{task.task_type} task running")

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
