"""Intelligent-task routes: CreateTask, ListTasks (the seed), DescTask, StopTask."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from labelpilot.api import schemas as s
from labelpilot.api.deps import (
    DatasetForRead,
    DatasetForWrite,
    ReadSession,
    Svc,
    TaskForRead,
    TaskForWrite,
    WriteSession,
)
from labelpilot.api.openapi import errors
from labelpilot.api.render.tasks import event_trees, running_task, task_detail
from labelpilot.api.render.tolerant import each
from labelpilot.api.retry import RetryingRoute
from labelpilot.api.untrusted import MAX_CONFIG_BYTES, check_free_json
from labelpilot.errors import (
    AutoDeployRunning,
    AutoLabelRunning,
    DatasetNotFound,
    DeployNeedsLabels,
    DeployTooFewPerLabel,
    GroupingRunning,
    InvalidTaskType,
    ModelDoesNotFitDataset,
    ModelNotFound,
    NoLabeledSamples,
    NoTargetSamples,
    NotAvailable,
    PreLabelRunning,
    TaskNameTaken,
    TaskNotFound,
    TooFewLabels,
    TooManyClusters,
)
from labelpilot.tasks import service as tasks

router = APIRouter(tags=["intelligent tasks"], route_class=RetryingRoute)
BASE = "/v2/{project_id}/datasets/{dataset_id}/tasks"


@router.post(
    BASE,
    response_model=s.CreateTaskResponse,
    response_model_exclude_none=True,
    responses=errors(
        InvalidTaskType,
        TaskNameTaken,
        NoLabeledSamples,
        TooFewLabels,
        NoTargetSamples,
        ModelDoesNotFitDataset,
        DeployNeedsLabels,
        DeployTooFewPerLabel,
        TooManyClusters,
        DatasetNotFound,
        ModelNotFound,
        NotAvailable,
        AutoLabelRunning,
        PreLabelRunning,
        AutoDeployRunning,
        GroupingRunning,
    ),
)
def create_task(
    dataset: DatasetForWrite,
    session: WriteSession,
    svc: Svc,
    body: s.CreateTaskRequest | None = None,
) -> s.CreateTaskResponse:
    """Start an intelligent task (queued; a worker runs it)."""
    req = body or s.CreateTaskRequest()
    config = (req.config or s.SmartTaskConfig()).model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    check_free_json(config, "config", MAX_CONFIG_BYTES)
    task = tasks.create_task(
        session=session,
        kinds=svc.kinds,
        project_id=dataset.project_id,
        dataset=dataset,
        new=tasks.NewTask(
            task_type=req.task_type,
            model_id=req.model_id,
            collect_key_sample=bool(req.collect_key_sample),
            config=config,
        ),
    )
    return s.CreateTaskResponse(task_id=task.id)


@router.get(
    BASE,
    response_model=s.ListTasksResponse,
    response_model_exclude_none=True,
    responses=errors(InvalidTaskType, DatasetNotFound, NotAvailable),
)
def list_tasks(
    dataset: DatasetForRead,
    session: ReadSession,
    svc: Svc,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,  # offset * limit must fit in SQL
    task_name: str | None = None,
    type: str | None = None,
) -> s.ListTasksResponse:
    """Page through a dataset's intelligent tasks (``offset`` is a page index)."""
    page = tasks.list_tasks(
        session=session,
        kinds=svc.kinds,
        dataset=dataset,
        offset=offset,
        limit=limit,
        task_type=type,
        task_name=task_name,
    )
    events = event_trees(tasks.task_events(session, [t.id for t in page.tasks]))
    return s.ListTasksResponse(
        exist_running_deploy_task=page.running_deploy,
        tasks=each(page.tasks, lambda t: running_task(t, events.get(t.id)), "task"),
        total_count=page.total,
    )


@router.get(
    BASE + "/{task_id}",
    response_model=s.TaskDetail,
    response_model_exclude_none=True,
    responses=errors(DatasetNotFound, TaskNotFound),
)
def describe_task(task: TaskForRead, session: ReadSession) -> s.TaskDetail:
    """A task's details, progress, config, result and events."""
    return task_detail(task, event_trees(tasks.task_events(session, [task.id])).get(task.id))


@router.post(
    BASE + "/{task_id}/stop",
    status_code=204,
    response_class=Response,
    responses=errors(DatasetNotFound, TaskNotFound),
)
def stop_task(task: TaskForWrite, session: WriteSession) -> None:
    """Stop a task: queued stops now, running stops within seconds; finished is a no-op."""
    tasks.stop_task(session, task)
