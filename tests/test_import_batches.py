"""A dataset's import commits in bounded batches and a failed one leaves nothing (#12, point 6)."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from labelpilot.datasets.tables import Dataset, Sample
from labelpilot.db import Database
from labelpilot.samples import importing


def _tree(root: Path, n: int) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 0, 0)).save(buf, "PNG")
    for i in range(n):
        p = root / ("cat" if i % 2 else "dog") / f"{i:04d}.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(buf.getvalue())


def _count(db: Database, model: Any) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_import_commits_in_batches_while_others_write(
    client: TestClient,
    db: Database,
    project: str,
    auth: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Before: the whole import was one write transaction; no other write could commit meanwhile.
    _tree(tmp_path / "src", 60)
    monkeypatch.setattr(importing, "IMPORT_BATCH_FILES", 10)
    seen_between: list[int] = []
    real = importing._store_batch
    other = threading.Thread(
        target=client.post,
        args=(f"/v2/{project}/datasets",),
        kwargs={"json": {"dataset_name": "meanwhile"}, "headers": auth},
    )

    def observed(session: Any, **kw: Any) -> Any:
        seen_between.append(_count(db, Sample))  # committed by the batches before this one
        if kw["start"] == 20:  # another request asks to write while this batch holds the lock
            other.start()
            time.sleep(1.0)  # it queues for its turn
        if kw["start"] == 50:  # it had its turn between two batches
            assert not other.is_alive()
        return real(session, **kw)

    monkeypatch.setattr(importing, "_store_batch", observed)
    r = client.post(
        f"/v2/{project}/datasets",
        json={
            "dataset_name": "big",
            "data_sources": [{"data_path": str(tmp_path / "src")}],
            "import_annotations": True,
        },
        headers=auth,
    )
    assert r.status_code == 201, r.text
    assert r.json()["imported_sample_count"] == 60
    assert seen_between == [0, 10, 20, 30, 40, 50]
    assert _count(db, Dataset) == 2
    with db.read() as s:
        big = s.scalars(select(Dataset).where(Dataset.name == "big")).one()
        assert big.dataset_type == 0  # decided after the last batch


def test_failed_import_part_way_leaves_nothing(
    client: TestClient,
    db: Database,
    settings: Any,
    project: str,
    auth: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _tree(tmp_path / "src", 30)
    monkeypatch.setattr(importing, "IMPORT_BATCH_FILES", 10)
    real = importing.store_sample
    calls = {"n": 0}

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 25:
            raise OSError("disk went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(importing, "store_sample", failing)
    r = client.post(
        f"/v2/{project}/datasets",
        json={"dataset_name": "half", "data_sources": [{"data_path": str(tmp_path / "src")}]},
        headers=auth,
    )
    assert r.status_code == 500  # the import's own error; the test's stand-in for a bad disk
    assert _count(db, Dataset) == 0
    assert _count(db, Sample) == 0
    assert list(settings.data_dir.rglob("*.png")) == []


def test_refused_source_leaves_no_dataset(
    client: TestClient, db: Database, settings: Any, project: str, auth: dict[str, str]
) -> None:
    r = client.post(
        f"/v2/{project}/datasets",
        json={"dataset_name": "x", "data_sources": [{"data_path": str(settings.data_dir)}]},
        headers=auth,
    )
    assert r.status_code == 403  # refused after the dataset committed: it is deleted again
    assert _count(db, Dataset) == 0
