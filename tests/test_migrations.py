"""The Alembic revisions build exactly the schema the models declare, and downgrade cleanly."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from labelpilot.db import Base, Database, import_all_tables
from labelpilot.migrations import alembic_config, upgrade

Names = dict[str, dict[str, Any]]


def _db_names(engine: sa.Engine) -> Names:
    """Every table's constraint and index names, as the database has them."""
    inspector = sa.inspect(engine)
    return {
        table: {
            "pk": inspector.get_pk_constraint(table)["name"],
            "fk": sorted(str(f["name"]) for f in inspector.get_foreign_keys(table)),
            "uq": sorted(str(u["name"]) for u in inspector.get_unique_constraints(table)),
            "ix": sorted(
                str(i["name"])
                for i in inspector.get_indexes(table)
                if "duplicates_constraint" not in i
            ),
        }
        for table in inspector.get_table_names()
        if table != "alembic_version"
    }


def _model_names() -> Names:
    """The same names as ``Base.metadata`` (with its naming convention) declares them."""
    return {
        table.name: {
            "pk": table.primary_key.name,
            "fk": sorted(str(f.name) for f in table.foreign_key_constraints),
            "uq": sorted(
                str(c.name) for c in table.constraints if isinstance(c, sa.UniqueConstraint)
            ),
            "ix": sorted(str(i.name) for i in table.indexes),
        }
        for table in Base.metadata.sorted_tables
    }


def _assert_head_is_models(db: Database) -> None:
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    assert _db_names(db.engine) == _model_names()


def test_head_matches_models_and_downgrades(database_url: str) -> None:
    import_all_tables()
    db = Database(database_url)
    db.migrate()
    _assert_head_is_models(db)
    command.downgrade(alembic_config(db.engine), "base")
    db.migrate()  # and back up again
    _assert_head_is_models(db)
    db.dispose()


def _value(column: sa.Column[Any], row: int) -> Any:
    """A value for ``column`` of row number ``row`` (unique for keys)."""
    kind = column.type
    if isinstance(kind, sa.JSON):
        return {}
    if isinstance(kind, sa.DateTime):
        return datetime(2026, 1, 1)
    if isinstance(kind, sa.Boolean):
        return False
    if isinstance(kind, sa.Float):
        return 0.5
    if isinstance(kind, sa.Integer):
        return row
    return f"v{row}"


def _fill(engine: sa.Engine, rows: int) -> dict[str, int]:
    """Insert ``rows`` rows into every table, each child row under the parent row of its number."""
    meta = sa.MetaData()
    meta.reflect(engine)
    with engine.begin() as conn:
        for table in meta.sorted_tables:
            if table.name != "alembic_version":
                conn.execute(
                    table.insert(),
                    [{c.name: _value(c, r) for c in table.columns} for r in range(rows)],
                )
    return _counts(engine)


def _counts(engine: sa.Engine) -> dict[str, int]:
    meta = sa.MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        return {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in meta.sorted_tables
        }


def _old_counts(engine: sa.Engine, rows: dict[str, int]) -> dict[str, int]:
    """The counts of the tables in ``rows`` (later revisions add tables)."""
    return {t: n for t, n in _counts(engine).items() if t in rows}


def test_databases_from_before_the_naming_convention_get_its_names(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """0005 names the keys that 0001-0004 left unnamed, keeping every row (a rebuild on SQLite)."""
    import_all_tables()
    db = Database(database_url)
    with monkeypatch.context() as m:  # 0001-0004 as they ran before the convention existed
        m.setattr(Base.metadata, "naming_convention", {"ix": "ix_%(column_0_label)s"})
        upgrade(db.engine, "0004")
    old_names = _db_names(db.engine)
    assert old_names != _model_names()
    rows = _fill(db.engine, 3)
    assert set(rows.values()) == {3, 1}  # alembic_version has one row

    db.migrate()
    _assert_head_is_models(db)
    assert _old_counts(db.engine, rows) == rows

    command.downgrade(alembic_config(db.engine), "0004")
    assert _db_names(db.engine) == old_names
    assert _counts(db.engine) == rows
    db.migrate()
    _assert_head_is_models(db)
    assert _old_counts(db.engine, rows) == rows
    db.dispose()
