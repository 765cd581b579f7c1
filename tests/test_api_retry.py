"""API routes rerun a request after a transient database failure (issue #12, point 6).

The failures are real: on PostgreSQL a REPEATABLE READ transaction updates a row that another
transaction changed after its snapshot (SQLSTATE 40001, "could not serialize access due to
concurrent update"); on SQLite a deferred transaction writes after another connection committed
(SQLITE_BUSY_SNAPSHOT, "database is locked"). The probe routes use the real route class inside
the real app, behind real HTTP.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from labelpilot.api.deps import ProjectId, Svc, WriteSession
from labelpilot.api.retry import RetryingRoute
from labelpilot.auth.service import NewCredential
from labelpilot.auth.tables import SignatureUse
from labelpilot.datasets.tables import Dataset
from labelpilot.db import Database, is_transient
from labelpilot.errors import BadRequest, InternalError, RequestReplayed
from tests.conftest import PG_ADMIN_URL
from tests.support.factories import make_dataset
from tests.test_auth_api import sdk_signed, send

on_postgres = pytest.mark.skipif(
    not PG_ADMIN_URL,
    reason="a serialization failure (40001) needs PostgreSQL: set LABELPILOT_TEST_PG_URL",
)
on_sqlite = pytest.mark.skipif(bool(PG_ADMIN_URL), reason="SQLITE_BUSY_SNAPSHOT is SQLite's")


class QuickRetryRoute(RetryingRoute):
    """The same route class with a budget a test can exhaust."""

    retry_budget_s = 1.0


def _description(db: Database, dataset_id: str) -> str:
    with db.read() as s:
        return str(s.scalar(select(Dataset.description).where(Dataset.id == dataset_id)))


def _append(dataset_id: str, text: str) -> Any:
    return (
        update(Dataset)
        .where(Dataset.id == dataset_id)
        .values(description=Dataset.description + text)
    )


def _pg_conflict(session: Session, db: Database, dataset_id: str, attempt: int) -> None:
    """A real 40001: read at REPEATABLE READ, let another transaction commit, update the row."""
    session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    session.execute(select(Dataset.description).where(Dataset.id == dataset_id))  # snapshot
    with db.transaction() as other:
        other.execute(_append(dataset_id, f":concurrent-{attempt}"))
    session.execute(_append(dataset_id, f":attempt-{attempt}"))  # raises 40001


def _pg_conflict_at_commit(session: Session, db: Database, mine: str, theirs: str) -> None:
    """Write skew at SERIALIZABLE: both read two rows, each updates one, the other commits first.

    Neither update waits or fails; PostgreSQL refuses this transaction's COMMIT (40001, "Canceled
    on identification as a pivot, during commit attempt"), i.e. when its session ends.
    """
    both = select(Dataset.description).where(Dataset.id.in_([mine, theirs]))
    session.connection(execution_options={"isolation_level": "SERIALIZABLE"})
    session.execute(both)
    with db.transaction() as other:
        other.connection(execution_options={"isolation_level": "SERIALIZABLE"})
        other.execute(both)
        other.execute(_append(theirs, ":concurrent-1"))
        session.execute(_append(mine, ":attempt-1"))


def _sqlite_conflict(db: Database, dataset_id: str, attempt: int) -> None:
    """A real SQLITE_BUSY_SNAPSHOT on a deferred transaction (the API's sessions never take one).

    The route's own write session begins IMMEDIATE (it holds the write lock from its first
    statement) and this process's writers take turns, so a commit there is not refused; a
    deferred transaction on the read engine that writes after a newer commit is.
    """
    with db.engine.connect() as reader:
        reader.exec_driver_sql("BEGIN")
        reader.execute(select(Dataset.description).where(Dataset.id == dataset_id))  # snapshot
        with db.engine.begin() as other:
            other.execute(_append(dataset_id, f":concurrent-{attempt}"))
        reader.execute(_append(dataset_id, f":attempt-{attempt}"))  # raises "database is locked"


def _conflict(session: Session, db: Database, dataset_id: str, attempt: int) -> None:
    if db.is_sqlite:
        _sqlite_conflict(db, dataset_id, attempt)
    else:
        _pg_conflict(session, db, dataset_id, attempt)


class Probe:
    """Test-only routes on the real app; ``runs`` counts each route's attempts."""

    def __init__(self, app: Any) -> None:
        self.runs: dict[str, int] = {}
        self.db: Database = app.state.services.db
        quick = APIRouter(route_class=QuickRetryRoute)
        router = APIRouter(route_class=RetryingRoute)

        def counted(name: str) -> int:
            self.runs[name] = self.runs.get(name, 0) + 1
            return self.runs[name]

        @router.post("/probe/conflict-once/{dataset_id}")
        def conflict_once(dataset_id: str, session: WriteSession, svc: Svc) -> dict[str, int]:
            attempt = counted("conflict-once")
            if attempt == 1:
                _conflict(session, svc.db, dataset_id, attempt)
            session.execute(_append(dataset_id, f":attempt-{attempt}"))
            return {"attempt": attempt}

        @router.post("/probe/conflict-at-commit/{dataset_id}/{other_id}")
        def conflict_at_commit(
            dataset_id: str, other_id: str, session: WriteSession, svc: Svc
        ) -> dict[str, int]:
            attempt = counted("conflict-at-commit")
            if attempt == 1:
                _pg_conflict_at_commit(session, svc.db, dataset_id, other_id)
            else:
                session.execute(_append(dataset_id, f":attempt-{attempt}"))
            return {"attempt": attempt}

        @router.post("/v2/{project_id}/probe/signed/{dataset_id}")
        def signed(
            project_id: ProjectId, dataset_id: str, body: dict[str, str], session: WriteSession
        ) -> dict[str, str]:
            attempt = counted("signed")
            if attempt == 1:
                _conflict(session, self.db, dataset_id, attempt)
            session.execute(_append(dataset_id, f":{body['mark']}-{attempt}"))
            return {"project_id": project_id}

        @quick.post("/probe/conflict-always/{dataset_id}")
        def conflict_always(dataset_id: str, session: WriteSession, svc: Svc) -> None:
            _conflict(session, svc.db, dataset_id, counted("conflict-always"))

        @router.post("/probe/refused")
        def refused() -> None:
            counted("refused")
            raise BadRequest("Invalid parameter probe: refused")

        @router.post("/probe/broken")
        def broken() -> None:
            counted("broken")
            raise RuntimeError("not a database failure")

        @router.post("/probe/duplicate/{dataset_id}")
        def duplicate(dataset_id: str, session: WriteSession) -> None:
            counted("duplicate")
            row = session.execute(select(Dataset.__table__).where(Dataset.id == dataset_id))
            session.execute(insert(Dataset.__table__).values(**row.one()._asdict()))

        app.include_router(router)
        app.include_router(quick)


@pytest.fixture
def probe(app: Any) -> Probe:
    return Probe(app)


@pytest.fixture
def dataset(client: TestClient, project: str, auth: dict[str, str]) -> str:
    return make_dataset(client, project, auth)


def _assert_internal_error(r: Any) -> None:
    assert r.status_code == 500, r.text
    assert r.json()["error_code"] == InternalError.error_code
    assert r.json()["error_msg"].startswith("Internal error")


def test_every_api_route_reruns_transient_failures(app: Any) -> None:
    api = [
        (c.path, c.original_route)
        for c in iter_route_contexts(app.routes)
        if isinstance(c.original_route, APIRoute) and (c.path or "").startswith(("/v1/", "/v2/"))
    ]
    assert len(api) > 20
    assert [path for path, route in api if not isinstance(route, RetryingRoute)] == []


@on_postgres
def test_the_failure_provoked_is_a_real_transient_one(db: Database, dataset: str) -> None:
    with pytest.raises(OperationalError) as caught, db.transaction() as session:
        _pg_conflict(session, db, dataset, 1)
    assert is_transient(caught.value)
    assert "could not serialize access" in str(caught.value.orig)
    assert _description(db, dataset) == ":concurrent-1"


@on_postgres
def test_the_failure_at_commit_is_a_real_transient_one(
    client: TestClient, project: str, auth: dict[str, str], db: Database, dataset: str
) -> None:
    other = make_dataset(client, project, auth, "other")
    reached: list[str] = []
    with pytest.raises(OperationalError) as caught, db.transaction() as session:
        _pg_conflict_at_commit(session, db, dataset, other)
        reached.append("commit")
    assert reached == ["commit"]  # every statement passed: the COMMIT failed
    assert is_transient(caught.value)
    assert "during commit attempt" in str(caught.value.orig)
    assert (_description(db, dataset), _description(db, other)) == ("", ":concurrent-1")


@on_sqlite
def test_sqlite_busy_snapshot_is_a_real_transient_failure(db: Database, dataset: str) -> None:
    with pytest.raises(OperationalError) as caught:
        _sqlite_conflict(db, dataset, 1)
    assert is_transient(caught.value)
    assert "database is locked" in str(caught.value.orig)


def test_a_transient_failure_reruns_the_whole_request(
    client: TestClient, probe: Probe, dataset: str
) -> None:
    r = client.post(f"/probe/conflict-once/{dataset}")
    assert r.status_code == 200, r.text
    assert r.json() == {"attempt": 2}
    assert probe.runs["conflict-once"] == 2
    # the first attempt's write was rolled back; the second one's is there, once
    assert _description(probe.db, dataset) == ":concurrent-1:attempt-2"


@on_postgres
def test_a_transient_failure_at_commit_reruns_the_whole_request(
    client: TestClient, probe: Probe, project: str, auth: dict[str, str], dataset: str
) -> None:
    """The route returned; its write session's COMMIT failed: the request runs again."""
    other = make_dataset(client, project, auth, "other")
    r = client.post(f"/probe/conflict-at-commit/{dataset}/{other}")
    assert r.status_code == 200, r.text
    assert r.json() == {"attempt": 2}
    assert probe.runs["conflict-at-commit"] == 2
    assert _description(probe.db, dataset) == ":attempt-2"
    assert _description(probe.db, other) == ":concurrent-1"


def test_a_persistent_transient_failure_ends_as_500_after_the_budget(
    client: TestClient, probe: Probe, dataset: str
) -> None:
    started = time.monotonic()
    r = client.post(f"/probe/conflict-always/{dataset}")
    took = time.monotonic() - started
    _assert_internal_error(r)
    runs = probe.runs["conflict-always"]
    assert runs >= 3  # 50 ms, then about 100, 200, 400 ms within the 1 s budget
    assert took < QuickRetryRoute.retry_budget_s + 5
    # every attempt was rolled back: only the concurrent transactions' changes are there
    assert _description(probe.db, dataset) == "".join(
        f":concurrent-{i}" for i in range(1, runs + 1)
    )


@pytest.mark.parametrize(
    ("route", "status"),
    [("refused", 400), ("broken", 500), ("duplicate/{dataset}", 500)],
)
def test_other_failures_are_not_retried(
    client: TestClient, probe: Probe, dataset: str, route: str, status: int
) -> None:
    r = client.post("/probe/" + route.format(dataset=dataset))
    assert r.status_code == status, r.text
    if status == 400:
        assert r.json() == {
            "error_code": BadRequest.error_code,
            "error_msg": "Invalid parameter probe: refused",
        }
    else:
        _assert_internal_error(r)
    assert probe.runs[route.split("/")[0]] == 1


def test_a_rerun_signed_write_succeeds_and_is_still_refused_when_replayed(
    client: TestClient, probe: Probe, cred: NewCredential, dataset: str
) -> None:
    path = f"/v2/{cred.project_id}/probe/signed/{dataset}"
    request = sdk_signed(cred, "POST", path, [], b'{"mark": "signed"}')
    first = send(client, request)
    assert first.status_code == 200, first.text
    assert probe.runs["signed"] == 2
    assert _description(probe.db, dataset) == ":concurrent-1:signed-2"

    replay = send(client, request)
    assert replay.status_code == 401, replay.text
    assert replay.json()["error_code"] == RequestReplayed.error_code
    assert probe.runs["signed"] == 2
    assert _description(probe.db, dataset) == ":concurrent-1:signed-2"
    with probe.db.read() as s:
        assert len(s.scalars(select(SignatureUse)).all()) == 1
