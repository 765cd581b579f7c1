"""auto-label through the API, run by a real worker, on real packaged images and texts."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import pytest

from labelpilot.algorithms.hard_rules import REASON_NAMES
from labelpilot.features.images import feature_version
from labelpilot.features.store import version_key
from labelpilot.storage.local import path_from_url
from tests.support.factories import make_dataset
from tests.support.flow import get_task, list_all, post_samples, run_queued
from tests.support.images import mnist_subset, rotten_tomatoes, sample_items
from tests.support.procs import start_worker, stop_process, wait_for

HARD_REASONS = set(REASON_NAMES)  # the documented rules: 1-3, 5-10, 19-29, 30


def _create(client, project, ds, auth, config=None, **body):
    return client.post(
        f"/v2/{project}/datasets/{ds}/tasks",
        json={"task_type": "auto-label", "config": config or {}, **body},
        headers=auth,
    )


def _dataset(client, project, auth, name, per_label=5, unlabeled=25, classes=tuple(range(10))):
    """MNIST digits: ``per_label`` labeled and ``unlabeled`` unlabeled per class; name -> digit."""
    X, y = mnist_subset(per_label + unlabeled, classes=classes)
    ds = make_dataset(client, project, auth, name=name)
    first = np.concatenate(
        [np.arange(per_label) + i * (per_label + unlabeled) for i in range(len(classes))]
    )
    rest = np.setdiff1d(np.arange(len(y)), first)
    post_samples(client, project, ds, auth, sample_items(X[first], y[first], prefix="lab"))
    items = sample_items(X[rest], prefix="unl")
    post_samples(client, project, ds, auth, items)
    truth = {it["name"]: int(c) for it, c in zip(items, y[rest], strict=True)}
    return ds, truth


@pytest.mark.parametrize("algorithm", ["fast", "accurate"])
def test_auto_labels_to_be_confirmed_with_scores(client, db, settings, project, auth, algorithm):
    ds, truth = _dataset(client, project, auth, f"digits-{algorithm}")
    r = _create(client, project, ds, auth, {"algorithm_type": algorithm})
    assert r.status_code == 200, r.text
    task_id = r.json()["task_id"]
    run_queued(settings, db)
    task = get_task(client, project, ds, task_id, auth)
    assert task["status"] == 3, task
    assert task["code"] == "ModelArts.4996"
    assert task["model_name"] == "labelpilot-active-learning" and task["model_version"]
    assert task["result"]["train_job_id"] == task_id
    assert 0 < task["result"]["estimated_accuracy"] <= 1
    assert task["result"]["model_name"] == task["model_name"]
    assert task["result"]["augmentation_checks"] == {
        "applied": [],
        "reason": "only with collect_key_sample",
    }
    running = next(e for e in task["result"]["events"] if e["name"] == "running")
    assert [e["name"] for e in running["events"]] == [
        "features",
        "training",
        "hard examples",
        "writing",
    ]
    auto = list_all(client, project, ds, auth, "auto-annotations/samples")
    assert len(auto) == len(truth) == 250
    correct = 0
    for smp in auto:
        (label,) = smp["labels"]
        assert smp["sample_status"] == "AUTO_ANNOTATION"
        assert 0 <= label["score"] <= 1 and label["annotated_by"] == "auto"
        assert label["property"]["@labelpilot:model"].startswith("labelpilot-active-learning:")
        assert label["property"]["@modelarts:hard"] in ("0", "1")
        meta = smp["metadata"]
        assert meta["@modelarts:hard"] in (0.0, 1.0)
        assert 0 <= meta["@modelarts:hard_coefficient"] <= 1
        assert set(meta["@modelarts:hard_reasons"]) <= HARD_REASONS
        correct += label["name"] == str(truth[smp["sample_name"]])
    # 5 labeled digits per class; a logistic regression on these embeddings reaches ~0.8 here
    assert correct / len(auto) > 0.7
    info = client.get(f"/v2/{project}/datasets/{ds}", headers=auth).json()
    assert info["unconfirmed_sample_count"] == 250 and info["annotated_sample_count"] == 50
    assert task["result"]["unconfirmed_sample_count"] == 250
    # score filters of the review list
    high = list_all(client, project, ds, auth, "auto-annotations/samples", low_score="0.9")
    assert all(x["labels"][0]["score"] >= 0.9 for x in high) and len(high) < 250


def test_confirm_then_second_run_learns_and_relabels_only_the_rest(
    client, db, settings, project, auth
):
    ds, truth = _dataset(client, project, auth, "loop", classes=(0, 1, 2), unlabeled=20)
    _create(client, project, ds, auth)
    run_queued(settings, db)
    auto = list_all(client, project, ds, auth, "auto-annotations/samples")
    confirm = auto[:10]
    r = client.put(
        f"/v2/{project}/datasets/{ds}/data-annotations/samples",
        json={
            "samples": [
                {"sample_id": x["sample_id"], "labels": [{"name": str(truth[x["sample_name"]])}]}
                for x in confirm
            ]
        },
        headers=auth,
    )
    assert r.json()["success"]
    info = client.get(f"/v2/{project}/datasets/{ds}", headers=auth).json()
    assert info["annotated_sample_count"] == 15 + 10 and info["unconfirmed_sample_count"] == 50
    second = _create(client, project, ds, auth).json()["task_id"]
    run_queued(settings, db)
    task = get_task(client, project, ds, second, auth)
    assert task["status"] == 3 and task["result"]["annotated_sample_count"] == 25
    confirmed = {x["sample_id"] for x in confirm}
    for smp in list_all(client, project, ds, auth):
        if smp["sample_id"] in confirmed:
            assert smp["sample_status"] == "MANUAL_ANNOTATION"
            assert "score" not in smp["labels"][0]  # the person's label, untouched
        elif smp["sample_name"].startswith("unl"):
            assert smp["labels"][0]["property"]["@labelpilot:task_id"] == second


def test_auto_accept_precision_and_hard_example_output(client, db, settings, project, auth):
    ds, truth = _dataset(client, project, auth, "accept", per_label=8, unlabeled=20)
    r = _create(client, project, ds, auth, {"auto_accept_precision": 0.95}, collect_key_sample=True)
    task_id = r.json()["task_id"]
    run_queued(settings, db)
    task = get_task(client, project, ds, task_id, auth)
    assert task["status"] == 3, task
    acc = task["result"]["auto_accept"]
    assert acc["method"] == "calibration"
    assert 0 <= acc["threshold"] <= 1 and acc["target_precision"] == 0.95
    assert 0.95 <= acc["estimated_precision"] <= 1 and 0 <= acc["estimated_coverage"] <= 1
    accepted = [
        x
        for x in list_all(client, project, ds, auth, sample_state="__ALL__")
        if x["sample_name"].startswith("unl")
    ]
    assert len(accepted) == acc["accepted_sample_count"]
    if accepted:
        right = sum(x["labels"][0]["name"] == str(truth[x["sample_name"]]) for x in accepted)
        assert right / len(accepted) >= 0.9
    assert task["result"]["augmentation_checks"] == {"applied": [19, 21, 23, 24]}
    path = path_from_url(task["result"]["hard_example_path"])
    lines = [json.loads(x) for x in path.read_text().splitlines() if x]
    assert len(lines) == task["result"]["hard_sample_count"] > 0
    reasons = {r for x in lines for r in x["hard_reasons"]}
    assert reasons and reasons <= HARD_REASONS
    assert all(0.5 <= x["hard_coefficient"] <= 1 and x["hard_reasons"] for x in lines)
    assert task["result"]["hard_select_tasks"][0]["dataset_id"] == ds


def test_auto_accept_needs_five_labeled_per_class(client, db, settings, project, auth):
    """A third label with 3 labeled samples passes the task preconditions, but auto accept
    must not trust held-out estimates from so few: nothing accepted, and the result says why."""
    ds, _ = _dataset(client, project, auth, "few", classes=(0, 1), unlabeled=10)
    X, y = mnist_subset(3, classes=(7,))
    post_samples(client, project, ds, auth, sample_items(X, y, prefix="few"))
    task_id = _create(client, project, ds, auth, {"auto_accept_precision": 0.95}).json()["task_id"]
    run_queued(settings, db)
    task = get_task(client, project, ds, task_id, auth)
    assert task["status"] == 3, task
    acc = task["result"]["auto_accept"]
    assert acc["accepted_sample_count"] == 0 and acc["threshold"] is None
    assert acc["estimated_precision"] is None and "fewer than 5" in acc["reason"]
    info = client.get(f"/v2/{project}/datasets/{ds}", headers=auth).json()
    assert info["unconfirmed_sample_count"] == 20


def test_text_classification(client, db, settings, project, auth):
    rows = rotten_tomatoes()
    fresh = [t for t, c in rows if c == "fresh"][:110]
    rotten = [t for t, c in rows if c == "rotten"][:110]
    ds = client.post(
        f"/v2/{project}/datasets",
        json={"dataset_name": "reviews", "dataset_type": 100},
        headers=auth,
    ).json()["dataset_id"]

    def item(i: int, text: str, label: str | None) -> dict:
        out: dict[str, Any] = {
            "name": f"r{i:04d}.txt",
            "data": base64.b64encode(text.encode()).decode(),
        }
        if label:
            out["labels"] = [{"name": label, "type": 100}]
        return out

    items, truth = [], {}
    for i, (text, label) in enumerate(
        [(t, "fresh") for t in fresh] + [(t, "rotten") for t in rotten]
    ):
        labeled = (i % 110) < 30
        items.append(item(i, text, label if labeled else None))
        if not labeled:
            truth[f"r{i:04d}.txt"] = label
    post_samples(client, project, ds, auth, items)
    config = {"algorithm_type": "fast", "auto_accept_precision": 0.95}
    task_id = _create(client, project, ds, auth, config).json()["task_id"]
    run_queued(settings, db)
    task = get_task(client, project, ds, task_id, auth)
    assert task["status"] == 3, task
    # text accepts only on direct held-out evidence (docs/auto-label.md): here, nothing
    accept = task["result"]["auto_accept"]
    assert accept["method"] == "wilson" and accept["accepted_sample_count"] == 0
    auto = list_all(client, project, ds, auth, "auto-annotations/samples")
    assert len(auto) == len(truth) == 160
    assert all(x["labels"][0]["type"] == 100 for x in auto)
    acc = np.mean([x["labels"][0]["name"] == truth[x["sample_name"]] for x in auto])
    assert acc > 0.6  # two balanced classes: chance is 0.5


def test_preconditions(client, project, auth):
    X, y = mnist_subset(6, classes=(0, 1))
    ds = make_dataset(client, project, auth, name="pre")
    r = _create(client, project, ds, auth)
    assert r.status_code == 400 and r.json()["error_code"] == "ModelArts.4405"
    # one label with enough samples, the other with four
    post_samples(client, project, ds, auth, sample_items(X[:6], y[:6], prefix="a"))
    post_samples(client, project, ds, auth, sample_items(X[6:10], y[6:10], prefix="b"))
    r = _create(client, project, ds, auth)
    assert r.status_code == 400 and r.json()["error_code"] == "ModelArts.4406"
    assert "at least two labels" in r.json()["error_msg"]
    post_samples(client, project, ds, auth, sample_items(X[10:11], y[10:11], prefix="c"))
    r = _create(client, project, ds, auth)  # 6 + 5 labeled, nothing unlabeled
    assert r.status_code == 400 and r.json()["error_code"] == "ModelArts.4407"
    post_samples(client, project, ds, auth, sample_items(X[11:12], prefix="u"))
    r = _create(client, project, ds, auth, {"algorithm_type": "magic"})
    assert r.status_code == 400 and "algorithm_type" in r.json()["error_msg"]
    r = _create(client, project, ds, auth, {"confidence_scope": "0.9-0.1"})
    assert r.status_code == 400 and "confidence_scope" in r.json()["error_msg"]
    assert _create(client, project, ds, auth).status_code == 200
    r = _create(client, project, ds, auth)
    assert r.status_code == 501 and r.json()["error_code"] == "ModelArts.4386"
    det = client.post(
        f"/v2/{project}/datasets", json={"dataset_name": "det", "dataset_type": 1}, headers=auth
    ).json()["dataset_id"]
    r = _create(client, project, det, auth)
    assert r.status_code == 501 and r.json()["error_code"] == "ModelArts.4383"


def test_stop_mid_run_leaves_samples_unlabeled(client, settings, project, auth):
    ds, _ = _dataset(client, project, auth, "stopme", per_label=5, unlabeled=120)
    worker = start_worker(settings)
    try:
        task_id = _create(client, project, ds, auth).json()["task_id"]
        wait_for(lambda: get_task(client, project, ds, task_id, auth)["progress"] > 0, 120)
        client.post(f"/v2/{project}/datasets/{ds}/tasks/{task_id}/stop", headers=auth)
        wait_for(lambda: get_task(client, project, ds, task_id, auth)["status"] == 5, 10)
        info = client.get(f"/v2/{project}/datasets/{ds}", headers=auth).json()
        assert info["unconfirmed_sample_count"] == 0 and info["annotated_sample_count"] == 50
    finally:
        stop_process(worker)


def test_images_are_embedded_at_224_px_in_their_own_cache(app, client, db, settings, project, auth):
    """Auto labeling needs 224 px features (the accuracy targets are missed at 112 px); they
    must come from, and go to, a cache of their own, never grouping's 112 px one."""
    ds, _ = _dataset(client, project, auth, "sizes", classes=(3, 8), unlabeled=10)
    task_id = _create(client, project, ds, auth).json()["task_id"]
    run_queued(settings, db)
    task = get_task(client, project, ds, task_id, auth)
    assert task["status"] == 3, task
    features = task["result"]["features"]
    model_dir = str(settings.resolved_model_dir)
    v224, v112 = feature_version(model_dir, 224), feature_version(model_dir, 112)
    assert features == {"kind": "image", "image_size": 224, "version": v224}
    assert "224px" in v224 and "112px" in v112
    storage = app.state.services.storage
    chunks = list(storage.list(f"datasets/{ds}/features/{version_key(v224)}"))
    assert chunks and all(k.endswith(".npz") for k in chunks)
    assert not list(storage.list(f"datasets/{ds}/features/{version_key(v112)}"))


def test_augmentation_checks_run_at_the_network_input_size():
    """Small images are augmented after resizing to what the embedder sees (docs/auto-label.md)."""
    from PIL import Image

    from labelpilot.runners.autolabel import IMAGE_SIZE, network_sized

    small = Image.new("RGB", (28, 20), (10, 20, 30))
    assert network_sized(small).size == (IMAGE_SIZE, IMAGE_SIZE)
    large = Image.new("RGB", (640, 480))
    assert network_sized(large) is large
