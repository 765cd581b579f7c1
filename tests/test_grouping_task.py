"""auto-grouping through the API, run by a real worker, on real packaged images (MNIST sample)."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import normalized_mutual_info_score

from labelpilot.storage.local import path_from_url
from tests.support.factories import make_dataset
from tests.support.flow import get_task, list_all, post_samples, run_queued
from tests.support.images import mnist_subset, sample_items
from tests.support.procs import start_worker, stop_process, wait_for


def _create(client, project, ds, auth, config: dict[str, Any]):
    return client.post(
        f"/v2/{project}/datasets/{ds}/tasks",
        json={"task_type": "auto-grouping", "config": config},
        headers=auth,
    )


@pytest.fixture
def digits(client, project, auth) -> tuple[str, dict[str, int]]:
    """A dataset of 400 unlabeled MNIST digits (40 per class); returns it and name -> class."""
    X, y = mnist_subset(40)
    ds = make_dataset(client, project, auth, name="digits")
    items = sample_items(X)
    post_samples(client, project, ds, auth, items)
    return ds, {it["name"]: int(c) for it, c in zip(items, y, strict=True)}


def test_groups_written_to_metadata_match_classes(client, db, settings, project, auth, digits):
    ds, truth = digits
    r = _create(client, project, ds, auth, {"n_clusters": "10", "result_type": 1})  # "10": a string
    assert r.status_code == 200, r.text
    task_id = r.json()["task_id"]
    run_queued(settings, db)
    task = get_task(client, project, ds, task_id, auth)
    assert task["status"] == 3, task
    assert task["code"] == "ModelArts.4996"
    assert task["config"]["n_clusters"] == 10
    assert task["export_type"] == 1
    steps = [
        e["name"]
        for e in next(e for e in task["result"]["events"] if e["name"] == "running")["events"]
    ]
    assert steps == ["features", "clustering", "writing"]
    samples = list_all(client, project, ds, auth)
    groups = [s["metadata"]["group"] for s in samples]
    classes = [truth[s["sample_name"]] for s in samples]
    assert set(groups) <= set(range(10))
    # k-means on these embeddings gives about 0.5 (docs/grouping.md); same-class images must
    # mostly share a group, far above chance (NMI of random groups is ~0.02 at this size)
    assert normalized_mutual_info_score(classes, groups) > 0.6
    # search_conditions.metadata finds one group
    cond = urllib.parse.quote(json.dumps([{"metadata": {"props": {"group": [str(groups[0])]}}}]))
    found = list_all(client, project, ds, auth, search_conditions=urllib.parse.unquote(cond))
    assert len(found) == groups.count(groups[0])
    # features are cached: a second task recomputes nothing and gives the same groups
    r = _create(client, project, ds, auth, {"n_clusters": 10, "result_type": 1, "property": "g2"})
    run_queued(settings, db)
    again = [s["metadata"]["g2"] for s in list_all(client, project, ds, auth)]
    assert again == groups


def test_groups_written_to_storage(client, db, settings, project, auth, digits):
    ds, _ = digits
    task_id = _create(client, project, ds, auth, {"n_clusters": 5, "result_type": 0}).json()[
        "task_id"
    ]
    run_queued(settings, db)
    task = get_task(client, project, ds, task_id, auth)
    assert task["status"] == 3 and task["export_type"] == 0
    manifest = path_from_url(task["result"]["manifest_path"])
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert len(rows) == 400 and {r["group"] for r in rows} == set(range(5))
    assert all("group" not in s["metadata"] for s in list_all(client, project, ds, auth))


def test_brightness_option_changes_the_grouping(client, db, settings, project, auth):
    """The same digits (ink on paper) at two brightness levels: split by brightness only when
    asked. 3s and 7s carry similar amounts of ink, so brightness does not also tell content."""
    X, y = mnist_subset(40, classes=(3, 7))
    ds = make_dataset(client, project, auth, name="bright")
    items = sample_items(X, prefix="full", paper=True) + sample_items(
        X, prefix="dark", brightness=0.5, paper=True
    )
    post_samples(client, project, ds, auth, items)
    content = {it["name"]: int(c) for it, c in zip(items, np.concatenate([y, y]), strict=True)}
    dark = {it["name"]: it["name"].startswith("dark") for it in items}

    def grouping(config: dict[str, Any], prop: str) -> tuple[float, float]:
        r = _create(client, project, ds, auth, {"n_clusters": 2, "property": prop, **config})
        assert r.status_code == 200, r.text
        run_queued(settings, db)
        samples = list_all(client, project, ds, auth)
        g = [s["metadata"][prop] for s in samples]
        by_content = normalized_mutual_info_score([content[s["sample_name"]] for s in samples], g)
        by_light = normalized_mutual_info_score([dark[s["sample_name"]] for s in samples], g)
        return by_content, by_light

    off_content, off_light = grouping({"image_brightness": False}, "plain")
    on_content, on_light = grouping({"image_brightness": True}, "lit")
    assert off_content > 0.8 and off_light < 0.2
    assert on_light > 0.8 and on_content < 0.2


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (1, "ModelArts.0104"),
        (201, "ModelArts.0104"),
        ("abc", "ModelArts.0104"),
    ],
)
def test_bad_n_clusters(client, project, auth, digits, value, code):
    ds, _ = digits
    r = _create(client, project, ds, auth, {"n_clusters": value})
    assert r.status_code == 400, r.text
    assert r.json()["error_code"] == code
    assert "n_clusters" in r.json()["error_msg"]


@pytest.mark.parametrize("n", [20, 25])
def test_n_clusters_must_be_below_the_image_count(client, project, auth, n):
    X, _ = mnist_subset(2)
    ds = make_dataset(client, project, auth, name=f"small{n}")
    post_samples(client, project, ds, auth, sample_items(X))  # 20 images
    r = _create(client, project, ds, auth, {"n_clusters": n})
    assert r.status_code == 400 and r.json()["error_code"] == "ModelArts.4622"
    assert "n_clusters" in r.json()["error_msg"]
    assert _create(client, project, ds, auth, {"n_clusters": 19}).status_code == 200


def test_rerun_while_running_is_4964(client, project, auth, digits):
    ds, _ = digits
    assert _create(client, project, ds, auth, {"n_clusters": 3}).status_code == 200
    r = _create(client, project, ds, auth, {"n_clusters": 3})
    assert r.status_code == 501 and r.json()["error_code"] == "ModelArts.4964"


def test_stop_during_feature_extraction(client, settings, project, auth):
    X, _ = mnist_subset(150)
    ds = make_dataset(client, project, auth, name="big")
    post_samples(client, project, ds, auth, sample_items(X))
    worker = start_worker(settings)
    try:
        task_id = _create(client, project, ds, auth, {"n_clusters": 10}).json()["task_id"]
        wait_for(lambda: get_task(client, project, ds, task_id, auth)["progress"] > 0, 120)
        client.post(f"/v2/{project}/datasets/{ds}/tasks/{task_id}/stop", headers=auth)
        wait_for(lambda: get_task(client, project, ds, task_id, auth)["status"] == 5, 10)
        task = get_task(client, project, ds, task_id, auth)
        assert task["progress"] < 85  # stopped while extracting features
        running = next(e for e in task["result"]["events"] if e["name"] == "running")
        assert running["events"][-1]["name"] == "features"
        assert running["events"][-1]["status"] == "failed"
        assert all("group" not in s["metadata"] for s in list_all(client, project, ds, auth))
    finally:
        stop_process(worker)
