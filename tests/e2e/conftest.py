"""End-to-end fixtures: a live ``labelpilot serve --demo`` and Debian's Chromium via Playwright.

The server runs in a subprocess on 127.0.0.1 (temp data directory, free port, one local worker)
with the test-only ``SleepDeployRunner`` registered as ``auto-deploy``; it is stopped at the end.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SLEEP_RUNNER = {"auto-deploy": "tests.support.runners:SleepDeployRunner"}
VIEWPORT = {"width": 1280, "height": 800}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: browser tests against a live server (Chromium)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    """The running server, its demo credential and an API client with the token."""

    url: str
    project_id: str
    token: str
    demo_dataset_id: str
    api: httpx.Client
    _names: set[str] = field(default_factory=set)

    def console(self, route: str = "") -> str:
        return f"{self.url}/console/#{route}"

    def create_dataset(self, name: str, path: Path | None = None, **extra: Any) -> str:
        body: dict[str, Any] = {"dataset_name": name, **extra}
        if path is not None:
            body["data_sources"] = [{"data_type": 0, "data_path": str(path)}]
        r = self.api.post("/datasets", json=body)
        assert r.status_code == 201, r.text
        dataset_id, task_id = str(r.json()["dataset_id"]), r.json().get("import_task_id")
        if task_id:  # the import runs as a task: wait for it
            deadline = time.monotonic() + 60
            while True:
                t = self.api.get(f"/datasets/{dataset_id}/import-tasks/{task_id}").json()
                if t["status"] in ("COMPLETED", "FAILED"):
                    assert t["status"] == "COMPLETED", t
                    break
                assert time.monotonic() < deadline, t
                time.sleep(0.1)
        return dataset_id

    def dataset(self, dataset_id: str) -> dict[str, Any]:
        r = self.api.get(f"/datasets/{dataset_id}")
        assert r.status_code == 200, r.text
        return dict(r.json())

    def task(self, dataset_id: str, task_id: str) -> dict[str, Any]:
        r = self.api.get(f"/datasets/{dataset_id}/tasks/{task_id}")
        assert r.status_code == 200, r.text
        return dict(r.json())

    def create_task(self, dataset_id: str, body: dict[str, Any]) -> str:
        r = self.api.post(f"/datasets/{dataset_id}/tasks", json=body)
        assert r.status_code == 200, r.text
        return str(r.json()["task_id"])

    def sleep_task(self, dataset_id: str, name: str, batches: int, seconds: float) -> str:
        params = [
            {"label": "batches", "value": str(batches)},
            {"label": "seconds", "value": str(seconds)},
        ]
        return self.create_task(
            dataset_id,
            {"task_type": "auto-deploy", "config": {"name": name, "parameters": params}},
        )

    def wait_task(self, dataset_id: str, task_id: str, timeout: float = 30) -> dict[str, Any]:
        """Poll until the task has ended (succeeded, failed or stopped)."""
        deadline = time.monotonic() + timeout
        while True:
            t = self.task(dataset_id, task_id)
            if t["status"] in (2, 3, 5):
                return t
            if time.monotonic() > deadline:
                raise AssertionError(f"task {task_id} still {t['status']} after {timeout}s")
            time.sleep(0.1)

    def add_samples(
        self, dataset_id: str, samples: list[dict[str, Any]], final: bool = True
    ) -> list[str]:
        r = self.api.post(
            f"/datasets/{dataset_id}/data-annotations/samples",
            json={"samples": samples, "final_annotation": final},
        )
        assert r.status_code == 200 and r.json()["success"], r.text
        return [str(x["info"]) for x in r.json()["results"]]


def _start(data_dir: Path, port: int, log: Path, imports: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELPILOT_")}
    env.update(
        LABELPILOT_IMPORT_ROOTS=json.dumps([str(imports)]),  # the tests' tmp dirs
        LABELPILOT_RUNNER_PLUGINS=json.dumps(SLEEP_RUNNER),
        LABELPILOT_POLL_SECONDS="0.1",
        PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "src"), env.get("PYTHONPATH", "")]),
    )
    cmd = [
        sys.executable,
        "-m",
        "labelpilot.cli.main",
        "serve",
        "--demo",
        "--no-demo-model",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--workers",
        "1",
    ]
    with log.open("wb") as out:
        return subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # serve stops its worker pool on the way out
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the process group this fixture started
            proc.wait()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("e2e-server")
    port = _free_port()
    log = root / "server.log"
    proc = _start(root / "data", port, log, tmp_path_factory.getbasetemp())
    url = f"http://127.0.0.1:{port}"
    cred: dict[str, str] | None = None
    deadline = time.monotonic() + 120
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"labelpilot serve exited:\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"labelpilot serve did not start:\n{log.read_text()[-3000:]}")
            if cred is None:
                m = re.search(r"^credential (\{.*\})$", log.read_text(errors="replace"), re.M)
                cred = json.loads(m.group(1)) if m else None
            if cred is not None:
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)
        api = httpx.Client(
            base_url=f"{url}/v2/{cred['project_id']}",
            headers={"X-Auth-Token": cred["token"]},
            timeout=30,
        )
        demo = api.get("/datasets", params={"search_content": "demo-digits"}).json()
        yield LiveServer(
            url=url,
            project_id=cred["project_id"],
            token=cred["token"],
            demo_dataset_id=demo["datasets"][0]["dataset_id"],
            api=api,
        )
        api.close()
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (empty cache and sessionStorage) at 1280x800."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(15_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def sign_in(page: Any, server: LiveServer, route: str = "/datasets") -> None:
    """Sign in through the login form, then open ``route``."""
    page.goto(server.console("/login"))
    page.get_by_label("Project ID").fill(server.project_id)
    page.get_by_label("Token", exact=True).fill(server.token)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Datasets").wait_for()
    if route != "/datasets":
        page.goto(server.console(route))


# --- images ------------------------------------------------------------------------------------

SHAPES = ("circle", "square", "triangle")
COLORS = ((220, 38, 38), (37, 99, 235), (22, 163, 74), (234, 179, 8), (147, 51, 234))


def shape_png(shape: str, index: int, size: int = 96) -> bytes:
    """A small PNG of a coloured shape; ``index`` varies colour, size and position."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (size, size), (248, 250, 252))
    d = ImageDraw.Draw(img)
    color = COLORS[index % len(COLORS)]
    m = 12 + (index * 5) % 18
    box = (m, m, size - m, size - m)
    if shape == "circle":
        d.ellipse(box, fill=color)
    elif shape == "square":
        d.rectangle(box, fill=color)
    else:
        d.polygon([(size // 2, m), (size - m, size - m), (m, size - m)], fill=color)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def write_image_set(root: Path, per_class: int, unlabeled: int) -> Path:
    """``root/<shape>/<shape>_<i>.png`` for each shape, plus unlabeled PNGs at the top level."""
    root.mkdir(parents=True, exist_ok=True)
    for shape in SHAPES:
        (root / shape).mkdir(exist_ok=True)
        for i in range(per_class):
            (root / shape / f"{shape}_{i}.png").write_bytes(shape_png(shape, i))
    for i in range(unlabeled):
        (root / f"new_{i:02d}.png").write_bytes(shape_png(SHAPES[i % 3], i + 7))
    return root


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def digit_pngs(count: int, start: int = 0) -> list[tuple[int, bytes]]:
    """``(true digit, PNG)`` pairs from scikit-learn's digits (shipped with scikit-learn)."""
    from sklearn.datasets import load_digits

    from labelpilot.demo import digit_png

    digits = load_digits()
    return [
        (int(digits.target[i]), digit_png(digits.images[i], size=64))
        for i in range(start, start + count)
    ]
