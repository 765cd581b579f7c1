"""Issue #12 points 3 and 5: the pixel limit is checked from the header before decoding (uploads,
thumbnails, /predict) and uploads are decoded fully against their declared type."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import pytest
from fastapi.testclient import TestClient

from labelpilot.mlmodels.predictor import Prediction
from labelpilot.mlmodels.spec import ModelConfig
from labelpilot.serving.server import build_app
from tests.support.factories import make_dataset
from tests.support.hostile import huge_png, png, truncated_png


def _add(client: TestClient, project: str, auth: dict[str, str], ds: str, **item: Any) -> Any:
    r = client.post(
        f"/v2/{project}/datasets/{ds}/data-annotations/samples",
        json={"samples": [item]},
        headers=auth,
    )
    assert r.status_code == 200, r.text
    return r.json()["results"][0]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
def ds(client: TestClient, project: str, auth: dict[str, str]) -> str:
    return make_dataset(client, project, auth)


def test_a_truncated_png_is_refused(
    client: TestClient, project: str, auth: dict[str, str], ds: str
) -> None:
    item = _add(client, project, auth, ds, name="cut.png", data=_b64(truncated_png()))
    assert item["success"] is False and item["error_code"] == "ModelArts.4423"
    assert "cut.png" in item["error_msg"]


@pytest.mark.parametrize("sample_type", [1, 2, 5])
def test_a_declared_type_does_not_skip_the_content_check(
    client: TestClient, project: str, auth: dict[str, str], ds: str, sample_type: int
) -> None:
    item = _add(
        client, project, auth, ds, name="x.png", data=_b64(truncated_png()), sample_type=sample_type
    )
    assert item["success"] is False and item["error_code"] == "ModelArts.0104"


def test_a_text_sample_is_utf8(
    client: TestClient, project: str, auth: dict[str, str], ds: str
) -> None:
    ok = _add(client, project, auth, ds, name="a.txt", data=_b64("héllo".encode()))
    assert ok["success"] is True
    bad = _add(client, project, auth, ds, name="b.txt", data=_b64(b"\xff\xfe\x00bad"))
    assert bad["success"] is False and "UTF-8" in bad["error_msg"]


def test_an_image_over_the_pixel_limit_is_refused_unread(
    client: TestClient, project: str, auth: dict[str, str], ds: str
) -> None:
    item = _add(client, project, auth, ds, name="bomb.png", data=_b64(huge_png()))
    assert item["success"] is False and item["error_code"] == "ModelArts.4657"
    assert "LABELPILOT_MAX_IMAGE_PIXELS" in item["error_msg"]


def _stored_then_replaced(
    client: TestClient, app: Any, project: str, auth: dict[str, str], ds: str, data: bytes
) -> str:
    """A sample stored fine whose file is then replaced (as an older version could store it)."""
    item = _add(client, project, auth, ds, name="s.png", data=_b64(png()))
    storage = app.state.services.storage
    r = client.get(
        f"/v2/{project}/datasets/{ds}/data-annotations/samples/{item['info']}", headers=auth
    )
    storage.put(storage.key_of(r.json()["source"]), data)
    return str(item["info"])


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [(truncated_png(), 400, "ModelArts.4423"), (huge_png(), 413, "ModelArts.4657")],
    ids=["truncated", "huge"],
)
def test_thumbnails_of_bad_stored_images_are_clear_errors(
    client: TestClient,
    app: Any,
    project: str,
    auth: dict[str, str],
    ds: str,
    data: bytes,
    status: int,
    code: str,
) -> None:
    sid = _stored_then_replaced(client, app, project, auth, ds, data)
    r = client.get(
        f"/v2/{project}/datasets/{ds}/data-annotations/samples/{sid}/thumbnail", headers=auth
    )
    assert r.status_code == status and r.json()["error_code"] == code


class _Refusing:
    """A predictor that must never be reached."""

    config = ModelConfig(task="image_classification", class_names=["a", "b"])

    def predict_images(self, images: Sequence[bytes]) -> list[Prediction]:
        raise AssertionError(f"{len(images)} images reached the model")

    def predict_texts(self, texts: Sequence[str]) -> list[Prediction]:
        raise AssertionError(f"{len(texts)} texts reached the model")

    def close(self) -> None:
        pass


@pytest.fixture
def service() -> TestClient:
    return TestClient(build_app("svc", "model", _Refusing(), max_pixels=40_000_000))


def test_predict_refuses_a_huge_image_before_decoding(service: TestClient) -> None:
    r = service.post("/predict", content=huge_png(), headers={"Content-Type": "image/png"})
    assert r.status_code == 413 and r.json()["error_code"] == "ModelArts.4657"
    body = {"instances": [{"image": _b64(png())}, {"image": _b64(huge_png())}]}
    r = service.post("/predict", json=body)
    assert r.status_code == 413 and "instances[1]" in r.json()["error_msg"]


def test_predict_limits_a_chunked_body(service: TestClient) -> None:
    chunks = (b"x" * (1 << 20) for _ in range(40))
    r = service.post("/predict", content=chunks, headers={"Content-Type": "image/png"})
    assert r.status_code == 413 and r.json()["error_code"] == "ModelArts.4104"
