"""Datasets for the version and export tests: classification, detection (boxes) and text
samples through the API, and many rows inserted directly for the large cases."""

from __future__ import annotations

import base64
import io
from typing import Any

from fastapi.testclient import TestClient
from PIL import Image

from labelpilot.datasets.tables import STATE_ALL, Sample, SampleLabel
from labelpilot.db import Database
from labelpilot.ids import now_ms, sample_id
from tests.support.flow import post_samples


def image_b64(width: int, height: int, color: tuple[int, int, int] = (10, 120, 200)) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


def box(name: str, x1: float, y1: float, x2: float, y2: float, **extra: Any) -> dict[str, Any]:
    prop = {"@modelarts:shape": "bndbox", "@modelarts:feature": [[x1, y1], [x2, y2]]}
    return {"name": name, "type": 1, "property": prop, **extra}


def make_typed(client: TestClient, project: str, auth: dict[str, str], name: str, t: int) -> str:
    r = client.post(
        f"/v2/{project}/datasets",
        json={"dataset_name": name, "dataset_type": t},
        headers=auth,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["dataset_id"])


def classification(client: TestClient, project: str, auth: dict[str, str]) -> str:
    """12 labeled images (6 cat, 6 dog) and 2 unlabeled ones."""
    ds = make_typed(client, project, auth, "animals", 0)
    items = [
        {
            "name": f"{lab}{i}.png",
            "data": image_b64(16, 12, (i * 20, 0, 0)),
            "labels": [{"name": lab}],
        }
        for lab in ("cat", "dog")
        for i in range(6)
    ] + [{"name": f"u{i}.png", "data": image_b64(16, 12, (0, i * 50, 0))} for i in range(2)]
    post_samples(client, project, ds, auth, items)
    return ds


def detection(client: TestClient, project: str, auth: dict[str, str]) -> str:
    """3 images of 40x30 with boxes (one with two, one machine-made with a score), 1 unlabeled."""
    ds = make_typed(client, project, auth, "boxes", 1)
    items = [
        {"name": "a.png", "data": image_b64(40, 30), "labels": [box("car", 1, 2, 21, 12)]},
        {
            "name": "b.png",
            "data": image_b64(40, 30, (1, 2, 3)),
            "labels": [box("car", 0, 0, 10, 10), box("person", 5.5, 6.25, 30, 29)],
        },
        {
            "name": "c.png",
            "data": image_b64(40, 30, (9, 9, 9)),
            "labels": [box("person", 2, 3, 4, 5)],
        },
        {"name": "d.png", "data": image_b64(40, 30, (7, 7, 7))},
    ]
    post_samples(client, project, ds, auth, items)
    return ds


def text(client: TestClient, project: str, auth: dict[str, str]) -> str:
    ds = make_typed(client, project, auth, "reviews", 100)
    texts = [("I like it, really", "positive"), ('bad "quality"\nnever again', "negative")]
    items = [
        {
            "name": f"t{i}.txt",
            "data": base64.b64encode(t.encode()).decode(),
            "labels": [{"name": lab, "type": 100}],
        }
        for i, (t, lab) in enumerate(texts)
    ]
    post_samples(client, project, ds, auth, items)
    return ds


def insert_rows(
    db: Database, dataset_id: str, n: int, labels: tuple[str, ...] = ("a", "b")
) -> None:
    """``n`` labeled samples inserted directly (no files: for manifest exports)."""
    t0 = now_ms()
    for start in range(0, n, 5000):
        samples, marks = [], []
        for i in range(start, min(n, start + 5000)):
            sid = sample_id()
            samples.append(
                {
                    "id": sid,
                    "dataset_id": dataset_id,
                    "name": f"s{i:07d}.jpg",
                    "sample_type": 0,
                    "source": f"s3://bucket/data/s{i:07d}.jpg",
                    "size": 100,
                    "sample_time": t0 + i,
                    "state": STATE_ALL,
                    "meta": {},
                    "sample_usage": None,
                }
            )
            marks.append(
                {
                    "sample_id": sid,
                    "dataset_id": dataset_id,
                    "position": 0,
                    "name": labels[i % len(labels)],
                    "type": 0,
                    "annotated_by": "human",
                    "property": {},
                }
            )
        with db.transaction() as s:
            s.bulk_insert_mappings(Sample, samples)  # type: ignore[arg-type]
            s.bulk_insert_mappings(SampleLabel, marks)  # type: ignore[arg-type]
