"""Online services: real server processes started, restarted, restored and stopped by the
supervisor, driven through the /v1/{project_id}/services API and called over real HTTP."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from labelpilot.app import create_app
from labelpilot.config import Settings
from labelpilot.mlmodels.service import get_model, load_predictor
from labelpilot.storage import open_storage
from tests.support.procs import wait_for
from tests.support.serving import (
    alive,
    b64,
    digit_png,
    digits,
    register_tiny_model,
    service_of,
    service_pids,
    service_settings,
    supervised_client,
    wait_status,
)


@pytest.fixture
def settings(tmp_path: Path, database_url: str, model_dir: Path) -> Settings:
    return service_settings(tmp_path, database_url, model_dir)


@pytest.fixture
def app(settings: Settings) -> Any:
    return create_app(settings, run_reaper=False, run_supervisor=True)


@pytest.fixture(autouse=True)
def no_leftovers() -> Any:
    yield
    # every test ends its apps, whose supervisors end their processes
    wait_for(lambda: not service_pids(), 15)


def _create(client, project, auth, model_id, name="digits", instances=1):
    r = client.post(
        f"/v1/{project}/services",
        json={
            "service_name": name,
            "infer_type": "real-time",
            "config": [{"model_id": model_id, "instance_count": instances, "weight": 100}],
            "unknown_field": "ignored",
        },
        headers=auth,
    )
    assert r.status_code == 200, r.text
    return r.json()["service_id"]


def _instances(n: int = 12) -> list[bytes]:
    X, _ = digits()
    return [digit_png(X[i]) for i in range(n)]


def test_deploy_predict_stop_start_delete(client, settings, db, project, auth):
    model_id = register_tiny_model(settings, db, project)
    sid = _create(client, project, auth, model_id)
    body = wait_status(client, project, sid, auth, "running")
    url = body["access_address"]
    assert url.startswith("http://127.0.0.1:") and url.endswith("/predict")
    assert body["desired_status"] == "running" and body["restart_count"] == 0
    assert body["config"] == [
        {
            "model_id": model_id,
            "model_name": "tiny",
            "model_version": "0.0.1",
            "specification": "local",
            "instance_count": 1,
            "weight": 100,
        }
    ]
    assert alive(body["pid"])

    # predictions over HTTP equal the registered model's in-process predictions
    images = _instances()
    r = httpx.post(url, json={"instances": [{"image": b64(x)} for x in images]}, timeout=30)
    assert r.status_code == 200, r.text
    with db.read() as s:
        local = load_predictor(
            open_storage(settings.resolved_storage_root), get_model(s, project, model_id), 1
        )
    expected = [p.to_json() for p in local.predict_images(images)]
    got = r.json()["predictions"]
    assert [p["labels"][0]["name"] for p in got] == [p["labels"][0]["name"] for p in expected]
    for g, e in zip(got, expected, strict=True):
        assert np.allclose(
            [g["scores"][k] for k in e["scores"]], list(e["scores"].values()), atol=1e-5
        )
        assert g["size"] == [8, 8]
    # the trained digits are mostly right
    _, y = digits()
    assert np.mean([p["labels"][0]["name"] == str(y[i]) for i, p in enumerate(got)]) > 0.9
    # curl convenience: one raw image
    raw = httpx.post(url, content=images[0], headers={"Content-Type": "image/png"}, timeout=30)
    assert raw.json()["predictions"][0]["labels"] == got[0]["labels"]
    health = httpx.get(url.replace("/predict", "/health"), timeout=5).json()
    assert health["service_id"] == sid and health["model_id"] == model_id

    # list with paging and filters
    listed = client.get(f"/v1/{project}/services", params={"limit": 5}, headers=auth).json()
    assert listed["total_count"] == 1 and listed["count"] == 1
    (item,) = listed["services"]
    assert item["service_id"] == sid and item["status"] == "running"
    assert item["model_name"] == "tiny" and item["access_address"] == url
    empty = client.get(f"/v1/{project}/services", params={"status": "stopped"}, headers=auth)
    assert empty.json()["total_count"] == 0

    # stop: the process ends, the address is kept for the next start
    pid = body["pid"]
    r = client.put(f"/v1/{project}/services/{sid}", json={"status": "stopped"}, headers=auth)
    assert r.status_code == 200 and r.json()["desired_status"] == "stopped"
    stopped = wait_status(client, project, sid, auth, "stopped")
    assert "pid" not in stopped
    wait_for(lambda: not alive(pid), 10)
    with pytest.raises(httpx.HTTPError):
        httpx.post(url, json={"instances": [{"image": b64(images[0])}]}, timeout=3)

    # start again, same URL
    client.put(f"/v1/{project}/services/{sid}", json={"status": "running"}, headers=auth)
    again = wait_status(client, project, sid, auth, "running")
    assert again["access_address"] == url and again["restart_count"] == 0
    assert httpx.post(url, content=images[1], headers={"Content-Type": "image/png"}).is_success

    # delete: the process ends, the service is gone
    pid = again["pid"]
    r = client.delete(f"/v1/{project}/services/{sid}", headers=auth)
    assert r.status_code == 200 and r.json()["service_id"] == sid
    wait_for(lambda: not alive(pid), 10)
    r = client.get(f"/v1/{project}/services/{sid}", headers=auth)
    assert r.status_code == 404 and r.json()["error_code"] == "ModelArts.3502"
    # the model can be deleted now that no service uses it
    assert client.delete(f"/v1/{project}/models/{model_id}", headers=auth).status_code == 200


def test_killed_service_process_is_restarted(client, settings, db, project, auth):
    model_id = register_tiny_model(settings, db, project)
    sid = _create(client, project, auth, model_id)
    body = wait_status(client, project, sid, auth, "running")
    os.kill(body["pid"], signal.SIGKILL)

    def restarted() -> Any:
        b = service_of(client, project, sid, auth)
        return b if b["restart_count"] == 1 and b["status"] == "running" else None

    after = wait_for(restarted, 120)
    assert isinstance(after, dict)
    assert after["pid"] != body["pid"] and after["access_address"] == body["access_address"]
    r = httpx.post(
        after["access_address"], json={"instances": [{"image": b64(_instances(1)[0])}]}, timeout=30
    )
    assert r.status_code == 200 and len(r.json()["predictions"]) == 1


def test_labelpilot_restart_restores_services(settings, db, project, auth):
    model_id = register_tiny_model(settings, db, project)
    with supervised_client(settings) as first:
        sid = _create(first, project, auth, model_id)
        before = wait_status(first, project, sid, auth, "running")
    # LabelPilot is down: its services are down too, and still wanted
    wait_for(lambda: not alive(before["pid"]), 10)
    with supervised_client(settings) as second:
        assert service_of(second, project, sid, auth)["desired_status"] == "running"
        after = wait_status(second, project, sid, auth, "running")
        assert after["access_address"] == before["access_address"]
        assert after["pid"] != before["pid"] and after["restart_count"] == 0
        r = httpx.post(
            after["access_address"],
            json={"instances": [{"image": b64(_instances(1)[0])}]},
            timeout=30,
        )
        assert r.status_code == 200


def test_two_servers_on_one_database_supervise_once(settings, db, project, auth):
    """Scale-out: the server holding the lease supervises; the other takes over when it stops."""
    model_id = register_tiny_model(settings, db, project)
    with contextlib.ExitStack() as first_server:
        first = first_server.enter_context(supervised_client(settings))
        wait_for(lambda: first.app.state.supervisor.leader, 30)
        with supervised_client(settings) as second:
            sid = _create(second, project, auth, model_id)
            before = wait_status(second, project, sid, auth, "running")
            time.sleep(20 * settings.supervisor_interval)  # both supervisors made many passes
            assert service_pids() == {before["pid"]}
            assert not second.app.state.supervisor.leader
            first_server.close()  # the leader stops, and its service process with it
            wait_for(lambda: second.app.state.supervisor.leader, 30)
            after = wait_status(second, project, sid, auth, "running")
            assert after["pid"] != before["pid"]
            assert after["access_address"] == before["access_address"]
            assert service_pids() == {after["pid"]}


def test_instance_count_sets_worker_processes(client, settings, db, project, auth):
    model_id = register_tiny_model(settings, db, project)
    sid = _create(client, project, auth, model_id, instances=2)
    body = wait_status(client, project, sid, auth, "running")
    assert body["instance_count"] == 2

    def workers() -> list[int]:
        kids = Path(f"/proc/{body['pid']}/task/{body['pid']}/children").read_text().split()
        return [int(k) for k in kids if alive(int(k))]

    assert len(wait_for(lambda: len(workers()) >= 2 and workers(), 30)) >= 2  # type: ignore[arg-type]
    pids = {httpx.get(body["access_address"].replace("/predict", "/health")).json()["pid"]}
    assert pids <= set(workers())


def test_service_that_cannot_start_is_marked_failed(client, settings, db, project, auth):
    settings_fast = settings.model_copy(update={"service_start_attempts": 2})
    client.app.state.supervisor.settings = settings_fast
    model_id = register_tiny_model(settings, db, project)
    open_storage(settings.resolved_storage_root).delete_prefix(f"models/{model_id}/")
    sid = _create(client, project, auth, model_id)
    failed = wait_status(client, project, sid, auth, "failed", timeout=60)
    assert "exited" in failed["failure_tip"] and failed["desired_status"] == "running"
    assert failed["restart_count"] == 1  # one retry, then it gave up


def test_errors_in_the_modelarts_form(client, settings, db, project, auth, other_auth):
    r = client.get(f"/v1/{project}/services/nope", headers=auth)
    assert r.status_code == 404 and r.json()["error_code"] == "ModelArts.3502"
    model_id = register_tiny_model(settings, db, project)
    sid = _create(client, project, auth, model_id)
    r = client.put(f"/v1/{project}/services/{sid}", json={"status": "paused"}, headers=auth)
    assert r.status_code == 400 and "running or stopped" in r.json()["error_msg"]
    r = client.get("/v1/other-project/services/" + sid, headers=other_auth)
    assert r.status_code == 404
    dup = client.post(
        f"/v1/{project}/services",
        json={"service_name": "digits", "config": [{"model_id": model_id}]},
        headers=auth,
    )
    assert dup.status_code == 400 and "already used" in dup.json()["error_msg"]
    r = client.post(
        f"/v1/{project}/services",
        json={"service_name": "x", "config": [{"model_id": model_id, "instance_count": 99}]},
        headers=auth,
    )
    assert r.status_code == 400 and "instance_count" in r.json()["error_msg"]
    r = client.get(f"/v1/{project}/services", params={"status": "sleeping"}, headers=auth)
    assert r.status_code == 400
    # a model in use cannot be deleted
    r = client.delete(f"/v1/{project}/models/{model_id}", headers=auth)
    assert r.status_code == 400 and sid in r.json()["error_msg"]
    url = wait_status(client, project, sid, auth, "running")["access_address"]
    bad = httpx.post(url, json={"instances": [{"text": "a digit?"}]}, timeout=10)
    assert bad.status_code == 400 and bad.json()["error_code"] == "ModelArts.0104"
    bad = httpx.post(url, json={"instances": [{"image": "not base64!"}]}, timeout=10)
    assert bad.status_code == 400 and "base64" in bad.json()["error_msg"]
    bad = httpx.post(url, content=b"{", headers={"Content-Type": "application/json"}, timeout=10)
    assert bad.status_code == 400 and bad.json()["error_code"] == "ModelArts.4105"
    bad = httpx.post(url, content=b"not an image", headers={"Content-Type": "image/png"})
    assert bad.status_code == 400


def test_cli_lists_stops_starts_and_deletes(app, settings, db, project, cred):
    from typer.testing import CliRunner

    from labelpilot.cli.main import app as cli
    from labelpilot.config import get_settings
    from tests.support.live import live_server

    model_id = register_tiny_model(settings, db, project)
    runner = CliRunner()
    get_settings.cache_clear()
    try:
        with live_server(app) as url:  # the live server's lifespan runs the supervisor
            env = {
                "LABELPILOT_URL": url,
                "LABELPILOT_PROJECT_ID": project,
                "LABELPILOT_ACCESS_KEY": cred.access_key,
                "LABELPILOT_SECRET_KEY": cred.secret_key,
                "COLUMNS": "250",
            }
            headers = {"X-Auth-Token": cred.token}
            r = httpx.post(
                f"{url}/v1/{project}/services",
                json={"service_name": "cli-svc", "config": [{"model_id": model_id}]},
                headers=headers,
            )
            sid = r.json()["service_id"]

            def status() -> str:
                return str(
                    httpx.get(f"{url}/v1/{project}/services/{sid}", headers=headers).json()[
                        "status"
                    ]
                )

            wait_for(lambda: status() == "running", 120)
            listed = runner.invoke(cli, ["services", "list"], env=env)
            assert listed.exit_code == 0, listed.output
            assert "cli-svc" in listed.output and "running" in listed.output
            stopped = runner.invoke(cli, ["services", "stop", sid], env=env)
            assert stopped.exit_code == 0 and '"desired_status": "stopped"' in stopped.output
            wait_for(lambda: status() == "stopped", 30)
            started = runner.invoke(cli, ["services", "start", sid], env=env)
            assert started.exit_code == 0, started.output
            wait_for(lambda: status() == "running", 120)
            deleted = runner.invoke(cli, ["services", "delete", sid], env=env)
            assert deleted.exit_code == 0 and sid in deleted.output
            missing = runner.invoke(cli, ["services", "stop", sid], env=env)
            assert missing.exit_code == 1 and "ModelArts.3502" in missing.output
    finally:
        get_settings.cache_clear()
