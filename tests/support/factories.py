"""Small factories that write real rows through the services or the tables."""

from __future__ import annotations

import base64
import io
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from PIL import Image

from labelpilot.config import Settings
from labelpilot.db import Database
from labelpilot.ids import short_id, utcnow
from labelpilot.tasks.kinds import KindRegistry
from labelpilot.tasks.tables import Task, TaskEvent


def png_b64(color: tuple[int, int, int] = (200, 30, 30), size: int = 8) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


def make_dataset(
    client: TestClient, project: str, headers: dict[str, str], name: str = "ds"
) -> str:
    r = client.post(f"/v2/{project}/datasets", json={"dataset_name": name}, headers=headers)
    assert r.status_code == 201, r.text
    return str(r.json()["dataset_id"])


def insert_task(
    db: Database,
    *,
    project: str,
    dataset_id: str,
    type: int,
    status: int,
    name: str | None = None,
    created: datetime | None = None,
    config: dict[str, Any] | None = None,
    result: dict[str, Any] | None = None,
    **fields: Any,
) -> str:
    """Insert a task row as the engine would leave it (bypasses runner availability)."""
    created = created or utcnow()
    task_id = short_id()
    kind = KindRegistry(Settings()).by_type(type)
    assert kind is not None, f"no task kind has type {type}"
    with db.transaction() as s:
        s.add(
            Task(
                id=task_id,
                project_id=project,
                dataset_id=dataset_id,
                task_type=kind.task_type,
                type=type,
                name=name or f"{kind.task_type}-{task_id}",
                status=status,
                code=fields.pop("code", kind.submit_code),
                message=fields.pop("message", kind.submit_message),
                progress=fields.pop("progress", 100.0 if status == 3 else 0.0),
                create_time=created,
                started_at=fields.pop("started_at", created if status >= 0 else None),
                finished_at=fields.pop(
                    "finished_at", created + timedelta(seconds=42) if status in (2, 3, 5) else None
                ),
                config=config or {},
                result=result or {},
                updated_at=created,
                **fields,
            )
        )
        s.add(
            TaskEvent(
                task_id=task_id,
                ordinal=1,
                level=0,
                name="queuing",
                status="success",
                create_time=int(created.timestamp() * 1000),
                end_time=int(created.timestamp() * 1000) + 1000,
            )
        )
    return task_id
