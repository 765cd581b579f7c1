"""repair stored JSON that cannot be rendered back

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 21:30:00.000000

Before the edge validator (issue #12), a request could store a JSON integer outside int64, a
NaN or Infinity, or a NUL character in a label property, sample metadata, a task config and the
other free-form columns; every page showing that row then answered 500. This revision repairs
such values in place, by the rule the API's renderer applies (``api/untrusted.repaired``, frozen
here as migrations are): an out-of-range integer becomes its decimal string (nothing is lost),
a non-finite number becomes null, NUL characters are dropped. Other values and rows are left as
they are. The repair is not undone by a downgrade: the repaired values are valid everywhere.
"""

from __future__ import annotations

import math
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
BATCH = 1000

# table, key column, the free-form JSON columns
COLUMNS = (
    ("datasets", "id", ("data_sources",)),
    ("labels", "id", ("property", "attributes")),
    ("samples", "id", ("metadata",)),
    ("sample_labels", "id", ("property",)),
    ("tasks", "id", ("config", "result")),
    ("models", "id", ("config", "metrics")),
)


def _repaired(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if INT64_MIN <= value <= INT64_MAX else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {str(k).replace("\x00", ""): _repaired(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_repaired(v) for v in value]
    return value


def _repair_table(conn: sa.Connection, name: str, key: str, columns: tuple[str, ...]) -> None:
    table = sa.table(name, sa.column(key), *(sa.column(c, sa.JSON) for c in columns))
    last: Any = None
    while True:  # keyset pages: bounded memory and short statements on big tables
        q = sa.select(table).order_by(table.c[key]).limit(BATCH)
        if last is not None:
            q = q.where(table.c[key] > last)
        rows = conn.execute(q).all()
        if not rows:
            return
        for row in rows:
            stored = {c: row._mapping[c] for c in columns}
            fixed = {c: _repaired(v) for c, v in stored.items()}
            # repr, not ==: a stored NaN is unequal even to itself
            changed = {c: v for c, v in fixed.items() if repr(v) != repr(stored[c])}
            if changed:
                conn.execute(table.update().where(table.c[key] == row._mapping[key]), changed)
        last = rows[-1]._mapping[key]


def upgrade() -> None:
    conn = op.get_bind()
    for name, key, columns in COLUMNS:
        _repair_table(conn, name, key, columns)


def downgrade() -> None:
    """Nothing to undo: repaired values are valid JSON for every version."""
