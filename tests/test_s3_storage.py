"""S3-compatible storage: the Storage contract on both back ends, then the service on S3.

The S3 endpoint is moto's S3-compatible HTTP server on 127.0.0.1 (a real server speaking the S3
protocol; boto3 talks to it over HTTP exactly as to MinIO or AWS).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from labelpilot.app import create_app
from labelpilot.auth.service import create_credential
from labelpilot.config import Settings
from labelpilot.engine.worker import Worker
from labelpilot.storage import open_storage
from labelpilot.storage.local import LocalStorage
from tests.support.factories import make_dataset
from tests.support.flow import get_task, list_all, post_samples, run_queued
from tests.support.images import mnist_subset, sample_items
from tests.support.live import free_port


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def _s3_settings(base: Settings, endpoint: str, bucket: str) -> Settings:
    return base.model_copy(
        update={
            "storage_root": f"s3://{bucket}/labelpilot",
            "s3_endpoint_url": endpoint,
            "s3_access_key": "test-key",
            "s3_secret_key": "test-secret",
            "s3_region": "us-east-1",
        }
    )


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path: Path, settings: Settings) -> Any:
    if request.param == "local":
        return LocalStorage(str(tmp_path / "store"))
    endpoint = request.getfixturevalue("s3_endpoint")
    st = _s3_settings(settings, endpoint, f"b{tmp_path.name[-20:].lower().replace('_', '-')}")
    return open_storage(st.resolved_storage_root, st)


def test_storage_contract(storage) -> None:
    url = storage.put("datasets/a/data/1.png", b"one")
    storage.put("datasets/a/data/2.png", b"two")
    storage.put("datasets/b/x.txt", b"x")
    assert storage.get("datasets/a/data/1.png") == b"one"
    assert storage.key_of(url) == "datasets/a/data/1.png"
    assert storage.url("datasets/a/data/1.png") == url
    assert storage.exists("datasets/a/data/2.png") and not storage.exists("datasets/a/none")
    assert list(storage.list("datasets/a")) == ["datasets/a/data/1.png", "datasets/a/data/2.png"]
    storage.put("datasets/a/data/1.png", b"uno")  # overwrite
    assert storage.get("datasets/a/data/1.png") == b"uno"
    storage.delete("datasets/a/data/1.png")
    storage.delete("datasets/a/data/1.png")  # a missing key is not an error
    assert not storage.exists("datasets/a/data/1.png")
    with pytest.raises(FileNotFoundError):
        storage.get("datasets/a/data/1.png")
    storage.delete_prefix("datasets/a")
    assert list(storage.list()) == ["datasets/b/x.txt"]
    with pytest.raises(ValueError):
        storage.put("../escape", b"no")
    assert storage.key_of("s3://elsewhere/x") is None
    assert storage.key_of("/some/other/place.png") is None


def test_the_service_runs_on_s3(settings: Settings, s3_endpoint: str) -> None:
    """Samples, content, thumbnails, a real task with its feature cache, and delete, on S3."""
    st = _s3_settings(settings, s3_endpoint, "service")
    app = create_app(st, run_reaper=False)
    db = app.state.services.db
    project = "s3project"
    with db.transaction() as s:
        auth = {"X-Auth-Token": create_credential(s, project).token}
    with TestClient(app) as client:
        X, _ = mnist_subset(12, classes=(0, 1, 7))
        ds = make_dataset(client, project, auth, name="on-s3")
        post_samples(client, project, ds, auth, sample_items(X))
        samples = list_all(client, project, ds, auth)
        assert len(samples) == 36
        assert all(s["source"].startswith("s3://service/labelpilot/") for s in samples)
        first = samples[0]
        base = f"/v2/{project}/datasets/{ds}/data-annotations/samples/{first['sample_id']}"
        content = client.get(f"{base}/content", headers=auth)
        assert content.status_code == 200 and content.content.startswith(b"\x89PNG")
        assert client.get(f"{base}/thumbnail", headers=auth).status_code == 200

        r = client.post(
            f"/v2/{project}/datasets/{ds}/tasks",
            json={"task_type": "auto-grouping", "config": {"n_clusters": 3, "result_type": 1}},
            headers=auth,
        )
        task_id = r.json()["task_id"]
        run_queued(st, db)
        task = get_task(client, project, ds, task_id, auth)
        assert task["status"] == 3, task
        groups = [s["metadata"]["group"] for s in list_all(client, project, ds, auth)]
        assert len(set(groups)) == 3

        storage = app.state.services.storage
        assert any(k.startswith(f"datasets/{ds}/") for k in storage.list())
        assert client.delete(f"/v2/{project}/datasets/{ds}", headers=auth).status_code == 204
        assert not [k for k in storage.list() if k.startswith(f"datasets/{ds}/")]


def test_import_from_an_object_storage_url_says_it_is_not_built(client, project, auth) -> None:
    r = client.post(
        f"/v2/{project}/datasets",
        json={
            "dataset_name": "remote",
            "data_sources": [{"data_type": 0, "data_path": "s3://bucket/images/"}],
        },
        headers=auth,
    )
    assert r.status_code == 501 and "not available" in r.json()["error_msg"]


def test_workers_get_the_s3_settings(settings: Settings, s3_endpoint: str) -> None:
    env = _s3_settings(settings, s3_endpoint, "child").child_env()
    assert env["LABELPILOT_STORAGE_ROOT"] == "s3://child/labelpilot"
    assert env["LABELPILOT_S3_ENDPOINT_URL"] == s3_endpoint
    assert env["LABELPILOT_S3_SECRET_KEY"] == "test-secret"


def test_an_unreachable_store_is_named_by_the_task_and_the_api(settings: Settings) -> None:
    """#15 point 3: a task whose storage stops answering fails with 4932 naming the store (not
    an incident), and the API answers 503 with the same code."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    st = _s3_settings(settings, f"http://127.0.0.1:{port}", "gone")
    app = create_app(st, run_reaper=False)
    db = app.state.services.db
    project = "s3down"
    with db.transaction() as s:
        auth = {"X-Auth-Token": create_credential(s, project).token}
    with TestClient(app, raise_server_exceptions=False) as client:
        X, _ = mnist_subset(4, classes=(0, 1))
        ds = make_dataset(client, project, auth, name="soon-gone")
        post_samples(client, project, ds, auth, sample_items(X))
        first = list_all(client, project, ds, auth)[0]
        r = client.post(
            f"/v2/{project}/datasets/{ds}/tasks",
            json={"task_type": "auto-grouping", "config": {"n_clusters": 2}},
            headers=auth,
        )
        task_id = r.json()["task_id"]
        worker = Worker(st, db=db)  # started while the store answered
        server.stop()  # the store goes away
        while worker.run_once():
            pass
        task = get_task(client, project, ds, task_id, auth)
        assert task["status"] == 2 and task["error_code"] == "ModelArts.4932", task
        assert f"127.0.0.1:{port}" not in task["error_msg"]  # the store's URL, not its host
        assert "s3://gone/labelpilot" in task["error_msg"] and "unreachable" in task["error_msg"]
        base = f"/v2/{project}/datasets/{ds}/data-annotations/samples/{first['sample_id']}"
        content = client.get(f"{base}/content", headers=auth)
        assert content.status_code == 503 and content.json()["error_code"] == "ModelArts.4932"
