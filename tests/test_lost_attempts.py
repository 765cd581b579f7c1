"""A killed attempt's events end "lost"; a database outage hands a task back (#12, 6 and 7)."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from labelpilot.db import Database
from labelpilot.engine.worker import Worker
from labelpilot.tasks.status import EVENT_LOST
from tests.support.factories import make_dataset, png_b64
from tests.support.procs import start_worker, wait_for
from tests.support.runners import SleepRunner

SLOW = {
    "task_type": "test-sleep",
    "config": {
        "parameters": [{"label": "batches", "value": "40"}, {"label": "seconds", "value": "0.1"}]
    },
}


@pytest.fixture
def dataset(client: TestClient, project: str, auth: dict[str, str]) -> str:
    ds = make_dataset(client, project, auth)
    r = client.post(
        f"/v2/{project}/datasets/{ds}/data-annotations/samples",
        json={"samples": [{"name": "a.png", "data": png_b64((9, 0, 0))}]},
        headers=auth,
    )
    assert r.json()["success"]
    return ds


def _task(client: TestClient, project: str, ds: str, task_id: str, auth: dict[str, str]) -> Any:
    r = client.get(f"/v2/{project}/datasets/{ds}/tasks/{task_id}", headers=auth)
    assert r.status_code == 200, r.text
    return r.json()


def _create(client: TestClient, project: str, ds: str, auth: dict[str, str]) -> str:
    r = client.post(f"/v2/{project}/datasets/{ds}/tasks", json=SLOW, headers=auth)
    assert r.status_code == 200, r.text
    return str(r.json()["task_id"])


def test_killed_attempt_events_end_lost(client, project, dataset, auth, settings, workers):
    # Before: the killed attempt's "running" event and its step still read "success".
    victim = start_worker(settings)
    workers.append(victim)
    task_id = _create(client, project, dataset, auth)
    wait_for(lambda: _task(client, project, dataset, task_id, auth)["progress"] > 0, 30)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    workers.append(start_worker(settings))
    wait_for(lambda: _task(client, project, dataset, task_id, auth)["status"] == 3, 40)
    events = _task(client, project, dataset, task_id, auth)["result"]["events"]
    names = [e["name"] for e in events]
    assert names.count("running") == 2
    first, second = (e for e in events if e["name"] == "running")
    assert first["status"] == EVENT_LOST
    assert [sub["status"] for sub in first["events"]] == [EVENT_LOST]
    assert second["status"] == "success"
    assert [sub["status"] for sub in second["events"]] == ["success"]
    initializing = [e for e in events if e["name"] == "initializing"]
    assert initializing[0]["status"] == "success"  # it ended before the attempt was lost


class _LockedRunner(SleepRunner):
    def run(self, ctx: Any, config: Any) -> Any:  # noqa: ARG002
        raise OperationalError("UPDATE samples", {}, Exception("database is locked"))


def test_database_outage_requeues_instead_of_failing(
    client, db: Database, project, dataset, auth, settings, monkeypatch
):
    # Before: a task whose write met "database is locked" failed with ModelArts.4999.
    task_id = _create(client, project, dataset, auth)
    worker = Worker(settings, db=db)
    monkeypatch.setattr(worker.kinds, "get", lambda _kind: _LockedRunner(settings))
    assert worker.run_once()
    task = _task(client, project, dataset, task_id, auth)
    assert task["status"] == -1, task  # queued again for attempt 2 of 2
    running = next(e for e in task["result"]["events"] if e["name"] == "running")
    assert running["status"] == EVENT_LOST
    assert worker.run_once()
    task = _task(client, project, dataset, task_id, auth)
    assert task["status"] == 2 and task["error_code"] == "ModelArts.4999"
    assert "lost its database" in task["error_msg"]
