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
    return subprocess.Popen(
        [sys.executable, "-m", "labelpilot.cli.main", "worker"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


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
