"""Intelligent-task routes: CreateTask, ListTasks (the seed), DescTask, StopTask."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from labelpilot.api import schemas as s
from labelpilot.api.deps import ProjectId, ReadSession, Svc, WriteSession
from labelpilot.datasets.service import get_dataset
from labelpilot.tasks import service as tasks

router = APIRouter(tags=["intelligent tasks"])
BASE = "/v2/{project_id}/datasets/{dataset_id}/tasks"


@router.post(BASE, response_model=s.CreateTaskResponse, response_model_exclude_none=True)
def create_task(
    project_id: ProjectId,
    dataset_id: str,
    session: WriteSession,
    svc: Svc,
    body: s.CreateTaskRequest | None = None,
) -> s.CreateTaskResponse:
    """Start an intelligent task (queued; a worker runs it)."""
    task = tasks.create_task(
        session, svc.settings, project_id, dataset_id, body or s.CreateTaskRequest()
    )
    return s.CreateTaskResponse(task_id=task.id)


@router.get(BASE, response_model=s.ListTasksResponse, response_model_exclude_none=True)
def list_tasks(
    project_id: ProjectId,
    dataset_id: str,
    session: ReadSession,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,  # offset * limit must fit in SQL
    task_name: str | None = None,
    type: str | None = None,
) -> s.ListTasksResponse:
    """Page through a dataset's intelligent tasks (``offset`` is a page index)."""
    ds = get_dataset(session, project_id, dataset_id)
    total, rows, running_deploy = tasks.list_tasks(
        session, ds, offset=offset, limit=limit, task_type=type, task_name=task_name
    )
    events = tasks.events_by_task(session, [t.id for t in rows])
    return s.ListTasksResponse(
        exist_running_deploy_task=running_deploy,
        tasks=[tasks.running_task(t, events.get(t.id)) for t in rows],
        total_count=total,
    )


@router.get(BASE + "/{task_id}", response_model=s.TaskDetail, response_model_exclude_none=True)
def describe_task(
    project_id: ProjectId, dataset_id: str, task_id: str, session: ReadSession
) -> s.TaskDetail:
    """A task's details, progress, config, result and events."""
    task = tasks.get_task(session, project_id, dataset_id, task_id)
    return tasks.task_detail(task, tasks.events_by_task(session, [task.id]).get(task.id))


@router.post(BASE + "/{task_id}/stop", status_code=204, response_class=Response)
def stop_task(project_id: ProjectId, dataset_id: str, task_id: str, session: WriteSession) -> None:
    """Stop a task: queued stops now, running stops within seconds; finished is a no-op."""
    tasks.stop_task(session, tasks.get_task(session, project_id, dataset_id, task_id))
