"""The model registry under /v1/{project_id}/models: register (validated), list, get, delete."""

from __future__ import annotations

import base64
import json
import pickle

import pytest

from labelpilot.config import Settings
from tests.support.onnx_models import mnist_pixel_classifier, rectangle_detector


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _register(client, project, auth, name="digits", version="0.0.1", **body):
    model, config = mnist_pixel_classifier()
    payload = {
        "model_name": name,
        "model_version": version,
        "model_type": "ONNX",
        "model_file": _b64(model),
        "config": config,
        **body,
    }
    return client.post(f"/v1/{project}/models", json=payload, headers=auth)


def test_register_get_list_delete(client, project, auth):
    r = _register(client, project, auth, description="pixels")
    assert r.status_code == 200, r.text
    model_id = r.json()["model_id"]
    detail = client.get(f"/v1/{project}/models/{model_id}", headers=auth).json()
    assert detail["model_name"] == "digits" and detail["model_version"] == "0.0.1"
    assert detail["model_type"] == "ONNX" and detail["model_status"] == "published"
    assert detail["task"] == "image_classification"
    assert detail["config"]["class_names"] == [str(i) for i in range(10)]
    assert detail["model_size"] == len(mnist_pixel_classifier()[0])
    assert detail["description"] == "pixels" and detail["create_at"] > 0

    assert _register(client, project, auth, version="0.0.2").status_code == 200
    assert _register(client, project, auth, name="other").status_code == 200
    body = client.get(f"/v1/{project}/models", params={"model_name": "DIG"}, headers=auth).json()
    assert body["total_count"] == 2 and {m["model_version"] for m in body["models"]} == {
        "0.0.1",
        "0.0.2",
    }
    page = client.get(f"/v1/{project}/models", params={"limit": 2, "offset": 1}, headers=auth)
    assert page.json()["total_count"] == 3 and page.json()["count"] == 1

    r = client.delete(f"/v1/{project}/models/{model_id}", headers=auth)
    assert r.status_code == 200 and r.json()["delete_success_list"] == [model_id]
    r = client.get(f"/v1/{project}/models/{model_id}", headers=auth)
    assert r.status_code == 404 and r.json()["error_code"].startswith("ModelArts.")


def test_duplicate_version_is_refused(client, project, auth):
    assert _register(client, project, auth).status_code == 200
    r = _register(client, project, auth)
    assert r.status_code == 400 and "already exists" in r.json()["error_msg"]


def test_register_from_a_directory_with_config_json(client, project, auth, tmp_path):
    model, config = rectangle_detector()
    (tmp_path / "detector.onnx").write_bytes(model)
    (tmp_path / "config.json").write_text(json.dumps(config))
    r = client.post(
        f"/v1/{project}/models",
        json={"model_name": "rects", "model_type": "ONNX", "source_location": str(tmp_path)},
        headers=auth,
    )
    assert r.status_code == 200, r.text
    detail = client.get(f"/v1/{project}/models/{r.json()['model_id']}", headers=auth).json()
    assert detail["task"] == "object_detection"
    assert detail["config"]["output"]["boxes"] == "boxes"


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        ({"model_file": _b64(b"not a model at all")}, "ModelArts.4934", "not an ONNX model"),
        ({"model_file": _b64(pickle.dumps({"w": [1, 2]}))}, "ModelArts.4934", "pickled"),
        ({"config_patch": {"class_names": ["a", "b", "c"]}}, "ModelArts.4934", "10 classes"),
        ({"config_patch": {"input": {"kind": "text"}}}, "ModelArts.4934", "does not fit"),
        ({"config_patch": {"output": {"scores": "nope"}}}, "ModelArts.4934", "'nope'"),
        ({"config_patch": {"input": {"kind": "image"}}}, "ModelArts.0104", "config.input"),
        ({"config_patch": {"task": "speech"}}, "ModelArts.0104", "config.task"),
        ({"model_type": "Pickle"}, "ModelArts.0104", "model_type"),
        ({"model_name": "bad name!"}, "ModelArts.0104", "model_name"),
    ],
)
def test_bad_models_are_refused_with_the_reason(client, project, auth, change, code, words):
    model, config = mnist_pixel_classifier()
    payload = {
        "model_name": "digits",
        "model_type": "ONNX",
        "model_file": _b64(model),
        "config": {**config, **change.pop("config_patch", {})},
        **change,
    }
    r = client.post(f"/v1/{project}/models", json=payload, headers=auth)
    assert r.status_code == 400, r.text
    assert r.json()["error_code"] == code and words in r.json()["error_msg"], r.json()
    assert client.get(f"/v1/{project}/models", headers=auth).json()["total_count"] == 0


def test_pickle_files_are_refused_by_name_and_content(client, project, auth, tmp_path):
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps([1, 2, 3]))
    _, config = mnist_pixel_classifier()
    r = client.post(
        f"/v1/{project}/models",
        json={
            "model_name": "p",
            "model_type": "ONNX",
            "source_location": str(path),
            "config": config,
        },
        headers=auth,
    )
    assert r.status_code == 400 and r.json()["error_code"] == "ModelArts.4934"


def test_http_model_needs_an_endpoint(client, project, auth):
    config = {"task": "image_classification", "class_names": ["a", "b"]}
    r = client.post(
        f"/v1/{project}/models",
        json={"model_name": "remote", "model_type": "HTTP", "config": config},
        headers=auth,
    )
    assert r.status_code == 400 and "req_uri" in r.json()["error_msg"]
    config["req_uri"] = "http://127.0.0.1:9/predict"
    r = client.post(
        f"/v1/{project}/models",
        json={"model_name": "remote", "model_type": "HTTP", "config": config},
        headers=auth,
    )
    assert r.status_code == 200, r.text


def test_model_size_limit(settings: Settings, project):
    from fastapi.testclient import TestClient

    from labelpilot.app import create_app
    from labelpilot.auth.service import create_credential

    small = settings.model_copy(update={"max_model_bytes": 100})
    app = create_app(small, run_reaper=False)
    with app.state.services.db.transaction() as s:
        token = create_credential(s, project).token
    with TestClient(app) as client:
        r = _register(client, project, {"X-Auth-Token": token})
        assert r.status_code == 413 and "limit" in r.json()["error_msg"]


def test_models_are_per_project(client, project, auth, other_auth):
    model_id = _register(client, project, auth).json()["model_id"]
    other = "other-project"
    r = client.get(f"/v1/{other}/models/{model_id}", headers=other_auth)
    assert r.status_code == 404
    assert client.get(f"/v1/{other}/models", headers=other_auth).json()["total_count"] == 0
