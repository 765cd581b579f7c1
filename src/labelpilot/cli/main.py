"""``labelpilot serve | worker | demo | credentials | datasets | tasks``."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from labelpilot.config import Settings, get_settings
from labelpilot.mlmodels import pretrained

app = typer.Typer(help="LabelPilot: intelligent labeling tasks, ModelArts-compatible API.")
credentials_app = typer.Typer(help="Create credentials (AK/SK and token) for a project.")
datasets_app = typer.Typer(help="Datasets on a running server.")
tasks_app = typer.Typer(help="Intelligent tasks on a running server.")
app.add_typer(credentials_app, name="credentials")
app.add_typer(datasets_app, name="datasets")
app.add_typer(tasks_app, name="tasks")
models_app = typer.Typer(help="The model registry on a running server.")
app.add_typer(models_app, name="models")


def _out() -> Console:
    """A console sized from the terminal (or ``COLUMNS``) at the time of the command."""
    return Console()


STATUS_TEXT = {
    -1: "queuing",
    0: "initializing",
    1: "running",
    2: "failed",
    3: "succeeded",
    4: "stopping",
    5: "stopped",
}
STATUS_STYLE = {2: "red", 3: "green", 4: "yellow", 5: "yellow", 1: "cyan", 0: "cyan"}


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _settings(data_dir: Path | None = None) -> Settings:
    base = get_settings()
    return base.model_copy(update={"data_dir": data_dir}) if data_dir else base


def _services(settings: Settings) -> Any:
    from labelpilot.db import Database
    from labelpilot.storage import open_storage

    db = Database(settings.resolved_database_url)
    db.migrate()
    return db, open_storage(settings.resolved_storage_root, settings)


# --- server side -----------------------------------------------------------------------------


class WorkerPool:
    """Local worker processes, restarted when they die."""

    def __init__(self, settings: Settings, count: int) -> None:
        self.settings = settings
        self.count = count
        self.procs: list[subprocess.Popen[bytes]] = []
        self.stopping = threading.Event()

    def _spawn(self) -> subprocess.Popen[bytes]:
        cmd = [
            sys.executable,
            "-m",
            "labelpilot.cli.main",
            "worker",
            "--parent-pid",
            str(os.getpid()),
        ]
        return subprocess.Popen(cmd, env=self.settings.child_env())

    def start(self) -> None:
        self.procs = [self._spawn() for _ in range(self.count)]
        threading.Thread(target=self._supervise, daemon=True).start()

    def _supervise(self) -> None:
        while not self.stopping.wait(2.0):
            for i, p in enumerate(self.procs):
                if p.poll() is not None and not self.stopping.is_set():
                    logging.getLogger(__name__).warning("worker %s exited; restarting", p.pid)
                    self.procs[i] = self._spawn()

    def stop(self) -> None:
        self.stopping.set()
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def _ensure_demo_model(settings: Settings, db: Any, storage: Any, project: str) -> str:
    """Register the packaged ImageNet classifier in the demo project (once)."""
    from sqlalchemy import select

    from labelpilot.mlmodels.service import NewModel, register_model
    from labelpilot.mlmodels.tables import Model

    with db.read() as s:
        if s.scalar(
            select(Model.id).where(
                Model.project_id == project, Model.model_name == pretrained.MODEL_NAME
            )
        ):
            return f"{pretrained.MODEL_NAME} (already there)"
    path, config = pretrained.imagenet_classifier(settings.resolved_model_dir)
    with db.transaction() as s:
        register_model(
            s,
            storage,
            NewModel(
                project_id=project,
                model_name=pretrained.MODEL_NAME,
                model_version=pretrained.MODEL_VERSION,
                model_type="ONNX",
                config=config,
                model_bytes=path.read_bytes(),
                description=pretrained.DESCRIPTION,
            ),
            settings.max_model_bytes,
        )
    return f"{pretrained.MODEL_NAME} (registered)"


def _ensure_demo(settings: Settings, model: bool = True) -> None:
    from sqlalchemy import select

    from labelpilot.auth.service import create_credential
    from labelpilot.auth.tables import Credential
    from labelpilot.demo import create_demo_dataset

    db, storage = _services(settings)
    project = settings.default_project_id
    with db.transaction() as s:
        ds, created = create_demo_dataset(s, storage, project)
        cred = s.scalar(select(Credential).where(Credential.project_id == project).limit(1))
        info = (
            {
                "project_id": cred.project_id,
                "access_key": cred.access_key,
                "secret_key": cred.secret_key,
                "token": cred.token,
            }
            if cred
            else create_credential(s, project).as_dict()
        )
        ds_id = ds.id
    model_state = _ensure_demo_model(settings, db, storage, project) if model else None
    db.dispose()
    _out().print(
        f"[bold]demo dataset[/bold] {ds_id} ({'imported' if created else 'already there'}) "
        f"in project {project}"
    )
    if model_state:
        _out().print(f"[bold]demo model[/bold] {model_state}, for pre-label tasks")
    typer.echo("credential " + json.dumps(info))


@app.command()
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
    _out().print(f"LabelPilot on http://{settings.host}:{settings.port}/ (docs at /docs)")
    try:
        uvicorn.run(api, host=settings.host, port=settings.port, log_level="info")
    finally:
        pool.stop()


@app.command()
def worker(
    data_dir: Annotated[Path | None, typer.Option(help="Data directory")] = None,
    parent_pid: Annotated[
        int | None, typer.Option(help="Exit when this process (the serve that started us) ends")
    ] = None,
) -> None:
    """Run one worker process (several may share one database)."""
    from labelpilot.engine.worker import Worker

    settings = _settings(data_dir)
    _logging()
    db, storage = _services(settings)
    w = Worker(settings, db, storage, parent_pid=parent_pid)
    import signal

    signal.signal(signal.SIGTERM, lambda *_: w.shutdown.set())
    w.run_forever()


@app.command("demo")
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
    with db.transaction() as s:
        cred = create_credential(s, project_id, token_hours)
    typer.echo(json.dumps(cred.as_dict()))


# --- client side -----------------------------------------------------------------------------


def _client() -> Any:
    from labelpilot.client import LabelPilotClient

    st = get_settings()
    project = st.project_id or st.default_project_id
    return LabelPilotClient(
        st.server_url, project, ak=st.access_key, sk=st.secret_key, token=st.token
    )


def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    import httpx

    from labelpilot.client import ApiError

    try:
        return fn(*args, **kwargs)
    except ApiError as exc:
        _out().print(f"[red]{exc.error_code}[/red] {exc.error_msg}")
        raise typer.Exit(1) from exc
    except httpx.HTTPError as exc:
        _out().print(f"[red]cannot reach {get_settings().server_url}[/red]: {exc}")
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
    _out().print(table)


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
        _out().print(fetch())
        return
    with Live(fetch(), console=_out(), refresh_per_second=2) as live:
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
        console=_out(),
    ) as progress:
        bar = progress.add_task(task_id, total=100)
        while True:
            t = _call(client.get_task, dataset_id, task_id)
            st = t.get("status", -1)
            progress.update(
                bar, completed=t.get("progress", 0), description=f"{task_id} {STATUS_TEXT.get(st)}"
            )
            if st in (2, 3, 5):
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
        _out().print(
            f"{STATUS_TEXT.get(t['status'])}: {t.get('message') or t.get('error_msg', '')}"
        )


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
    _out().print(table)


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

services_app = typer.Typer(help="Online services (deployed models) on a running server.")
app.add_typer(services_app, name="services")


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
    _out().print(table)


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


if __name__ == "__main__":
    app()
