"""What every client command shares: the client from the environment, error printing, polling.

``config.ClientSettings`` says where (``LABELPILOT_URL``, ``LABELPILOT_PROJECT_ID``) and with which
credential (``LABELPILOT_TOKEN`` or ``LABELPILOT_ACCESS_KEY``/``LABELPILOT_SECRET_KEY``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from labelpilot.cli.console import out
from labelpilot.config import ClientSettings, get_settings


def client() -> Any:
    """A ``LabelPilotClient`` for the server and credential the environment names."""
    from labelpilot.client import LabelPilotClient

    st, server = ClientSettings(), get_settings()
    return LabelPilotClient(
        st.server_url(server),
        st.project(server),
        ak=st.access_key,
        sk=st.secret_key,
        token=st.token,
    )


def call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``; an API error or an unreachable server is printed and exits."""
    import httpx

    from labelpilot.client import ApiError

    try:
        return fn(*args, **kwargs)
    except ApiError as exc:
        out().print(f"[red]{exc.error_code}[/red] {exc.error_msg}")
        raise typer.Exit(1) from exc
    except httpx.HTTPError as exc:
        url = ClientSettings().server_url(get_settings())
        out().print(f"[red]cannot reach {url}[/red]: {exc}")
        raise typer.Exit(2) from exc


def poll(
    fetch: Callable[[], dict[str, Any]],
    label: str,
    progress_of: Callable[[dict[str, Any]], float],
    done: Callable[[dict[str, Any]], bool],
    status_of: Callable[[dict[str, Any]], object] = lambda row: row["status"],
) -> dict[str, Any]:
    """Poll ``fetch()`` with a progress bar until ``done(row)``; the last row."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TimeElapsedColumn(),
        console=out(),
    ) as progress:
        bar = progress.add_task(label, total=100)
        while True:
            row = fetch()
            progress.update(
                bar, completed=progress_of(row), description=f"{label} {status_of(row)}"
            )
            if done(row):
                return row
            time.sleep(0.5)
