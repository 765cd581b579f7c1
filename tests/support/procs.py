"""Worker processes for engine tests."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from labelpilot.config import Settings

REPO = Path(__file__).resolve().parents[2]


def start_worker(settings: Settings) -> subprocess.Popen[bytes]:
    env = settings.child_env()
    env["PYTHONPATH"] = f"{REPO}:{REPO / 'src'}"
    # the worker's log goes to a file next to its data, read by worker_log() when a test fails
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with (settings.data_dir / "worker.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "labelpilot.cli.main", "worker"],
            env=env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def worker_log(settings: Settings, tail: int = 4000) -> str:
    """The last ``tail`` characters the test's workers logged."""
    path = settings.data_dir / "worker.log"
    return path.read_text(errors="replace")[-tail:] if path.exists() else "(no worker log)"


def stop_process(p: subprocess.Popen[bytes]) -> None:
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def wait_for(predicate: Callable[[], object], timeout: float, interval: float = 0.05) -> object:
    """Poll until ``predicate()`` is truthy; return its value or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
