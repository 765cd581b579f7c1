"""Memory under hostile inputs (issue #12, acceptance): peak RSS against idle RSS.

    python bench/memory.py [--json]

Starts a throwaway LabelPilot API server (``labelpilot serve``, temp data dir, SQLite, no
workers, the temp dir as import root) and a ``/predict`` server (``serving.server.build_app``
around a predictor that decodes what it gets, as a served image model does), each in its own
process. Before each probe the process's peak RSS is reset (``/proc/<pid>/clear_refs``, 5); after
it, ``VmHWM`` is its peak. Probes:

- a chunked 400 MB POST without credentials (401 before the body is read), and with a token
  (413 once the 12 MiB limit is passed);
- AddSamples with a 13000x13000 PNG (164 KB; refused from its header, ``ModelArts.4657``);
- AddSamples with a ``data_source`` of a 1 GiB (sparse) file (refused by ``stat``, ``4656``);
- ``POST /predict`` of the same 13000x13000 PNG (413 before decoding).

Prints one line per probe: status, idle and peak RSS (MB) and the difference; ``--json`` prints
the rows as JSON. The issue asks for a peak within 100 MB of idle; the exit code is 1 otherwise.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.support.hostile import huge_png  # noqa: E402

LIMIT_MB = 100
CHUNK = b"x" * (1 << 20)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _status(pid: int, field: str) -> float:
    """A ``/proc/<pid>/status`` size field in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def _reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def _chunks(mb: int) -> Iterator[bytes]:
    for _ in range(mb):
        yield CHUNK


def _wait(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer")


def _probe(pid: int, name: str, send: Any) -> dict[str, Any]:
    time.sleep(0.5)
    idle = _status(pid, "VmRSS")
    _reset_peak(pid)
    try:
        outcome = send()
    except httpx.HTTPError as exc:  # the server may close while a refused body is still sent
        outcome = f"connection closed ({type(exc).__name__})"
    time.sleep(0.5)
    peak = _status(pid, "VmHWM")
    return {
        "probe": name,
        "answer": outcome,
        "idle_mb": round(idle, 1),
        "peak_mb": round(peak, 1),
        "delta_mb": round(peak - idle, 1),
    }


def _answer(r: httpx.Response) -> str:
    body = r.json()
    if "results" in body:
        body = body["results"][0]
    return f"{r.status_code} {body.get('error_code')}"


PREDICT_SERVER = """
import sys, uvicorn
from labelpilot.algorithms.image_decode import load_image
from labelpilot.mlmodels.predictor import Prediction
from labelpilot.mlmodels.spec import ModelConfig
from labelpilot.serving.server import build_app

class Decoding:
    config = ModelConfig(task="image_classification", class_names=["a", "b"])
    def predict_images(self, images):
        return [Prediction([], {"a": 1.0, "b": 0.0}, load_image(b).size) for b in images]
    def predict_texts(self, texts):
        raise AssertionError
    def close(self):
        pass

uvicorn.run(build_app("bench", "bench", Decoding()), host="127.0.0.1", port=int(sys.argv[1]),
            log_level="warning")
"""


def measure() -> list[dict[str, Any]]:
    tmp = Path(tempfile.mkdtemp(prefix="lp-memory-"))
    data_dir = tmp / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELPILOT_")}
    env.update(
        LABELPILOT_IMPORT_ROOTS=json.dumps([str(tmp)]),
        PYTHONPATH=os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")]),
    )
    project = "memory"
    from labelpilot.auth.service import create_credential
    from labelpilot.config import Settings
    from labelpilot.db import Database

    db = Database(Settings(data_dir=data_dir).resolved_database_url)
    db.migrate()
    with db.transaction() as s:
        token = create_credential(s, project).token
    db.dispose()
    big = tmp / "big.png"
    with big.open("wb") as f:
        f.truncate(1 << 30)
    bomb = huge_png()
    port, predict_port = _free_port(), _free_port()
    cmd = [sys.executable, "-m", "labelpilot.cli.main", "serve", "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--data-dir", str(data_dir), "--workers", "0"]
    api = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    predict = subprocess.Popen(
        [sys.executable, "-c", PREDICT_SERVER, str(predict_port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    rows = []
    try:
        url = f"http://127.0.0.1:{port}"
        _wait(url + "/health", api)
        _wait(f"http://127.0.0.1:{predict_port}/health", predict)
        h = {"X-Auth-Token": token}
        c = httpx.Client(base_url=f"{url}/v2/{project}", timeout=120)
        ds = c.post("/datasets", json={"dataset_name": "m"}, headers=h).json()["dataset_id"]
        samples = f"/datasets/{ds}/data-annotations/samples"
        json_type = {"Content-Type": "application/json"}
        rows.append(
            _probe(
                api.pid,
                "API: chunked 400 MB POST, no credential",
                lambda: _answer(c.post("/datasets", content=_chunks(400), headers=json_type)),
            )
        )
        rows.append(
            _probe(
                api.pid,
                "API: chunked 400 MB POST, with a token",
                lambda: _answer(
                    c.post("/datasets", content=_chunks(400), headers={**h, **json_type})
                ),
            )
        )
        b64 = base64.b64encode(bomb).decode()
        rows.append(
            _probe(
                api.pid,
                "API: AddSamples of a 13000x13000 PNG",
                lambda: _answer(
                    c.post(samples, json={"samples": [{"name": "b.png", "data": b64}]}, headers=h)
                ),
            )
        )
        source = {"name": "big.png", "data_source": {"data_path": str(big)}}
        rows.append(
            _probe(
                api.pid,
                "API: AddSamples of a 1 GiB data_source",
                lambda: _answer(c.post(samples, json={"samples": [source]}, headers=h)),
            )
        )
        p = httpx.Client(base_url=f"http://127.0.0.1:{predict_port}", timeout=120)
        rows.append(
            _probe(
                predict.pid,
                "/predict: a 13000x13000 PNG",
                lambda: _answer(
                    p.post("/predict", content=bomb, headers={"Content-Type": "image/png"})
                ),
            )
        )
    finally:
        for proc in (api, predict):
            proc.terminate()
            proc.wait(timeout=30)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = measure()
    if args.json:
        print(json.dumps(rows))
    else:
        for r in rows:
            print(
                f"{r['probe']:<42} {r['answer']:<24} idle {r['idle_mb']:7.1f} MB  "
                f"peak {r['peak_mb']:7.1f} MB  +{r['delta_mb']:.1f} MB"
            )
    sys.exit(0 if all(r["delta_mb"] <= LIMIT_MB for r in rows) else 1)


if __name__ == "__main__":
    main()
