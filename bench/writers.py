"""Concurrent writers during a large import: failed writes and write latency, with and without.

    python bench/writers.py [--files 40000] [--writers 8] [--seconds 20] [--db sqlite|<url>]

Starts the real API (``create_app`` under uvicorn, one process, as ``labelpilot serve`` runs it)
on 127.0.0.1, then runs ``--writers`` threads that each add one small sample per request to
their own dataset (a write transaction per request), first alone for ``--seconds``, then while
one more client creates a dataset whose ``data_sources`` directory holds ``--files`` small text
files. Prints the machine, then per phase: writes, failed writes (any non-2xx answer or
transport error), p50/p99/max write latency, and the import's own time. Issue #12 asks for 0
failed writes and the p99 printed next to the writers' p99 without the import.

``--db <url>`` must point to a throwaway database (the schema is migrated there).
"""

from __future__ import annotations

import argparse
import base64
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from labelpilot.auth.service import create_credential
from labelpilot.db import Database
from machine_info import print_machine

HOST = "127.0.0.1"
PROJECT = "bench-writers"


def serve(port: int, db_url: str, data_dir: str, import_root: str) -> None:
    """Subprocess entry point: the real app, one uvicorn worker, warnings only."""
    import uvicorn

    from labelpilot.app import create_app
    from labelpilot.config import Settings

    settings = Settings(
        data_dir=Path(data_dir), database_url=db_url, import_roots=[Path(import_root)]
    )
    uvicorn.run(create_app(settings), host=HOST, port=port, workers=1, log_level="warning")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def start_server(
    db_url: str, data_dir: Path, import_root: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [sys.executable, __file__, "--serve", "--port", str(port), "--db", db_url]
    proc = subprocess.Popen([*cmd, "--data-dir", str(data_dir), "--import-root", str(import_root)])
    base = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 60
    with httpx.Client(trust_env=False, timeout=5) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}")
            try:
                client.get(base + "/health")
                return proc, base
            except httpx.TransportError:
                time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start within 60 s")


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def writer(
    base: str, headers: dict[str, str], dataset: str, phase: Phase, stop: threading.Event, k: int
) -> None:
    """Add one small text sample per request until ``stop``."""
    url = f"{base}/v2/{PROJECT}/datasets/{dataset}/data-annotations/samples"
    i = 0
    with httpx.Client(trust_env=False, timeout=120) as client:
        while not stop.is_set():
            i += 1
            data = base64.b64encode(f"writer {k} sample {i}".encode()).decode()
            body = {"samples": [{"name": f"{phase.name}-{k}-{i}.txt", "data": data}]}
            started = time.perf_counter()
            try:
                r = client.post(url, json=body, headers=headers)
                ok = r.status_code < 300 and r.json().get("success", False)
                detail = f"{r.status_code} {r.text[:120]}"
            except httpx.HTTPError as exc:
                ok, detail = False, f"{type(exc).__name__}: {exc}"
            took = time.perf_counter() - started
            with phase.lock:
                phase.latencies.append(took)
                if not ok:
                    phase.failures.append(detail)


def run_phase(
    phase: Phase,
    base: str,
    headers: dict[str, str],
    datasets: list[str],
    seconds: float,
    during: Any = None,
) -> float | None:
    """Writers for ``seconds`` (or as long as ``during`` runs); the time ``during`` took."""
    stop = threading.Event()
    threads = [
        threading.Thread(target=writer, args=(base, headers, ds, phase, stop, k))
        for k, ds in enumerate(datasets)
    ]
    for t in threads:
        t.start()
    took = None
    if during is None:
        time.sleep(seconds)
    else:
        started = time.perf_counter()
        during()
        took = time.perf_counter() - started
    stop.set()
    for t in threads:
        t.join()
    return took


def summary(phase: Phase, extra: str = "") -> None:
    lat = sorted(phase.latencies)
    if not lat:
        print(f"{phase.name:>15}: no writes")
        return
    p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))]
    print(
        f"{phase.name:>15}: {len(lat):6d} writes, {len(phase.failures)} failed, "
        f"p50 {statistics.median(lat) * 1000:7.1f} ms, p99 {p99 * 1000:7.1f} ms, "
        f"max {lat[-1] * 1000:7.1f} ms{extra}"
    )
    for detail in phase.failures[:5]:
        print(f"{'':>17}failed: {detail}")


def make_files(root: Path, n: int) -> None:
    for i in range(n):
        d = root / f"class{i % 10}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{i:06d}.txt").write_text(f"small text file number {i}\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=40_000)
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--db", default="sqlite")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--data-dir", help=argparse.SUPPRESS)
    ap.add_argument("--import-root", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.port, args.db, args.data_dir, args.import_root)
        return

    print_machine("sqlalchemy", "fastapi", "uvicorn")
    with tempfile.TemporaryDirectory(prefix="labelpilot-writers-") as tmp:
        tmpdir = Path(tmp)
        data_dir = tmpdir / "data"
        db_url = args.db if args.db != "sqlite" else f"sqlite:///{data_dir / 'labelpilot.db'}"
        print(f"{'database':>15}: {db_url.split('://')[0]}")
        database = Database(db_url)
        database.migrate()
        with database.transaction() as s:
            token = create_credential(s, PROJECT).token
        database.dispose()
        source = tmpdir / "import" / "files"
        started = time.perf_counter()
        make_files(source, args.files)
        took = time.perf_counter() - started
        print(f"{'files':>15}: {args.files} text files written in {took:.1f} s")
        proc, base = start_server(db_url, data_dir, tmpdir / "import")
        headers = {"X-Auth-Token": token}
        try:
            with httpx.Client(trust_env=False, timeout=60) as client:
                datasets = []
                for k in range(args.writers):
                    r = client.post(
                        f"{base}/v2/{PROJECT}/datasets",
                        json={
                            "dataset_name": f"writer-{k}-{secrets.token_hex(3)}",
                            "dataset_type": 100,
                        },
                        headers=headers,
                    )
                    r.raise_for_status()
                    datasets.append(r.json()["dataset_id"])
            alone = Phase("writers alone")
            run_phase(alone, base, headers, datasets, args.seconds)
            summary(alone)

            imported: dict[str, Any] = {}

            def do_import() -> None:
                with httpx.Client(trust_env=False, timeout=3600) as client:
                    r = client.post(
                        f"{base}/v2/{PROJECT}/datasets",
                        json={
                            "dataset_name": "big-import",
                            "data_sources": [{"data_path": str(source)}],
                            "import_annotations": True,
                        },
                        headers=headers,
                    )
                imported["status"] = r.status_code
                imported["count"] = r.json().get("imported_sample_count")

            during = Phase("during import")
            took = run_phase(during, base, headers, datasets, args.seconds, during=do_import)
            summary(
                during,
                f"; import: {imported.get('status')} {imported.get('count')} samples in "
                f"{took:.1f} s",
            )
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
