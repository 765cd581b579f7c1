"""An import task commits in bounded batches, so other writers get their turn between two (#12,
point 6), and a file that fails is listed while the rest goes in (#13)."""

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
from labelpilot.runners import importing
from tests.support.flow import run_queued


def _tree(root: Path, n: int) -> None:
    for i in range(n):
        buf = io.BytesIO()
        Image.new("RGB", (4, 4), (i, 0, 0)).save(buf, "PNG")  # distinct bytes: no duplicates
        p = root / ("cat" if i % 2 else "dog") / f"{i:04d}.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(buf.getvalue())


def _count(db: Database, model: Any) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_import_commits_in_batches_while_others_write(
    client: TestClient,
    db: Database,
    settings: Any,
    project: str,
    auth: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _tree(tmp_path / "src", 60)
    monkeypatch.setattr(importing, "BATCH_ITEMS", 10)
    seen_between: list[int] = []
    real = importing.ImportRunner._store
    other = threading.Thread(
        target=client.post,
        args=(f"/v2/{project}/datasets",),
        kwargs={"json": {"dataset_name": "meanwhile"}, "headers": auth},
    )

    def observed(self: Any, ctx: Any, config: Any, batch: Any, *rest: Any) -> Any:
        seen_between.append(_count(db, Sample))  # committed by the batches before this one
        if len(seen_between) == 3:  # another request writes while the import runs
            other.start()
            time.sleep(1.0)
        if len(seen_between) == 6:  # it had its turn between two batches
            assert not other.is_alive()
        return real(self, ctx, config, batch, *rest)

    monkeypatch.setattr(importing.ImportRunner, "_store", observed)
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
    run_queued(settings, db)
    assert seen_between == [0, 10, 20, 30, 40, 50]
    assert _count(db, Dataset) == 2 and _count(db, Sample) == 60
    with db.read() as s:
        big = s.scalars(select(Dataset).where(Dataset.name == "big")).one()
        assert big.dataset_type == 0  # decided after the last batch


def test_refused_source_leaves_no_dataset(
    client: TestClient, db: Database, settings: Any, project: str, auth: dict[str, str]
) -> None:
    r = client.post(
        f"/v2/{project}/datasets",
        json={"dataset_name": "x", "data_sources": [{"data_path": str(settings.data_dir)}]},
        headers=auth,
    )
    assert r.status_code == 403  # checked before the dataset commits
    assert _count(db, Dataset) == 0
