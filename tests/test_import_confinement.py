"""Issue #12 point 2: server-side imports and ``data_source`` read only inside the import roots,
file by file (symlinks resolved), size checked before reading."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from labelpilot.app import create_app
from labelpilot.auth.service import create_credential
from labelpilot.config import Settings
from tests.support.factories import make_dataset
from tests.support.flow import run_app_queue


def _png(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, "PNG")
    path.write_bytes(buf.getvalue())


class Server:
    def __init__(self, client: TestClient, project: str, token: str) -> None:
        self.c, self.p, self.h = client, project, {"X-Auth-Token": token}

    def create(self, data_path: str) -> Any:
        body = {
            "dataset_name": f"d{abs(hash(data_path))}",
            "data_sources": [{"data_path": data_path}],
        }
        return self.c.post(f"/v2/{self.p}/datasets", json=body, headers=self.h)

    def add_from(self, data_path: str, name: str = "x.png") -> dict[str, Any]:
        ds = make_dataset(self.c, self.p, self.h, name=f"add{abs(hash(data_path))}")
        r = self.c.post(
            f"/v2/{self.p}/datasets/{ds}/data-annotations/samples",
            json={"samples": [{"name": name, "data_source": {"data_path": data_path}}]},
            headers=self.h,
        )
        assert r.status_code == 200, r.text
        item: dict[str, Any] = r.json()["results"][0]
        return item

    def imported(self, r: Any) -> dict[str, Any]:
        """The import task of a dataset create, after it ran."""
        assert r.status_code == 201, r.text
        run_app_queue(self.c)
        ds, task = r.json()["dataset_id"], r.json()["import_task_id"]
        out: dict[str, Any] = self.c.get(
            f"/v2/{self.p}/datasets/{ds}/import-tasks/{task}", headers=self.h
        ).json()
        return out

    def dataset_names(self) -> list[str]:
        r = self.c.get(f"/v2/{self.p}/datasets", headers=self.h)
        return [d["dataset_name"] for d in r.json()["datasets"]]


def _server(settings: Settings, project: str) -> Iterator[Server]:
    app = create_app(settings, run_reaper=False)
    with app.state.services.db.transaction() as s:
        token = create_credential(s, project).token
    with TestClient(app) as c:
        yield Server(c, project, token)


@pytest.fixture
def default_server(tmp_path: Path, database_url: str, project: str) -> Iterator[Server]:
    """A server on the defaults: no import roots."""
    yield from _server(Settings(data_dir=tmp_path / "data", database_url=database_url), project)


@pytest.fixture
def root_server(tmp_path: Path, database_url: str, project: str) -> Iterator[Server]:
    """A server whose import root is the whole file system."""
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, import_roots=["/"])
    yield from _server(settings, project)


def test_by_default_no_server_path_is_importable(default_server: Server, tmp_path: Path) -> None:
    _png(tmp_path / "images" / "cat" / "1.png")
    r = default_server.create(str(tmp_path / "images"))
    assert r.status_code == 403 and r.json()["error_code"] == "ModelArts.4205"
    assert "LABELPILOT_IMPORT_ROOTS" in r.json()["error_msg"]
    item = default_server.add_from(str(tmp_path / "images" / "cat" / "1.png"))
    assert item["success"] is False and item["error_code"] == "ModelArts.4205"
    assert "LABELPILOT_IMPORT_ROOTS" in item["error_msg"]


@pytest.mark.parametrize("path", ["/etc/passwd", "/proc/self/environ", "/etc", "/dev/zero"])
def test_system_files_are_refused_even_under_a_root(root_server: Server, path: str) -> None:
    if Path(path).is_dir():
        r = root_server.create(path)
        assert r.status_code == 403 and r.json()["error_code"] == "ModelArts.4205"
    else:
        item = root_server.add_from(path, name="leak.txt")
        assert item["success"] is False and item["error_code"] == "ModelArts.4205"


def test_a_symlink_to_the_database_inside_an_allowed_directory_is_refused(
    tmp_path: Path, database_url: str, project: str
) -> None:
    if not database_url.startswith("sqlite:///"):
        pytest.skip("the database is a file with SQLite only")
    db_file = Path(database_url.removeprefix("sqlite:///"))
    allowed = tmp_path / "allowed"
    _png(allowed / "cat" / "1.png")
    (allowed / "cat" / "2.png").symlink_to(db_file)
    settings = Settings(
        data_dir=tmp_path / "data", database_url=database_url, import_roots=[tmp_path]
    )
    for server in _server(settings, project):
        # the directory is allowed; the link inside it is refused on its own, file by file
        status = server.imported(server.create(str(allowed)))
        assert status["imported_sample_count"] == 1
        ((failure),) = status["failures"]
        assert failure["file"] == "cat/2.png" and "outside the allowed" in failure["reason"]
        item = server.add_from(str(allowed / "cat" / "2.png"), name="db.png")
        assert item["success"] is False and item["error_code"] == "ModelArts.4205"


def test_a_symlink_out_of_the_roots_is_refused(
    tmp_path: Path, database_url: str, project: str
) -> None:
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    _png(allowed / "1.png")
    _png(outside / "secret.png")
    (allowed / "2.png").symlink_to(outside / "secret.png")
    settings = Settings(
        data_dir=tmp_path / "data", database_url=database_url, import_roots=[allowed]
    )
    for server in _server(settings, project):
        status = server.imported(server.create(str(allowed)))
        assert status["imported_sample_count"] == 1
        assert [f["file"] for f in status["failures"]] == ["2.png"]


def test_a_huge_data_source_is_refused_by_its_size_before_reading(
    tmp_path: Path, database_url: str, project: str
) -> None:
    big = tmp_path / "big.png"
    with big.open("wb") as f:  # sparse: 1 GiB of size, no disk blocks
        f.truncate(1 << 30)
    settings = Settings(
        data_dir=tmp_path / "data", database_url=database_url, import_roots=[tmp_path]
    )
    for server in _server(settings, project):
        item = server.add_from(str(big))
        assert item["success"] is False and item["error_code"] == "ModelArts.4656"


def test_a_nul_byte_in_data_path_is_400(root_server: Server) -> None:
    r = root_server.create("/tmp/a\u0000b")
    assert r.status_code == 400 and r.json()["error_code"] == "ModelArts.0104"


def test_a_fifo_is_not_read(tmp_path: Path, database_url: str, project: str) -> None:
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    settings = Settings(
        data_dir=tmp_path / "data", database_url=database_url, import_roots=[tmp_path]
    )
    for server in _server(settings, project):
        item = server.add_from(str(fifo))
        assert item["success"] is False and item["error_code"] == "ModelArts.0104"
