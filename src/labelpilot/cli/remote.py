"""Client commands on a running server: ``datasets``, ``tasks``, ``models`` and ``services``.

Each group lives in its own module and calls the HTTP API through ``remote_common``.
"""

from __future__ import annotations

import typer

from labelpilot.cli.datasets_remote import datasets_app
from labelpilot.cli.models_remote import models_app, services_app
from labelpilot.cli.tasks_remote import tasks_app


def register(app: typer.Typer) -> None:
    """Add the client command groups to the ``labelpilot`` app."""
    app.add_typer(datasets_app, name="datasets")
    app.add_typer(tasks_app, name="tasks")
    app.add_typer(models_app, name="models")
    app.add_typer(services_app, name="services")
