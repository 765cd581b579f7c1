"""The command line: credentials, demo, and the client commands against a live server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labelpilot.cli.main import app as cli
from labelpilot.config import get_settings
from tests.support.factories import insert_task, make_dataset
from tests.support.live import live_server

runner = CliRunner()


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_credentials_create_prints_json_that_authenticates(settings, client, tmp_path: Path):
    env = {"LABELPILOT_DATABASE_URL": settings.resolved_database_url}
    result = runner.invoke(
        cli,
        ["credentials", "create", "--project-id", "proj-x", "--data-dir", str(tmp_path)],
        env=env,
    )
    assert result.exit_code == 0, result.output
    cred = json.loads(result.output)
    assert set(cred) == {"project_id", "access_key", "secret_key", "token"}
    assert cred["project_id"] == "proj-x"
    r = client.get("/v2/proj-x/datasets", headers={"X-Auth-Token": cred["token"]})
    assert r.status_code == 200


def test_demo_imports_digits_partly_labeled(tmp_path: Path, model_dir: Path):
    env = {"LABELPILOT_MODEL_DIR": str(model_dir)}
    result = runner.invoke(cli, ["demo", "--data-dir", str(tmp_path)], env=env)
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("credential "))
    cred = json.loads(line.removeprefix("credential "))
    get_settings.cache_clear()
    from fastapi.testclient import TestClient

    from labelpilot.app import create_app
    from labelpilot.config import Settings

    with TestClient(create_app(Settings(data_dir=tmp_path), run_reaper=False)) as c:
        body = c.get(
            f"/v2/{cred['project_id']}/datasets", headers={"X-Auth-Token": cred["token"]}
        ).json()
        models = c.get(
            f"/v1/{cred['project_id']}/models", headers={"X-Auth-Token": cred["token"]}
        ).json()
    assert [m["model_name"] for m in models["models"]] == ["mobilenet-v2-imagenet"]
    assert models["models"][0]["task"] == "image_classification"
    ds = body["datasets"][0]
    assert ds["dataset_name"] == "demo-digits"
    assert ds["total_sample_count"] == 1797
    assert ds["annotated_sample_count"] == 100
    assert len(ds["labels"]) == 10
    again = runner.invoke(cli, ["demo", "--data-dir", str(tmp_path)], env=env)
    assert again.output.count("already there") == 2


def test_tasks_list_renders_the_seed_table(app, db, client, cred, auth, project):
    ds = make_dataset(client, project, auth)
    task_id = insert_task(db, project=project, dataset_id=ds, type=0, status=3, name="nightly-run")
    with live_server(app) as url:
        env = {
            "LABELPILOT_URL": url,
            "LABELPILOT_PROJECT_ID": project,
            "LABELPILOT_ACCESS_KEY": cred.access_key,
            "LABELPILOT_SECRET_KEY": cred.secret_key,
            "COLUMNS": "200",
        }
        result = runner.invoke(cli, ["tasks", "list", ds], env=env)
        assert result.exit_code == 0, result.output
        assert task_id in result.output and "nightly-run" in result.output
        assert "succeeded" in result.output and "1 task(s)" in result.output
        shown = runner.invoke(cli, ["tasks", "show", ds, task_id], env=env)
        assert json.loads(shown.output)["task_id"] == task_id
        bad = runner.invoke(cli, ["tasks", "show", ds, "nope"], env=env)
        assert bad.exit_code == 1 and "ModelArts.4612" in bad.output


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGKILL"])
def test_serve_runs_workers_that_end_with_it(tmp_path: Path, sig: str):
    import signal
    import subprocess
    import sys

    import httpx

    from tests.support.live import free_port
    from tests.support.procs import wait_for

    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "labelpilot.cli.main",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def up() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, 60, 0.2)
        workers = wait_for(lambda: _children(proc.pid), 10)
        assert isinstance(workers, list) and len(workers) == 1
        proc.send_signal(getattr(signal, sig))
        proc.wait(timeout=20)
        wait_for(lambda: not any(_alive(w) for w in workers), 15, 0.2)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_models_add_list_delete_with_signed_requests(
    app, cred, project, tmp_path: Path, model_dir: Path
):
    from tests.support.onnx_models import rectangle_detector

    model, config = rectangle_detector()
    (tmp_path / "det.onnx").write_bytes(model)
    (tmp_path / "config.json").write_text(json.dumps(config))
    with live_server(app) as url:
        env = {
            "LABELPILOT_URL": url,
            "LABELPILOT_PROJECT_ID": project,
            "LABELPILOT_ACCESS_KEY": cred.access_key,
            "LABELPILOT_SECRET_KEY": cred.secret_key,
            "COLUMNS": "200",
        }
        added = runner.invoke(cli, ["models", "add", str(tmp_path), "--name", "rects"], env=env)
        assert added.exit_code == 0, added.output
        model_id = json.loads(added.output)["model_id"]
        listed = runner.invoke(cli, ["models", "list"], env=env)
        assert model_id in listed.output and "object_detection" in listed.output
        again = runner.invoke(cli, ["models", "add", str(tmp_path), "--name", "rects"], env=env)
        assert again.exit_code == 1 and "already exists" in again.output
        gone = runner.invoke(cli, ["models", "delete", model_id], env=env)
        assert gone.exit_code == 0 and model_id in gone.output
        env["LABELPILOT_MODEL_DIR"] = str(model_dir)
        get_settings.cache_clear()  # a real CLI call is a new process with these settings
        imagenet = runner.invoke(cli, ["models", "add-imagenet"], env=env)
        assert imagenet.exit_code == 0, imagenet.output
        listed = runner.invoke(cli, ["models", "list"], env=env)
        assert "mobilenet-v2-imagenet" in listed.output and "rects" not in listed.output


def test_client_settings_default_to_the_local_server(monkeypatch):
    from labelpilot.config import ClientSettings, Settings

    for name in ("URL", "PROJECT_ID", "HOST", "PORT", "DEFAULT_PROJECT_ID"):
        monkeypatch.delenv(f"LABELPILOT_{name}", raising=False)
    server = Settings(host="10.0.0.5", port=9000, default_project_id="local")
    client = ClientSettings()
    assert client.server_url(server) == "http://10.0.0.5:9000"
    assert client.project(server) == "local"
    monkeypatch.setenv("LABELPILOT_URL", "http://remote:8080")
    monkeypatch.setenv("LABELPILOT_PROJECT_ID", "p1")
    monkeypatch.setenv("LABELPILOT_TOKEN", "t")
    client = ClientSettings()
    assert (client.server_url(server), client.project(server), client.token) == (
        "http://remote:8080",
        "p1",
        "t",
    )
