"""Issue #12 points 1 and 8: untrusted JSON, integer ranges, NUL bytes, LIKE wildcards and an
empty task_type. Each reproduction answered 500 (or poisoned later pages) before the fix."""

from __future__ import annotations

import base64
import io
import json
import logging
import os
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from fastapi.testclient import TestClient
from PIL import Image

from labelpilot.db import Database
from labelpilot.migrations import alembic_config

ON_PG = "LABELPILOT_TEST_PG_URL" in os.environ

BIG = 2**70  # outside int64
ERROR = "ModelArts.0104"


def _png() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 10, 10)).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


class Api:
    def __init__(self, client: TestClient, project: str, auth: dict[str, str]) -> None:
        self.c, self.h = client, auth
        self.base = f"/v2/{project}/datasets"

    def dataset(self, name: str = "ds") -> str:
        body = {"dataset_name": name, "dataset_type": 0, "labels": [{"name": "cat"}]}
        r = self.c.post(self.base, json=body, headers=self.h)
        assert r.status_code == 201, r.text
        return str(r.json()["dataset_id"])

    def post(self, path: str, body: Any) -> Any:
        """POST raw JSON text (httpx refuses to encode NaN itself)."""
        text = body if isinstance(body, str) else json.dumps(body)
        headers = {**self.h, "Content-Type": "application/json"}
        return self.c.post(self.base + path, content=text, headers=headers)

    def get(self, path: str, **params: Any) -> Any:
        return self.c.get(self.base + path, params=params, headers=self.h)


@pytest.fixture
def api(client: TestClient, project: str, auth: dict[str, str]) -> Api:
    return Api(client, project, auth)


def _bad_request(r: Any, *mentions: str) -> None:
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error_code"] == ERROR, body
    for word in mentions:
        assert word in body["error_msg"], body


def _pages_answer(api: Api, ds: str) -> None:
    """Every page the issue saw answer 500 after one poisoned write."""
    for path in ("", f"/{ds}", f"/{ds}/data-annotations/labels", f"/{ds}/tasks"):
        r = api.get(path)
        assert r.status_code == 200, (path, r.text)
    assert api.get(f"/{ds}/data-annotations/samples").status_code == 200


SAMPLES = "/{ds}/data-annotations/samples"
BAD_BODIES = [
    pytest.param(
        "/{ds}/data-annotations/labels",
        {"labels": [{"name": "x", "property": {"a": BIG}}]},
        "labels[0].property.a",
        id="label-property",
    ),
    pytest.param(
        "/{ds}/data-annotations/labels",
        {"labels": [{"name": "x", "attributes": [{"a": [1, BIG]}]}]},
        "labels[0].attributes[0].a[1]",
        id="label-attributes",
    ),
    pytest.param(
        "/{ds}/data-annotations/labels",
        {"labels": [{"name": "x", "type": 2**40}]},
        "labels.0.type",
        id="label-type-int32",
    ),
    pytest.param(
        SAMPLES,
        {"samples": [{"name": "a.png", "data": "<png>", "metadata": {"k": BIG}}]},
        "samples[0].metadata.k",
        id="sample-metadata",
    ),
    pytest.param(
        SAMPLES,
        {
            "samples": [
                {
                    "name": "a.png",
                    "data": "<png>",
                    "labels": [{"name": "cat", "property": {"k": -BIG}}],
                }
            ]
        },
        "samples[0].labels[0].property.k",
        id="sample-label-property",
    ),
    pytest.param(
        SAMPLES,
        {"samples": [{"name": "a.png", "data": "<png>", "labels": [{"name": "cat", "type": BIG}]}]},
        "samples[0].labels[0].type",
        id="sample-label-type",
    ),
    pytest.param(
        SAMPLES,
        '{"samples": [{"name": "a.png", "data": "<png>", "metadata": {"k": NaN}}]}',
        "samples[0].metadata.k",
        id="sample-metadata-nan",
    ),
    pytest.param(
        SAMPLES,
        '{"samples": [{"name": "a.png", "data": "<png>", "metadata": {"k": 1e400}}]}',
        "samples[0].metadata.k",
        id="sample-metadata-infinity",
    ),
    pytest.param(
        SAMPLES,
        {"samples": [{"name": "a.png", "data": "<png>", "metadata": {"k": "a" * 70_000}}]},
        "samples[0].metadata",
        id="sample-metadata-size",
    ),
    pytest.param(
        SAMPLES,
        {
            "samples": [
                {
                    "name": "a.png",
                    "data": "<png>",
                    "metadata": {
                        "k": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]
                    },
                }
            ]
        },  # fmt: skip
        "samples[0].metadata.k",
        id="sample-metadata-depth",
    ),
    pytest.param(
        SAMPLES,
        {"samples": [{"name": "a.png", "data_source": {"data_path": "/tmp/a\x00b"}}]},
        "samples[0].data_source.data_path",
        id="data-source-nul",
    ),
    pytest.param(
        "/{ds}/tasks",
        {"task_type": "auto-label", "config": {"extra_key": BIG}},
        "config.extra_key",
        id="task-config-extra",
    ),
    pytest.param(
        "/{ds}/tasks",
        {"task_type": "auto-label", "config": {"n_clusters": BIG}},
        "config.n_clusters",
        id="task-config-field",
    ),
]


@pytest.mark.parametrize(("path", "body", "field"), BAD_BODIES)
def test_a_value_that_cannot_be_stored_is_a_400_naming_it_and_nothing_is_stored(
    api: Api, path: str, body: Any, field: str
) -> None:
    ds = api.dataset()
    text = (body if isinstance(body, str) else json.dumps(body)).replace("<png>", _png())
    _bad_request(api.post(path.format(ds=ds), text), field)
    _pages_answer(api, ds)
    assert api.get(f"/{ds}/data-annotations/samples").json()["sample_count"] == 0
    labels = api.get(f"/{ds}/data-annotations/labels").json()["labels"]
    assert [lb["name"] for lb in labels] == ["cat"]
    assert api.get(f"/{ds}/tasks").json()["total_count"] == 0


def test_update_samples_checks_metadata_and_labels(api: Api) -> None:
    ds = api.dataset()
    r = api.post(SAMPLES.format(ds=ds), {"samples": [{"name": "a.png", "data": _png()}]})
    assert r.status_code == 200, r.text
    sid = api.get(SAMPLES.format(ds=ds)).json()["samples"][0]["sample_id"]
    url = api.base + SAMPLES.format(ds=ds)
    edits: list[tuple[dict[str, Any], str]] = [
        ({"metadata": {"k": BIG}}, "samples[0].metadata.k"),
        ({"labels": [{"name": "cat", "property": {"p": BIG}}]}, "samples[0].labels[0].property.p"),
    ]
    for item, field in edits:
        r = api.c.put(url, json={"samples": [{"sample_id": sid, **item}]}, headers=api.h)
        _bad_request(r, field)
    _pages_answer(api, ds)


def test_dataset_create_checks_its_labels_and_types(api: Api) -> None:
    body = {"dataset_name": "d1", "labels": [{"name": "a", "property": {"x": BIG}}]}
    _bad_request(api.post("", body), "labels[0].property.x")
    _bad_request(api.post("", {"dataset_name": "d2", "dataset_type": BIG}), "dataset_type")
    body = {"dataset_name": "d3", "data_sources": [{"data_type": 0, "data_path": "/tmp/\x00"}]}
    _bad_request(api.post("", body), "data_sources[0].data_path")
    assert api.get("").json()["total_number"] == 0


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("", "dataset_type"),
        ("/{ds}/data-annotations/samples", "label_type"),
        ("/{ds}/auto-annotations/samples", "label_type"),
    ],
)
def test_integer_query_values_are_range_checked(api: Api, path: str, param: str) -> None:
    ds = api.dataset()
    for value in (BIG, 2**31):
        _bad_request(api.get(path.format(ds=ds), **{param: value}), param)
    assert api.get(path.format(ds=ds), **{param: 2**31 - 1}).status_code == 200


def test_search_conditions_values_are_checked(api: Api) -> None:
    ds = api.dataset()
    cond = json.dumps([{"label_list": {"labels": [{"name": "cat", "type": BIG}]}}])
    _bad_request(api.get(SAMPLES.format(ds=ds), search_conditions=cond), "search_conditions")
    cond = '[{"coefficient": "0-1", "x": NaN}]'
    _bad_request(api.get(SAMPLES.format(ds=ds), search_conditions=cond), "search_conditions[0].x")


def test_a_nul_in_a_query_or_path_value_is_a_400(api: Api) -> None:
    ds = api.dataset()
    _bad_request(api.get("", search_content="a\x00b"), "search_content")
    _bad_request(api.get(f"/{ds}/tasks", task_name="\x00"), "task_name")
    _bad_request(api.get("/x%00y"), "dataset_id")


def test_an_empty_task_type_is_a_400(api: Api) -> None:
    ds = api.dataset()
    _bad_request(api.post(f"/{ds}/tasks", {"task_type": ""}), "task_type")
    assert api.get(f"/{ds}/tasks").json()["total_count"] == 0


def _add(api: Api, ds: str, *names: str) -> None:
    items = [{"name": n, "data": _png()} for n in names]
    r = api.post(SAMPLES.format(ds=ds), {"samples": items})
    assert r.status_code == 200 and r.json()["success"], r.text


def _names(api: Api, ds: str, condition: dict[str, str]) -> set[str]:
    r = api.get(SAMPLES.format(ds=ds), search_conditions=json.dumps([condition]))
    assert r.status_code == 200, r.text
    return {x["sample_name"] for x in r.json()["samples"]}


def test_like_wildcards_in_search_conditions_are_literal(api: Api) -> None:
    ds = api.dataset()
    _add(api, ds, "a.png", "b_c.png", "100%.png")
    assert _names(api, ds, {"sample_name": "%"}) == set()
    assert _names(api, ds, {"sample_name": "%.png"}) == set()
    assert _names(api, ds, {"sample_name": "b?c.png".replace("?", "_")}) == {"b_c.png"}
    assert _names(api, ds, {"sample_name": "b%c.png"}) == set()
    assert _names(api, ds, {"sample_name": "100%.png"}) == {"100%.png"}
    sample_dir = api.get(SAMPLES.format(ds=ds)).json()["samples"][0]["sample_dir"]
    assert _names(api, ds, {"sample_dir": sample_dir}) == {"a.png", "b_c.png", "100%.png"}
    assert _names(api, ds, {"sample_dir": "%/"}) == set()
    assert _names(api, ds, {"sample_dir": "_" + sample_dir[1:]}) == set()


def _poison(db: Database, ds: str) -> str:
    """Rows as an older version stored them: out-of-range integers, NaN, a NUL (PostgreSQL's
    JSONB refuses the last two, so they exist on SQLite only); returns the sample id."""
    with db.engine.begin() as conn:
        sid = conn.execute(sa.text("SELECT id FROM samples WHERE dataset_id = :d"), {"d": ds})
        sample: str = sid.scalar_one()
        meta: dict[str, Any] = {"k": BIG, "keep": [1, 2.5, "x"]}
        if not ON_PG:
            meta.update(n=float("nan"), s="a\x00b")
        big = json.dumps(meta)
        conn.execute(
            sa.text("UPDATE samples SET metadata = :m WHERE id = :i"), {"m": big, "i": sample}
        )
        conn.execute(
            sa.text("UPDATE labels SET property = :p WHERE dataset_id = :d"),
            {"p": json.dumps({"big": -BIG}), "d": ds},
        )
        conn.execute(
            sa.text("UPDATE sample_labels SET property = :p WHERE sample_id = :i"),
            {"p": json.dumps({"big": BIG}), "i": sample},
        )
    return sample


def test_rows_stored_by_an_older_version_render_repaired_and_logged(
    api: Api, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    ds = api.dataset()
    items = [{"name": "a.png", "data": _png(), "labels": [{"name": "cat"}]}]
    assert api.post(SAMPLES.format(ds=ds), {"samples": items}).status_code == 200
    _poison(db, ds)
    with caplog.at_level(logging.WARNING, logger="labelpilot.api.render.tolerant"):
        _pages_answer(api, ds)
        sample = api.get(SAMPLES.format(ds=ds)).json()["samples"][0]
    assert sample["metadata"]["k"] == str(BIG)
    if not ON_PG:
        assert sample["metadata"].get("n") is None  # null, left out as every null is
        assert sample["metadata"]["s"] == "ab"
    assert sample["labels"][0]["property"]["big"] == str(BIG)
    label = api.get(f"/{ds}/data-annotations/labels").json()["labels"][0]
    assert label["property"]["big"] == str(-BIG)
    assert "cannot be rendered as stored" in caplog.text


def test_migration_0006_repairs_stored_rows_in_place(api: Api, db: Database) -> None:
    ds = api.dataset()
    items = [{"name": "a.png", "data": _png(), "labels": [{"name": "cat"}]}]
    assert api.post(SAMPLES.format(ds=ds), {"samples": items}).status_code == 200

    command.downgrade(alembic_config(db.engine), "0005")
    sample = _poison(db, ds)
    db.migrate()
    with db.engine.connect() as conn:
        meta = conn.execute(sa.text("SELECT metadata FROM samples WHERE id = :i"), {"i": sample})
        prop = conn.execute(sa.text("SELECT property FROM labels WHERE dataset_id = :d"), {"d": ds})
        stored_meta, stored_prop = meta.scalar_one(), prop.scalar_one()
    meta_value = json.loads(stored_meta) if isinstance(stored_meta, str) else stored_meta
    prop_value = json.loads(stored_prop) if isinstance(stored_prop, str) else stored_prop
    expected: dict[str, Any] = {"k": str(BIG), "keep": [1, 2.5, "x"]}
    if not ON_PG:
        expected.update(n=None, s="ab")
    assert meta_value == expected
    assert prop_value == {"big": str(-BIG)}
    _pages_answer(api, ds)
