"""Client commands: ``datasets``, ``tasks``, ``models`` and ``services`` on a running server.

They call the HTTP API with ``LabelPilotClient``; ``config.ClientSettings`` says where
(``LABELPILOT_URL``, ``LABELPILOT_PROJECT_ID``) and with which credential
(``LABELPILOT_TOKEN`` or ``LABELPILOT_ACCESS_KEY``/``LABELPILOT_SECRET_KEY``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from labelpilot.cli.console import FINAL_STATUSES, STATUS_STYLE, STATUS_TEXT, out
from labelpilot.config import ClientSettings, get_settings
from labelpilot.mlmodels import pretrained

datasets_app = typer.Typer(help="Datasets on a running server.")
tasks_app = typer.Typer(help="Intelligent tasks on a running server.")
models_app = typer.Typer(help="The model registry on a running server.")
services_app = typer.Typer(help="Online services (deployed models) on a running server.")


def register(app: typer.Typer) -> None:
    """Add the client command groups to the ``labelpilot`` app."""
    app.add_typer(datasets_app, name="datasets")
    app.add_typer(tasks_app, name="tasks")
    app.add_typer(models_app, name="models")
    app.add_typer(services_app, name="services")


def _client() -> Any:
    from labelpilot.client import LabelPilotClient

    st, server = ClientSettings(), get_settings()
    return LabelPilotClient(
        st.server_url(server),
        st.project(server),
        ak=st.access_key,
        sk=st.secret_key,
        token=st.token,
    )


def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
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


@datasets_app.command("list")
def datasets_list() -> None:
    """List datasets with their sample counters."""
    data = _call(_client().list_datasets, limit=100)
    table = Table("dataset_id", "name", "type", "samples", "labeled", "to confirm")
    for d in data["datasets"]:
        table.add_row(
            d["dataset_id"],
            d["dataset_name"],
            str(d["dataset_type"]),
            str(d["total_sample_count"]),
            str(d["annotated_sample_count"]),
            str(d["unconfirmed_sample_count"]),
        )
    out().print(table)


@datasets_app.command("create")
def datasets_create(
    name: Annotated[str, typer.Argument(help="dataset_name")],
    path: Annotated[str | None, typer.Option(help="Directory to import")] = None,
    dataset_type: Annotated[int | None, typer.Option(help="0 images, 100 text, ...")] = None,
) -> None:
    """Create a dataset, importing a directory (class sub-folders become labels)."""
    body: dict[str, Any] = {"dataset_name": name}
    if path:
        body["data_sources"] = [{"data_type": 0, "data_path": str(Path(path).resolve())}]
    if dataset_type is not None:
        body["dataset_type"] = dataset_type
    typer.echo(json.dumps(_call(_client().create_dataset, body)))


# --- datasets: update and statistics (issue #13: labels/stats) -------------------------------


@datasets_app.command("update")
def datasets_update(
    dataset_id: str,
    name: Annotated[str | None, typer.Option(help="New dataset_name")] = None,
    description: Annotated[str | None, typer.Option(help="New description")] = None,
    add_label: Annotated[list[str] | None, typer.Option(help="Label to add (repeatable)")] = None,
    delete_label: Annotated[
        list[str] | None, typer.Option(help="Label to delete from every sample (repeatable)")
    ] = None,
    rename: Annotated[
        list[str] | None, typer.Option(help="OLD=NEW: rename a label on every sample")
    ] = None,
) -> None:
    """Update a dataset: name, description, labels (one transaction: delete, add, rename)."""
    body: dict[str, Any] = {}
    if name is not None:
        body["dataset_name"] = name
    if description is not None:
        body["description"] = description
    if add_label:
        body["add_labels"] = [{"name": n} for n in add_label]
    if delete_label:
        body["delete_labels"] = [{"name": n} for n in delete_label]
    if rename:
        pairs = [r.split("=", 1) for r in rename]
        if any(len(p) != 2 or not all(p) for p in pairs):
            raise typer.BadParameter("--rename takes OLD=NEW")
        body["update_labels"] = [
            {"name": old, "property": {"@modelarts:rename_to": new}} for old, new in pairs
        ]
    if not body:
        raise typer.BadParameter("nothing to update: pass --name, --description or a label option")
    typer.echo(json.dumps(_call(_client().update_dataset, dataset_id, body)))


@datasets_app.command("stats")
def datasets_stats(
    dataset_id: str,
    sample_state: Annotated[
        str | None, typer.Option(help="Count only samples in this state")
    ] = None,
) -> None:
    """Samples per state, hard examples, and samples and instances per label, as tables."""
    st = _call(_client().get_stats, dataset_id, sample_state=sample_state)
    samples = st["sample_stats"]
    keys = st["key_sample_stats"]
    table = Table("samples", "labeled", "unlabeled", "to confirm", "hard", title="samples")
    table.add_row(
        str(samples["total"]),
        str(samples["manual_annotation"]),
        str(samples["un_annotation"]),
        str(samples["auto_annotation"]),
        str(keys["key_sample"]),
    )
    out().print(table)
    labels = Table("label", "type", "samples", "instances", title="labels")
    for lb in st["label_stats"]:
        labels.add_row(lb["name"], str(lb["type"]), str(lb["sample_count"]), str(lb["count"]))
    out().print(labels)
    if st["hard_detail_stats"]:
        hard = Table("reason", "samples", "what", title="hard-example reasons")
        for rid, d in st["hard_detail_stats"].items():
            hard.add_row(rid, str(d["key"]), d["value"]["reason"])
        out().print(hard)


# --- dataset versions and export (#13: versions/export) --------------------------------------

versions_app = typer.Typer(help="Dataset versions: publish, list, show, delete.")
datasets_app.add_typer(versions_app, name="versions")


def _poll(fetch: Any, label: str, progress_of: Any, done: Any) -> dict[str, Any]:
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
            row: dict[str, Any] = fetch()
            progress.update(bar, completed=progress_of(row), description=f"{label} {row['status']}")
            if done(row):
                return row
            time.sleep(0.5)


@versions_app.command("list")
def versions_list(dataset_id: str) -> None:
    """A dataset's versions, newest first."""
    data = _call(_client().list_versions, dataset_id)
    table = Table(title=f"{data['total_number']} version(s)")
    for col in ("version_id", "name", "status", "current", "samples", "labeled", "ratio"):
        table.add_column(col)
    for v in data["versions"]:
        table.add_row(
            v["version_id"],
            v["version_name"],
            str(v["status"]),
            "yes" if v["is_current"] else "",
            str(v["total_sample_count"]),
            str(v["annotated_sample_count"]),
            v["train_evaluate_sample_ratio"],
        )
    out().print(table)


@versions_app.command("publish")
def versions_publish(
    dataset_id: str,
    name: Annotated[str | None, typer.Option(help="version_name (default V001, V002, ...)")] = None,
    ratio: Annotated[str, typer.Option(help="train_evaluate_sample_ratio, 0-1")] = "1.00",
    description: str = "",
    keep_hard: Annotated[bool, typer.Option(help="Keep hard-example attributes")] = False,
    watch: Annotated[bool, typer.Option(help="Follow until published")] = True,
) -> None:
    """Publish a version of the dataset's current samples and labels."""
    body: dict[str, Any] = {
        "train_evaluate_sample_ratio": ratio,
        "description": description,
        "clear_hard_property": not keep_hard,
    }
    if name:
        body["version_name"] = name
    client = _client()
    version_id = _call(client.create_version, dataset_id, body)["version_id"]
    typer.echo(version_id)
    if watch:
        v = _poll(
            lambda: _call(client.get_version, dataset_id, version_id),
            version_id,
            lambda r: 100 if r["status"] else 0,
            lambda r: r["status"] != 0,
        )
        out().print(f"status {v['status']}: {v.get('manifest_path') or v.get('message', '')}")


@versions_app.command("show")
def versions_show(dataset_id: str, version_id: str) -> None:
    """A version as JSON, with its label statistics."""
    v = _call(_client().get_version, dataset_id, version_id)
    typer.echo(json.dumps(v, indent=2, ensure_ascii=False))


@versions_app.command("delete")
def versions_delete(dataset_id: str, version_id: str) -> None:
    """Delete a version (its files stay)."""
    _call(_client().delete_version, dataset_id, version_id)
    typer.echo("deleted")


@datasets_app.command("export")
def datasets_export(
    dataset_id: str,
    format: Annotated[
        str, typer.Option(help="MANIFEST|COCO|VOC|YOLO|CLASS_FOLDERS|CSV|JSONL")
    ] = "MANIFEST",
    path: Annotated[str | None, typer.Option(help="Storage directory, e.g. /bucket/out/")] = None,
    version_id: Annotated[str | None, typer.Option(help="Export this version")] = None,
    sample_state: Annotated[str | None, typer.Option(help="e.g. __ALL__, __NONE__")] = None,
    download: Annotated[Path | None, typer.Option(help="Save the zip archive here")] = None,
    watch: Annotated[bool, typer.Option(help="Follow until the export ends")] = True,
) -> None:
    """Export a dataset (or a version) as a task, then optionally download the archive."""
    body: dict[str, Any] = {"annotation_format": format, "export_type": 3}
    for key, value in (("path", path), ("version_id", version_id)):
        if value:
            body[key] = value
    if sample_state:
        body["sample_state"] = sample_state
    client = _client()
    task_id = _call(client.create_export_task, dataset_id, body)["task_id"]
    typer.echo(task_id)
    if not (watch or download):
        return
    t = _poll(
        lambda: _call(client.get_export_task, dataset_id, task_id),
        task_id,
        lambda r: r.get("progress", 0),
        lambda r: r["status"] in ("SUCCESSED", "FAILED"),
    )
    if t["status"] != "SUCCESSED":
        out().print(f"[red]{t.get('error_code', '')}[/red] {t.get('error_msg', 'export failed')}")
        raise typer.Exit(1)
    out().print(f"{t['finished_sample_count']} samples: {t.get('export_path', '')}")
    if download:
        size = _call(client.download_export, dataset_id, task_id, download)
        out().print(f"{download}: {size} bytes")


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
    client = _client()

    def fetch() -> Table:
        return _tasks_table(
            _call(
                client.list_tasks,
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
        json.dumps(_call(_client().get_task, dataset_id, task_id), indent=2, ensure_ascii=False)
    )


def _follow(client: Any, dataset_id: str, task_id: str) -> dict[str, Any]:
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TimeElapsedColumn(),
        console=out(),
    ) as progress:
        bar = progress.add_task(task_id, total=100)
        while True:
            t = _call(client.get_task, dataset_id, task_id)
            st = t.get("status", -1)
            progress.update(
                bar, completed=t.get("progress", 0), description=f"{task_id} {STATUS_TEXT.get(st)}"
            )
            if st in FINAL_STATUSES:
                return dict(t)
            time.sleep(0.5)


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
    client = _client()
    task_id = _call(client.create_task, dataset_id, body)["task_id"]
    typer.echo(task_id)
    if watch:
        t = _follow(client, dataset_id, task_id)
        out().print(f"{STATUS_TEXT.get(t['status'])}: {t.get('message') or t.get('error_msg', '')}")


@tasks_app.command("stop")
def tasks_stop(dataset_id: str, task_id: str) -> None:
    """Stop a task."""
    _call(_client().stop_task, dataset_id, task_id)
    typer.echo("stop requested")


# --- models ----------------------------------------------------------------------------------


@models_app.command("list")
def models_list(name: Annotated[str | None, typer.Option(help="Name filter")] = None) -> None:
    """List registered models, newest first."""
    data = _call(_client().list_models, model_name=name, limit=100)
    table = Table("model_id", "name", "version", "type", "task", "size", title="models")
    for m in data["models"]:
        table.add_row(
            m["model_id"],
            m["model_name"],
            m["model_version"],
            m["model_type"],
            m["task"],
            str(m["model_size"]),
        )
    out().print(table)


@models_app.command("add")
def models_add(
    path: Annotated[Path, typer.Argument(help=".onnx file, or a directory with config.json")],
    name: Annotated[str, typer.Option(help="model_name")],
    version: Annotated[str, typer.Option(help="model_version")] = "0.0.1",
    config: Annotated[Path | None, typer.Option(help="config JSON file")] = None,
) -> None:
    """Upload an ONNX model with its config (docs/prelabel.md); prints the model id."""
    file = path
    cfg_path = config
    if path.is_dir():
        files = sorted(path.glob("*.onnx"))
        if len(files) != 1:
            raise typer.BadParameter(f"{path} must hold exactly one .onnx file")
        file = files[0]
        cfg_path = cfg_path or path / "config.json"
    if cfg_path is None or not cfg_path.is_file():
        raise typer.BadParameter("a config JSON is needed (--config, or config.json beside it)")
    _upload_model(name, version, file.read_bytes(), json.loads(cfg_path.read_text()))


def _upload_model(
    name: str, version: str, data: bytes, config: dict[str, Any], description: str | None = None
) -> None:
    """Register an ONNX model through the API (the file travels base64 in the body)."""
    import base64

    body = {
        "model_name": name,
        "model_version": version,
        "model_type": "ONNX",
        "model_file": base64.b64encode(data).decode(),
        "config": config,
        "description": description,
    }
    typer.echo(json.dumps(_call(_client().create_model, body)))


@models_app.command("add-imagenet")
def models_add_imagenet(
    name: Annotated[str, typer.Option(help="model_name")] = pretrained.MODEL_NAME,
    version: Annotated[str, typer.Option(help="model_version")] = pretrained.MODEL_VERSION,
) -> None:
    """Register the packaged pretrained ImageNet classifier (MobileNetV2, BSD-3 weights)."""
    path, cfg = pretrained.imagenet_classifier(get_settings().resolved_model_dir)
    config = cfg.model_dump(mode="json", exclude_none=True)
    _upload_model(name, version, path.read_bytes(), config, pretrained.DESCRIPTION)


@models_app.command("delete")
def models_delete(model_id: str) -> None:
    """Delete a model version."""
    typer.echo(json.dumps(_call(_client().delete_model, model_id)))


# --- services --------------------------------------------------------------------------------


@services_app.command("list")
def services_list(name: Annotated[str | None, typer.Option(help="Name filter")] = None) -> None:
    """List online services: status, model, URL, restarts."""
    data = _call(_client().v1, "GET", "/services", service_name=name, limit=100)
    table = Table("service_id", "name", "status", "model", "url", "restarts", title="services")
    for s in data["services"]:
        table.add_row(
            s["service_id"],
            s["service_name"],
            s["status"],
            f"{s.get('model_name') or s['model_id']} {s.get('model_version') or ''}".strip(),
            s.get("access_address") or "",
            str(s["restart_count"]),
        )
    out().print(table)


@services_app.command("stop")
def services_stop(service_id: str) -> None:
    """Stop a service (its process ends; it keeps its URL for the next start)."""
    body = {"status": "stopped"}
    typer.echo(json.dumps(_call(_client().v1, "PUT", f"/services/{service_id}", body)))


@services_app.command("start")
def services_start(service_id: str) -> None:
    """Start a stopped or failed service again."""
    body = {"status": "running"}
    typer.echo(json.dumps(_call(_client().v1, "PUT", f"/services/{service_id}", body)))


@services_app.command("delete")
def services_delete(service_id: str) -> None:
    """Delete a service (and the HTTP model registered for it)."""
    typer.echo(json.dumps(_call(_client().v1, "DELETE", f"/services/{service_id}")))
