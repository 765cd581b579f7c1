"""The Alembic revisions build exactly the schema the models declare, and downgrade cleanly."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from labelpilot.db import Base, Database, import_all_tables
from labelpilot.migrations import alembic_config


def test_head_matches_models_and_downgrades(database_url):
    import_all_tables()
    db = Database(database_url)
    db.migrate()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    command.downgrade(alembic_config(db.engine), "base")
    db.migrate()  # and back up again
    db.dispose()
