"""pre-label through the API with models built in the test run, run by a real worker."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI, Request

from labelpilot.mlmodels.predictor import open_predictor
from labelpilot.mlmodels.spec import ModelConfig
from labelpilot.storage.local import path_from_url
from tests.support.factories import make_dataset
from tests.support.flow import get_task, list_all, post_samples, run_queued
from tests.support.images import mnist, rotten_tomatoes, sample_items
from tests.support.live import live_server
from tests.support.onnx_models import (
    box_iou,
    mnist_pixel_classifier,
    rectangle_detector,
    rectangle_image,
    sentiment_classifier,
)
from tests.support.procs import start_worker, stop_process, wait_for


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _register(client, project, auth, model: bytes | None, config: dict, name: str, **extra):
    body: dict[str, Any] = {"model_name": name, "config": config, **extra}
    if model is not None:
        body.update(model_type="ONNX", model_file=_b64(model))
    else:
        body["model_type"] = "HTTP"
    r = client.post(f"/v1/{project}/models", json=body, headers=auth)
    assert r.status_code == 200, r.text
    return r.json()["model_id"]


def _prelabel(client, project, ds, auth, model_id, config=None, **body):
    return client.post(
        f"/v2/{project}/datasets/{ds}/tasks",
        json={"task_type": "pre-label", "model_id": model_id, "config": config or {}, **body},
        headers=auth,
    )


def _digits(client, project, auth, name="digits", n=60, labeled=0):
    """``n`` unseen MNIST digits (even-numbered), the first ``labeled`` of them labeled."""
    X, y = mnist()
    idx = np.arange(0, len(y), 2)[:: len(y) // (2 * n)][:n]
    ds = make_dataset(client, project, auth, name=name)
    items = sample_items(X[idx], prefix="d")
    for i in range(labeled):
        items[i]["labels"] = [{"name": str(int(y[idx[i]])), "type": 0}]
    post_samples(client, project, ds, auth, items)
    truth = {it["name"]: str(int(c)) for it, c in zip(items, y[idx], strict=True)}
    return ds, truth


def test_classification_prelabels_to_be_confirmed(client, db, settings, project, auth):
    model, config = mnist_pixel_classifier()
    model_id = _register(client, project, auth, model, config, "pixels", model_version="1.2.0")
    ds, truth = _digits(client, project, auth, labeled=10)
    r = _prelabel(client, project, ds, auth, model_id, collect_key_sample=True)
    assert r.status_code == 200, r.text
    task_id = r.json()["task_id"]
    run_queued(settings, db)
    task = get_task(client, project, ds, task_id, auth)
    assert task["status"] == 3 and task["code"] == "ModelArts.4996", task
    assert (task["model_id"], task["model_name"], task["model_version"]) == (
        model_id,
        "pixels",
        "1.2.0",
    )
    assert task["result"]["model_id"] == model_id
    running = next(e for e in task["result"]["events"] if e["name"] == "running")
    steps = ["loading", "inference", "hard examples", "writing"]
    assert [e["name"] for e in running["events"]] == steps
    assert sum(task["result"]["label_counts"].values()) == 50

    auto = list_all(client, project, ds, auth, "auto-annotations/samples")
    assert len(auto) == 50  # the 10 labeled samples are not touched
    right, reasons = 0, set()
    for sample in auto:
        (label,) = sample["labels"]
        assert label["annotated_by"] == "auto" and 0 <= label["score"] <= 1
        assert label["property"]["@labelpilot:model"] == "pixels:1.2.0"
        assert label["property"]["@labelpilot:model_id"] == model_id
        meta = sample["metadata"]
        assert meta["@modelarts:hard"] in (0.0, 1.0)
        assert 0 <= meta["@modelarts:hard_coefficient"] <= 1
        assert (meta["@modelarts:hard_coefficient"] >= 0.5) == bool(meta["@modelarts:hard"])
        assert set(meta["@modelarts:hard_reasons"]) <= {1, 19, 21, 23, 24}
        if 1 in meta["@modelarts:hard_reasons"]:
            assert label["score"] <= 0.55  # (1 + 1/10) / 2
        reasons.update(meta["@modelarts:hard_reasons"])
        prop_reasons = label["property"]["@modelarts:hard_reasons"]
        assert prop_reasons == "-".join(str(r) for r in meta["@modelarts:hard_reasons"])
        right += label["name"] == truth[sample["source"].rsplit("/", 1)[-1]]
    assert right / len(auto) >= 0.8
    # a pixel model is not robust to crops and shifts: those reasons must show up
    assert reasons & {21, 23, 24}
    assert task["result"]["hard_sample_count"] == sum(
        s["metadata"]["@modelarts:hard"] for s in auto
    )
    manifest = path_from_url(task["result"]["hard_example_path"]).read_text().splitlines()
    assert len(manifest) == task["result"]["hard_sample_count"]
    assert all(set(json.loads(line)["hard_reasons"]) <= {1, 19, 21, 23, 24} for line in manifest)
    info = client.get(f"/v2/{project}/datasets/{ds}", headers=auth).json()
    assert info["unconfirmed_sample_count"] == 50 and info["annotated_sample_count"] == 10

    # a second run without collect_key_sample replaces the predictions: the first run's hard
    # flags, coefficients and reasons must not stay on the samples (#14 point 5)
    assert _prelabel(client, project, ds, auth, model_id).status_code == 200
    run_queued(settings, db)
    again = list_all(client, project, ds, auth, "auto-annotations/samples")
    assert len(again) == 50
    for sample in again:
        assert not [k for k in sample["metadata"] if k.startswith("@modelarts:hard")], sample
        (label,) = sample["labels"]
        assert not [k for k in label["property"] if k.startswith("@modelarts:hard")], label


def test_instance_count_two_gives_the_same_labels(client, db, settings, project, auth):
    model, config = mnist_pixel_classifier()
    model_id = _register(client, project, auth, model, config, "pixels")
    results = []
    for n in (1, 2):
        ds, _ = _digits(client, project, auth, name=f"d{n}", n=100)
        cfg = {"inf_config_list": [{"model_id": model_id, "instance_count": n}]}
        task_id = _prelabel(client, project, ds, auth, None, cfg).json()["task_id"]
        run_queued(settings, db)
        task = get_task(client, project, ds, task_id, auth)
        assert task["status"] == 3 and task["result"]["instance_count"] == n
        auto = list_all(client, project, ds, auth, "auto-annotations/samples")
        results.append(
            sorted((s["source"].rsplit("/", 1)[-1], s["labels"][0]["name"]) for s in auto)
        )
    assert results[0] == results[1] and len(results[0]) == 100


def test_detection_boxes_match_the_rectangles(client, db, settings, project, auth):
    model, config = rectangle_detector(64)
    model_id = _register(client, project, auth, model, config, "rects")
    ds = client.post(
        f"/v2/{project}/datasets", json={"dataset_name": "det", "dataset_type": 1}, headers=auth
    ).json()["dataset_id"]
    rng = np.random.default_rng(3)
    truth, items = {}, []
    for i in range(12):
        w, h = int(rng.integers(80, 240)), int(rng.integers(60, 200))
        x1, y1 = int(rng.integers(0, w // 2)), int(rng.integers(0, h // 2))
        box = (x1, y1, int(rng.integers(x1 + 15, w)), int(rng.integers(y1 + 15, h)))
        truth[f"r{i}.png"] = (box, (w, h))
        items.append({"name": f"r{i}.png", "data": _b64(rectangle_image(w, h, box))})
    post_samples(client, project, ds, auth, items)
    task_id = _prelabel(client, project, ds, auth, model_id).json()["task_id"]
    run_queued(settings, db)
    assert get_task(client, project, ds, task_id, auth)["status"] == 3
    auto = list_all(client, project, ds, auth, "auto-annotations/samples")
    assert len(auto) == 12
    for sample in auto:
        box, size = truth[sample["source"].rsplit("/", 1)[-1]]
        (label,) = sample["labels"]
        assert label["name"] == "rectangle" and label["type"] == 1
        assert label["property"]["@modelarts:shape"] == "bndbox"
        (x1, y1), (x2, y2) = label["property"]["@modelarts:feature"]
        assert 0 <= x1 < x2 and 0 <= y1 < y2
        assert box_iou([x1, y1, x2, y2], list(box)) > 0.7
        assert sample["metadata"]["@modelarts:size"] == [*size, 3]


def test_text_prelabels(client, db, settings, project, auth):
    model, config, sk_accuracy = sentiment_classifier()
    model_id = _register(client, project, auth, model, config, "sentiment")
    rows = rotten_tomatoes()[:80]  # held out from the model's training rows
    ds = client.post(
        f"/v2/{project}/datasets", json={"dataset_name": "rt", "dataset_type": 100}, headers=auth
    ).json()["dataset_id"]
    items = [{"name": f"t{i}.txt", "data": _b64(t.encode())} for i, (t, _) in enumerate(rows)]
    post_samples(client, project, ds, auth, items)
    # an image model does not fit a text dataset
    digits_id = _register(client, project, auth, *mnist_pixel_classifier(), "pixels")
    r = _prelabel(client, project, ds, auth, digits_id)
    assert r.status_code == 400 and r.json()["error_code"] == "ModelArts.4399"
    task_id = _prelabel(client, project, ds, auth, model_id).json()["task_id"]
    run_queued(settings, db)
    assert get_task(client, project, ds, task_id, auth)["status"] == 3
    auto = list_all(client, project, ds, auth, "auto-annotations/samples")
    assert len(auto) == 80 and all(s["labels"][0]["type"] == 100 for s in auto)
    truth = {f"t{i}.txt": c for i, (_, c) in enumerate(rows)}
    acc = np.mean([s["labels"][0]["name"] == truth[s["source"].rsplit("/", 1)[-1]] for s in auto])
    assert acc >= 0.6 and abs(acc - sk_accuracy) < 0.15


def _http_model_app(delay: float = 0.0, calls: list[int] | None = None) -> FastAPI:
    """A model server written by the "user": the MNIST model behind the documented protocol."""
    model, config = mnist_pixel_classifier()
    predictor = open_predictor("ONNX", ModelConfig.model_validate(config), model)
    app = FastAPI()
    lock = threading.Lock()

    @app.post("/predict")
    async def predict(request: Request) -> dict:
        body = await request.json()
        images = [base64.b64decode(i["image"]) for i in body["instances"]]
        if calls is not None:
            calls.append(len(images))
        time.sleep(delay)
        with lock:
            preds = predictor.predict_images(images)
        return {"predictions": [p.to_json() for p in preds]}

    return app


def test_http_endpoint_model(client, db, settings, project, auth):
    calls: list[int] = []
    _, onnx_config = mnist_pixel_classifier()
    with live_server(_http_model_app(calls=calls)) as url:
        config = {
            "task": "image_classification",
            "class_names": onnx_config["class_names"],
            "req_uri": f"{url}/predict",
        }
        http_id = _register(client, project, auth, None, config, "remote-pixels")
        ds, truth = _digits(client, project, auth, n=40)
        task_id = _prelabel(client, project, ds, auth, http_id).json()["task_id"]
        run_queued(settings, db)
    task = get_task(client, project, ds, task_id, auth)
    assert task["status"] == 3, task
    assert sum(calls) == 40
    via_http = {
        s["source"].rsplit("/", 1)[-1]: (s["labels"][0]["name"], s["labels"][0]["score"])
        for s in list_all(client, project, ds, auth, "auto-annotations/samples")
    }
    onnx_id = _register(client, project, auth, *mnist_pixel_classifier(), "local-pixels")
    ds2, _ = _digits(client, project, auth, name="again", n=40)
    _prelabel(client, project, ds2, auth, onnx_id)
    run_queued(settings, db)
    via_onnx = {
        s["source"].rsplit("/", 1)[-1]: (s["labels"][0]["name"], s["labels"][0]["score"])
        for s in list_all(client, project, ds2, auth, "auto-annotations/samples")
    }
    assert via_http == via_onnx


def test_unreachable_http_model_fails_the_task(client, db, settings, project, auth):
    config = {"task": "image_classification", "req_uri": "http://127.0.0.1:9/predict"}
    http_id = _register(client, project, auth, None, config, "down")
    ds, _ = _digits(client, project, auth, n=5)
    task_id = _prelabel(client, project, ds, auth, http_id).json()["task_id"]
    run_queued(settings, db)
    task = get_task(client, project, ds, task_id, auth)
    assert task["status"] == 2 and task["error_code"] == "ModelArts.4953", task
    assert (
        client.get(f"/v2/{project}/datasets/{ds}", headers=auth).json()["unconfirmed_sample_count"]
        == 0
    )


def _photo(name: str) -> bytes:
    from PIL import Image
    from skimage import data

    buf = io.BytesIO()
    Image.fromarray(getattr(data, name)()).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.slow
def test_pretrained_imagenet_model_and_unknown_labels(
    client, db, settings, project, auth, tmp_path
):
    from labelpilot.mlmodels.pretrained import imagenet_classifier

    path, config = imagenet_classifier(settings.resolved_model_dir)
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "model.onnx").write_bytes(path.read_bytes())
    (tmp_path / "m" / "config.json").write_text(config.model_dump_json())
    r = client.post(
        f"/v1/{project}/models",
        json={
            "model_name": "imagenet",
            "model_type": "ONNX",
            "source_location": str(tmp_path / "m"),
        },
        headers=auth,
    )
    assert r.status_code == 200, r.text
    model_id = r.json()["model_id"]
    photos = {"chelsea": {"Egyptian cat", "tabby", "tiger cat"}, "coffee": {"espresso", "cup"}}
    for policy in ("create", "skip"):
        ds = make_dataset(client, project, auth, name=f"photos-{policy}")
        client.post(
            f"/v2/{project}/datasets/{ds}/data-annotations/labels",
            json={"labels": [{"name": "espresso", "type": 0}]},
            headers=auth,
        )
        items = [{"name": f"{n}.png", "data": _b64(_photo(n))} for n in photos]
        post_samples(client, project, ds, auth, items)
        task_id = _prelabel(client, project, ds, auth, model_id, {"unknown_labels": policy}).json()[
            "task_id"
        ]
        run_queued(settings, db)
        task = get_task(client, project, ds, task_id, auth)
        assert task["status"] == 3, task
        auto = {
            s["source"].rsplit("/", 1)[-1]: s
            for s in list_all(client, project, ds, auth, "auto-annotations/samples")
        }
        labels = client.get(
            f"/v2/{project}/datasets/{ds}/data-annotations/labels", headers=auth
        ).json()
        names = {lb["name"] for lb in labels["labels"]}
        assert auto["coffee.png"]["labels"][0]["name"] == "espresso"
        if policy == "create":
            assert auto["chelsea.png"]["labels"][0]["name"] in photos["chelsea"]
            assert auto["chelsea.png"]["labels"][0]["name"] in names
        else:
            assert "chelsea.png" not in auto  # its only prediction was an unknown class
            assert sum(task["result"]["skipped_unknown_labels"].values()) == 1
            assert names == {"espresso"}


def test_preconditions(client, db, settings, project, auth):
    ds, _ = _digits(client, project, auth, n=5)
    r = _prelabel(client, project, ds, auth, None)
    assert r.status_code == 400 and "model_id" in r.json()["error_msg"]
    r = _prelabel(client, project, ds, auth, "00000000-0000-0000-0000-000000000000")
    assert r.status_code == 400 and r.json()["error_code"] == "ModelArts.4934"
    model_id = _register(client, project, auth, *mnist_pixel_classifier(), "pixels")
    bad = {"inf_config_list": [{"model_id": model_id, "instance_count": 0}]}
    r = _prelabel(client, project, ds, auth, None, bad)
    assert r.status_code == 400 and "instance_count" in r.json()["error_msg"]
    r = _prelabel(client, project, ds, auth, model_id, {"unknown_labels": "rename"})
    assert r.status_code == 400 and "unknown_labels" in r.json()["error_msg"]
    r = _prelabel(client, project, ds, auth, model_id, {"samples": [{"sample_id": "nope"}]})
    assert r.status_code == 400 and r.json()["error_code"] == "ModelArts.4407"
    assert _prelabel(client, project, ds, auth, model_id).status_code == 200
    r = _prelabel(client, project, ds, auth, model_id)
    assert r.status_code == 501 and r.json()["error_code"] == "ModelArts.4387"
    # the model is in use by a task's labels, but deleting it is the user's call; a running
    # task that loses its model fails with 4934 instead of crashing
    client.delete(f"/v1/{project}/models/{model_id}", headers=auth)
    run_queued(settings, db)
    tasks = client.get(f"/v2/{project}/datasets/{ds}/tasks", headers=auth).json()["tasks"]
    assert tasks[0]["status"] == 2


def test_only_the_given_samples(client, db, settings, project, auth):
    model_id = _register(client, project, auth, *mnist_pixel_classifier(), "pixels")
    ds, _ = _digits(client, project, auth, n=10)
    samples = list_all(client, project, ds, auth)
    chosen = [s["sample_id"] for s in samples[:3]]
    r = _prelabel(
        client, project, ds, auth, model_id, {"samples": [{"sample_id": i} for i in chosen]}
    )
    assert r.status_code == 200, r.text
    run_queued(settings, db)
    auto = list_all(client, project, ds, auth, "auto-annotations/samples")
    assert sorted(s["sample_id"] for s in auto) == sorted(chosen)


def test_stop_mid_run_writes_nothing(client, settings, project, auth):
    _, onnx_config = mnist_pixel_classifier()
    with live_server(_http_model_app(delay=0.3)) as url:
        config = {
            "task": "image_classification",
            "class_names": onnx_config["class_names"],
            "req_uri": f"{url}/predict",
        }
        http_id = _register(client, project, auth, None, config, "slow")
        ds, _ = _digits(client, project, auth, n=400)
        worker = start_worker(settings)
        try:
            task_id = _prelabel(client, project, ds, auth, http_id).json()["task_id"]
            wait_for(lambda: get_task(client, project, ds, task_id, auth)["progress"] > 5, 60)
            client.post(f"/v2/{project}/datasets/{ds}/tasks/{task_id}/stop", headers=auth)
            wait_for(lambda: get_task(client, project, ds, task_id, auth)["status"] == 5, 15)
        finally:
            stop_process(worker)
    info = client.get(f"/v2/{project}/datasets/{ds}", headers=auth).json()
    assert info["unconfirmed_sample_count"] == 0


def test_a_model_whose_file_is_gone_fails_saying_so(client, db, settings, project, auth, app):
    # #15 point 3: a known reason gets its code and an actionable message, not an incident
    from labelpilot.mlmodels.service import model_key

    model, config = mnist_pixel_classifier()
    model_id = _register(client, project, auth, model, config, "vanishing")
    ds, _ = _digits(client, project, auth, name="gone-model", n=6)
    app.state.services.storage.delete(model_key(model_id))
    r = _prelabel(client, project, ds, auth, model_id)
    assert r.status_code == 200, r.text
    run_queued(settings, db)
    task = get_task(client, project, ds, r.json()["task_id"], auth)
    assert task["status"] == 2 and task["error_code"] == "ModelArts.4934", task
    assert "vanishing" in task["error_msg"] and "register the model again" in task["error_msg"]
