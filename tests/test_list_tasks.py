"""ListTasks, the seed page: GET /v2/{project_id}/datasets/{dataset_id}/tasks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from labelpilot.db import Database
from labelpilot.ids import utcnow
from tests.support.factories import insert_task, make_dataset
from tests.support.seed import seed_example, seed_tables

STATUSES = (-1, 0, 1, 2, 3, 4, 5)
ACTIVE = (-1, 0, 1, 4)
JSON_TYPES = {
    "String": str,
    "Integer": int,
    "Long": int,
    "Float": (float, int),
    "Double": (float, int),
    "Boolean": bool,
}


@pytest.fixture
def dataset(client: TestClient, project: str, auth: dict[str, str]) -> str:
    return make_dataset(client, project, auth)


@pytest.fixture
def populated(db: Database, project: str, dataset: str) -> dict[int, list[str]]:
    """Tasks of every kind and status; at most one active per kind (the engine's rule)."""
    t0 = utcnow() - timedelta(days=1)
    ids: dict[int, list[str]] = {0: [], 1: [], 7: [], 8: []}
    n = 0
    for type_ in ids:
        active_status = {0: 1, 1: -1, 7: 4, 8: 0}[type_]
        for status in (*STATUSES, 2, 3, 5):
            if status in ACTIVE and status != active_status:
                continue
            n += 1
            ids[type_].append(
                insert_task(
                    db,
                    project=project,
                    dataset_id=dataset,
                    type=type_,
                    status=status,
                    name=f"Task-{type_}-{status}-{'Alpha' if n % 2 else 'beta'}",
                    created=t0 + timedelta(minutes=n),
                    config={"algorithm_type": "fast", "n_clusters": 3},
                    result={"train_job_id": "j1"},
                )
            )
    return ids


def _get(client: TestClient, project: str, dataset: str, auth: dict[str, str], **q: Any) -> Any:
    return client.get(f"/v2/{project}/datasets/{dataset}/tasks", params=q, headers=auth)


def test_default_lists_active_learning_and_prelabel_only(client, project, dataset, auth, populated):
    r = _get(client, project, dataset, auth)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"tasks", "total_count", "exist_running_deploy_task"}
    assert {t["type"] for t in body["tasks"]} == {0, 1}
    assert body["total_count"] == len(populated[0]) + len(populated[1])
    assert len(body["tasks"]) == 10  # limit defaults to 10


@pytest.mark.parametrize(
    ("type_name", "type_int"),
    [("auto-label", 0), ("pre-label", 1), ("auto-grouping", 7), ("auto-deploy", 8)],
)
def test_type_filters_to_its_kind(client, project, dataset, auth, populated, type_name, type_int):
    body = _get(client, project, dataset, auth, type=type_name, limit=100).json()
    assert body["total_count"] == len(populated[type_int])
    assert sorted(t["task_id"] for t in body["tasks"]) == sorted(populated[type_int])
    assert {t["type"] for t in body["tasks"]} == {type_int}


@pytest.mark.usefixtures("populated")
def test_unknown_type_is_400(client, project, dataset, auth):
    r = _get(client, project, dataset, auth, type="export")
    assert r.status_code == 400
    assert r.json()["error_code"] == "ModelArts.0104"
    assert "type" in r.json()["error_msg"]


@pytest.mark.parametrize("bad", ["0", "101", "-1", "abc"])
def test_bad_limit_is_400_naming_the_field(client, project, dataset, auth, bad):
    r = _get(client, project, dataset, auth, limit=bad)
    assert r.status_code == 400
    assert r.json()["error_code"] == "ModelArts.0104"
    assert "limit" in r.json()["error_msg"]


@pytest.mark.parametrize("bad", ["-1", "abc"])
def test_bad_offset_is_400_naming_the_field(client, project, dataset, auth, bad):
    r = _get(client, project, dataset, auth, offset=bad)
    assert r.status_code == 400
    assert "offset" in r.json()["error_msg"]


@pytest.mark.parametrize("limit", [1, 100])
def test_limit_bounds_accepted(client, project, dataset, auth, populated, limit):
    body = _get(client, project, dataset, auth, limit=limit, type="auto-label").json()
    assert len(body["tasks"]) == min(limit, len(populated[0]))


@pytest.mark.usefixtures("populated")
def test_offset_is_a_page_index_and_pages_cover_the_list(client, project, dataset, auth):
    full = _get(client, project, dataset, auth, limit=100).json()["tasks"]
    order = [(t["create_time"], t["task_id"]) for t in full]
    assert order == sorted(order, reverse=True)  # newest first
    pages = []
    page = 0
    while True:
        tasks = _get(client, project, dataset, auth, limit=2, offset=page).json()["tasks"]
        if not tasks:
            break
        assert len(tasks) <= 2
        pages.append([t["task_id"] for t in tasks])
        page += 1
    flat = [i for p in pages for i in p]
    assert len(flat) == len(set(flat))  # disjoint
    assert flat == [t["task_id"] for t in full]  # ordered, and together the full list
    assert len(pages) == (len(full) + 1) // 2


@pytest.mark.usefixtures("populated")
def test_task_name_is_case_insensitive_substring(client, project, dataset, auth):
    body = _get(client, project, dataset, auth, task_name="ALPHA", limit=100, type="auto-grouping")
    names = [t["task_name"] for t in body.json()["tasks"]]
    assert names and all("alpha" in n.lower() for n in names)
    everything = _get(client, project, dataset, auth, limit=100, type="auto-grouping").json()
    expected = [t for t in everything["tasks"] if "alpha" in t["task_name"].lower()]
    assert body.json()["total_count"] == len(expected) < everything["total_count"]
    none = _get(client, project, dataset, auth, task_name="zzz-none").json()
    assert none == {"tasks": [], "total_count": 0, "exist_running_deploy_task": True}


def test_total_count_counts_matches_before_paging(client, project, dataset, auth, populated):
    body = _get(client, project, dataset, auth, limit=1, type="auto-deploy").json()
    assert len(body["tasks"]) == 1
    assert body["total_count"] == len(populated[8]) > 1


@pytest.mark.parametrize("status", STATUSES)
def test_exist_running_deploy_task_tracks_deploy_status(client, db, project, auth, status):
    dataset = make_dataset(client, project, auth, name=f"d{status + 1}")
    insert_task(db, project=project, dataset_id=dataset, type=0, status=1)  # not a deploy task
    insert_task(db, project=project, dataset_id=dataset, type=8, status=status)
    body = _get(client, project, dataset, auth).json()
    assert body["exist_running_deploy_task"] is (status in (-1, 0, 1))
    # independent of the type filter
    body = _get(client, project, dataset, auth, type="auto-grouping").json()
    assert body["exist_running_deploy_task"] is (status in (-1, 0, 1))


def test_every_seed_field_has_its_json_type(client, db, project, dataset, auth):
    """A fully set task renders every RunningTask/Result/config field with the seed's JSON type."""
    example = seed_example()["tasks"][0]
    config = example["config"] | {"algorithm_type": "fast", "n_clusters": 4, "name": "x"}
    insert_task(
        db,
        project=project,
        dataset_id=dataset,
        type=1,
        status=2,
        name="full",
        config=config,
        result=example["result"] | {"events": []},
        model_id="m-1",
        model_name="resnet",
        model_version="0.0.1",
        code="ModelArts.4999",
        error_code="ModelArts.4999",
        error_msg="boom",
        error_detail="RuntimeError: boom",
        total_sample_count=9,
        annotated_sample_count=3,
        unconfirmed_sample_count=6,
    )
    task = _get(client, project, dataset, auth).json()["tasks"][0]
    tables = seed_tables()
    for field, seed_type in tables["RunningTask"].items():
        assert field in task, f"RunningTask.{field} missing"
        if seed_type in JSON_TYPES:
            assert isinstance(task[field], JSON_TYPES[seed_type]), (field, task[field])
            assert not isinstance(task[field], bool) or seed_type == "Boolean", field
        else:
            assert isinstance(task[field], dict), field
    assert task["create_time"][4] == "-" and len(task["create_time"]) == 19
    for field in ("service_id", "service_name", "hard_select_tasks", "events"):
        assert field in task["result"], field
    assert isinstance(task["result"]["events"], list) and task["result"]["events"]
    for field, seed_type in tables["Event"].items():
        if field in task["result"]["events"][0] and seed_type in JSON_TYPES:
            assert isinstance(task["result"]["events"][0][field], JSON_TYPES[seed_type]), field
    for field in config:
        assert task["config"][field] == config[field], field  # config echoed back


def test_unknown_dataset_is_404(client, project, auth):
    r = _get(client, project, "NoSuchDataset000000", auth)
    assert r.status_code == 404
    assert r.json()["error_code"] == "ModelArts.4352"


def test_no_credentials_is_401(client, project, dataset):
    r = client.get(f"/v2/{project}/datasets/{dataset}/tasks")
    assert r.status_code == 401
    assert r.json()["error_code"].startswith("ModelArts.")


def test_other_projects_credentials_are_403(client, project, dataset, other_auth):
    r = client.get(f"/v2/{project}/datasets/{dataset}/tasks", headers=other_auth)
    assert r.status_code == 403
    assert r.json()["error_code"] == "ModelArts.0210"


def test_bad_token_is_401(client, project, dataset):
    r = client.get(f"/v2/{project}/datasets/{dataset}/tasks", headers={"X-Auth-Token": "nope"})
    assert r.status_code == 401
