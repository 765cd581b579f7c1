"""The ``labelpilot`` command: the server commands and the client commands, in one app."""

from __future__ import annotations

import typer

from labelpilot.cli import doctor, remote, server

app = typer.Typer(help="LabelPilot: intelligent labeling tasks, ModelArts-compatible API.")
server.register(app)
remote.register(app)
app.command()(doctor.doctor)

if __name__ == "__main__":
    app()
