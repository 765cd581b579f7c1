"""Transient database failures are retried with backoff (issue #12, point 6)."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from labelpilot import db as dbmod
from labelpilot.db import Database, backoff_delays, is_transient


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def _wrapped(orig: Exception) -> OperationalError:
    return OperationalError("UPDATE t", {}, orig)


def test_transient_failures_are_recognised() -> None:
    assert is_transient(_wrapped(sqlite3.OperationalError("database is locked")))
    assert is_transient(_wrapped(_PgError("40001")))
    assert is_transient(_wrapped(_PgError("40P01")))
    assert not is_transient(_wrapped(_PgError("23505")))  # a unique violation is not transient
    assert not is_transient(ValueError("database is locked"))


def test_backoff_stays_within_its_budget() -> None:
    delays = list(backoff_delays(3.0))
    assert delays and sum(delays) <= 3.0
    assert max(delays) <= dbmod.RETRY_MAX_DELAY_S * 1.5


def _hold_write_lock(path: Path, seconds: float, held: threading.Event) -> None:
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("BEGIN IMMEDIATE")
    held.set()
    time.sleep(seconds)
    con.execute("COMMIT")
    con.close()


@pytest.mark.usefixtures("settings")
def test_sqlite_write_outlasting_busy_timeout_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: a writer waiting longer than busy_timeout failed with "database is locked" (500).
    monkeypatch.setattr(dbmod, "SQLITE_BUSY_TIMEOUT_S", 0.1)
    path = tmp_path / "lock.db"
    database = Database(f"sqlite:///{path}")
    with database.transaction() as s:
        s.execute(text("CREATE TABLE t (x INTEGER)"))
    held = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(path, 1.5, held))
    holder.start()
    held.wait(5)
    started = time.monotonic()
    with database.transaction() as s:
        s.execute(text("INSERT INTO t VALUES (1)"))
    waited = time.monotonic() - started
    holder.join()
    assert waited >= 1.0
    assert database.run(lambda s: s.execute(text("SELECT count(*) FROM t")).scalar()) == 1
    database.dispose()


def test_run_reruns_the_work_after_a_transient_failure(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'run.db'}")
    calls: list[int] = []

    def work(_s: object) -> str:
        calls.append(1)
        if len(calls) < 3:
            raise _wrapped(_PgError("40001"))
        return "done"

    assert database.run(work) == "done"
    assert len(calls) == 3
    with pytest.raises(OperationalError):
        database.run(lambda _s: (_ for _ in ()).throw(_wrapped(_PgError("23505"))))
    database.dispose()
