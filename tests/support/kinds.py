"""One small task of each built-in kind on the data the task tests use (stop and fault tests)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from tests.support.factories import make_dataset
from tests.support.flow import post_samples
from tests.support.images import mnist_subset, sample_items
from tests.support.onnx_models import mnist_pixel_classifier

Setup = Callable[[TestClient, str, dict[str, str], str], tuple[str, dict[str, Any]]]


def _auto_label(client: TestClient, project: str, auth: dict[str, str], name: str) -> Any:
    """5 labeled and 25 unlabeled digits per class; hard examples and augmentations on."""
    X, y = mnist_subset(30)
    ds = make_dataset(client, project, auth, name=name)
    labeled = np.concatenate([np.arange(5) + c * 30 for c in range(10)])
    rest = np.setdiff1d(np.arange(len(y)), labeled)
    post_samples(client, project, ds, auth, sample_items(X[labeled], y[labeled], prefix="lab"))
    post_samples(client, project, ds, auth, sample_items(X[rest], prefix="unl"))
    return ds, {"task_type": "auto-label", "config": {}, "collect_key_sample": True}


def _grouping(client: TestClient, project: str, auth: dict[str, str], name: str) -> Any:
    X, _ = mnist_subset(40)
    ds = make_dataset(client, project, auth, name=name)
    post_samples(client, project, ds, auth, sample_items(X))
    return ds, {"task_type": "auto-grouping", "config": {"n_clusters": 10}}


def _pre_label(client: TestClient, project: str, auth: dict[str, str], name: str) -> Any:
    model, config = mnist_pixel_classifier()
    r = client.post(
        f"/v1/{project}/models",
        json={
            "model_name": f"pixels-{name}",
            "config": config,
            "model_type": "ONNX",
            "model_file": base64.b64encode(model).decode(),
        },
        headers=auth,
    )
    assert r.status_code == 200, r.text
    X, _ = mnist_subset(30, offset=40)
    ds = make_dataset(client, project, auth, name=name)
    post_samples(client, project, ds, auth, sample_items(X, prefix="d"))
    body = {
        "task_type": "pre-label",
        "model_id": r.json()["model_id"],
        "config": {},
        "collect_key_sample": True,
    }
    return ds, body


def _deploy(client: TestClient, project: str, auth: dict[str, str], name: str) -> Any:
    X, y = mnist_subset(8)
    ds = make_dataset(client, project, auth, name=name)
    post_samples(client, project, ds, auth, sample_items(X, y, prefix="lab"))
    return ds, {"task_type": "auto-deploy", "config": {}}


KINDS: dict[str, Setup] = {
    "auto-label": _auto_label,
    "auto-grouping": _grouping,
    "pre-label": _pre_label,
    "auto-deploy": _deploy,
}

# The steps (sub-events of "running") each kind goes through, in order.
STEPS: dict[str, tuple[str, ...]] = {
    "auto-label": ("features", "training", "hard examples", "writing"),
    "auto-grouping": ("features", "clustering", "writing"),
    "pre-label": ("loading", "inference", "hard examples", "writing"),
    "auto-deploy": ("export", "train", "evaluate", "register", "deploy"),
}
