"""Alembic environment: uses the engine handed over in ``config.attributes``."""

from __future__ import annotations

from alembic import context

from labelpilot.db import Base, import_all_tables, make_engine

import_all_tables()
config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        url = config.get_main_option("sqlalchemy.url")
        if not url:
            from labelpilot.config import get_settings

            url = get_settings().resolved_database_url
        engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
