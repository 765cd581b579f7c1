"""Server-side imports read only allowed directories, never LabelPilot's own data directory."""

from __future__ import annotations

import io
import json
from pathlib import Path

from fastapi.testclient import TestClient
from PIL import Image

from labelpilot.app import create_app
from labelpilot.config import Settings
from tests.support.factories import make_dataset
from tests.support.flow import run_app_queue


def _png(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, "PNG")
    path.write_bytes(buf.getvalue())


def test_data_dir_is_never_importable(client, settings, project, auth):
    secret = settings.data_dir / "labelpilot.db"
    ds = make_dataset(client, project, auth)
    r = client.post(
        f"/v2/{project}/datasets/{ds}/data-annotations/samples",
        json={"samples": [{"name": "leak.txt", "data_source": {"data_path": str(secret)}}]},
        headers=auth,
    )
    item = r.json()["results"][0]
    assert item["success"] is False and item["error_code"] == "ModelArts.4205"
    r = client.post(
        f"/v2/{project}/datasets",
        json={"dataset_name": "x", "data_sources": [{"data_path": str(settings.data_dir)}]},
        headers=auth,
    )
    assert r.status_code == 403 and "data_sources.data_path" in r.json()["error_msg"]


def test_import_roots_limit_where_data_path_may_point(tmp_path, database_url, project):
    allowed, elsewhere = tmp_path / "allowed", tmp_path / "elsewhere"
    _png(allowed / "cat" / "1.png")
    _png(elsewhere / "cat" / "1.png")
    settings = Settings(
        data_dir=tmp_path / "data", database_url=database_url, import_roots=[allowed]
    )
    app = create_app(settings, run_reaper=False)
    from labelpilot.auth.service import create_credential

    with app.state.services.db.transaction() as s:
        token = create_credential(s, project).token
    with TestClient(app) as c:
        h = {"X-Auth-Token": token}
        ok = c.post(
            f"/v2/{project}/datasets",
            json={"dataset_name": "a", "data_sources": [{"data_path": str(allowed)}]},
            headers=h,
        )
        assert ok.status_code == 201 and ok.json()["import_task_id"]
        run_app_queue(c)
        assert (
            c.get(f"/v2/{project}/datasets/{ok.json()['dataset_id']}", headers=h).json()[
                "total_sample_count"
            ]
            == 1
        )
        no = c.post(
            f"/v2/{project}/datasets",
            json={"dataset_name": "b", "data_sources": [{"data_path": str(elsewhere)}]},
            headers=h,
        )
        assert no.status_code == 403 and no.json()["error_code"] == "ModelArts.4205"
        # nothing half-made is left behind by the refused request
        names = [
            d["dataset_name"]
            for d in c.get(f"/v2/{project}/datasets", headers=h).json()["datasets"]
        ]
        assert names == ["a"]


def test_worker_processes_get_the_import_roots(tmp_path, monkeypatch):
    # an import task runs in a worker process: it must see the roots the API checked against
    settings = Settings(data_dir=tmp_path / "data", import_roots=[tmp_path / "a", tmp_path / "b"])
    env = settings.child_env()
    assert json.loads(env["LABELPILOT_IMPORT_ROOTS"]) == [str(tmp_path / "a"), str(tmp_path / "b")]
    monkeypatch.setenv("LABELPILOT_IMPORT_ROOTS", env["LABELPILOT_IMPORT_ROOTS"])
    assert Settings().import_roots == [tmp_path / "a", tmp_path / "b"]  # as the child reads it
