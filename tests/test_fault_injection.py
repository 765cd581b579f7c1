"""kill -9 of the worker at seeded random points of every task kind, then the invariants.

Issue #12, point 9: >= 20 kill points over the four kinds; afterwards no task is left active,
the counters equal a recount, no sample is lost and none is labeled twice, and the labels people
gave are intact.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from labelpilot.app import create_app
from labelpilot.config import Settings
from labelpilot.datasets.service import counters
from labelpilot.datasets.tables import Sample, SampleLabel
from labelpilot.db import Database
from labelpilot.tasks.status import TERMINAL, TaskStatus
from labelpilot.tasks.tables import Task
from tests.support.flow import get_task
from tests.support.kinds import KINDS
from tests.support.procs import start_worker, stop_process, wait_for
from tests.support.serving import service_pids, service_settings

SEED = 12
ROUNDS = 5  # per kind: 4 kinds x 5 rounds = 20 kill points
pytestmark = pytest.mark.slow


@pytest.fixture
def settings(tmp_path: Path, database_url: str, model_dir: Path) -> Settings:
    return service_settings(tmp_path, database_url, model_dir, max_attempts=3)


@pytest.fixture
def app(settings: Settings) -> Any:
    return create_app(settings, run_reaper=True, run_supervisor=True)


@pytest.fixture(autouse=True)
def no_leftovers() -> Any:
    yield  # the deployed services end with the app's supervisor, after the test
    wait_for(lambda: not service_pids(), 30)


def _labels(db: Database, ds: str) -> list[tuple[str, str, str]]:
    with db.read() as s:
        rows = s.execute(
            select(Sample.name, SampleLabel.name, SampleLabel.type)
            .join(SampleLabel, SampleLabel.sample_id == Sample.id)
            .where(Sample.dataset_id == ds)
        ).all()
    return [(str(a), str(b), str(c)) for a, b, c in rows]


def _samples(db: Database, ds: str) -> list[str]:
    with db.read() as s:
        return sorted(s.scalars(select(Sample.name).where(Sample.dataset_id == ds)))


def test_kill_9_at_random_points_keeps_the_invariants(
    client: TestClient, db: Database, settings: Settings, project: str, auth: dict[str, str]
) -> None:
    rng = random.Random(SEED)
    setups = {kind: KINDS[kind](client, project, auth, f"fault-{kind}") for kind in sorted(KINDS)}
    before = {kind: (_samples(db, ds), _labels(db, ds)) for kind, (ds, _) in setups.items()}
    kills: list[tuple[str, float]] = []
    workers: list[Any] = []
    try:
        for _ in range(ROUNDS):
            for kind, (ds, body) in setups.items():
                r = client.post(f"/v2/{project}/datasets/{ds}/tasks", json=body, headers=auth)
                assert r.status_code == 200, r.text
                task_id = r.json()["task_id"]
                victim = start_worker(settings)
                workers.append(victim)
                wait_for(
                    lambda ds=ds, t=task_id: get_task(client, project, ds, t, auth)["status"] != -1,
                    120,
                )
                at = rng.uniform(0.0, 8.0)  # seconds into the run: any step, or after the end
                time.sleep(at)
                os.kill(victim.pid, signal.SIGKILL)
                victim.wait()
                kills.append((kind, round(at, 2)))
                workers.append(start_worker(settings))  # the survivor finishes what was lost
                wait_for(
                    lambda ds=ds, t=task_id: (
                        get_task(client, project, ds, t, auth)["status"] in (2, 3, 5)
                    ),
                    240,
                )
                stop_process(workers.pop())
    finally:
        for w in workers:
            stop_process(w)
    print(f"\nkill points (kind, seconds into the run): {kills}")  # noqa: T201
    assert len(kills) >= 20

    with db.read() as s:
        statuses = Counter(TaskStatus(t).label for t in s.scalars(select(Task.status)))
        assert all(TaskStatus(t) in TERMINAL for t in s.scalars(select(Task.status))), statuses
        live = counters(s, [ds for ds, _ in setups.values()])
    print(f"task outcomes: {dict(statuses)}")  # noqa: T201
    for kind, (ds, _) in setups.items():
        names, labels = before[kind]
        assert _samples(db, ds) == names, f"{kind}: samples lost or added"
        now = _labels(db, ds)
        assert len(now) == len(set(now)), f"{kind}: a sample labeled twice"
        people = [lb for lb in labels if lb[0].startswith("lab")]
        assert sorted(lb for lb in now if lb[0].startswith("lab")) == sorted(people), kind
        shown = client.get(f"/v2/{project}/datasets/{ds}", headers=auth).json()
        with db.read() as s:
            total = len(s.scalars(select(Sample.id).where(Sample.dataset_id == ds)).all())
        assert live[ds]["total"] == total == shown["total_sample_count"], kind
        assert shown["annotated_sample_count"] == live[ds]["annotated"], kind
