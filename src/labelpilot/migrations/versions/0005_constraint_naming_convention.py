"""constraint names follow the naming convention

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 20:30:00.000000

0001-0004 left primary and foreign keys unnamed: PostgreSQL named them itself
(``labels_pkey``, ``labels_dataset_id_fkey``) and SQLite kept them without a name. Since
``Base.metadata`` has a naming convention, a database built from scratch gets ``pk_labels`` and
``fk_labels_dataset_id_datasets``; this revision gives older databases the same names, so that
every database at head matches the models and later revisions can name the constraints they
change. Databases that already have these names are left as they are.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Parents before children: the order in which SQLite tables are refilled.
TABLES = (
    "credentials",
    "datasets",
    "labels",
    "samples",
    "sample_labels",
    "tasks",
    "task_events",
    "models",
    "services",
    "supervisor_leases",
)
# (table, column, referred table) of every foreign key at 0004.
FOREIGN_KEYS = (
    ("labels", "dataset_id", "datasets"),
    ("samples", "dataset_id", "datasets"),
    ("sample_labels", "sample_id", "samples"),
    ("tasks", "dataset_id", "datasets"),
    ("task_events", "task_id", "tasks"),
    ("services", "model_id", "models"),
)

_PK = re.compile(r"(?:CONSTRAINT \S+ )?PRIMARY KEY \(")
_FK = re.compile(r'(?:CONSTRAINT \S+ )?FOREIGN KEY\s*\("?(\w+)"?\) REFERENCES "?(\w+)"?')


def _pk_name(table: str) -> str:
    return f"pk_{table}"


def _fk_name(table: str, column: str, referred: str) -> str:
    return f"fk_{table}_{column}_{referred}"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(named=True)
    else:
        _rename(pk=_pk_name, fk=_fk_name)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(named=False)
    else:  # the names PostgreSQL gives unnamed constraints
        _rename(pk=lambda t: f"{t}_pkey", fk=lambda t, c, _r: f"{t}_{c}_fkey")


def _rename(*, pk: Callable[[str], str], fk: Callable[[str, str, str], str]) -> None:
    """Rename constraints in place (PostgreSQL keeps the data and the index behind a key)."""
    inspector = sa.inspect(op.get_bind())
    renames: list[tuple[str, str | None, str]] = [
        (t, inspector.get_pk_constraint(t)["name"], pk(t)) for t in TABLES
    ]
    for table, column, referred in FOREIGN_KEYS:
        (current,) = (
            f["name"]
            for f in inspector.get_foreign_keys(table)
            if f["constrained_columns"] == [column] and f["referred_table"] == referred
        )
        renames.append((table, current, fk(table, column, referred)))
    for table, old, new in renames:
        if old != new:
            op.execute(f'ALTER TABLE "{table}" RENAME CONSTRAINT "{old}" TO "{new}"')


def _sqlite_definition(table: str, sql: str, *, named: bool) -> str:
    """``CREATE TABLE`` text of ``table`` with its keys named by the convention, or unnamed."""

    def fk(m: re.Match[str]) -> str:
        column, referred = m.group(1), m.group(2)
        name = f"CONSTRAINT {_fk_name(table, column, referred)} " if named else ""
        return f"{name}FOREIGN KEY({column}) REFERENCES {referred}"

    sql, pks = _PK.subn(
        f"CONSTRAINT {_pk_name(table)} PRIMARY KEY (" if named else "PRIMARY KEY (", sql
    )
    sql, fks = _FK.subn(fk, sql)
    expected_fks = sum(1 for t, _c, _r in FOREIGN_KEYS if t == table)
    if (pks, fks) != (1, expected_fks):
        raise RuntimeError(f"unexpected definition of {table}: {sql}")
    return re.sub(r'^CREATE TABLE "?\w+"? \(', f"CREATE TABLE {table} (", sql)


def _rebuild_sqlite(*, named: bool) -> None:
    """Rebuild every table when key names differ; SQLite cannot rename a constraint.

    A referenced table cannot simply be dropped and recreated: with foreign keys on, dropping it
    deletes its rows first and cascades to the children. So the old tables are renamed away
    (their children's references follow them), the new ones are created and refilled parents
    first, and the old ones are dropped children first, when nothing new refers to them.
    """
    conn = op.get_bind()

    def master(kind: str, table: str) -> list[str]:
        rows = conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = ? AND tbl_name = ? AND sql IS NOT NULL",
            (kind, table),
        )
        return [r[0] for r in rows]

    tables = [(t, *master("table", t)) for t in TABLES]
    wanted = [_sqlite_definition(t, sql, named=named) for t, sql in tables]
    if wanted == [sql for _t, sql in tables]:
        return
    # All or nothing: a child left in place would follow its renamed parent and lose its rows.
    indexes = [sql for t in TABLES for sql in master("index", t)]
    for table in TABLES:
        conn.exec_driver_sql(f'ALTER TABLE "{table}" RENAME TO "_old_{table}"')
    for table, definition in zip(TABLES, wanted, strict=True):
        conn.exec_driver_sql(definition)
        conn.exec_driver_sql(f'INSERT INTO "{table}" SELECT * FROM "_old_{table}"')
    for table in reversed(TABLES):
        conn.exec_driver_sql(f'DROP TABLE "_old_{table}"')
    for index in indexes:
        conn.exec_driver_sql(index)
    problems = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if problems:
        raise RuntimeError(f"foreign keys broken by the rebuild: {problems}")
