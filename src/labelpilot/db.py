"""Engine, sessions and transactions. Tables live beside their domain (``*/tables.py``)."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

T = TypeVar("T")

# How long one SQLite statement waits for the write lock before SQLITE_BUSY ("database is
# locked"); writes commit in bounded batches, so a wait this long means a stuck writer.
SQLITE_BUSY_TIMEOUT_S = 30.0
# A transient failure (SQLite busy, PostgreSQL serialization failure or deadlock) is retried
# with exponential backoff and jitter for at most this long in all.
RETRY_SECONDS = 60.0
RETRY_FIRST_DELAY_S = 0.05
RETRY_MAX_DELAY_S = 2.0
# PostgreSQL SQLSTATEs after which the whole transaction may simply run again.
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected


class Base(DeclarativeBase):
    """Declarative base of every table."""

    # Predictable constraint names (SQLAlchemy's documented convention), so that a migration can
    # name what it changes on every database; 0005 gave older databases these names.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


_AFTER_COMMIT = "labelpilot_after_commit"
log = logging.getLogger(__name__)


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run ``action`` once ``session``'s transaction has committed; never if it rolls back.

    For side effects outside the database that must not happen for a change that is undone,
    such as deleting the files of deleted samples.
    """
    session.info.setdefault(_AFTER_COMMIT, []).append(action)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    for action in session.info.pop(_AFTER_COMMIT, []):
        try:
            action()
        except Exception:  # the commit stands; a leftover file is harmless
            log.exception("after-commit action failed")


@event.listens_for(Session, "after_rollback")
def _drop_after_commit(session: Session) -> None:
    session.info.pop(_AFTER_COMMIT, None)


def is_transient(exc: BaseException) -> bool:
    """True for a failure that running the same transaction again can cure."""
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate in _TRANSIENT_SQLSTATES:
        return True
    text = str(orig).lower()
    return "database is locked" in text or "database is busy" in text


def backoff_delays(budget_s: float = RETRY_SECONDS) -> Iterator[float]:
    """Delays before each retry: doubling from 50 ms up to 2 s, jittered, within ``budget_s``."""
    started = time.monotonic()
    delay, paused = RETRY_FIRST_DELAY_S, 0.0
    while True:
        pause = delay * random.uniform(0.5, 1.5)  # jitter: retrying writers do not collide again
        if max(time.monotonic() - started, paused) + pause > budget_s:
            return
        paused += pause
        yield pause
        delay = min(delay * 2, RETRY_MAX_DELAY_S)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and foreign keys."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S},
            **kwargs,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _begin_immediate(engine: Engine) -> None:
    """Make every transaction on this SQLite engine take the write lock at BEGIN.

    A deferred transaction that reads and then writes fails at once with SQLITE_BUSY when another
    process committed in between; BEGIN IMMEDIATE waits (busy_timeout) instead. Nothing has run
    yet when BEGIN finds the database locked, so it is retried with backoff right here: every
    write session, the API's included, survives a writer that holds the lock for a while.
    """

    @event.listens_for(engine, "connect")
    def _no_driver_transactions(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        delays = backoff_delays()
        while True:
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except DBAPIError as exc:
                pause = next(delays, None) if is_transient(exc) else None
                if pause is None:
                    raise
                log.warning("database locked at BEGIN; retrying in %.2fs", pause)
                time.sleep(pause)


class _FairLock:
    """A first-come, first-served lock, re-entrant per thread.

    SQLite's busy handler polls: a writer that commits and begins again at once (a batched
    import) wins the write lock over waiters every time. Inside one process, write transactions
    queue here in arrival order instead, so every waiter gets its turn after one batch.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._next_ticket = 0
        self._serving = 0
        self._owner: int | None = None
        self._depth = 0

    @contextmanager
    def hold(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
            else:
                ticket = self._next_ticket
                self._next_ticket += 1
                self._cond.wait_for(lambda: self._serving == ticket)
                self._owner, self._depth = me, 1
        try:
            yield
        finally:
            with self._cond:
                self._depth -= 1
                if self._depth == 0:
                    self._owner = None
                    self._serving += 1
                    self._cond.notify_all()


class Database:
    """Engines and session factories: ``transaction()`` for writes, ``read()`` for reads."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.write_engine = make_engine(url)
            _begin_immediate(self.write_engine)
        else:
            self.write_engine = self.engine
        self._write_turns = _FairLock() if self.is_sqlite else None
        self.sessionmaker = sessionmaker(self.write_engine, expire_on_commit=False)
        self.read_sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write session that commits at the end of the block or rolls back on error.

        On SQLite, this process's write transactions take turns in arrival order.
        """
        turns = self._write_turns.hold() if self._write_turns else nullcontext()
        with turns, self.sessionmaker() as session, session.begin():
            yield session

    def run(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in a write transaction; rerun it on a transient failure (with backoff).

        ``work`` must do nothing but database work (it may run more than once).
        """
        delays = backoff_delays()
        while True:
            try:
                with self.transaction() as session:
                    return work(session)
            except DBAPIError as exc:
                pause = next(delays, None) if is_transient(exc) else None
                if pause is None:
                    raise
                log.warning("transient database failure (%s); retrying in %.2fs", exc.orig, pause)
                time.sleep(pause)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session (never commits)."""
        with self.read_sessionmaker() as session:
            try:
                yield session
            finally:
                session.rollback()

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        from labelpilot.migrations import upgrade

        upgrade(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()
        self.write_engine.dispose()


def import_all_tables() -> None:
    """Import every ``tables`` module so ``Base.metadata`` is complete."""
    import labelpilot.auth.tables  # noqa: F401
    import labelpilot.datasets.tables  # noqa: F401
    import labelpilot.mlmodels.tables  # noqa: F401
    import labelpilot.tasks.tables  # noqa: F401
