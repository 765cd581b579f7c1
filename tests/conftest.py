"""Fixtures: a fresh database (SQLite, or PostgreSQL when LABELPILOT_TEST_PG_URL is set),
the app behind real HTTP (httpx via Starlette's TestClient), and credentials."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from labelpilot.app import create_app
from labelpilot.auth.service import NewCredential, create_credential
from labelpilot.config import Settings
from labelpilot.db import Database

PG_ADMIN_URL = os.environ.get(
    "LABELPILOT_TEST_PG_URL"
)  # e.g. postgresql+psycopg://u@127.0.0.1/postgres
SLOW_TIMEOUT = 900  # seconds for tests marked slow; the others get pyproject's timeout


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT))


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    if not PG_ADMIN_URL:
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    name = f"lp_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Converted models are shared by the session's tests (conversion takes a while)."""
    return tmp_path_factory.getbasetemp().parent / "labelpilot-models"


SLEEP_RUNNER = "tests.support.runners:SleepRunner"
SLEEP_DEPLOY_RUNNER = "tests.support.runners:SleepDeployRunner"


@pytest.fixture
def settings(
    request: pytest.FixtureRequest, tmp_path: Path, database_url: str, model_dir: Path
) -> Settings:
    """Real kinds plus the test-only ``test-sleep`` kind; a test marked ``sleeping_deploy``
    gets the sleep kind in auto-deploy's place."""
    plugins = {"test-sleep": SLEEP_RUNNER}
    if request.node.get_closest_marker("sleeping_deploy"):
        plugins["auto-deploy"] = SLEEP_DEPLOY_RUNNER
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        model_dir=model_dir,
        lease_seconds=3,
        heartbeat_seconds=0.5,
        poll_seconds=0.1,
        runner_plugins=plugins,
        import_roots=[tmp_path],  # tests import from tmp dirs; the data dir stays refused
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[Any]:
    application = create_app(settings, run_reaper=False)
    yield application
    # tests without a TestClient never run the lifespan: close the pool now, not at collection
    # (psycopg warns about connections garbage-collected while open)
    application.state.services.db.dispose()


@pytest.fixture
def db(app: Any) -> Database:
    database: Database = app.state.services.db
    return database


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _cred(db: Database, project: str) -> NewCredential:
    with db.transaction() as s:
        return create_credential(s, project)


@pytest.fixture
def project() -> str:
    return "p" + uuid.uuid4().hex[:31]


@pytest.fixture
def cred(db: Database, project: str) -> NewCredential:
    return _cred(db, project)


@pytest.fixture
def auth(cred: NewCredential) -> dict[str, str]:
    return {"X-Auth-Token": cred.token}


@pytest.fixture
def other_auth(db: Database) -> dict[str, str]:
    return {"X-Auth-Token": _cred(db, "other-project").token}


@pytest.fixture
def workers(settings: Settings) -> Iterator[list[Any]]:  # noqa: ARG001
    """Worker processes a test starts (append them); stopped at its end.

    ``settings`` is requested so that the workers stop before its database is dropped.
    """
    from tests.support.procs import stop_process

    procs: list[Any] = []
    yield procs
    for p in procs:
        stop_process(p)
