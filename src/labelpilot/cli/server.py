"""Server-side commands: ``serve``, ``worker``, ``demo`` and ``credentials create``.

They work on the local database and storage named by the settings (``--data-dir`` overrides
the data directory).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import typer

from labelpilot.cli.console import out
from labelpilot.config import Settings, get_settings
from labelpilot.db import Database
from labelpilot.storage import Storage

credentials_app = typer.Typer(help="Create credentials (AK/SK and token) for a project.")


def register(app: typer.Typer) -> None:
    """Add the server-side commands to the ``labelpilot`` app."""
    app.command()(serve)
    app.command()(worker)
    app.command("demo")(demo_cmd)
    app.add_typer(credentials_app, name="credentials")


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _settings(data_dir: Path | None = None) -> Settings:
    base = get_settings()
    return base.model_copy(update={"data_dir": data_dir}) if data_dir else base


def _services(settings: Settings) -> tuple[Database, Storage]:
    """The migrated database and the storage of ``settings``."""
    from labelpilot.storage import open_storage

    db = Database(settings.resolved_database_url)
    db.migrate()
    return db, open_storage(settings.resolved_storage_root, settings)


def _ensure_demo(settings: Settings, model: bool = True) -> None:
    from labelpilot.demo import seed_demo

    db, storage = _services(settings)
    seed = seed_demo(settings, db, storage, model=model)
    db.dispose()
    out().print(
        f"[bold]demo dataset[/bold] {seed.dataset_id} "
        f"({'imported' if seed.dataset_created else 'already there'}) in project {seed.project_id}"
    )
    if seed.model_state:
        out().print(f"[bold]demo model[/bold] {seed.model_state}, for pre-label tasks")
    typer.echo("credential " + json.dumps(seed.credential))


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Data directory")] = None,
    workers: Annotated[int | None, typer.Option(help="Local worker processes")] = None,
    demo: Annotated[bool, typer.Option(help="Import the demo dataset first")] = False,
    demo_model: Annotated[
        bool, typer.Option(help="With --demo: register the packaged ImageNet model too")
    ] = True,
) -> None:
    """Run the API, the console and local workers together."""
    import uvicorn

    from labelpilot.app import create_app
    from labelpilot.engine.pool import WorkerPool

    settings = _settings(data_dir).model_copy(
        update={
            k: v
            for k, v in {"host": host, "port": port, "workers": workers}.items()
            if v is not None
        }
    )
    _logging()
    if demo:
        _ensure_demo(settings, model=demo_model)
    api = create_app(settings)
    pool = WorkerPool(settings, settings.workers)
    app_lifespan = api.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan_with_pool(app_: Any) -> AsyncIterator[Any]:
        # uvicorn re-raises SIGTERM after shutting down, so stop the pool in the shutdown phase
        async with app_lifespan(app_) as state:
            try:
                yield state
            finally:
                pool.stop()

    api.router.lifespan_context = lifespan_with_pool
    pool.start()
    out().print(f"LabelPilot on http://{settings.host}:{settings.port}/ (docs at /docs)")
    try:
        uvicorn.run(api, host=settings.host, port=settings.port, log_level="info")
    finally:
        pool.stop()


def worker(
    data_dir: Annotated[Path | None, typer.Option(help="Data directory")] = None,
    parent_pid: Annotated[
        int | None, typer.Option(help="Exit when this process (the serve that started us) ends")
    ] = None,
) -> None:
    """Run one worker process (several may share one database)."""
    import signal

    from labelpilot.engine.worker import Worker

    settings = _settings(data_dir)
    _logging()
    db, storage = _services(settings)
    w = Worker(settings, db, storage, parent_pid=parent_pid)
    signal.signal(signal.SIGTERM, lambda *_: w.shutdown.set())
    w.run_forever()


def demo_cmd(
    data_dir: Annotated[Path | None, typer.Option(help="Data directory")] = None,
    model: Annotated[bool, typer.Option(help="Register the packaged ImageNet model")] = True,
) -> None:
    """Import the demo dataset (scikit-learn digits, 10 labeled per class) and register the
    packaged ImageNet classifier for pre-label tasks; print a credential."""
    _ensure_demo(_settings(data_dir), model=model)


@credentials_app.command("create")
def credentials_create(
    project_id: Annotated[str, typer.Option("--project-id", help="Project the credential serves")],
    token_hours: Annotated[float | None, typer.Option(help="Token lifetime; default none")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Data directory")] = None,
) -> None:
    """Create an AK/SK pair and a token; print them as JSON."""
    from labelpilot.auth.service import create_credential

    db, _ = _services(_settings(data_dir))
    try:
        with db.transaction() as s:
            cred = create_credential(s, project_id, token_hours)
    finally:
        db.dispose()
    typer.echo(json.dumps(cred.as_dict()))
