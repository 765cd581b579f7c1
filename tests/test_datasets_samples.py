"""Datasets, labels, samples and auto-annotation results through real HTTP.

Contract: /work/shared/spec/API_CONTRACT.md §5 (+ §3.4-3.5, §4.2-4.3 and the Decisions table):
``offset`` is a page index, ``sample_status`` is UN_ANNOTATION / MANUAL_ANNOTATION /
AUTO_ANNOTATION, and filters accept the ``__X__`` forms.

Speed: the module shares one app and database (SQLite, or PostgreSQL when LABELPILOT_TEST_PG_URL
is set); each test still gets its own ``project`` (a fresh uuid), and every "other project" is
fresh too, so tests cannot see each other's datasets.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest
from PIL import Image
from sqlalchemy import create_engine, text

from labelpilot.app import create_app
from labelpilot.auth.service import create_credential
from labelpilot.config import Settings
from labelpilot.db import Database
from tests.support.flow import run_app_queue

ERROR_CODE = re.compile(r"ModelArts\.\d{4}")
UNKNOWN_SAMPLE = "0" * 32


# --- helpers ---------------------------------------------------------------------------------


def png_bytes(color: tuple[int, int, int] = (255, 0, 0), size: tuple[int, int] = (4, 4)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def image_item(
    name: str,
    labels: list[str] | None = None,
    *,
    data: bytes | None = None,
    scores: list[float] | None = None,
) -> dict[str, Any]:
    """A base64 sample for the add-samples body; ``scores`` go with ``labels`` by position."""
    item: dict[str, Any] = {"name": name, "data": b64(data if data is not None else png_bytes())}
    if labels:
        item["labels"] = [
            {"name": n, **({"score": scores[i]} if scores else {})} for i, n in enumerate(labels)
        ]
    return item


def local_path(url: str) -> Path:
    """The file behind a ``file://`` sample source."""
    assert url.startswith("file://"), url
    return Path(unquote(urlparse(url).path))


def assert_error(r: Any, status: int, code: str, *mentions: str) -> dict[str, Any]:
    """An error response: exact body keys, a ModelArts code, a request id, named fields."""
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error_code", "error_msg"}, body
    assert ERROR_CODE.fullmatch(body["error_code"]), body
    assert body["error_code"] == code, body
    for word in mentions:
        assert word in body["error_msg"], body
    assert r.headers.get("x-request-id"), r.headers
    return body


def write_tree(root: Path, files: dict[str, bytes | str]) -> Path:
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            p.write_text(content, encoding="utf-8")
        else:
            p.write_bytes(content)
    return root


class Api:
    """Thin HTTP helpers for one project; every call asserts its status code."""

    def __init__(self, client: Any, project: str, headers: dict[str, str]) -> None:
        self.c = client
        self.project = project
        self.h = headers

    @property
    def datasets(self) -> str:
        return f"/v2/{self.project}/datasets"

    def samples_url(self, ds: str) -> str:
        return f"{self.datasets}/{ds}/data-annotations/samples"

    def auto_url(self, ds: str) -> str:
        return f"{self.datasets}/{ds}/auto-annotations/samples"

    def labels_url(self, ds: str) -> str:
        return f"{self.datasets}/{ds}/data-annotations/labels"

    def create_raw(self, body: dict[str, Any]) -> Any:
        return self.c.post(self.datasets, json=body, headers=self.h)

    def create(self, name: str = "ds", **body: Any) -> str:
        r = self.create_raw({"dataset_name": name, **body})
        assert r.status_code == 201, r.text
        return r.json()["dataset_id"]

    def import_dir(self, name: str, path: Path, **body: Any) -> str:
        """A dataset created with ``path`` as its data source, after its import task ran."""
        ds = self.create(name, data_sources=[{"data_type": 0, "data_path": str(path)}], **body)
        run_app_queue(self.c)
        return ds

    def dataset(self, ds: str) -> dict[str, Any]:
        r = self.c.get(f"{self.datasets}/{ds}", headers=self.h)
        assert r.status_code == 200, r.text
        return r.json()

    def counts(self, ds: str) -> tuple[int, int, int]:
        d = self.dataset(ds)
        return (
            d["total_sample_count"],
            d["annotated_sample_count"],
            d["unconfirmed_sample_count"],
        )

    def add(self, ds: str, *items: dict[str, Any], final: bool | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"samples": list(items)}
        if final is not None:
            body["final_annotation"] = final
        r = self.c.post(self.samples_url(ds), json=body, headers=self.h)
        assert r.status_code == 200, r.text
        return r.json()

    def add_ok(self, ds: str, *items: dict[str, Any], final: bool | None = None) -> list[str]:
        """Add samples that must all succeed; return their ids in order."""
        body = self.add(ds, *items, final=final)
        assert body["success"] is True, body
        return [res["info"] for res in body["results"]]

    def list(self, ds: str, url: str | None = None, **params: Any) -> dict[str, Any]:
        r = self.c.get(url or self.samples_url(ds), params=params, headers=self.h)
        assert r.status_code == 200, r.text
        return r.json()

    def ids(self, ds: str, **params: Any) -> list[str]:
        return [x["sample_id"] for x in self.list(ds, **params)["samples"]]

    def names(self, ds: str, **params: Any) -> set[str]:
        params.setdefault("limit", 100)
        return {x["sample_name"] for x in self.list(ds, **params)["samples"]}

    def sample(self, ds: str, sid: str) -> dict[str, Any]:
        r = self.c.get(f"{self.samples_url(ds)}/{sid}", headers=self.h)
        assert r.status_code == 200, r.text
        return r.json()

    def put(self, ds: str, *items: dict[str, Any]) -> dict[str, Any]:
        r = self.c.put(self.samples_url(ds), json={"samples": list(items)}, headers=self.h)
        assert r.status_code == 200, r.text
        return r.json()

    def delete_samples(self, ds: str, ids: list[str]) -> dict[str, Any]:
        r = self.c.post(f"{self.samples_url(ds)}/delete", json={"samples": ids}, headers=self.h)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One app for the module (overrides conftest's per-test app; tests isolate by project)."""
    root = tmp_path_factory.mktemp("lp")
    pg_admin = os.environ.get("LABELPILOT_TEST_PG_URL")
    url = f"sqlite:///{root / 'test.db'}"
    name = f"lp_test_{uuid.uuid4().hex[:12]}"
    if pg_admin:
        admin = create_engine(pg_admin, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        url = f"{pg_admin.rsplit('/', 1)[0]}/{name}"
    # the tests import from their own tmp dirs
    imports = [tmp_path_factory.getbasetemp()]
    settings = Settings(data_dir=root / "data", database_url=url, import_roots=imports)
    application = create_app(settings, run_reaper=False)
    try:
        yield application
    finally:
        application.state.services.db.dispose()
        if pg_admin:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


@pytest.fixture
def api(client: Any, project: str, auth: dict[str, str]) -> Api:
    return Api(client, project, auth)


@pytest.fixture
def other(client: Any, db: Database) -> Api:
    """Another project with its own credential (fresh per test: the app is shared)."""
    project = "o" + uuid.uuid4().hex[:31]
    with db.transaction() as session:
        token = create_credential(session, project).token
    return Api(client, project, {"X-Auth-Token": token})


def search(*conditions: dict[str, Any]) -> str:
    """``search_conditions`` as a JSON array (httpx URL-encodes query values)."""
    return json.dumps(list(conditions))


def labels_of(sample: dict[str, Any]) -> list[str]:
    return [lb["name"] for lb in sample.get("labels", [])]


# --- create dataset --------------------------------------------------------------------------


def test_create_dataset_201_ignores_unknown_fields(api: Api) -> None:
    r = api.create_raw({"dataset_name": "flowers_v-1", "no_such_field": {"x": 1}, "managed": True})
    assert r.status_code == 201, r.text
    ds = r.json()["dataset_id"]
    assert re.fullmatch(r"[A-Za-z0-9]{19}", ds)
    d = api.dataset(ds)
    assert d["dataset_id"] == ds and d["dataset_name"] == "flowers_v-1"
    assert "no_such_field" not in d
    assert api.counts(ds) == (0, 0, 0)


@pytest.mark.parametrize("name", ["", "bad name!", "a" * 101, None])
def test_create_dataset_rejects_bad_name(api: Api, name: str | None) -> None:
    body = {} if name is None else {"dataset_name": name}
    assert_error(api.create_raw(body), 400, "ModelArts.0104", "dataset_name")
    r = api.c.get(api.datasets, headers=api.h)
    assert r.json()["total_number"] == 0


def test_create_dataset_name_of_100_chars_is_accepted(api: Api) -> None:
    ds = api.create("a" * 100)
    assert api.dataset(ds)["dataset_name"] == "a" * 100


def test_duplicate_dataset_name_is_4351_per_project(api: Api, other: Api) -> None:
    first = api.create("same")
    assert_error(api.create_raw({"dataset_name": "same"}), 400, "ModelArts.4351", "same")
    assert api.c.get(api.datasets, headers=api.h).json()["total_number"] == 1
    assert api.dataset(first)["dataset_name"] == "same"
    # The name is only taken inside one project.
    assert other.create("same") != first


# --- create from a local directory -----------------------------------------------------------


def class_folders(tmp_path: Path) -> Path:
    return write_tree(
        tmp_path / "src",
        {"cat/1.png": png_bytes((1, 1, 1)), "dog/2.png": png_bytes((2, 2, 2))},
    )


@pytest.mark.parametrize("flag", [True, None])
def test_import_class_folders_as_labels(api: Api, tmp_path: Path, flag: bool | None) -> None:
    extra = {} if flag is None else {"import_annotations": flag}
    ds = api.import_dir("imp", class_folders(tmp_path), **extra)
    assert api.counts(ds) == (2, 2, 0)
    samples = api.list(ds)["samples"]
    by_name = {x["sample_name"]: x for x in samples}
    assert set(by_name) == {"1.png", "2.png"}
    assert labels_of(by_name["1.png"]) == ["cat"]
    assert labels_of(by_name["2.png"]) == ["dog"]
    assert {x["sample_status"] for x in samples} == {"MANUAL_ANNOTATION"}
    assert {x["sample_type"] for x in samples} == {0}
    d = api.dataset(ds)
    assert d["dataset_type"] == 0
    assert {lb["name"] for lb in d["labels"]} == {"cat", "dog"}


def test_import_without_annotations_leaves_samples_unlabeled(api: Api, tmp_path: Path) -> None:
    ds = api.import_dir("imp", class_folders(tmp_path), import_annotations=False)
    assert api.counts(ds) == (2, 0, 0)
    samples = api.list(ds)["samples"]
    assert {x["sample_status"] for x in samples} == {"UN_ANNOTATION"}
    assert all(labels_of(x) == [] for x in samples)


def test_import_text_files_makes_a_text_dataset(api: Api, tmp_path: Path) -> None:
    src = write_tree(tmp_path / "txt", {"a.txt": "good movie", "b.txt": "bad movie"})
    ds = api.import_dir("texts", src)
    assert api.dataset(ds)["dataset_type"] == 100
    samples = api.list(ds)["samples"]
    assert {x["sample_name"] for x in samples} == {"a.txt", "b.txt"}
    assert {x["sample_type"] for x in samples} == {1}
    a = next(x for x in samples if x["sample_name"] == "a.txt")
    r = api.c.get(f"{api.samples_url(ds)}/{a['sample_id']}/content", headers=api.h)
    assert r.status_code == 200 and r.content == b"good movie"


def test_import_mixed_images_and_text_stays_an_image_dataset(api: Api, tmp_path: Path) -> None:
    src = write_tree(tmp_path / "mix", {"a.txt": "t", "b.png": png_bytes()})
    ds = api.import_dir("mixed", src)
    assert api.dataset(ds)["dataset_type"] == 0
    assert api.counts(ds) == (2, 0, 0)


def test_import_manifest_labels_the_files_it_names(api: Api, tmp_path: Path) -> None:
    rows = [
        {
            "source": "s3://bucket/raw/a.png",
            "annotation": [{"name": "cat", "type": "modelarts/image_classification"}],
        },
        {
            "source": "b.png",
            "annotation": [{"name": "dog", "type": "modelarts/image_classification"}],
        },
    ]
    src = write_tree(
        tmp_path / "man",
        {
            "a.png": png_bytes((1, 2, 3)),
            "b.png": png_bytes((4, 5, 6)),
            "c.png": png_bytes((7, 8, 9)),
            "labels.manifest": "\n".join(json.dumps(r) for r in rows) + "\n",
        },
    )
    ds = api.import_dir("man", src)
    by_name = {x["sample_name"]: x for x in api.list(ds)["samples"]}
    assert set(by_name) == {"a.png", "b.png", "c.png"}  # the manifest itself is no sample
    assert labels_of(by_name["a.png"]) == ["cat"]
    assert labels_of(by_name["b.png"]) == ["dog"]
    assert labels_of(by_name["c.png"]) == []
    assert api.counts(ds) == (3, 2, 0)

    ds2 = api.import_dir("man2", src, import_annotations=False)
    assert api.counts(ds2) == (3, 0, 0)


def test_import_missing_directory_is_400_and_creates_nothing(api: Api, tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    r = api.create_raw(
        {"dataset_name": "gone", "data_sources": [{"data_type": 0, "data_path": str(missing)}]}
    )
    assert_error(r, 400, "ModelArts.0104", "data_path")
    assert api.c.get(api.datasets, headers=api.h).json()["total_number"] == 0
    api.create("gone")  # the name was not consumed by the failed request


def test_refused_source_creates_nothing_and_a_corrupt_file_is_listed(
    api: Api, tmp_path: Path, app: Any
) -> None:
    stored = Path(app.state.services.storage.root) / "datasets"
    before = set(stored.iterdir()) if stored.exists() else set()
    good = class_folders(tmp_path)
    bad = write_tree(tmp_path / "bad", {"a/ok.png": png_bytes(), "b/zz_fake.png": b"not an image"})
    # a refused source is refused by the create itself: no dataset, no file
    body = {
        "dataset_name": "half",
        "data_sources": [{"data_path": str(p)} for p in (good, tmp_path / "missing")],
    }
    assert_error(api.create_raw(body), 400, "ModelArts.0104", "data_path")
    assert api.c.get(api.datasets, headers=api.h).json()["total_number"] == 0
    after = set(stored.iterdir()) if stored.exists() else set()
    assert after == before, "files of the failed import were left in storage"
    # a corrupt file inside a source is listed by the import task; the rest goes in (#13)
    r = api.create_raw({"dataset_name": "half", "data_sources": [{"data_path": str(bad)}]})
    assert r.status_code == 201, r.text
    run_app_queue(api.c)
    ds, task_id = r.json()["dataset_id"], r.json()["import_task_id"]
    status = api.c.get(f"{api.datasets}/{ds}/import-tasks/{task_id}", headers=api.h).json()
    assert status["imported_sample_count"] == 1
    assert [f["file"] for f in status["failures"]] == ["b/zz_fake.png"]
    assert "decode" in status["failures"][0]["reason"] or "image" in status["failures"][0]["reason"]
    assert api.counts(ds) == (1, 1, 0)


# --- get dataset / auth ----------------------------------------------------------------------


def test_counters_follow_adds_confirmations_and_deletes(api: Api) -> None:
    ds = api.create()
    assert api.counts(ds) == (0, 0, 0)
    labeled, plain = api.add_ok(ds, image_item("l.png", ["cat"]), image_item("u.png"))
    assert api.counts(ds) == (2, 1, 0)
    (auto,) = api.add_ok(ds, image_item("a.png", ["dog"], scores=[0.7]), final=False)
    assert api.counts(ds) == (3, 1, 1)
    assert api.put(ds, {"sample_id": auto, "labels": [{"name": "dog"}]})["success"] is True
    assert api.counts(ds) == (3, 2, 0)
    assert api.delete_samples(ds, [labeled])["success"] is True
    assert api.counts(ds) == (2, 1, 0)
    assert api.delete_samples(ds, [plain])["success"] is True
    assert api.counts(ds) == (1, 1, 0)


def test_unknown_dataset_is_404_4352(api: Api, other: Api) -> None:
    r = api.c.get(f"{api.datasets}/NoSuchDataset000000", headers=api.h)
    assert_error(r, 404, "ModelArts.4352", "NoSuchDataset000000")
    # Another project's dataset is unknown here, too (no leak of its existence).
    theirs = other.create("theirs")
    assert_error(api.c.get(f"{api.datasets}/{theirs}", headers=api.h), 404, "ModelArts.4352")
    for url in (api.samples_url(theirs), api.labels_url(theirs), api.auto_url(theirs)):
        assert_error(api.c.get(url, headers=api.h), 404, "ModelArts.4352")


def test_credentials_401_and_403(api: Api, other: Api) -> None:
    ds = api.create()
    url = f"{api.datasets}/{ds}"
    assert_error(api.c.get(url, headers=other.h), 403, "ModelArts.0210")
    assert_error(api.c.get(url), 401, "ModelArts.0201")
    assert_error(api.c.get(url, headers={"X-Auth-Token": "bogus"}), 401, "ModelArts.0203")
    assert_error(api.c.post(api.datasets, json={"dataset_name": "x"}), 401, "ModelArts.0201")
    r = api.c.post(api.samples_url(ds), json={"samples": [image_item("x.png")]}, headers=other.h)
    assert_error(r, 403, "ModelArts.0210")
    assert api.counts(ds) == (0, 0, 0)


# --- list datasets ---------------------------------------------------------------------------


def test_list_datasets_pages_are_page_indexes_and_disjoint(api: Api) -> None:
    made = {api.create(f"set_{i}") for i in range(5)}
    pages = []
    for offset in range(4):
        r = api.c.get(api.datasets, params={"limit": 2, "offset": offset}, headers=api.h)
        assert r.status_code == 200, r.text
        assert r.json()["total_number"] == 5
        pages.append([d["dataset_id"] for d in r.json()["datasets"]])
    assert [len(p) for p in pages] == [2, 2, 1, 0]
    flat = [x for p in pages for x in p]
    assert len(flat) == len(set(flat)) and set(flat) == made


def test_list_datasets_search_content_is_a_substring(api: Api) -> None:
    api.create("Flowers_train")
    api.create("old_flowers")
    api.create("cars")
    r = api.c.get(api.datasets, params={"search_content": "flower"}, headers=api.h)
    body = r.json()
    assert body["total_number"] == 2
    assert {d["dataset_name"] for d in body["datasets"]} == {"Flowers_train", "old_flowers"}
    r = api.c.get(api.datasets, params={"search_content": "zzz"}, headers=api.h)
    assert r.json() == {"datasets": [], "total_number": 0}


@pytest.mark.parametrize("limit", ["0", "101", "abc"])
def test_list_datasets_bad_limit_is_400(api: Api, limit: str) -> None:
    r = api.c.get(api.datasets, params={"limit": limit}, headers=api.h)
    assert_error(r, 400, "ModelArts.0104", "limit")


def test_list_datasets_only_shows_own_project(api: Api, other: Api) -> None:
    api.create("mine")
    other.create("theirs")
    body = api.c.get(api.datasets, headers=api.h).json()
    assert [d["dataset_name"] for d in body["datasets"]] == ["mine"]


# --- labels ----------------------------------------------------------------------------------


def test_labels_create_list_and_duplicate(api: Api) -> None:
    ds = api.create()
    url = api.labels_url(ds)
    r = api.c.post(
        url, json={"labels": [{"name": "cat"}, {"name": "dog", "type": 0}]}, headers=api.h
    )
    assert r.status_code == 200, r.text
    assert r.json()["success"] is True
    listed = api.c.get(url, headers=api.h).json()["labels"]
    assert [lb["name"] for lb in listed] == ["cat", "dog"]
    assert all(lb["type"] == 0 for lb in listed)

    r = api.c.post(url, json={"labels": [{"name": "bird"}, {"name": "cat"}]}, headers=api.h)
    assert_error(r, 400, "ModelArts.4411", "cat")
    r = api.c.post(url, json={"labels": [{"name": "fox"}, {"name": "fox"}]}, headers=api.h)
    assert_error(r, 400, "ModelArts.4411", "fox")
    # A failed request adds nothing (not even the good "bird").
    listed = api.c.get(url, headers=api.h).json()["labels"]
    assert [lb["name"] for lb in listed] == ["cat", "dog"]
    assert [lb["name"] for lb in api.dataset(ds)["labels"]] == ["cat", "dog"]


# --- add samples -----------------------------------------------------------------------------


def test_add_base64_png_records_size_and_bytes(api: Api) -> None:
    ds = api.create()
    data = png_bytes((10, 20, 30), size=(7, 5))
    (sid,) = api.add_ok(ds, image_item("pic.png", data=data))
    assert re.fullmatch(r"[0-9a-f]{32}", sid)
    s = api.sample(ds, sid)
    assert s["sample_id"] == sid and s["sample_name"] == "pic.png"
    assert s["sample_type"] == 0 and s["sample_status"] == "UN_ANNOTATION"
    assert s["metadata"]["@modelarts:size"] == [7, 5, 3]
    assert s["sample_size"] == len(data)
    assert local_path(s["source"]).read_bytes() == data
    r = api.c.get(f"{api.samples_url(ds)}/{sid}/content", headers=api.h)
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-type"].startswith("image/png")


def test_add_batch_reports_per_item_errors_and_keeps_the_good_ones(api: Api) -> None:
    ds = api.create()
    api.add_ok(ds, image_item("dup.png"))
    body = api.add(
        ds,
        image_item("good.png", ["cat"]),
        {"name": "bad64.png", "data": "%%% not base64 %%%"},
        {"name": "fake.png", "data": b64(b"this is not an image")},
        image_item("dup.png", data=png_bytes((0, 0, 255))),
        image_item("good2.png"),
    )
    assert body["success"] is False
    assert ERROR_CODE.fullmatch(body["error_code"]) and body["error_msg"]
    res = body["results"]
    assert [x["success"] for x in res] == [True, False, False, False, True]
    assert res[1]["error_code"] == "ModelArts.0104" and "base64" in res[1]["error_msg"]
    assert res[2]["error_code"] == "ModelArts.4423"
    assert res[3]["error_code"] == "ModelArts.4422" and "dup.png" in res[3]["error_msg"]
    assert api.counts(ds) == (3, 1, 0)
    assert api.names(ds) == {"dup.png", "good.png", "good2.png"}
    # The duplicate did not overwrite the stored original.
    dup = next(x for x in api.list(ds)["samples"] if x["sample_name"] == "dup.png")
    assert local_path(dup["source"]).read_bytes() == png_bytes()


def test_add_storage_failures_are_per_item(api: Api) -> None:
    ds = api.create()
    body = api.add(
        ds,
        image_item("ok.png"),
        image_item("n" * 300 + ".png"),  # longer than a file name may be
        image_item("ok.png/inner.png"),  # "ok.png" is a file, not a directory
        image_item("scored.png", ["cat"], scores=[1.5]),  # invalid score
    )
    assert body["success"] is False
    res = body["results"]
    assert [x["success"] for x in res] == [True, False, False, False]
    assert res[1]["error_code"] == res[2]["error_code"] == "ModelArts.4421"
    assert "score" in res[3]["error_msg"]
    assert api.names(ds) == {"ok.png"}
    data_dir = local_path(api.dataset(ds)["inner_data_path"])
    assert sorted(p.name for p in data_dir.iterdir()) == ["ok.png"]


def test_add_sample_needs_name_and_data(api: Api) -> None:
    ds = api.create()
    body = api.add(ds, {"data": b64(png_bytes())}, {"name": "nothing.png"})
    assert body["success"] is False
    assert [x["success"] for x in body["results"]] == [False, False]
    assert "name" in body["results"][0]["error_msg"]
    assert api.counts(ds) == (0, 0, 0)


def test_add_sample_from_local_data_source(api: Api, tmp_path: Path) -> None:
    ds = api.create()
    data = png_bytes((9, 9, 9), size=(3, 2))
    src = tmp_path / "in" / "far.png"
    src.parent.mkdir()
    src.write_bytes(data)
    (sid,) = api.add_ok(ds, {"data_source": {"data_type": 0, "data_path": str(src)}})
    s = api.sample(ds, sid)
    assert s["sample_name"] == "far.png"
    assert s["metadata"]["@modelarts:size"] == [3, 2, 3]
    r = api.c.get(f"{api.samples_url(ds)}/{sid}/content", headers=api.h)
    assert r.content == data
    # The sample is a copy: the source file stays where it was.
    assert src.read_bytes() == data and local_path(s["source"]) != src

    body = api.add(ds, {"data_source": {"data_path": str(tmp_path / "missing.png")}})
    assert body["success"] is False
    assert "data_path" in body["results"][0]["error_msg"]


def test_add_not_final_is_auto_annotation_and_unconfirmed(api: Api) -> None:
    ds = api.create()
    (sid,) = api.add_ok(ds, image_item("p.png", ["cat"], scores=[0.8]), final=False)
    s = api.sample(ds, sid)
    assert s["sample_status"] == "AUTO_ANNOTATION"
    assert s["labels"][0]["name"] == "cat" and s["labels"][0]["score"] == pytest.approx(0.8)
    assert api.counts(ds) == (1, 0, 1)
    # Without labels, final_annotation: false still gives an unlabeled sample.
    api.add_ok(ds, image_item("q.png"), final=False)
    assert api.counts(ds) == (2, 0, 1)


def test_add_sample_name_cannot_escape_the_dataset(api: Api, other: Api) -> None:
    victim = other.create("victim")
    (vid,) = other.add_ok(victim, image_item("x.png"))
    victim_file = local_path(other.sample(victim, vid)["source"])
    attacker = api.create("attacker")
    bad_names = [
        f"../../{victim}/data/x.png",
        f"sub/../../../{victim}/data/x.png",
        "/abs.png",
        "./x.png",
        "a//x.png",
    ]
    body = api.add(attacker, *(image_item(n, data=png_bytes((0, 255, 0))) for n in bad_names))
    assert body["success"] is False, body
    for res in body["results"]:
        assert res["success"] is False and res["error_code"] == "ModelArts.0104", res
        assert "name" in res["error_msg"]
    assert victim_file.read_bytes() == png_bytes()
    assert api.counts(attacker) == (0, 0, 0)
    # A plain sub-directory in the name is fine.
    (sid,) = api.add_ok(attacker, image_item("sub/y.png"))
    assert api.sample(attacker, sid)["sample_name"] == "y.png"


# --- list samples ----------------------------------------------------------------------------


@pytest.fixture
def mixed(api: Api) -> tuple[str, dict[str, str]]:
    """A dataset with 2 labeled, 1 to-be-confirmed and 2 unlabeled samples; ids by name."""
    ds = api.create("mixed")
    names = ["cat1.png", "dog1.png", "u1.png", "u2.png"]
    ids = api.add_ok(
        ds,
        image_item("cat1.png", ["cat"]),
        image_item("dog1.png", ["dog"]),
        image_item("u1.png"),
        image_item("u2.png"),
    )
    (auto,) = api.add_ok(ds, image_item("auto1.png", ["cat"], scores=[0.4]), final=False)
    return ds, {**dict(zip(names, ids, strict=True)), "auto1.png": auto}


def test_list_samples_state_filters(api: Api, mixed: tuple[str, dict[str, str]]) -> None:
    ds, _ = mixed
    assert api.names(ds) == {"cat1.png", "dog1.png", "u1.png", "u2.png", "auto1.png"}
    assert api.list(ds)["sample_count"] == 5
    assert api.names(ds, sample_state="__ALL__") == {"cat1.png", "dog1.png"}
    assert api.names(ds, sample_state="__NONE__") == {"u1.png", "u2.png"}
    assert api.names(ds, sample_state="__AUTO_ANNOTATION__") == {"auto1.png"}
    assert api.list(ds, sample_state="__ALL__")["sample_count"] == 2
    statuses = {x["sample_name"]: x["sample_status"] for x in api.list(ds)["samples"]}
    assert statuses == {
        "cat1.png": "MANUAL_ANNOTATION",
        "dog1.png": "MANUAL_ANNOTATION",
        "u1.png": "UN_ANNOTATION",
        "u2.png": "UN_ANNOTATION",
        "auto1.png": "AUTO_ANNOTATION",
    }


def test_list_samples_unknown_state_is_400(api: Api, mixed: tuple[str, dict[str, str]]) -> None:
    ds, _ = mixed
    r = api.c.get(api.samples_url(ds), params={"sample_state": "__BOGUS__"}, headers=api.h)
    assert_error(r, 400, "ModelArts.0104", "sample_state")


def test_list_samples_by_label_name(api: Api, mixed: tuple[str, dict[str, str]]) -> None:
    ds, _ = mixed
    assert api.names(ds, label_name="cat") == {"cat1.png", "auto1.png"}
    assert api.names(ds, label_name="dog") == {"dog1.png"}
    assert api.names(ds, label_name="cow") == set()


def test_list_samples_by_score_range(api: Api, mixed: tuple[str, dict[str, str]]) -> None:
    ds, ids = mixed
    res = api.put(
        ds,
        {"sample_id": ids["cat1.png"], "labels": [{"name": "cat", "score": 0.9}]},
        {"sample_id": ids["dog1.png"], "labels": [{"name": "dog", "score": 0.2}]},
    )
    assert res["success"] is True, res
    assert api.sample(ds, ids["cat1.png"])["labels"][0]["score"] == pytest.approx(0.9)
    assert api.names(ds, low_score="0.5", high_score="1") == {"cat1.png"}
    assert api.names(ds, low_score="0", high_score="0.5") == {"dog1.png", "auto1.png"}
    assert api.names(ds, low_score="0.3") == {"cat1.png", "auto1.png"}
    assert api.names(ds, high_score="0.3") == {"dog1.png"}
    r = api.c.get(api.samples_url(ds), params={"low_score": "x"}, headers=api.h)
    assert_error(r, 400, "ModelArts.0104", "low_score")
    r = api.c.get(api.samples_url(ds), params={"high_score": "2"}, headers=api.h)
    assert_error(r, 400, "ModelArts.0104", "high_score")


def test_search_conditions(api: Api, mixed: tuple[str, dict[str, str]]) -> None:
    ds, ids = mixed
    res = api.put(
        ds,
        {"sample_id": ids["u1.png"], "metadata": {"group": "g1"}},
        {"sample_id": ids["cat1.png"], "labels": [{"name": "cat"}], "metadata": {"group": "g1"}},
        {"sample_id": ids["dog1.png"], "labels": [{"name": "dog"}], "metadata": {"group": "g2"}},
    )
    assert res["success"] is True, res
    assert api.sample(ds, ids["cat1.png"])["metadata"]["group"] == "g1"
    # Writing metadata keeps the image size already recorded.
    assert api.sample(ds, ids["cat1.png"])["metadata"]["@modelarts:size"] == [4, 4, 3]

    by_label = search({"label_list": {"labels": [{"name": "dog"}]}})
    assert api.names(ds, search_conditions=by_label) == {"dog1.png"}
    either = search({"label_list": {"op": "OR", "labels": [{"name": "dog"}, {"name": "cat"}]}})
    assert api.names(ds, search_conditions=either) == {"cat1.png", "dog1.png", "auto1.png"}
    g1 = search({"metadata": {"props": {"group": ["g1"]}}})
    assert api.names(ds, search_conditions=g1) == {"u1.png", "cat1.png"}
    g_any = search({"metadata": {"props": {"group": ["g1", "g2"]}}})
    assert api.names(ds, search_conditions=g_any) == {"u1.png", "cat1.png", "dog1.png"}
    assert api.names(ds, search_conditions=search({"sample_name": "u2.png"})) == {"u2.png"}
    # Conditions are AND-combined, with each other and with the other filters.
    both = search(
        {"metadata": {"props": {"group": ["g1"]}}}, {"label_list": {"labels": [{"name": "cat"}]}}
    )
    assert api.names(ds, search_conditions=both) == {"cat1.png"}
    assert api.names(ds, search_conditions=g1, sample_state="__NONE__") == {"u1.png"}

    r = api.c.get(
        api.samples_url(ds), params={"search_conditions": search({"kvp": "a"})}, headers=api.h
    )
    assert_error(r, 400, "ModelArts.0104", "kvp")
    r = api.c.get(api.samples_url(ds), params={"search_conditions": "[{"}, headers=api.h)
    assert_error(r, 400, "ModelArts.0104", "search_conditions")


def test_list_order_and_disjoint_pages(api: Api) -> None:
    ds = api.create()
    made = api.add_ok(ds, *(image_item(f"s{i}.png") for i in range(5)))
    desc = api.ids(ds, order="desc")
    asc = api.ids(ds, order="asc")
    assert sorted(desc) == sorted(made)
    assert asc == list(reversed(desc))
    pages = []
    for offset in range(4):
        body = api.list(ds, limit=2, offset=offset, order="asc")
        assert body["sample_count"] == 5
        pages.append([x["sample_id"] for x in body["samples"]])
    assert [len(p) for p in pages] == [2, 2, 1, 0]
    assert [x for p in pages for x in p] == asc
    r = api.c.get(api.samples_url(ds), params={"order": "up"}, headers=api.h)
    assert_error(r, 400, "ModelArts.0104", "order")
    r = api.c.get(api.samples_url(ds), params={"limit": 101}, headers=api.h)
    assert_error(r, 400, "ModelArts.0104", "limit")


def test_out_of_range_offsets_are_400_not_500(api: Api) -> None:
    ds = api.create()
    huge = {"offset": 10**17, "limit": 100}
    for url in (api.datasets, api.samples_url(ds), api.auto_url(ds)):
        assert_error(api.c.get(url, params=huge, headers=api.h), 400, "ModelArts.0104", "offset")
        assert_error(
            api.c.get(url, params={"offset": -1}, headers=api.h), 400, "ModelArts.0104", "offset"
        )
    far = api.c.get(api.datasets, params={"offset": 10**6, "limit": 100}, headers=api.h)
    assert far.status_code == 200 and far.json() == {"datasets": [], "total_number": 1}


# --- one sample ------------------------------------------------------------------------------


def test_unknown_sample_is_404_4420(api: Api) -> None:
    ds = api.create()
    base = api.samples_url(ds)
    for url in (f"{base}/{UNKNOWN_SAMPLE}", f"{base}/{UNKNOWN_SAMPLE}/content"):
        assert_error(api.c.get(url, headers=api.h), 404, "ModelArts.4420", UNKNOWN_SAMPLE)
    # A sample of another dataset is unknown here.
    other = api.create("other")
    (sid,) = api.add_ok(other, image_item("x.png"))
    assert_error(api.c.get(f"{base}/{sid}", headers=api.h), 404, "ModelArts.4420")


# --- update samples --------------------------------------------------------------------------


def test_update_confirms_clears_and_reports_unknown_ids(api: Api) -> None:
    ds = api.create()
    (auto,) = api.add_ok(ds, image_item("a.png", ["cat"], scores=[0.6]), final=False)
    (plain, labeled) = api.add_ok(ds, image_item("p.png"), image_item("l.png", ["dog"]))
    assert api.counts(ds) == (3, 1, 1)

    body = api.put(
        ds,
        {"sample_id": auto, "labels": [{"name": "dog"}]},
        {"sample_id": UNKNOWN_SAMPLE, "labels": [{"name": "cat"}]},
        {"sample_id": plain, "labels": [{"name": "cat"}, {"name": "bird"}]},
    )
    assert body["success"] is False
    assert [x["success"] for x in body["results"]] == [True, False, True]
    assert body["results"][1]["error_code"] == "ModelArts.4420"
    assert UNKNOWN_SAMPLE in body["results"][1]["error_msg"]
    # The good items were kept.
    a = api.sample(ds, auto)
    assert a["sample_status"] == "MANUAL_ANNOTATION" and labels_of(a) == ["dog"]
    assert labels_of(api.sample(ds, plain)) == ["cat", "bird"]
    assert api.counts(ds) == (3, 3, 0)
    assert "bird" in {lb["name"] for lb in api.dataset(ds)["labels"]}
    assert api.ids(ds, sample_state="__AUTO_ANNOTATION__") == []

    assert api.put(ds, {"sample_id": labeled, "labels": []})["success"] is True
    cleared = api.sample(ds, labeled)
    assert cleared["sample_status"] == "UN_ANNOTATION" and labels_of(cleared) == []
    assert api.counts(ds) == (3, 2, 0)


def test_update_rejects_bad_score_and_keeps_old_labels(api: Api) -> None:
    ds = api.create()
    (sid,) = api.add_ok(ds, image_item("l.png", ["dog"]))
    body = api.put(ds, {"sample_id": sid, "labels": [{"name": "cat", "score": 1.5}]})
    assert body["success"] is False
    assert "score" in body["results"][0]["error_msg"]
    s = api.sample(ds, sid)
    assert labels_of(s) == ["dog"] and s["sample_status"] == "MANUAL_ANNOTATION"


def test_update_with_final_annotation_false_puts_labels_back_to_be_confirmed(api: Api) -> None:
    """The console's undo of a confirm: the extension writes labels as "to be confirmed"."""
    ds = api.create()
    (auto,) = api.add_ok(ds, image_item("a.png", ["cat"], scores=[0.6]), final=False)
    assert api.put(ds, {"sample_id": auto, "labels": [{"name": "cat"}]})["success"] is True
    assert api.counts(ds) == (1, 1, 0)
    r = api.c.put(
        api.samples_url(ds),
        json={
            "samples": [{"sample_id": auto, "labels": [{"name": "cat", "score": 0.6}]}],
            "final_annotation": False,
        },
        headers=api.h,
    )
    assert r.status_code == 200 and r.json()["success"] is True, r.text
    s = api.sample(ds, auto)
    assert s["sample_status"] == "AUTO_ANNOTATION"
    assert [(lb["name"], lb["score"]) for lb in s["labels"]] == [("cat", 0.6)]
    assert api.counts(ds) == (1, 0, 1)
    assert api.ids(ds, sample_state="__AUTO_ANNOTATION__") == [auto]
    # empty labels still clear, whatever final_annotation says
    r = api.c.put(
        api.samples_url(ds),
        json={"samples": [{"sample_id": auto, "labels": []}], "final_annotation": False},
        headers=api.h,
    )
    assert r.json()["success"] is True
    assert api.sample(ds, auto)["sample_status"] == "UN_ANNOTATION"
    assert_error(
        api.c.put(
            api.samples_url(ds),
            json={"samples": [{"sample_id": auto}], "final_annotation": "maybe"},
            headers=api.h,
        ),
        400,
        "ModelArts.0104",
    )


# --- auto-annotation results -----------------------------------------------------------------


def test_auto_annotation_list_and_get(api: Api, mixed: tuple[str, dict[str, str]]) -> None:
    ds, ids = mixed
    (auto2,) = api.add_ok(ds, image_item("auto2.png", ["dog"], scores=[0.95]), final=False)
    body = api.list(ds, url=api.auto_url(ds))
    assert body["sample_count"] == 2
    got = {x["sample_id"]: x for x in body["samples"]}
    assert set(got) == {ids["auto1.png"], auto2}
    assert all(x["sample_status"] == "AUTO_ANNOTATION" for x in got.values())
    assert got[auto2]["labels"][0]["score"] == pytest.approx(0.95)
    assert got[ids["auto1.png"]]["labels"][0]["score"] == pytest.approx(0.4)
    high = api.list(ds, url=api.auto_url(ds), low_score="0.5", high_score="1")
    assert [x["sample_id"] for x in high["samples"]] == [auto2]
    by_label = api.list(ds, url=api.auto_url(ds), label_name="cat")
    assert [x["sample_id"] for x in by_label["samples"]] == [ids["auto1.png"]]

    r = api.c.get(f"{api.auto_url(ds)}/{auto2}", headers=api.h)
    assert r.status_code == 200 and r.json()["sample_id"] == auto2
    for sid in (ids["cat1.png"], ids["u1.png"], UNKNOWN_SAMPLE):
        r = api.c.get(f"{api.auto_url(ds)}/{sid}", headers=api.h)
        assert_error(r, 404, "ModelArts.4420")

    api.put(ds, {"sample_id": auto2, "labels": [{"name": "dog"}]})
    assert [x["sample_id"] for x in api.list(ds, url=api.auto_url(ds))["samples"]] == [
        ids["auto1.png"]
    ]
    assert_error(api.c.get(f"{api.auto_url(ds)}/{auto2}", headers=api.h), 404, "ModelArts.4420")


# --- delete samples / dataset ----------------------------------------------------------------


def test_delete_samples_removes_rows_counters_and_files(api: Api) -> None:
    ds = api.create()
    keep, gone = api.add_ok(ds, image_item("keep.png", ["cat"]), image_item("gone.png", ["cat"]))
    gone_file = local_path(api.sample(ds, gone)["source"])
    assert gone_file.is_file()
    body = api.delete_samples(ds, [gone, UNKNOWN_SAMPLE])
    assert body["success"] is False
    assert [x["success"] for x in body["results"]] == [True, False]
    assert body["results"][1]["error_code"] == "ModelArts.4420"
    assert body["results"][1]["name"] == UNKNOWN_SAMPLE
    assert not gone_file.exists()
    assert api.ids(ds) == [keep]
    assert api.counts(ds) == (1, 1, 0)
    assert_error(api.c.get(f"{api.samples_url(ds)}/{gone}", headers=api.h), 404, "ModelArts.4420")
    # The name is free again.
    api.add_ok(ds, image_item("gone.png"))


def test_delete_dataset_removes_it_and_its_files(api: Api, tmp_path: Path) -> None:
    src = class_folders(tmp_path)
    ds = api.import_dir("doomed", src)
    keep = api.create("kept")
    (kept_sid,) = api.add_ok(keep, image_item("k.png"))
    files = [local_path(x["source"]) for x in api.list(ds)["samples"]]
    assert files and all(f.is_file() for f in files)

    r = api.c.delete(f"{api.datasets}/{ds}", headers=api.h)
    assert r.status_code == 204 and r.content == b""
    assert_error(api.c.get(f"{api.datasets}/{ds}", headers=api.h), 404, "ModelArts.4352")
    assert_error(api.c.get(api.samples_url(ds), headers=api.h), 404, "ModelArts.4352")
    assert_error(api.c.delete(f"{api.datasets}/{ds}", headers=api.h), 404, "ModelArts.4352")
    assert not any(f.exists() for f in files)
    # The source directory and other datasets are untouched.
    assert (src / "cat" / "1.png").is_file()
    assert api.sample(keep, kept_sid)["sample_name"] == "k.png"
    names = [d["dataset_name"] for d in api.c.get(api.datasets, headers=api.h).json()["datasets"]]
    assert names == ["kept"]
    api.create("doomed")  # the name is free again


def test_delete_dataset_of_another_project_is_refused(api: Api, other: Api) -> None:
    ds = api.create()
    assert_error(api.c.delete(f"{api.datasets}/{ds}", headers=other.h), 403, "ModelArts.0210")
    assert_error(api.c.delete(f"{other.datasets}/{ds}", headers=other.h), 404, "ModelArts.4352")
    assert api.dataset(ds)["dataset_id"] == ds


# --- error shape and no data loss on bad requests --------------------------------------------


def test_bad_requests_have_the_error_shape_and_lose_nothing(api: Api) -> None:
    ds = api.create()
    api.add_ok(ds, image_item("a.png", ["cat"]), image_item("b.png"))
    api.add_ok(ds, image_item("c.png", ["dog"], scores=[0.5]), final=False)
    before = (api.counts(ds), sorted(api.ids(ds)), api.dataset(ds)["labels"])
    raw = {"headers": {**api.h, "Content-Type": "application/json"}}
    url = api.samples_url(ds)

    cases = [
        (api.c.post(url, content=b'{"samples": [', **raw), 400, "ModelArts.4105"),
        (api.c.put(url, content=b"{not json", **raw), 400, "ModelArts.4105"),
        (api.c.post(api.datasets, content=b"{", **raw), 400, "ModelArts.4105"),
        (api.c.post(url, json={"samples": []}, headers=api.h), 400, "ModelArts.0104"),
        (api.c.put(url, json={"samples": "x"}, headers=api.h), 400, "ModelArts.0104"),
        (api.c.post(f"{url}/delete", json={}, headers=api.h), 400, "ModelArts.0104"),
        (api.c.post(api.labels_url(ds), json={"labels": []}, headers=api.h), 400, "ModelArts.0104"),
        (api.c.get(url, params={"offset": -1}, headers=api.h), 400, "ModelArts.0104"),
        (api.c.get(f"/v2/{api.project}/no-such-api", headers=api.h), 404, "ModelArts.4204"),
    ]
    for r, status, code in cases:
        assert_error(r, status, code)
    assert (api.counts(ds), sorted(api.ids(ds)), api.dataset(ds)["labels"]) == before


def test_concurrent_creates_of_one_name_never_answer_500(app, auth, project) -> None:
    """Check-then-insert races (PostgreSQL) end in 4351, not in an integrity error."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from tests.support.live import live_server

    with live_server(app) as url:

        def create(_: int) -> httpx.Response:
            return httpx.post(
                f"{url}/v2/{project}/datasets",
                json={"dataset_name": "raced"},
                headers=auth,
                timeout=30,
            )

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(create, range(8)))
    codes = sorted(r.status_code for r in answers)
    assert codes == [201] + [400] * 7, [r.text for r in answers]
    assert all(r.json()["error_code"] == "ModelArts.4351" for r in answers if r.status_code == 400)


def test_files_are_deleted_only_when_the_delete_commits(app, client, auth, project) -> None:
    from labelpilot.datasets.service import delete_dataset, get_dataset
    from labelpilot.samples.service import delete_samples
    from labelpilot.storage.local import path_from_url

    svc = app.state.services
    ds = client.post(f"/v2/{project}/datasets", json={"dataset_name": "files"}, headers=auth)
    ds_id = ds.json()["dataset_id"]
    r = client.post(
        f"/v2/{project}/datasets/{ds_id}/data-annotations/samples",
        json={"samples": [{"name": "a.png", "data": base64.b64encode(png_bytes()).decode()}]},
        headers=auth,
    )
    assert r.json()["success"], r.text
    (sample,) = client.get(
        f"/v2/{project}/datasets/{ds_id}/data-annotations/samples", headers=auth
    ).json()["samples"]
    path = path_from_url(sample["source"])
    for delete in (
        lambda s, d: delete_samples(
            session=s, storage=svc.storage, dataset=d, sample_ids=[sample["sample_id"]]
        ),
        lambda s, d: delete_dataset(s, svc.storage, d),
    ):
        with pytest.raises(RuntimeError), svc.db.transaction() as session:
            delete(session, get_dataset(session, project, ds_id))
            raise RuntimeError("the transaction fails after the delete")
        assert path.is_file()  # the rows are back, and so is the file
    with svc.db.transaction() as session:
        delete_samples(
            session=session,
            storage=svc.storage,
            dataset=get_dataset(session, project, ds_id),
            sample_ids=[sample["sample_id"]],
        )
    assert not path.exists()


def test_a_write_is_committed_before_its_response_is_sent(app, auth, project) -> None:
    """A client that has the answer can read what it wrote (slow commits made visible)."""
    import time

    import httpx
    from sqlalchemy import event, select

    from labelpilot.datasets.tables import Dataset
    from tests.support.live import live_server

    db = app.state.services.db

    @event.listens_for(db.write_engine, "commit")
    def slow_commit(_conn: Any) -> None:
        time.sleep(0.3)

    with live_server(app) as url:
        r = httpx.post(
            f"{url}/v2/{project}/datasets", json={"dataset_name": "visible"}, headers=auth
        )
        assert r.status_code == 201
        with db.read() as s:
            assert s.scalar(select(Dataset.id).where(Dataset.name == "visible")) is not None
