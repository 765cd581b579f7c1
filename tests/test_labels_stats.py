"""Dataset update, label maintenance and statistics through real HTTP (issue #13 scope 1-3).

Contract: /work/shared/spec/DATA_MANAGEMENT.md §1-§3 and the Decisions in docs/api.md. After
every write the dataset's counters and the statistics are compared with a recount in SQL
(SQLite, or PostgreSQL when LABELPILOT_TEST_PG_URL is set).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlparse

import pytest
from sqlalchemy import func, select

from labelpilot.datasets.tables import Label, Sample, SampleLabel
from labelpilot.db import Database

STATUS = {"__NONE__": "un_annotation", "__ALL__": "manual_annotation"}


class Api:
    def __init__(self, client: Any, project: str, headers: dict[str, str]) -> None:
        self.c, self.h = client, headers
        self.base = f"/v2/{project}/datasets"

    def create(self, name: str = "ds", **body: Any) -> str:
        r = self.c.post(self.base, json={"dataset_name": name, **body}, headers=self.h)
        assert r.status_code == 201, r.text
        return str(r.json()["dataset_id"])

    def add(self, ds: str, *items: dict[str, Any], final: bool = True) -> list[str]:
        body = {"samples": list(items), "final_annotation": final}
        r = self.c.post(f"{self.base}/{ds}/data-annotations/samples", json=body, headers=self.h)
        assert r.status_code == 200 and r.json()["success"], r.text
        return [x["info"] for x in r.json()["results"]]

    def call(self, method: str, ds: str, path: str = "", **kw: Any) -> Any:
        return self.c.request(method, f"{self.base}/{ds}{path}", headers=self.h, **kw)

    def dataset(self, ds: str) -> dict[str, Any]:
        r = self.call("GET", ds)
        assert r.status_code == 200, r.text
        return dict(r.json())

    def stats(self, ds: str, **params: Any) -> dict[str, Any]:
        r = self.call("GET", ds, "/data-annotations/stats", params=params)
        assert r.status_code == 200, r.text
        return dict(r.json())

    def sample_labels(self, ds: str) -> dict[str, list[str]]:
        r = self.call("GET", ds, "/data-annotations/samples", params={"limit": 100})
        assert r.status_code == 200, r.text
        return {
            s["sample_name"]: [lb["name"] for lb in s.get("labels", [])]
            for s in r.json()["samples"]
        }

    def label_names(self, ds: str) -> list[str]:
        return [lb["name"] for lb in self.dataset(ds)["labels"]]


@pytest.fixture
def api(client: Any, project: str, auth: dict[str, str]) -> Api:
    return Api(client, project, auth)


def text_item(name: str, *labels: str, **meta: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "name": name,
        "data": base64.b64encode(name.encode()).decode(),
        "labels": [{"name": lb} for lb in labels],
    }
    if meta:
        item["metadata"] = meta
    return item


def error(r: Any, status: int, code: str, *mentions: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error_code"] == code, body
    for word in mentions:
        assert word in body["error_msg"], body


def recount(db: Database, api: Api, ds: str) -> None:
    """The API's counters and statistics equal a count of the rows; states match labels."""
    with db.read() as s:
        states = dict(
            s.execute(
                select(Sample.state, func.count())
                .where(Sample.dataset_id == ds)
                .group_by(Sample.state)
            ).all()
        )
        labels_per_sample = dict(
            s.execute(
                select(Sample.state, func.count(SampleLabel.id))
                .select_from(Sample)
                .outerjoin(SampleLabel, SampleLabel.sample_id == Sample.id)
                .where(Sample.dataset_id == ds)
                .group_by(Sample.id, Sample.state)
                .having(func.count(SampleLabel.id) == 0)
            ).all()
        )
        per_label = {
            name: (n, k)
            for name, n, k in s.execute(
                select(
                    SampleLabel.name, func.count(), func.count(func.distinct(SampleLabel.sample_id))
                )
                .where(SampleLabel.dataset_id == ds)
                .group_by(SampleLabel.name)
            )
        }
        names = set(s.scalars(select(Label.name).where(Label.dataset_id == ds)))
    # a sample without labels is unlabeled, and only then
    assert set(labels_per_sample) <= {"__NONE__"}, labels_per_sample
    assert set(per_label) <= names, (per_label, names)  # no sample label without its label
    d = api.dataset(ds)
    total = sum(states.values())
    assert d["total_sample_count"] == total
    assert d["annotated_sample_count"] == states.get("__ALL__", 0)
    st = api.stats(ds)
    assert st["sample_stats"]["total"] == total
    assert st["sample_stats"]["un_annotation"] == states.get("__NONE__", 0)
    assert st["sample_stats"]["manual_annotation"] == states.get("__ALL__", 0)
    assert st["sample_stats"]["auto_annotation"] == states.get("__AUTO_ANNOTATION__", 0)
    got = {x["name"]: (x["count"], x["sample_count"]) for x in st["label_stats"]}
    assert got == {n: per_label.get(n, (0, 0)) for n in names}


def local(url: str) -> Path:
    return Path(unquote(urlparse(url).path))


def sources(api: Api, ds: str) -> dict[str, Path]:
    r = api.call("GET", ds, "/data-annotations/samples", params={"limit": 100})
    return {s["sample_name"]: local(s["source"]) for s in r.json()["samples"]}


@pytest.fixture
def zoo(api: Api, db: Database) -> str:
    """cat.txt [cat], dog.txt [dog], both.txt [cat, dog], bird.txt [bird], none.txt []."""
    ds = api.create("zoo", dataset_type=100)
    api.add(
        ds,
        text_item("cat.txt", "cat"),
        text_item("dog.txt", "dog"),
        text_item("both.txt", "cat", "dog"),
        text_item("bird.txt", "bird"),
        text_item("none.txt"),
    )
    recount(db, api, ds)
    return ds


# --- batch update and rename -----------------------------------------------------------------


def test_rename_renames_on_every_sample_and_merges_property(
    api: Api, db: Database, zoo: str
) -> None:
    r = api.call("POST", zoo, "/data-annotations/labels", json={"labels": [{"name": "fish"}]})
    assert r.status_code == 200, r.text
    body = {
        "labels": [
            {"name": "cat", "property": {"@modelarts:color": "#8a1524"}},
            {"name": "cat", "property": {"@modelarts:rename_to": "pussycat"}},
        ]
    }
    r = api.call("PUT", zoo, "/data-annotations/labels", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["success"] is True
    assert api.sample_labels(zoo) == {
        "cat.txt": ["pussycat"],
        "dog.txt": ["dog"],
        "both.txt": ["pussycat", "dog"],
        "bird.txt": ["bird"],
        "none.txt": [],
    }
    label = next(lb for lb in api.dataset(zoo)["labels"] if lb["name"] == "pussycat")
    assert label["property"] == {"@modelarts:color": "#8a1524"}  # rename_to is not stored
    r = api.call("GET", zoo, "/data-annotations/samples", params={"label_name": "pussycat"})
    assert r.json()["sample_count"] == 2
    recount(db, api, zoo)


def test_batch_update_fails_only_the_bad_items(api: Api, db: Database, zoo: str) -> None:
    body = {
        "labels": [
            {"name": "ghost", "property": {"@modelarts:color": "#000000"}},
            {"name": "cat", "property": {"@modelarts:rename_to": "dog"}},
            {"name": "bird", "property": {"@modelarts:rename_to": "parrot"}},
        ]
    }
    r = api.call("PUT", zoo, "/data-annotations/labels", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["success"] is False and out["error_code"] == "ModelArts.4410"
    assert [x["success"] for x in out["results"]] == [False, False, True]
    assert [x.get("error_code") for x in out["results"][:2]] == ["ModelArts.4410", "ModelArts.4411"]
    assert "labels[0].name" in out["results"][0]["error_msg"]
    assert api.sample_labels(zoo)["cat.txt"] == ["cat"]  # the failed rename left nothing behind
    assert api.sample_labels(zoo)["bird.txt"] == ["parrot"]
    recount(db, api, zoo)


def test_update_one_label_by_percent_encoded_name(api: Api, db: Database) -> None:
    ds = api.create("fruit", dataset_type=100)
    api.add(ds, text_item("s.txt", "草莓"))
    url = "/data-annotations/labels/" + quote("草莓", safe="")
    prop = {"@modelarts:color": "#93c47d", "@modelarts:rename_to": "strawberry"}
    r = api.call("PUT", ds, url, json=prop)
    assert r.status_code == 204 and r.content == b""
    assert api.sample_labels(ds) == {"s.txt": ["strawberry"]}
    assert api.dataset(ds)["labels"][0]["property"] == {"@modelarts:color": "#93c47d"}
    error(api.call("PUT", ds, url, json={}), 400, "ModelArts.4410", "label_name", "草莓")
    typed = "/data-annotations/labels/strawberry"
    r = api.call("PUT", ds, typed, params={"label_type": 1}, json={"@modelarts:color": "#fff"})
    error(r, 400, "ModelArts.4410", "type 1")
    recount(db, api, ds)


def test_shortcut_taken_is_4412(api: Api, zoo: str) -> None:
    body = {"labels": [{"name": "cat", "property": {"@modelarts:shortcut": "c"}}]}
    assert api.call("PUT", zoo, "/data-annotations/labels", json=body).json()["success"]
    r = api.call("PUT", zoo, "/data-annotations/labels/dog", json={"@modelarts:shortcut": "c"})
    error(r, 400, "ModelArts.4412", "'c'", "cat")


# --- batch delete ---------------------------------------------------------------------------


def _delete(api: Api, ds: str, *names: str, **params: Any) -> dict[str, Any]:
    body = {"labels": [{"name": n} for n in names]}
    r = api.call("POST", ds, "/data-annotations/labels/delete", json=body, params=params)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_delete_without_policy_strips_the_label(api: Api, db: Database, zoo: str) -> None:
    files = sources(api, zoo)
    assert _delete(api, zoo, "cat")["success"] is True
    assert api.sample_labels(zoo) == {
        "cat.txt": [],
        "dog.txt": ["dog"],
        "both.txt": ["dog"],
        "bird.txt": ["bird"],
        "none.txt": [],
    }
    assert "cat" not in api.label_names(zoo)
    assert api.dataset(zoo)["annotated_sample_count"] == 3
    assert all(p.exists() for p in files.values())
    recount(db, api, zoo)


@pytest.mark.parametrize("policy", ["1", 1, "2"])
def test_delete_policy_deletes_samples_left_without_labels(
    api: Api, db: Database, zoo: str, policy: Any
) -> None:
    files = sources(api, zoo)
    out = _delete(api, zoo, "cat", "ghost", delete_policy=policy)
    assert out["success"] is False  # ghost is unknown; cat is still deleted
    assert [x["success"] for x in out["results"]] == [True, False]
    assert api.sample_labels(zoo) == {
        "dog.txt": ["dog"],
        "both.txt": ["dog"],
        "bird.txt": ["bird"],
        "none.txt": [],  # it never carried cat: kept
    }
    assert files["cat.txt"].exists() is (str(policy) == "1")
    assert files["both.txt"].exists()
    recount(db, api, zoo)


@pytest.mark.parametrize("policy", ["3", "-1", "x"])
def test_bad_delete_policy_is_400(api: Api, zoo: str, policy: str) -> None:
    body = {"labels": [{"name": "cat"}]}
    r = api.call(
        "POST", zoo, "/data-annotations/labels/delete", json=body, params={"delete_policy": policy}
    )
    error(r, 400, "ModelArts.0104", "delete_policy")
    assert "cat" in api.label_names(zoo)


def test_delete_one_label_with_its_source_files(api: Api, db: Database, zoo: str) -> None:
    files = sources(api, zoo)
    r = api.call("DELETE", zoo, "/data-annotations/labels/bird", params={"delete_source": "true"})
    assert r.status_code == 204, r.text
    assert "bird.txt" not in api.sample_labels(zoo)
    assert not files["bird.txt"].exists()
    r = api.call("DELETE", zoo, "/data-annotations/labels/dog")
    assert r.status_code == 204, r.text
    assert set(api.sample_labels(zoo)) == {"cat.txt", "both.txt", "none.txt"}
    assert files["dog.txt"].exists()  # delete_source defaults to false
    error(api.call("DELETE", zoo, "/data-annotations/labels/dog"), 400, "ModelArts.4410")
    recount(db, api, zoo)


# --- UpdateDataset --------------------------------------------------------------------------


def test_update_name_and_description(api: Api, zoo: str) -> None:
    api.create("taken")
    r = api.call("PUT", zoo, json={"dataset_name": "zoo2", "description": "just a test"})
    assert r.status_code == 200 and r.json() == {"dataset_id": zoo}
    d = api.dataset(zoo)
    assert (d["dataset_name"], d["description"]) == ("zoo2", "just a test")
    error(api.call("PUT", zoo, json={"dataset_name": "taken"}), 400, "ModelArts.4351", "taken")
    error(api.call("PUT", zoo, json={"description": "a<b"}), 400, "ModelArts.0104", "description")
    error(api.call("PUT", zoo, json={"dataset_name": "a b"}), 400, "ModelArts.0104", "dataset_name")


def test_terraform_update_deletes_first_so_kept_labels_survive(
    api: Api, db: Database, zoo: str
) -> None:
    """Terraform sends the whole old list as delete_labels and the new one as add_labels."""
    old = [{"name": n} for n in api.label_names(zoo)]
    new = [
        {"name": "cat", "property": {"@modelarts:color": "#111111"}},
        {"name": "dog"},
        {"name": "fish"},
    ]
    body = {"dataset_name": "zoo", "description": "", "delete_labels": old, "add_labels": new}
    r = api.call("PUT", zoo, json=body)
    assert r.status_code == 200, r.text
    assert sorted(api.label_names(zoo)) == ["cat", "dog", "fish"]
    assert api.sample_labels(zoo) == {
        "cat.txt": ["cat"],
        "dog.txt": ["dog"],
        "both.txt": ["cat", "dog"],
        "bird.txt": [],
        "none.txt": [],
    }
    cat = next(lb for lb in api.dataset(zoo)["labels"] if lb["name"] == "cat")
    assert cat["property"] == {"@modelarts:color": "#111111"}
    recount(db, api, zoo)


def test_update_dataset_is_all_or_nothing(api: Api, db: Database, zoo: str) -> None:
    body = {
        "dataset_name": "renamed",
        "delete_labels": [{"name": "bird"}],
        "add_labels": [{"name": "fish"}],
        "update_labels": [{"name": "ghost", "property": {"@modelarts:color": "#000000"}}],
    }
    error(api.call("PUT", zoo, json=body), 400, "ModelArts.4410", "update_labels[0].name")
    d = api.dataset(zoo)
    assert d["dataset_name"] == "zoo"
    assert sorted(lb["name"] for lb in d["labels"]) == ["bird", "cat", "dog"]
    assert api.sample_labels(zoo)["bird.txt"] == ["bird"]
    error(
        api.call("PUT", zoo, json={"add_labels": [{"name": "cat"}]}), 400, "ModelArts.4411", "cat"
    )
    r = api.call("PUT", zoo, json={"delete_labels": [{"name": "ghost"}]})
    error(r, 400, "ModelArts.4410", "delete_labels[0].name")
    recount(db, api, zoo)


def test_update_dataset_update_labels_renames(api: Api, db: Database, zoo: str) -> None:
    body = {"update_labels": [{"name": "dog", "property": {"@modelarts:rename_to": "hound"}}]}
    assert api.call("PUT", zoo, json=body).status_code == 200
    assert api.sample_labels(zoo)["both.txt"] == ["cat", "hound"]
    recount(db, api, zoo)


def test_labels_is_a_full_replacement(api: Api, db: Database, zoo: str) -> None:
    """otcextensions' update_dataset(labels=...) sends only ``labels`` (docs/api.md)."""
    body = {
        "labels": [{"name": "dog", "property": {"@modelarts:color": "#222222"}}, {"name": "ant"}]
    }
    assert api.call("PUT", zoo, json=body).status_code == 200
    labels = {lb["name"]: lb["property"] for lb in api.dataset(zoo)["labels"]}
    assert labels == {"dog": {"@modelarts:color": "#222222"}, "ant": {}}
    assert api.sample_labels(zoo)["both.txt"] == ["dog"]
    assert api.sample_labels(zoo)["cat.txt"] == []
    recount(db, api, zoo)
    both = {"labels": [{"name": "dog"}], "add_labels": [{"name": "x"}]}
    error(api.call("PUT", zoo, json=both), 400, "ModelArts.0104", "labels")
    rename = {"labels": [{"name": "dog", "property": {"@modelarts:rename_to": "y"}}]}
    error(api.call("PUT", zoo, json=rename), 400, "ModelArts.0104", "labels[0].property")


def test_current_version_id_is_not_available_yet(api: Api, zoo: str) -> None:
    r = api.call("PUT", zoo, json={"current_version_id": "sntOdOuB0D9C6fC4TXs", "description": "x"})
    error(r, 501, "ModelArts.4383", "current_version_id")
    assert api.dataset(zoo)["description"] == ""


def test_other_project_cannot_update(client: Any, other_auth: dict[str, str], zoo: str) -> None:
    r = client.put(
        f"/v2/other-project/datasets/{zoo}", json={"description": "x"}, headers=other_auth
    )
    error(r, 404, "ModelArts.4352")
