"""``labelpilot models`` and ``labelpilot services``: the model registry and online services."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from labelpilot.cli.console import out
from labelpilot.cli.remote_common import call, client
from labelpilot.config import get_settings
from labelpilot.mlmodels import pretrained

models_app = typer.Typer(help="The model registry on a running server.")
services_app = typer.Typer(help="Online services (deployed models) on a running server.")


@models_app.command("list")
def models_list(name: Annotated[str | None, typer.Option(help="Name filter")] = None) -> None:
    """List registered models, newest first."""
    data = call(client().list_models, model_name=name, limit=100)
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
    typer.echo(json.dumps(call(client().create_model, body)))


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
    typer.echo(json.dumps(call(client().delete_model, model_id)))


# --- services --------------------------------------------------------------------------------


@services_app.command("list")
def services_list(name: Annotated[str | None, typer.Option(help="Name filter")] = None) -> None:
    """List online services: status, model, URL, restarts."""
    data = call(client().v1, "GET", "/services", service_name=name, limit=100)
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
    typer.echo(json.dumps(call(client().v1, "PUT", f"/services/{service_id}", body)))


@services_app.command("start")
def services_start(service_id: str) -> None:
    """Start a stopped or failed service again."""
    body = {"status": "running"}
    typer.echo(json.dumps(call(client().v1, "PUT", f"/services/{service_id}", body)))


@services_app.command("delete")
def services_delete(service_id: str) -> None:
    """Delete a service (and the HTTP model registered for it)."""
    typer.echo(json.dumps(call(client().v1, "DELETE", f"/services/{service_id}")))
