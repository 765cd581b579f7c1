"""``labelpilot tasks``: the seed's task list, details, create (followed) and stop on a server."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.table import Table

from labelpilot.cli.console import FINAL_STATUSES, STATUS_STYLE, STATUS_TEXT, out
from labelpilot.cli.remote_common import call, client, poll

tasks_app = typer.Typer(help="Intelligent tasks on a running server.")


def _tasks_table(data: dict[str, Any]) -> Table:
    title = f"{data['total_count']} task(s)"
    if data["exist_running_deploy_task"]:
        title += "  [yellow]deploy task running[/yellow]"
    table = Table(title=title)
    table.add_column("task_id", no_wrap=True, min_width=19)
    table.add_column("name", overflow="fold")
    for name in ("type", "status", "progress", "elapsed", "samples", "to confirm"):
        table.add_column(name, no_wrap=True)
    table.add_column("code", overflow="fold")
    for t in data["tasks"]:
        st = t.get("status", -1)
        table.add_row(
            t["task_id"],
            t.get("task_name", ""),
            str(t.get("type")),
            f"[{STATUS_STYLE.get(st, 'white')}]{STATUS_TEXT.get(st, st)}[/]",
            f"{t.get('progress', 0):.0f}%",
            f"{t.get('elapsed_time', 0)}s",
            str(t.get("total_sample_count", "")),
            str(t.get("unconfirmed_sample_count", "")),
            t.get("code", ""),
        )
    return table


@tasks_app.command("list")
def tasks_list(
    dataset_id: str,
    type: Annotated[
        str | None, typer.Option(help="auto-label|pre-label|auto-grouping|auto-deploy")
    ] = None,
    task_name: Annotated[str | None, typer.Option(help="Name filter")] = None,
    limit: int = 10,
    offset: int = 0,
    watch: Annotated[bool, typer.Option(help="Refresh every second")] = False,
) -> None:
    """The seed's task list as a table."""
    api = client()

    def fetch() -> Table:
        return _tasks_table(
            call(
                api.list_tasks,
                dataset_id,
                limit=limit,
                offset=offset,
                type=type,
                task_name=task_name,
            )
        )

    if not watch:
        out().print(fetch())
        return
    with Live(fetch(), console=out(), refresh_per_second=2) as live:
        try:
            while True:
                time.sleep(1)
                live.update(fetch())
        except KeyboardInterrupt:
            pass


@tasks_app.command("show")
def tasks_show(dataset_id: str, task_id: str) -> None:
    """A task's details as JSON."""
    typer.echo(
        json.dumps(call(client().get_task, dataset_id, task_id), indent=2, ensure_ascii=False)
    )


def _follow(api: Any, dataset_id: str, task_id: str) -> dict[str, Any]:
    """Follow a task with a progress bar until it ends; its last details."""
    return poll(
        lambda: dict(call(api.get_task, dataset_id, task_id)),
        task_id,
        lambda t: t.get("progress", 0),
        lambda t: t.get("status", -1) in FINAL_STATUSES,
        status_of=lambda t: STATUS_TEXT.get(t.get("status", -1)),
    )


@tasks_app.command("create")
def tasks_create(
    dataset_id: str,
    type: Annotated[
        str, typer.Option(help="auto-label|pre-label|auto-grouping|auto-deploy")
    ] = "auto-label",
    config: Annotated[str | None, typer.Option(help="SmartTaskConfig as JSON")] = None,
    model_id: Annotated[str | None, typer.Option(help="Model for pre-label")] = None,
    collect_key_sample: bool = False,
    watch: Annotated[bool, typer.Option(help="Follow progress until the task ends")] = True,
) -> None:
    """Start a task; by default follow it with a progress bar."""
    body: dict[str, Any] = {"task_type": type, "collect_key_sample": collect_key_sample}
    if config:
        body["config"] = json.loads(config)
    if model_id:
        body["model_id"] = model_id
    api = client()
    task_id = call(api.create_task, dataset_id, body)["task_id"]
    typer.echo(task_id)
    if watch:
        t = _follow(api, dataset_id, task_id)
        out().print(f"{STATUS_TEXT.get(t['status'])}: {t.get('message') or t.get('error_msg', '')}")


@tasks_app.command("stop")
def tasks_stop(dataset_id: str, task_id: str) -> None:
    """Stop a task."""
    call(client().stop_task, dataset_id, task_id)
    typer.echo("stop requested")
