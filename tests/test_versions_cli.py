"""``labelpilot datasets versions|export`` and the client's methods against a live server with a
worker: publish with a progress bar, list, export and download the archive."""

from __future__ import annotations

import json
import threading
import zipfile
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from labelpilot.cli.main import app as cli
from labelpilot.client import ApiError, LabelPilotClient
from labelpilot.engine.worker import Worker
from tests.support.datafiles import classification
from tests.support.live import live_server

runner = CliRunner()


def _env(url: str, project: str, cred: Any) -> dict[str, str]:
    """What the CLI reads to reach the live server with the test's AK/SK."""
    return {
        "LABELPILOT_URL": url,
        "LABELPILOT_PROJECT_ID": project,
        "LABELPILOT_ACCESS_KEY": cred.access_key,
        "LABELPILOT_SECRET_KEY": cred.secret_key,
        "COLUMNS": "200",
    }


def test_publish_list_export_download(
    app, db, settings, client, cred, auth, project, tmp_path: Path
):
    ds = classification(client, project, auth)
    worker = Worker(settings, db)
    thread = threading.Thread(target=worker.run_forever, daemon=True)
    thread.start()
    try:
        with live_server(app) as url:
            env = _env(url, project, cred)
            published = runner.invoke(
                cli, ["datasets", "versions", "publish", ds, "--ratio", "0.5"], env=env
            )
            assert published.exit_code == 0, published.output
            version_id = published.output.split()[0]
            assert "status 1" in published.output and ".manifest" in published.output
            listed = runner.invoke(cli, ["datasets", "versions", "list", ds], env=env)
            assert version_id in listed.output and "V001" in listed.output
            shown = runner.invoke(cli, ["datasets", "versions", "show", ds, version_id], env=env)
            assert json.loads(shown.output)["label_stats"][0]["sample_count"] == 6
            archive = tmp_path / "export.zip"
            exported = runner.invoke(
                cli,
                ["datasets", "export", ds, "--format", "class_folders", "--download", str(archive)],
                env=env,
            )
            assert exported.exit_code == 0, exported.output
            assert "14 samples" in exported.output
            names = zipfile.ZipFile(archive).namelist()
            assert "cat/cat0.png" in names and "u1.png" in names
            bad = runner.invoke(cli, ["datasets", "export", ds, "--format", "tfrecord"], env=env)
            assert bad.exit_code == 1 and "ModelArts.4384" in bad.output
            # the client's own methods
            api = LabelPilotClient(url, project, ak=cred.access_key, sk=cred.secret_key)
            assert api.list_versions(ds)["versions"][0]["version_id"] == version_id
            tasks = api.list_export_tasks(ds, limit=10)["export_tasks"]
            assert tasks[0]["status"] == "SUCCESSED"
            try:
                api.get_export_task(ds, "nope")
            except ApiError as exc:
                assert exc.error_code == "ModelArts.4359"
            else:
                raise AssertionError("an unknown export task must be an error")
            assert api.delete_version(ds, version_id) == {}
            api.close()
    finally:
        worker.shutdown.set()
        thread.join(10)


def test_import_and_sync_from_the_cli_and_client(
    app, db, settings, client, cred, auth, project, tmp_path: Path
):
    from PIL import Image

    src = tmp_path / "flowers"
    for i, label in enumerate(["rose", "rose", "tulip"]):
        (src / label).mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (6, 6), (i * 80, 9, 9)).save(src / label / f"{i}.png")
    (src / "tulip" / "bad.png").write_bytes(b"\x89PNG broken")
    r = client.post(
        f"/v2/{project}/datasets",
        json={"dataset_name": "cli-import", "dataset_type": 0},
        headers=auth,
    )
    ds = r.json()["dataset_id"]
    worker = Worker(settings, db)
    thread = threading.Thread(target=worker.run_forever, daemon=True)
    thread.start()
    try:
        with live_server(app) as url:
            env = _env(url, project, cred)
            done = runner.invoke(cli, ["datasets", "import", ds, str(src)], env=env)
            assert done.exit_code == 0, done.output
            assert "3 imported, 0 already there, 1 skipped" in done.output
            assert "tulip/bad.png" in done.output
            again = runner.invoke(cli, ["datasets", "import", ds, str(src)], env=env)
            assert "0 imported, 3 already there" in again.output, again.output
            refused = runner.invoke(cli, ["datasets", "import", ds, "/etc"], env=env)
            assert refused.exit_code == 1 and "ModelArts.4205" in refused.output
            api = LabelPilotClient(url, project, ak=cred.access_key, sk=cred.secret_key)
            listed = api.list_import_tasks(ds)["import_tasks"]
            assert [t["imported_sample_count"] for t in listed] == [0, 3]
            assert api.get_import_task(ds, listed[1]["task_id"])["failed_file_count"] == 1
            assert api.get_sync_status(ds)["status"] == "NOT_EXIST"
            api.close()
    finally:
        worker.shutdown.set()
        thread.join(10)
