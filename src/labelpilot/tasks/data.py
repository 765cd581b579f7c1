"""Queue a data task (publish, export, ...): a kind that is not intelligent, created by its own
route instead of CreateTask; one active task of a kind per dataset, as for every kind."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from labelpilot.datasets.tables import Dataset
from labelpilot.ids import short_id, utcnow
from labelpilot.tasks.kinds import KindRegistry
from labelpilot.tasks.service import enqueue, refuse_if_running
from labelpilot.tasks.tables import Task


def queue_data_task(
    session: Session,
    kinds: KindRegistry,
    *,
    dataset: Dataset,
    task_type: str,
    config: Mapping[str, Any],
    task_id: str | None = None,
) -> Task:
    """Check ``config`` with the kind's type and queue the task (the caller commits)."""
    runner = kinds.get(task_type)
    refuse_if_running(session, runner, dataset.id)
    runner.check_dataset(dataset)
    parsed = runner.parse_config(dict(config))
    runner.check(session, dataset, parsed)
    now = utcnow()
    task = Task(
        id=task_id or short_id(),
        project_id=dataset.project_id,
        dataset_id=dataset.id,
        task_type=runner.task_type,
        type=runner.type,
        name=f"{runner.task_type}-{now.strftime('%Y%m%d%H%M%S')}",
        progress=0.0,
        create_time=now,
        updated_at=now,
        config=dict(config),
        result={},
        attempts=0,
    )
    return enqueue(session, runner, task)
