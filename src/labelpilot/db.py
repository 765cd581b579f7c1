"""Engine, sessions and transactions. Tables live beside their domain (``*/tables.py``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker


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


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and foreign keys."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _begin_immediate(engine: Engine) -> None:
    """Make every transaction on this SQLite engine take the write lock at BEGIN.

    A deferred transaction that reads and then writes fails at once with SQLITE_BUSY when another
    process committed in between; BEGIN IMMEDIATE waits (busy_timeout) instead.
    """

    @event.listens_for(engine, "connect")
    def _no_driver_transactions(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


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
        self.sessionmaker = sessionmaker(self.write_engine, expire_on_commit=False)
        self.read_sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write session that commits at the end of the block or rolls back on error."""
        with self.sessionmaker() as session, session.begin():
            yield session

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
