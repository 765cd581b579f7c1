"""The durable task engine: workers in their own processes, stop, lost workers, transitions."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from labelpilot.datasets.tables import Sample, SampleLabel
from labelpilot.db import Database
from labelpilot.engine.worker import Worker
from labelpilot.errors import TaskAlreadyRunning
from labelpilot.tasks.status import TaskStatus
from labelpilot.tasks.tables import Task
from labelpilot.tasks.transitions import TransitionError, transition
from tests.support.factories import make_dataset, png_b64
from tests.support.procs import start_worker, wait_for
from tests.support.runners import COMPUTED

SLOW = {
    "task_type": "test-sleep",
    "config": {
        "parameters": [{"label": "batches", "value": "200"}, {"label": "seconds", "value": "0.1"}]
    },
}


@pytest.fixture
def dataset(client: TestClient, project: str, auth: dict[str, str]) -> str:
    ds = make_dataset(client, project, auth)
    r = client.post(
        f"/v2/{project}/datasets/{ds}/data-annotations/samples",
        json={
            "samples": [
                {"name": f"{i}.png", "data": png_b64((i * 20, 0, 0)), "labels": [{"name": "red"}]}
                for i in range(5)
            ]
        },
        headers=auth,
    )
    assert r.json()["success"]
    return ds


def _task(client: TestClient, project: str, ds: str, task_id: str, auth: dict[str, str]) -> Any:
    r = client.get(f"/v2/{project}/datasets/{ds}/tasks/{task_id}", headers=auth)
    assert r.status_code == 200, r.text
    return r.json()


def _create(client: TestClient, project: str, ds: str, auth: dict[str, str], body: Any) -> str:
    r = client.post(f"/v2/{project}/datasets/{ds}/tasks", json=body, headers=auth)
    assert r.status_code == 200, r.text
    return str(r.json()["task_id"])


def _event_names(task: Any) -> list[str]:
    return [e["name"] for e in task["result"].get("events", [])]


def _snapshot(db: Database, ds: str) -> tuple[Any, ...]:
    with db.read() as s:
        samples = s.execute(
            select(Sample.id, Sample.state, Sample.source)
            .where(Sample.dataset_id == ds)
            .order_by(Sample.id)
        ).all()
        labels = s.execute(
            select(SampleLabel.sample_id, SampleLabel.name).order_by(SampleLabel.sample_id)
        ).all()
    return tuple(samples), tuple(labels)


def test_stop_running_task_reaches_stopping_then_stopped(
    client, project, dataset, auth, settings, workers
):
    workers.append(start_worker(settings))
    task_id = _create(client, project, dataset, auth, SLOW)
    wait_for(lambda: _task(client, project, dataset, task_id, auth)["progress"] > 0, 30)
    assert _task(client, project, dataset, task_id, auth)["status"] == 1
    started = time.monotonic()
    r = client.post(f"/v2/{project}/datasets/{dataset}/tasks/{task_id}/stop", headers=auth)
    assert r.status_code == 204
    assert _task(client, project, dataset, task_id, auth)["status"] in (4, 5)
    wait_for(lambda: _task(client, project, dataset, task_id, auth)["status"] == 5, 10)
    assert time.monotonic() - started < 10
    task = _task(client, project, dataset, task_id, auth)
    names = _event_names(task)
    assert names[-2:] == ["stopping", "stopped"]
    assert names[:3] == ["queuing", "initializing", "running"]
    running = next(e for e in task["result"]["events"] if e["name"] == "running")
    assert running["events"][0]["name"] == "sleep"  # the runner's step is a sub-event
    assert task["progress"] < 100
    # stopping a finished task is an idempotent no-op
    r = client.post(f"/v2/{project}/datasets/{dataset}/tasks/{task_id}/stop", headers=auth)
    assert r.status_code == 204
    assert _event_names(_task(client, project, dataset, task_id, auth)) == names


def test_task_runs_to_success_with_progress(client, project, dataset, auth, settings, workers):
    workers.append(start_worker(settings))
    body = {
        "task_type": "test-sleep",
        "config": {
            "parameters": [
                {"label": "batches", "value": "5"},
                {"label": "seconds", "value": "0.05"},
            ]
        },
    }
    task_id = _create(client, project, dataset, auth, body)
    wait_for(lambda: _task(client, project, dataset, task_id, auth)["status"] == 3, 30)
    task = _task(client, project, dataset, task_id, auth)
    assert task["progress"] == 100
    assert task["code"] == "ModelArts.4996"
    assert task["result"]["description"] == "slept 5 batches"
    assert task["result"]["total_sample_count"] == 5
    assert _event_names(task) == ["queuing", "initializing", "running", "succeeded"]


def test_killed_worker_fails_task_within_lease(
    client, db, project, dataset, auth, settings, workers
):
    settings.max_attempts = 1
    before = _snapshot(db, dataset)
    victim = start_worker(settings)
    workers.append(victim)
    task_id = _create(client, project, dataset, auth, SLOW)
    wait_for(lambda: _task(client, project, dataset, task_id, auth)["progress"] > 0, 30)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    killed = time.monotonic()
    workers.append(start_worker(settings))  # a surviving worker notices the expired lease
    wait_for(lambda: _task(client, project, dataset, task_id, auth)["status"] != 1, 15)
    assert time.monotonic() - killed < settings.lease_seconds + 5
    task = _task(client, project, dataset, task_id, auth)
    assert task["status"] == 2
    assert task["error_code"] == "ModelArts.4999"
    assert "lost" in task["error_msg"]
    assert _snapshot(db, dataset) == before


def test_killed_worker_task_is_retried_once(client, project, dataset, auth, settings, workers):
    body = {
        "task_type": "test-sleep",
        "config": {
            "parameters": [
                {"label": "batches", "value": "30"},
                {"label": "seconds", "value": "0.1"},
            ]
        },
    }
    victim = start_worker(settings)
    workers.append(victim)
    task_id = _create(client, project, dataset, auth, body)
    wait_for(lambda: _task(client, project, dataset, task_id, auth)["progress"] > 0, 30)
    os.kill(victim.pid, signal.SIGKILL)
    workers.append(start_worker(settings))
    wait_for(lambda: _task(client, project, dataset, task_id, auth)["status"] == 3, 30)
    names = _event_names(_task(client, project, dataset, task_id, auth))
    assert names.count("running") == 2 and names.count("queuing") == 2


def test_stop_queued_task_is_immediate(client, project, dataset, auth):
    task_id = _create(client, project, dataset, auth, SLOW)  # no worker runs
    r = client.post(f"/v2/{project}/datasets/{dataset}/tasks/{task_id}/stop", headers=auth)
    assert r.status_code == 204
    task = _task(client, project, dataset, task_id, auth)
    assert task["status"] == 5
    assert _event_names(task) == ["queuing", "stopping", "stopped"]


def test_one_active_task_per_kind(client, project, dataset, auth):
    _create(client, project, dataset, auth, SLOW)
    r = client.post(f"/v2/{project}/datasets/{dataset}/tasks", json=SLOW, headers=auth)
    assert r.status_code == 501
    assert r.json()["error_code"] == TaskAlreadyRunning.error_code


def test_unavailable_kind_says_so(client, project, dataset, auth, monkeypatch):
    # a kind whose runner is not installed answers 501 instead of faking a run
    from labelpilot.tasks.kinds import BUILTIN_KINDS

    monkeypatch.delitem(BUILTIN_KINDS, "pre-label")
    r = client.post(
        f"/v2/{project}/datasets/{dataset}/tasks", json={"task_type": "pre-label"}, headers=auth
    )
    assert r.status_code == 501
    assert "not available" in r.json()["error_msg"]


def test_unknown_task_and_bad_task_type(client, project, dataset, auth):
    r = client.get(f"/v2/{project}/datasets/{dataset}/tasks/NoSuchTask", headers=auth)
    assert r.status_code == 404 and r.json()["error_code"] == "ModelArts.4612"
    r = client.post(
        f"/v2/{project}/datasets/{dataset}/tasks", json={"task_type": "magic"}, headers=auth
    )
    assert r.status_code == 400 and "task_type" in r.json()["error_msg"]


def test_transition_rejects_disallowed_moves(client, db, project, dataset, auth):
    task_id = _create(client, project, dataset, auth, SLOW)
    with db.transaction() as s:
        task = s.get(Task, task_id)
        with pytest.raises(TransitionError):
            transition(s, task, TaskStatus.SUCCEEDED)  # queuing -> succeeded skips the run
        transition(s, task, TaskStatus.STOPPING)
        with pytest.raises(TransitionError):
            transition(s, task, TaskStatus.RUNNING)


def test_claim_is_atomic(client, db, project, dataset, auth, settings):
    _create(client, project, dataset, auth, SLOW)
    won: list[str | None] = []
    workers = [Worker(settings, db, worker_id=f"w{i}") for i in range(4)]
    barrier = threading.Barrier(len(workers))

    def claim(w: Worker) -> None:
        barrier.wait()
        won.append(w.claim())

    threads = [threading.Thread(target=claim, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len([x for x in won if x]) == 1
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Task).where(Task.status == 0)) == 1


def test_a_kind_defined_in_the_tests_alone(client, project, dataset, auth, settings, workers):
    """tests/support/runners.py plus one registry entry (settings) make a whole kind: created,
    listed by its name and type, run by a worker, its stored config parsed by its own type."""
    from tests.support.runners import SLEEP_KIND, SLEEP_TYPE

    assert settings.runner_plugins[SLEEP_KIND] == "tests.support.runners:SleepRunner"
    bad = {"task_type": SLEEP_KIND, "config": {"parameters": [{"label": "batches", "value": "0"}]}}
    r = client.post(f"/v2/{project}/datasets/{dataset}/tasks", json=bad, headers=auth)
    assert r.status_code == 400 and "batches" in r.json()["error_msg"]
    body = {"task_type": SLEEP_KIND, "config": {"parameters": [{"label": "batches", "value": "2"}]}}
    task_id = _create(client, project, dataset, auth, body)
    listed = client.get(
        f"/v2/{project}/datasets/{dataset}/tasks", params={"type": SLEEP_KIND}, headers=auth
    ).json()
    assert [(t["task_id"], t["type"]) for t in listed["tasks"]] == [(task_id, SLEEP_TYPE)]
    workers.append(start_worker(settings))
    wait_for(lambda: _task(client, project, dataset, task_id, auth)["status"] == 3, 30)
    assert _task(client, project, dataset, task_id, auth)["message"] == (
        "sleep task executed successfully."
    )


def test_stop_is_recorded_at_once_and_the_worker_waits_for_the_computation(
    client, db, project, dataset, auth, settings
):
    # A stop during a computation without stop checks (ctx.interruptible) reads "stopped" at
    # once; the worker takes no other task until that computation has ended, so two tasks never
    # compute at once in one worker.
    body = {
        "task_type": "test-sleep",
        "config": {"parameters": [{"label": "compute", "value": "3"}]},
    }
    task_id = _create(client, project, dataset, auth, body)
    worker = Worker(settings, db=db)
    runner = threading.Thread(target=worker.run_once)
    runner.start()
    wait_for(lambda: _task(client, project, dataset, task_id, auth)["status"] == 1, 30)
    time.sleep(0.3)  # inside the computation
    asked = time.monotonic()
    client.post(f"/v2/{project}/datasets/{dataset}/tasks/{task_id}/stop", headers=auth)
    wait_for(lambda: _task(client, project, dataset, task_id, auth)["status"] == 5, 10, 0.02)
    stopped = time.monotonic()
    assert stopped - asked < 2.0
    assert task_id not in COMPUTED  # recorded before the computation ended
    assert runner.is_alive()  # ... and the worker still waits for it
    runner.join(30)
    assert not runner.is_alive()
    assert COMPUTED[task_id] > stopped


@pytest.mark.parametrize("fail", ["crash", "asset"])
def test_a_failed_task_says_why_and_a_crash_carries_an_incident_id(
    fail, client, db, project, dataset, auth, settings, caplog
):
    body = {"task_type": "test-sleep", "config": {"parameters": [{"label": "fail", "value": fail}]}}
    task_id = _create(client, project, dataset, auth, body)
    with caplog.at_level("ERROR", logger="labelpilot.engine.worker"):
        Worker(settings, db=db).run_once()
    task = _task(client, project, dataset, task_id, auth)
    assert task["status"] == 2
    if fail == "asset":  # a known reason: its code, and the message naming the package
        assert task["error_code"] == "ModelArts.4931"
        assert "some-weights" in task["error_msg"]
        return
    assert task["error_code"] == "ModelArts.4999"
    incident = re.search(r"incident ([0-9a-f]{12})", task["error_msg"]).group(1)
    assert task.get("error_detail") == f"incident {incident}"
    assert "secret" not in json.dumps(task) and "Traceback" not in json.dumps(task)
    (record,) = [r for r in caplog.records if incident in r.getMessage()]
    assert "Traceback" in record.getMessage() and "secret internal detail" in record.getMessage()
