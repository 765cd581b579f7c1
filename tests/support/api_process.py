"""The API as its own server process (``labelpilot serve --workers 0``), for kill -9 tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from labelpilot.config import Settings
from tests.support.live import free_port
from tests.support.procs import REPO, stop_process
from tests.support.serving import alive

# settings the server reads that Settings.child_env leaves out (it is written for workers)
SERVER_SETTINGS = (
    "supervisor_interval",
    "supervisor_lease_seconds",
    "service_start_timeout",
    "service_start_attempts",
)


class ApiProcess:
    """``labelpilot serve`` on 127.0.0.1 with ``settings``: started, killed, restarted on one port.

    Every server started is remembered (``pids``) so that a test can check that the service
    processes each one supervised ended with it. Its log goes to ``log_dir/api-<n>.log``.
    """

    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self.settings = settings
        self.log_dir = log_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.pids: list[int] = []

    def _env(self) -> dict[str, str]:
        env = self.settings.child_env()
        env["PYTHONPATH"] = f"{REPO}:{REPO / 'src'}"
        for name in SERVER_SETTINGS:
            env[f"LABELPILOT_{name.upper()}"] = str(getattr(self.settings, name))
        if self.settings.import_roots is not None:
            env["LABELPILOT_IMPORT_ROOTS"] = json.dumps(
                [str(p) for p in self.settings.import_roots]
            )
        return env

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and wait until ``/health`` answers."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"api-{len(self.pids)}.log"
        cmd = [sys.executable, "-m", "labelpilot.cli.main", "serve"]
        cmd += ["--host", "127.0.0.1", "--port", str(self.port), "--workers", "0"]
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                cmd, env=self._env(), cwd=REPO, stdout=out, stderr=subprocess.STDOUT
            )
        self.pids.append(self.proc.pid)
        deadline = time.monotonic() + timeout
        with httpx.Client(trust_env=False, timeout=2) as client:
            while True:
                if self.proc.poll() is not None:
                    tail = log.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"API exited with {self.proc.returncode}:\n{tail}")
                try:
                    if client.get(self.url + "/health").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"API did not answer /health within {timeout} s")
                time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no lifespan shutdown, no lease released, services left to notice alone."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        """SIGTERM (the lifespan stops the supervisor and its services), SIGKILL after 10 s."""
        if self.proc is not None:
            stop_process(self.proc)


def services_of(parents: list[int]) -> set[int]:
    """Live service server processes started by any of ``parents`` (their ``--parent-pid``)."""
    wanted = {str(p).encode() for p in parents}
    out = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"labelpilot.serving.server" not in args or b"--parent-pid" not in args:
            continue
        i = args.index(b"--parent-pid")
        if i + 1 < len(args) and args[i + 1] in wanted and alive(int(proc.name)):
            out.add(int(proc.name))
    return out
