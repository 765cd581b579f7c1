"""Online-service test helpers: settings without test plugins, a small real ONNX model, waits."""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

from labelpilot.app import create_app
from labelpilot.config import Settings
from labelpilot.db import Database
from labelpilot.mlmodels.service import NewModel, register_model
from labelpilot.mlmodels.spec import ModelConfig
from labelpilot.storage import open_storage
from tests.support.procs import wait_for


def service_settings(tmp_path: Path, database_url: str, model_dir: Path, **extra: Any) -> Settings:
    """Fast engine timings, a quick supervisor, and the real auto-deploy runner."""
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "database_url": database_url,
        "model_dir": model_dir,
        "lease_seconds": 5,
        "heartbeat_seconds": 0.5,
        "poll_seconds": 0.1,
        "supervisor_interval": 0.2,
        "service_start_timeout": 90.0,
        **extra,
    }
    return Settings(**values)


@contextmanager
def supervised_client(settings: Settings) -> Iterator[TestClient]:
    """The app with its service supervisor running (stopped, with its processes, on exit)."""
    app = create_app(settings, run_reaper=False, run_supervisor=True)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@cache
def digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.images * (255 / 16)).astype(np.uint8), d.target


def digit_png(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buf, "PNG")
    return buf.getvalue()


@cache
def tiny_digit_model() -> tuple[bytes, dict[str, Any]]:
    """A logistic regression on 8x8 grey digits (scikit-learn digits), as ONNX + config."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.linear_model import LogisticRegression

    X, y = digits()
    clf = LogisticRegression(max_iter=500).fit(X.reshape(len(X), -1) / 255.0, y)
    onx = convert_sklearn(
        clf,
        initial_types=[("pixels", FloatTensorType([None, 64]))],
        options={id(clf): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    config = {
        "task": "image_classification",
        "class_names": [str(c) for c in clf.classes_],
        "input": {
            "kind": "image",
            "size": [8, 8],
            "layout": "NF",
            "color": "GRAY",
            "mean": [0.0],
            "std": [1.0],
        },
        "output": {"scores": "probabilities"},
    }
    return onx.SerializeToString(), config


def register_tiny_model(settings: Settings, db: Database, project: str, name: str = "tiny") -> str:
    data, config = tiny_digit_model()
    with db.transaction() as s:
        row = register_model(
            s,
            open_storage(settings.resolved_storage_root),
            NewModel(
                project_id=project,
                model_name=name,
                model_version="0.0.1",
                model_type="ONNX",
                config=ModelConfig.model_validate(config),
                model_bytes=data,
            ),
            settings.max_model_bytes,
        )
        return row.id


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def service_of(client: TestClient, project: str, sid: str, auth: dict[str, str]) -> Any:
    return client.get(f"/v1/{project}/services/{sid}", headers=auth).json()


def wait_status(
    client: TestClient,
    project: str,
    sid: str,
    auth: dict[str, str],
    status: str,
    timeout: float = 120.0,
) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        body = service_of(client, project, sid, auth)
        if body.get("status") == "failed" and status != "failed":
            raise AssertionError(f"service failed: {body.get('failure_tip')}")
        return body if body.get("status") == status else None

    out = wait_for(check, timeout, interval=0.1)
    assert isinstance(out, dict)
    return out


def alive(pid: int) -> bool:
    """Alive and not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def service_pids() -> set[int]:
    """Pids of every LabelPilot service server process on this machine started by this process."""
    me = str(os.getpid()).encode()
    out = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"labelpilot.serving.server" in args and me in args and alive(int(proc.name)):
            out.add(int(proc.name))
    return out
