"""auto-deploy through the API, run by a real worker, with the real service supervisor: packaged
MNIST digits and Rotten Tomatoes reviews become a registered model and a live HTTP service."""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from labelpilot.app import create_app
from labelpilot.config import Settings
from labelpilot.mlmodels.service import get_model, load_predictor
from labelpilot.storage import open_storage
from labelpilot.storage.local import path_from_url
from tests.support.factories import insert_task, make_dataset
from tests.support.flow import get_task, post_samples, run_queued
from tests.support.images import mnist_subset, png_bytes, rotten_tomatoes, sample_items
from tests.support.procs import wait_for
from tests.support.serving import b64, service_pids, service_settings

STEPS = ["export", "train", "evaluate", "register", "deploy"]


@pytest.fixture
def settings(tmp_path: Path, database_url: str, model_dir: Path) -> Settings:
    return service_settings(tmp_path, database_url, model_dir)  # the real auto-deploy runner


@pytest.fixture
def app(settings: Settings) -> Any:
    return create_app(settings, run_reaper=False, run_supervisor=True)


@pytest.fixture(autouse=True)
def no_leftovers() -> Any:
    yield
    wait_for(lambda: not service_pids(), 15)


def _create(client, project, ds, auth, config=None, **body):
    return client.post(
        f"/v2/{project}/datasets/{ds}/tasks",
        json={"task_type": "auto-deploy", "config": config or {}, **body},
        headers=auth,
    )


def _digits(client, project, auth, name="digits", per_class=8, classes=tuple(range(10))):
    X, y = mnist_subset(per_class, classes=classes)
    ds = make_dataset(client, project, auth, name=name)
    post_samples(client, project, ds, auth, sample_items(X, y, prefix="lab"))
    return ds


def _in_process(settings, db, project, model_id):
    with db.read() as s:
        return load_predictor(
            open_storage(settings.resolved_storage_root), get_model(s, project, model_id), 1
        )


def _check_common(client, project, ds, auth, task_id) -> dict[str, Any]:
    task = get_task(client, project, ds, task_id, auth)
    assert task["status"] == 3, task
    assert task["code"] == "ModelArts.4996"
    running = next(e for e in task["result"]["events"] if e["name"] == "running")
    assert [e["name"] for e in running["events"]] == STEPS
    assert all(e["status"] == "success" for e in running["events"])
    res = task["result"]
    for key in (
        "version_id",
        "version_name",
        "train_job_id",
        "train_job_name",
        "model_id",
        "model_name",
        "model_version",
        "service_id",
        "service_name",
        "http_model_id",
    ):
        assert res.get(key), key
    assert task["model_id"] == res["model_id"] and res["model_version"] == "0.0.1"
    # the dataset version: a manifest of the labeled samples with the train/eval split
    lines = [json.loads(x) for x in path_from_url(res["manifest_path"]).read_text().splitlines()]
    assert len(lines) == res["metrics"]["train_sample_count"] + res["metrics"]["eval_sample_count"]
    assert {x["usage"] for x in lines} == {"TRAIN", "EVAL"}
    # the registered model carries its measured metrics
    model = client.get(f"/v1/{project}/models/{res['model_id']}", headers=auth).json()
    assert model["model_type"] == "ONNX"
    metrics = json.loads(model["model_metrics"])
    assert metrics["accuracy"] == res["metrics"]["accuracy"]
    assert set(metrics["per_class"]) == set(model["config"]["class_names"])
    assert res["export_check"]["top1_agreement"] == 1.0
    # the service runs and is registered as an HTTP model at its address
    svc = client.get(f"/v1/{project}/services/{res['service_id']}", headers=auth).json()
    assert svc["status"] == "running" and svc["access_address"] == res["access_address"]
    assert svc["task_id"] == task_id and svc["model_id"] == res["model_id"]
    http_model = client.get(f"/v1/{project}/models/{res['http_model_id']}", headers=auth).json()
    assert http_model["model_type"] == "HTTP"
    assert http_model["config"]["req_uri"] == svc["access_address"]
    return task


def _same(http_preds: list[dict], local_preds: list[dict]) -> None:
    assert [p["labels"][0]["name"] for p in http_preds] == [
        p["labels"][0]["name"] for p in local_preds
    ]
    for g, e in zip(http_preds, local_preds, strict=True):
        assert np.allclose(
            [g["scores"][k] for k in e["scores"]], list(e["scores"].values()), atol=1e-5
        )


@pytest.mark.slow
def test_image_dataset_becomes_a_live_service(client, db, settings, project, auth):
    ds = _digits(client, project, auth)
    r = _create(client, project, ds, auth, {"name": "deploy-digits"})
    assert r.status_code == 200, r.text
    task_id = r.json()["task_id"]
    listed = client.get(
        f"/v2/{project}/datasets/{ds}/tasks", params={"type": "auto-deploy"}, headers=auth
    ).json()
    assert listed["exist_running_deploy_task"] is True and listed["total_count"] == 1
    run_queued(settings, db)
    task = _check_common(client, project, ds, auth, task_id)
    res = task["result"]
    assert res["features"] == "mobilenet_v2-224px"
    # 8 digits per class, 2 held out: the embeddings separate digits well
    assert res["metrics"]["accuracy"] >= 0.6
    assert res["metrics"]["eval_sample_count"] == 20
    listed = client.get(
        f"/v2/{project}/datasets/{ds}/tasks", params={"type": "auto-deploy"}, headers=auth
    ).json()
    assert listed["exist_running_deploy_task"] is False

    # new digits (not in the dataset): HTTP predictions == in-process predictions
    X, _ = mnist_subset(3, offset=50)
    images = [png_bytes(x) for x in X]
    r = httpx.post(
        res["access_address"], json={"instances": [{"image": b64(x)} for x in images]}, timeout=60
    )
    assert r.status_code == 200, r.text
    local = _in_process(settings, db, project, res["model_id"])
    _same(r.json()["predictions"], [p.to_json() for p in local.predict_images(images)])
    # the HTTP model (what a pre-label task runs) answers the same
    http_model = _in_process(settings, db, project, res["http_model_id"])
    _same(
        [p.to_json() for p in http_model.predict_images(images)],
        [p.to_json() for p in local.predict_images(images)],
    )
    http_model.close()  # its pooled connection to the service
    local.close()

    # a pre-label task uses the deployed service on new, unlabeled digits
    post_samples(client, project, ds, auth, sample_items(X[:10], prefix="new"))
    r = client.post(
        f"/v2/{project}/datasets/{ds}/tasks",
        json={"task_type": "pre-label", "model_id": res["http_model_id"]},
        headers=auth,
    )
    assert r.status_code == 200, r.text
    run_queued(settings, db)
    pre = get_task(client, project, ds, r.json()["task_id"], auth)
    assert pre["status"] == 3, pre
    info = client.get(f"/v2/{project}/datasets/{ds}", headers=auth).json()
    assert info["unconfirmed_sample_count"] == 10

    # a second deploy on the same dataset registers the next version
    r = _create(client, project, ds, auth, {"name": "deploy-digits-2"})
    assert r.status_code == 200, r.text
    run_queued(settings, db)
    second = get_task(client, project, ds, r.json()["task_id"], auth)
    assert second["status"] == 3 and second["result"]["model_version"] == "0.0.2"
    # the dataset's current version (the one the first deploy published) is trained on again
    assert second["result"]["version_name"] == "V001"
    assert second["result"]["version_id"] == res["version_id"]
    versions = client.get(f"/v2/{project}/datasets/{ds}/versions", headers=auth).json()
    assert [v["version_id"] for v in versions["versions"]] == [res["version_id"]]
    assert versions["versions"][0]["is_current"] and versions["versions"][0]["status"] == 1
    services = client.get(f"/v1/{project}/services", headers=auth).json()
    assert services["total_count"] == 2


@pytest.mark.slow
def test_text_dataset_becomes_a_live_service(client, db, settings, project, auth):
    rows = rotten_tomatoes()
    fresh = [t for t, c in rows if c == "fresh"][:30]
    rotten = [t for t, c in rows if c == "rotten"][:30]
    ds = client.post(
        f"/v2/{project}/datasets",
        json={"dataset_name": "reviews", "dataset_type": 100},
        headers=auth,
    ).json()["dataset_id"]
    items = [
        {
            "name": f"r{i:03d}.txt",
            "data": base64.b64encode(text.encode()).decode(),
            "labels": [{"name": label, "type": 100}],
        }
        for i, (text, label) in enumerate(
            [(t, "fresh") for t in fresh] + [(t, "rotten") for t in rotten]
        )
    ]
    post_samples(client, project, ds, auth, items)
    params = [{"label": "C", "value": "0.5"}, {"label": "eval_ratio", "value": "0.25"}]
    r = _create(client, project, ds, auth, {"parameters": params})
    assert r.status_code == 200, r.text
    run_queued(settings, db)
    task = _check_common(client, project, ds, auth, r.json()["task_id"])
    res = task["result"]
    assert res["features"] in ("all-MiniLM-L6-v2", "tfidf")
    assert set(res["feature_candidates"]) == {"minilm", "tfidf"}
    assert res["metrics"]["eval_sample_count"] == 16
    assert 0 <= res["metrics"]["accuracy"] <= 1
    texts = [t for t, _ in rows[2000:2006]]
    r = httpx.post(
        res["access_address"], json={"instances": [{"text": t} for t in texts]}, timeout=120
    )
    assert r.status_code == 200, r.text
    local = _in_process(settings, db, project, res["model_id"])
    _same(r.json()["predictions"], [p.to_json() for p in local.predict_texts(texts)])
    local.close()
    raw = httpx.post(
        res["access_address"],
        content=texts[0].encode(),
        headers={"Content-Type": "text/plain"},
        timeout=60,
    )
    assert raw.json()["predictions"][0]["labels"] == r.json()["predictions"][0]["labels"]


def _run_in_background(settings, db) -> threading.Thread:
    t = threading.Thread(target=run_queued, args=(settings, db), daemon=True)
    t.start()
    return t


def _nothing_left(client, project, ds, auth, task_id, settings) -> None:
    task = get_task(client, project, ds, task_id, auth)
    assert task["status"] == 5, task
    models = client.get(f"/v1/{project}/models", headers=auth).json()
    assert models["total_count"] == 0, models
    services = client.get(f"/v1/{project}/services", headers=auth).json()
    assert services["total_count"] == 0, services
    wait_for(lambda: not service_pids(), 15)
    storage = open_storage(settings.resolved_storage_root)
    assert not list(storage.list("models/"))
    assert not list(storage.list(f"datasets/{ds}/versions/"))


@pytest.mark.slow
def test_stop_during_training_leaves_nothing(client, db, settings, project, auth):
    ds = _digits(client, project, auth, per_class=40)  # features take a few seconds
    task_id = _create(client, project, ds, auth).json()["task_id"]
    worker = _run_in_background(settings, db)

    def training() -> bool:
        task = get_task(client, project, ds, task_id, auth)
        running = [e for e in task["result"].get("events", []) if e["name"] == "running"]
        steps = running[0].get("events") or [] if running else []
        return any(e["name"] == "train" and e["status"] == "running" for e in steps)

    wait_for(training, 60, interval=0.02)
    r = client.post(f"/v2/{project}/datasets/{ds}/tasks/{task_id}/stop", headers=auth)
    assert r.is_success, r.text
    worker.join(60)
    _nothing_left(client, project, ds, auth, task_id, settings)
    task = get_task(client, project, ds, task_id, auth)
    running = next(e for e in task["result"]["events"] if e["name"] == "running")
    assert [e["name"] for e in running["events"]] == ["export", "train"]


@pytest.mark.slow
def test_stop_while_the_service_starts_leaves_nothing(client, db, settings, project, auth):
    ds = _digits(client, project, auth, per_class=6, classes=(0, 1, 2))
    task_id = _create(client, project, ds, auth).json()["task_id"]
    worker = _run_in_background(settings, db)

    def service_started() -> bool:
        body = client.get(f"/v1/{project}/services", headers=auth).json()
        return any(s.get("status") == "deploying" for s in body["services"])

    wait_for(service_started, 120, interval=0.02)
    client.post(f"/v2/{project}/datasets/{ds}/tasks/{task_id}/stop", headers=auth)
    worker.join(60)
    _nothing_left(client, project, ds, auth, task_id, settings)


def test_preconditions(client, db, project, auth):
    X, y = mnist_subset(6, classes=(0, 1))
    ds = make_dataset(client, project, auth, name="pre")
    post_samples(client, project, ds, auth, sample_items(X, prefix="unl"))
    r = _create(client, project, ds, auth)
    assert r.status_code == 400 and r.json()["error_code"] == "ModelArts.4426"
    # one label only
    post_samples(client, project, ds, auth, sample_items(X[y == 0], y[y == 0], prefix="a"))
    r = _create(client, project, ds, auth)
    assert r.status_code == 400 and r.json()["error_code"] == "ModelArts.4426"
    # a second label with four samples
    ones = X[y == 1][:4]
    post_samples(client, project, ds, auth, sample_items(ones, np.ones(4, int), prefix="b"))
    r = _create(client, project, ds, auth)
    assert r.status_code == 400 and r.json()["error_code"] == "ModelArts.4427"
    assert "1: 4" in r.json()["error_msg"]
    post_samples(
        client, project, ds, auth, sample_items(X[y == 1][4:5], np.ones(1, int), prefix="c")
    )
    # parameters: unknown and invalid ones are named
    r = _create(client, project, ds, auth, {"parameters": [{"label": "lr", "value": "0.1"}]})
    assert r.status_code == 400 and "'lr'" in r.json()["error_msg"]
    r = _create(client, project, ds, auth, {"parameters": [{"label": "C", "value": "-1"}]})
    assert r.status_code == 400 and "'C'" in r.json()["error_msg"]
    r = _create(client, project, ds, auth, {"inf_config_list": [{"instance_count": 99}]})
    assert r.status_code == 400 and "instance_count" in r.json()["error_msg"]
    # now it is accepted; a second one while the first is queued: 4385
    r = _create(client, project, ds, auth, {"name": "first"})
    assert r.status_code == 200, r.text
    r = _create(client, project, ds, auth, {"name": "second"})
    assert r.status_code == 501 and r.json()["error_code"] == "ModelArts.4385"
    listed = client.get(
        f"/v2/{project}/datasets/{ds}/tasks", params={"type": "auto-deploy"}, headers=auth
    ).json()
    assert listed["exist_running_deploy_task"] is True
    # task names are unique per dataset (a finished task keeps its name)
    other = make_dataset(client, project, auth, name="pre2")
    post_samples(client, project, other, auth, sample_items(X, y, prefix="l"))
    insert_task(db, project=project, dataset_id=other, type=8, status=3, name="taken")
    r = _create(client, project, other, auth, {"name": "taken"})
    assert r.status_code == 400 and r.json()["error_code"] == "ModelArts.4391"
    # the same name on another dataset is fine
    assert _create(client, project, other, auth, {"name": "first"}).status_code == 200
    # unsupported dataset types answer clearly
    det = client.post(
        f"/v2/{project}/datasets", json={"dataset_name": "det", "dataset_type": 1}, headers=auth
    ).json()["dataset_id"]
    r = _create(client, project, det, auth)
    assert r.status_code == 501 and r.json()["error_code"] == "ModelArts.4383"


def test_split_holds_out_a_share_of_every_label_and_keeps_one_for_training():
    from labelpilot.algorithms.linear_head import split

    labels = ["a"] * 10 + ["b"] * 2 + ["c"] * 5
    held = split(labels, 0.2, seed=0)
    per_label = {name: int(held[np.array(labels) == name].sum()) for name in "abc"}
    assert per_label == {"a": 2, "b": 1, "c": 1}
    assert np.array_equal(held, split(labels, 0.2, seed=0))


def test_text_feature_scores_need_two_samples_per_label():
    from labelpilot.algorithms.linear_head import text_feature_scores

    y = np.array(["a", "a", "b"])
    embeddings = np.eye(3, dtype=np.float32)
    assert text_feature_scores(embeddings, ["x", "y", "z"], y, C=1.0, max_iter=100, seed=0) == {}
