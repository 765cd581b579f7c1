"""``labelpilot datasets``: list, create, update, statistics, versions, import and export on a
server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from labelpilot.cli.console import out
from labelpilot.cli.remote_common import call, client, poll

datasets_app = typer.Typer(help="Datasets on a running server.")
versions_app = typer.Typer(help="Dataset versions: publish, list, show, delete.")
datasets_app.add_typer(versions_app, name="versions")


@datasets_app.command("list")
def datasets_list() -> None:
    """List datasets with their sample counters."""
    data = call(client().list_datasets, limit=100)
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
    typer.echo(json.dumps(call(client().create_dataset, body)))


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
    typer.echo(json.dumps(call(client().update_dataset, dataset_id, body)))


@datasets_app.command("stats")
def datasets_stats(
    dataset_id: str,
    sample_state: Annotated[
        str | None, typer.Option(help="Count only samples in this state")
    ] = None,
) -> None:
    """Samples per state, hard examples, and samples and instances per label, as tables."""
    st = call(client().get_stats, dataset_id, sample_state=sample_state)
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


@versions_app.command("list")
def versions_list(dataset_id: str) -> None:
    """A dataset's versions, newest first."""
    data = call(client().list_versions, dataset_id)
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
    api = client()
    version_id = call(api.create_version, dataset_id, body)["version_id"]
    typer.echo(version_id)
    if watch:
        v = poll(
            lambda: call(api.get_version, dataset_id, version_id),
            version_id,
            lambda r: 100 if r["status"] else 0,
            lambda r: r["status"] != 0,
        )
        out().print(f"status {v['status']}: {v.get('manifest_path') or v.get('message', '')}")


@versions_app.command("show")
def versions_show(dataset_id: str, version_id: str) -> None:
    """A version as JSON, with its label statistics."""
    v = call(client().get_version, dataset_id, version_id)
    typer.echo(json.dumps(v, indent=2, ensure_ascii=False))


@versions_app.command("delete")
def versions_delete(dataset_id: str, version_id: str) -> None:
    """Delete a version (its files stay)."""
    call(client().delete_version, dataset_id, version_id)
    typer.echo("deleted")


@datasets_app.command("import")
def datasets_import(
    dataset_id: str,
    path: Annotated[str, typer.Argument(help="Server directory or .manifest file")],
    format: Annotated[
        str | None, typer.Option(help="COCO|VOC|YOLO|MANIFEST|CLASS_FOLDERS|CSV (default: found)")
    ] = None,
    watch: Annotated[bool, typer.Option(help="Follow until the import ends")] = True,
) -> None:
    """Import a server directory or manifest as a task; skipped files are listed with reasons."""
    body: dict[str, Any] = {"import_path": path}
    if format:
        body["annotation_format"] = format
    api = client()
    task_id = call(api.create_import_task, dataset_id, body)["task_id"]
    typer.echo(task_id)
    if not watch:
        return
    t = poll(
        lambda: call(api.get_import_task, dataset_id, task_id),
        task_id,
        lambda r: r.get("progress", 0),
        lambda r: r["status"] in ("COMPLETED", "FAILED"),
    )
    for f in t.get("failures") or []:
        out().print(f"[yellow]skipped[/yellow] {f['file']}: {f['reason']}")
    if t["status"] != "COMPLETED":
        out().print(f"[red]{t.get('error_code', '')}[/red] {t.get('error_msg', 'import failed')}")
        raise typer.Exit(1)
    out().print(
        f"{t['imported_sample_count']} imported, {t['duplicate_sample_count']} already there, "
        f"{t['failed_file_count']} skipped"
    )


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
    api = client()
    task_id = call(api.create_export_task, dataset_id, body)["task_id"]
    typer.echo(task_id)
    if not (watch or download):
        return
    t = poll(
        lambda: call(api.get_export_task, dataset_id, task_id),
        task_id,
        lambda r: r.get("progress", 0),
        lambda r: r["status"] in ("SUCCESSED", "FAILED"),
    )
    if t["status"] != "SUCCESSED":
        out().print(f"[red]{t.get('error_code', '')}[/red] {t.get('error_msg', 'export failed')}")
        raise typer.Exit(1)
    out().print(f"{t['finished_sample_count']} samples: {t.get('export_path', '')}")
    if download:
        size = call(api.download_export, dataset_id, task_id, download)
        out().print(f"{download}: {size} bytes")
