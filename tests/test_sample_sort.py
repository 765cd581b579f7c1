"""``sort_by=hard_coefficient`` on ListSamples and the auto-annotation list (a LabelPilot
extension, issue #14 point 4): hard examples first, on the server, across pages."""

from __future__ import annotations

import base64
import io
from typing import Any

from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from labelpilot.datasets.tables import Sample
from labelpilot.db import Database
from labelpilot.samples.attributes import hard_metadata
from tests.support.factories import make_dataset
from tests.support.flow import post_samples


def _png(i: int) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (i, 0, 0)).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


def test_hard_examples_first_across_pages(
    client: TestClient, db: Database, project: str, auth: dict[str, str]
) -> None:
    ds = make_dataset(client, project, auth)
    coefficients: dict[str, float | None] = {f"s{i}.png": c for i, c in enumerate(
        [0.2, None, 0.95, 0.5, None, 0.7, 0.05]
    )}  # fmt: skip
    post_samples(
        client, project, ds, auth,
        [{"name": n, "data": _png(i), "labels": [{"name": "x", "score": 0.5}]}
         for i, n in enumerate(coefficients)],
        final_annotation=False,
    )  # fmt: skip
    with db.transaction() as s:
        for sample in s.scalars(select(Sample).where(Sample.dataset_id == ds)):
            c = coefficients[sample.name]
            if c is not None:
                sample.meta = {**sample.meta, **hard_metadata(c >= 0.5, c, [1])}

    def names(path: str, **params: Any) -> list[str]:
        out: list[str] = []
        for page in range(3):
            r = client.get(
                f"/v2/{project}/datasets/{ds}/{path}",
                params={"limit": 3, "offset": page, "sort_by": "hard_coefficient", **params},
                headers=auth,
            )
            assert r.status_code == 200, r.text
            out += [x["sample_name"] for x in r.json()["samples"]]
        return out

    hard_first = ["s2.png", "s5.png", "s3.png", "s0.png", "s6.png"]
    for path in ("data-annotations/samples", "auto-annotations/samples"):
        got = names(path)
        assert got[:5] == hard_first and sorted(got[5:]) == ["s1.png", "s4.png"]
        assert names(path, order="asc")[:5] == hard_first[::-1]  # none-coefficients still last
    r = client.get(
        f"/v2/{project}/datasets/{ds}/data-annotations/samples",
        params={"sort_by": "score"},
        headers=auth,
    )
    assert r.status_code == 400 and "sort_by" in r.json()["error_msg"]
