"""Issue #12 point 5: a sample that cannot be read at task time is skipped and listed in the
task's result; the task succeeds with the rest unless more than ``max_unreadable_fraction`` of
its samples fail (then ``ModelArts.4428``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from labelpilot.config import Settings
from labelpilot.db import Database
from tests.support.factories import make_dataset
from tests.support.flow import get_task, list_all, post_samples, run_queued
from tests.support.hostile import huge_png, truncated_png
from tests.support.images import mnist_subset, sample_items


def _poison(app: Any, samples: list[dict[str, Any]], bad: dict[int, bytes]) -> list[str]:
    """Replace the stored files of ``samples[i]`` by ``bad[i]`` (as an older version or a
    damaged disk could leave them); return their ids."""
    storage = app.state.services.storage
    for i, data in bad.items():
        storage.put(storage.key_of(samples[i]["source"]), data)
    return [samples[i]["sample_id"] for i in bad]


def _run(
    client: TestClient,
    settings: Settings,
    db: Database,
    project: str,
    ds: str,
    auth: Any,
    body: Any,
) -> Any:
    r = client.post(f"/v2/{project}/datasets/{ds}/tasks", json=body, headers=auth)
    assert r.status_code == 200, r.text
    run_queued(settings, db)
    return get_task(client, project, ds, r.json()["task_id"], auth)


@pytest.fixture
def digits(client: TestClient, project: str, auth: dict[str, str]) -> str:
    X, _ = mnist_subset(6)
    ds = make_dataset(client, project, auth, name="digits")
    post_samples(client, project, ds, auth, sample_items(X))
    return ds


GROUPING = {"task_type": "auto-grouping", "config": {"n_clusters": 3, "result_type": 1}}


def test_grouping_skips_and_lists_unreadable_samples(
    app: Any,
    client: TestClient,
    db: Database,
    settings: Settings,
    project: str,
    auth: Any,
    digits: str,
) -> None:
    samples = list_all(client, project, digits, auth)
    bad = _poison(app, samples, {0: truncated_png(), 7: huge_png(), 9: b""})
    task = _run(client, settings, db, project, digits, auth, GROUPING)
    assert task["status"] == 3, task
    listed = {x["sample_id"]: x["reason"] for x in task["result"]["unreadable_samples"]}
    assert set(listed) == set(bad) and task["result"]["unreadable_sample_count"] == 3
    assert "LABELPILOT_MAX_IMAGE_PIXELS" in listed[bad[1]]
    grouped = {
        s["sample_id"] for s in list_all(client, project, digits, auth) if "group" in s["metadata"]
    }
    assert grouped == {s["sample_id"] for s in samples} - set(bad)


def test_too_many_unreadable_samples_fail_the_task_naming_the_threshold(
    app: Any,
    client: TestClient,
    db: Database,
    settings: Settings,
    project: str,
    auth: Any,
    digits: str,
) -> None:
    samples = list_all(client, project, digits, auth)
    _poison(app, samples, {i: truncated_png() for i in range(0, 60, 6)})  # 10 of 60 > 10 %
    task = _run(client, settings, db, project, digits, auth, GROUPING)
    assert task["status"] == 2 and task["error_code"] == "ModelArts.4428", task
    assert "max_unreadable_fraction" in task["error_msg"]


def test_auto_label_skips_unreadable_samples(
    app: Any, client: TestClient, db: Database, settings: Settings, project: str, auth: Any
) -> None:
    X, y = mnist_subset(12, classes=(0, 1))
    labeled = np.r_[0:6, 12:18]
    ds = make_dataset(client, project, auth, name="al")
    post_samples(client, project, ds, auth, sample_items(X[labeled], y[labeled], prefix="lab"))
    rest = np.setdiff1d(np.arange(len(y)), labeled)
    post_samples(client, project, ds, auth, sample_items(X[rest], prefix="unl"))
    samples = list_all(client, project, ds, auth)
    unlabeled = [s for s in samples if not s.get("labels")]
    bad = _poison(app, unlabeled, {0: truncated_png()})
    task = _run(client, settings, db, project, ds, auth, {"task_type": "auto-label", "config": {}})
    assert task["status"] == 3, task
    assert [x["sample_id"] for x in task["result"]["unreadable_samples"]] == bad
    after = {s["sample_id"]: s for s in list_all(client, project, ds, auth)}
    assert not after[bad[0]].get("labels")
    assert all(after[s["sample_id"]].get("labels") for s in unlabeled[1:])


def test_pre_label_skips_unreadable_samples(
    app: Any, client: TestClient, db: Database, settings: Settings, project: str, auth: Any
) -> None:
    from tests.support.onnx_models import mnist_pixel_classifier
    from tests.test_prelabel_task import _digits, _prelabel, _register

    model_id = _register(client, project, auth, *mnist_pixel_classifier(), "pixels")
    ds, _ = _digits(client, project, auth, n=20)
    samples = list_all(client, project, ds, auth)
    bad = _poison(app, samples, {3: truncated_png()})
    task_id = _prelabel(client, project, ds, auth, model_id).json()["task_id"]
    run_queued(settings, db)
    task = get_task(client, project, ds, task_id, auth)
    assert task["status"] == 3, task
    assert [x["sample_id"] for x in task["result"]["unreadable_samples"]] == bad
    assert task["result"]["predicted_sample_count"] == 19


SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8">'
    b'<rect width="8" height="8"/></svg>'
)


def test_unsupported_image_format_is_named_in_the_reason_and_the_failure(
    app: Any,
    client: TestClient,
    db: Database,
    settings: Settings,
    project: str,
    auth: Any,
    digits: str,
) -> None:
    """Issue #15 point 3 (unsupported image): a sample whose file is a format Pillow cannot
    read (SVG) is listed with that reason; a dataset made only of them fails with 4428, and the
    message says which sample and why."""
    samples = list_all(client, project, digits, auth)
    bad = _poison(app, samples, {2: SVG})
    task = _run(client, settings, db, project, digits, auth, GROUPING)
    assert task["status"] == 3, task
    (entry,) = task["result"]["unreadable_samples"]
    assert entry["sample_id"] == bad[0]
    assert "UnidentifiedImageError" in entry["reason"], entry

    # a fresh dataset: the first run cached the other samples' features
    X, _ = mnist_subset(2)
    ds = make_dataset(client, project, auth, name="svg-only")
    post_samples(client, project, ds, auth, sample_items(X))
    only = list_all(client, project, ds, auth)
    _poison(app, only, dict.fromkeys(range(len(only)), SVG))
    task = _run(client, settings, db, project, ds, auth, GROUPING)
    assert task["status"] == 2 and task["error_code"] == "ModelArts.4428", task
    assert "UnidentifiedImageError" in task["error_msg"], task["error_msg"]
    assert "Traceback" not in task["error_msg"]
