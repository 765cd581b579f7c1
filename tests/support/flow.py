"""API steps shared by the task tests: add samples, run the queue, read tasks and samples."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from labelpilot.config import Settings
from labelpilot.db import Database
from labelpilot.engine.worker import Worker


def post_samples(
    client: TestClient, project: str, ds: str, auth: dict[str, str], items: list, **extra: Any
) -> None:
    """Add samples in batches of 200; every item must succeed."""
    for start in range(0, len(items), 200):
        r = client.post(
            f"/v2/{project}/datasets/{ds}/data-annotations/samples",
            json={"samples": items[start : start + 200], **extra},
            headers=auth,
        )
        assert r.status_code == 200 and r.json()["success"], r.text


def run_queued(settings: Settings, db: Database) -> None:
    """Run every queued task to its end with an in-process worker."""
    worker = Worker(settings, db)
    while worker.run_once():
        pass


def run_app_queue(client: TestClient) -> None:
    """Run every queued task of the client's app (an import a dataset create queued, ...)."""
    services = client.app.state.services  # type: ignore[attr-defined]
    run_queued(services.settings, services.db)


def get_task(client: TestClient, project: str, ds: str, task_id: str, auth: dict[str, str]) -> Any:
    return client.get(f"/v2/{project}/datasets/{ds}/tasks/{task_id}", headers=auth).json()


def list_all(
    client: TestClient,
    project: str,
    ds: str,
    auth: dict[str, str],
    path: str = "data-annotations/samples",
    **params: Any,
) -> list[dict]:
    """Every sample of a list endpoint, page by page."""
    out: list[dict] = []
    page = 0
    while True:
        body = client.get(
            f"/v2/{project}/datasets/{ds}/{path}",
            params={"limit": 100, "offset": page, **params},
            headers=auth,
        ).json()
        out += body["samples"]
        if len(body["samples"]) < 100:
            return out
        page += 1
