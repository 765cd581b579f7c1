"""Local worker processes for ``labelpilot serve``, restarted when they die."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading

from labelpilot.config import Settings

log = logging.getLogger(__name__)


class WorkerPool:
    """``count`` worker processes (``labelpilot worker``) that end with this process."""

    def __init__(self, settings: Settings, count: int) -> None:
        self.settings = settings
        self.count = count
        self.procs: list[subprocess.Popen[bytes]] = []
        self.stopping = threading.Event()

    def _spawn(self) -> subprocess.Popen[bytes]:
        cmd = [
            sys.executable,
            "-m",
            "labelpilot.cli.main",
            "worker",
            "--parent-pid",
            str(os.getpid()),
        ]
        return subprocess.Popen(cmd, env=self.settings.child_env())

    def start(self) -> None:
        self.procs = [self._spawn() for _ in range(self.count)]
        threading.Thread(target=self._supervise, daemon=True).start()

    def _supervise(self) -> None:
        while not self.stopping.wait(2.0):
            for i, p in enumerate(self.procs):
                if p.poll() is not None and not self.stopping.is_set():
                    log.warning("worker %s exited; restarting", p.pid)
                    self.procs[i] = self._spawn()

    def stop(self) -> None:
        self.stopping.set()
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
