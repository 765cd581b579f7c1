"""The state machine, over every (from, to) pair, and the outcome rules beside it."""

from __future__ import annotations

from itertools import product

import pytest
from sqlalchemy import select

from labelpilot.db import Database
from labelpilot.ids import short_id, utcnow
from labelpilot.tasks.status import (
    ALLOWED,
    TERMINAL,
    TaskStatus,
    active_sql,
    lost_lease_outcome,
    outcome_path,
)
from labelpilot.tasks.tables import ACTIVE_SQL, Task, TaskEvent
from labelpilot.tasks.transitions import TransitionError, transition
from tests.support.factories import make_dataset

S = TaskStatus
# Written out independently of ALLOWED: a change there must be a change here too.
EXPECTED: set[tuple[TaskStatus | None, TaskStatus]] = {
    (None, S.QUEUING),
    (S.QUEUING, S.INITIALIZING),
    (S.QUEUING, S.STOPPING),
    (S.QUEUING, S.FAILED),
    (S.INITIALIZING, S.RUNNING),
    (S.INITIALIZING, S.FAILED),
    (S.INITIALIZING, S.STOPPING),
    (S.INITIALIZING, S.QUEUING),
    (S.RUNNING, S.SUCCEEDED),
    (S.RUNNING, S.FAILED),
    (S.RUNNING, S.STOPPING),
    (S.RUNNING, S.QUEUING),
    (S.STOPPING, S.STOPPED),
    (S.STOPPING, S.FAILED),
}
PAIRS = list(product([None, *TaskStatus], list(TaskStatus)))


@pytest.fixture
def dataset_id(client, project, auth) -> str:
    return make_dataset(client, project, auth)


def _task(db: Database, project: str, dataset_id: str, status: TaskStatus | None) -> str:
    """A task row in ``status`` (None: not created), without going through the machine."""
    task_id = short_id()
    if status is None:
        return task_id
    now = utcnow()
    with db.transaction() as s:
        s.add(
            Task(
                id=task_id,
                project_id=project,
                dataset_id=dataset_id,
                task_type="test-sleep",
                type=98,
                name=task_id,
                status=int(status),
                create_time=now,
                updated_at=now,
            )
        )
    return task_id


@pytest.mark.parametrize(("old", "new"), PAIRS, ids=lambda s: s.label if s is not None else "new")
def test_every_pair(db, project, dataset_id, old, new) -> None:
    task_id = _task(db, project, dataset_id, old)
    with db.transaction() as s:
        task = s.get(Task, task_id)
        if old is None:
            now = utcnow()
            task = Task(
                id=task_id,
                project_id=project,
                dataset_id=dataset_id,
                task_type="test-sleep",
                type=98,
                name=task_id,
                create_time=now,
                updated_at=now,
            )
        assert task is not None
        if (old, new) not in EXPECTED:
            with pytest.raises(TransitionError):
                transition(s, task, new, message="m")
            return
        transition(s, task, new, message="m")
    with db.read() as s:
        row = s.get(Task, task_id)
        assert row is not None and row.status == new
        events = s.scalars(select(TaskEvent).where(TaskEvent.task_id == task_id)).all()
        assert [e.name for e in events] == [new.label]  # every change is an event
        assert (row.finished_at is not None) == (new in TERMINAL)
        if new in TERMINAL or new == S.QUEUING:
            assert row.worker_id is None and row.lease_expires_at is None


def test_the_table_is_the_expected_one() -> None:
    declared = {(old, new) for old, news in ALLOWED.items() for new in news}
    assert declared == EXPECTED
    assert all(not ALLOWED[s] for s in TERMINAL)


def test_the_sql_active_set_is_derived_from_the_enum() -> None:
    assert ACTIVE_SQL == active_sql() == "status IN (-1, 0, 1, 4)"


@pytest.mark.parametrize(("current", "outcome"), list(product(TaskStatus, TERMINAL)))
def test_outcome_paths_are_allowed_moves(current, outcome) -> None:
    path = outcome_path(current, outcome)
    steps = [current, *path]
    legal = all(b in ALLOWED[a] for a, b in zip(steps, steps[1:], strict=False))
    if current in (S.INITIALIZING, S.RUNNING, S.STOPPING):  # where a worker reports from
        assert legal, path
        assert path[-1] == (S.STOPPED if current == S.STOPPING and outcome != S.FAILED else outcome)


def test_outcome_rules() -> None:
    assert outcome_path(S.STOPPING, S.SUCCEEDED) == (S.STOPPED,)  # stopped before it finished
    assert outcome_path(S.RUNNING, S.STOPPED) == (S.STOPPING, S.STOPPED)
    assert outcome_path(S.INITIALIZING, S.SUCCEEDED) == (S.RUNNING, S.SUCCEEDED)
    assert outcome_path(S.RUNNING, S.FAILED) == (S.FAILED,)
    with pytest.raises(ValueError):
        outcome_path(S.RUNNING, S.RUNNING)


def test_lost_lease_outcomes() -> None:
    assert lost_lease_outcome(S.STOPPING, 1, 2) == S.STOPPED
    assert lost_lease_outcome(S.RUNNING, 1, 2) == S.QUEUING
    assert lost_lease_outcome(S.INITIALIZING, 2, 2) == S.FAILED
