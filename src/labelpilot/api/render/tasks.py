"""Tasks as ModelArts renders them: RunningTask (the seed's list), TaskDetail, events."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from labelpilot.api import schemas as s
from labelpilot.api.render.tolerant import stored_json
from labelpilot.ids import format_time, utcnow
from labelpilot.tasks.tables import Task, TaskEvent


def event_trees(rows: Sequence[TaskEvent]) -> dict[str, list[s.Event]]:
    """Each task's event tree: level-0 status events with runner steps as sub-events."""
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
        **stored_json(task.result or {}, f"task {task.id} result"),
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
        config=s.SmartTaskConfig.model_validate(
            stored_json(task.config or {}, f"task {task.id} config")
        ),
        result=_result(task, events),
    )


def task_detail(task: Task, events: list[s.Event] | None = None) -> s.TaskDetail:
    rt = running_task(task, events)
    return s.TaskDetail(
        **rt.model_dump(include=set(s.TaskDetail.model_fields), exclude_none=True),
        resource_id=task.resource_id,
    )
