"""The service supervisor: makes the running service processes match the ``services`` table.

One supervisor runs in the LabelPilot server process (a thread started in the app's lifespan).
Every ``supervisor_interval`` seconds it

* starts the server process of each service whose ``desired`` state is ``running`` and that has
  none (on a free port of ``service_host`` the first time, then on the same port so its URL and
  the HTTP model registered for it stay valid), and marks it ``running`` once ``/health`` answers;
* restarts a process that exited or stopped answering (``restart_count`` + 1); a service that
  fails ``service_start_attempts`` starts in a row, without ever answering, is marked ``failed``
  with the end of its log as ``failure_tip``, and is retried only when asked again;
* stops the processes of services whose desired state is ``stopped``, and of deleted services;
* on its first pass, after a LabelPilot restart, starts again every service that should run.

Several LabelPilot servers may share one database (scale-out); only the one holding the
``services`` lease (``supervisor_leases``, renewed on every pass, ``supervisor_lease_seconds``)
supervises. A server that stops releases it; when the holder dies, its service processes exit
with it and another server takes the lease over once it expires and starts them again.

Service processes run in their own session (process group), so a stop or a crash clean-up also
ends their uvicorn workers, and they exit by themselves when this process dies.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from labelpilot.config import Settings
from labelpilot.db import Database
from labelpilot.ids import now_ms
from labelpilot.mlmodels.tables import Service, SupervisorLease
from labelpilot.serving.service import move_http_models, predict_url

log = logging.getLogger(__name__)

LEASE = "services"
HEALTH_MISSES = 3  # failed health checks in a row before a running service is restarted
LOG_TAIL = 800


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def is_service_process(pid: int, service_id: str) -> bool:
    """Whether ``pid`` is alive and is the server of ``service_id`` (Linux: its command line)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    try:
        args = cmdline.read_bytes().split(b"\0")
    except OSError:
        return False
    return b"labelpilot.serving.server" in args and service_id.encode() in args


def kill_group(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM the process group led by ``pid``, SIGKILL what is left after ``timeout``."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except (ProcessLookupError, PermissionError):
            return
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


@dataclass
class _Proc:
    popen: subprocess.Popen[bytes]
    port: int
    started: float
    log_path: Path
    host: str = "127.0.0.1"
    healthy: bool = False
    misses: int = 0


@dataclass
class _Memory:
    failures: dict[str, int] = field(default_factory=dict)  # failed starts in a row
    next_try: dict[str, float] = field(default_factory=dict)
    relaunch: set[str] = field(default_factory=set)  # next start is a restart (count it)


class ServiceSupervisor:
    """Starts, watches, restarts and stops service processes (see the module docstring)."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.procs: dict[str, _Proc] = {}
        self.mem = _Memory()
        self.log_dir = settings.data_dir.resolve() / "logs" / "services"
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=2.0, trust_env=False)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.leader = False

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="service-supervisor", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Check now instead of at the next interval (after an API change)."""
        self._wake.set()

    def stop(self) -> None:
        """Stop supervising and end every process started here (desired states are kept)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        with self._lock:
            for sid in list(self.procs):
                self._end(sid)
                self._set(sid, status="stopped", pid=None)
            if self.leader:
                with self.db.transaction() as s:
                    s.execute(
                        update(SupervisorLease)
                        .where(SupervisorLease.name == LEASE, SupervisorLease.owner == self.owner)
                        .values(expires_at=0)
                    )
                self.leader = False
        self._http.close()

    def _hold_lease(self) -> bool:
        """Take or renew the supervision lease; False while another server holds it."""
        now = now_ms()
        until = now + int(self.settings.supervisor_lease_seconds * 1000)
        with self.db.transaction() as s:
            result: Any = s.execute(
                update(SupervisorLease)
                .where(SupervisorLease.name == LEASE)
                .where((SupervisorLease.owner == self.owner) | (SupervisorLease.expires_at < now))
                .values(owner=self.owner, expires_at=until)
            )
            taken = result.rowcount
            if not taken and s.get(SupervisorLease, LEASE) is None:
                try:
                    with s.begin_nested():
                        s.execute(
                            insert(SupervisorLease).values(
                                name=LEASE, owner=self.owner, expires_at=until
                            )
                        )
                    taken = 1
                except IntegrityError:  # another server inserted it first
                    taken = 0
        if bool(taken) != self.leader:
            log.info("service supervision lease %s", "taken" if taken else "lost")
        self.leader = bool(taken)
        return self.leader

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # keep supervising through transient database errors
                log.exception("service supervisor pass failed")
            self._wake.wait(self.settings.supervisor_interval)
            self._wake.clear()

    # -- one pass ----------------------------------------------------------------------------

    def tick(self) -> None:
        with self._lock:
            if not self._hold_lease():
                for sid in list(self.procs):  # the lease was lost: the new holder takes over
                    self._end(sid)
                return
            with self.db.read() as s:
                rows = s.execute(
                    select(
                        Service.id,
                        Service.project_id,
                        Service.desired,
                        Service.status,
                        Service.host,
                        Service.port,
                        Service.pid,
                        Service.instance_count,
                        Service.restart_count,
                    )
                ).all()
            known = {r.id for r in rows}
            for sid in list(self.procs):
                if sid not in known:  # deleted
                    self._end(sid)
            for r in rows:
                if self._stop.is_set():
                    return
                if r.desired == "running":
                    self._keep_running(r)
                else:
                    self._keep_stopped(r)

    def _keep_running(self, r: Any) -> None:
        p = self.procs.get(r.id)
        now = time.monotonic()
        if p is None:
            if r.status == "failed" or now < self.mem.next_try.get(r.id, 0.0):
                return
            self._launch(r)
            return
        code = p.popen.poll()
        if code is not None:
            self._on_exit(r, p, f"the service process exited with code {code}")
            return
        ok = self._healthy(p, r.id)
        if not p.healthy:
            if ok:
                p.healthy = True
                self.mem.failures.pop(r.id, None)
                self._set(r.id, status="running", failure_tip=None)
                log.info("service %s is running on port %s", r.id, p.port)
            elif now - p.started > self.settings.service_start_timeout:
                self._on_exit(
                    r,
                    p,
                    f"the service did not answer /health within "
                    f"{self.settings.service_start_timeout:.0f} s",
                )
            return
        p.misses = 0 if ok else p.misses + 1
        if p.misses >= HEALTH_MISSES:
            self._on_exit(r, p, f"/health failed {HEALTH_MISSES} times in a row")

    def _keep_stopped(self, r: Any) -> None:
        if r.id in self.procs:
            self._end(r.id)
        elif r.pid and is_service_process(r.pid, r.id):
            kill_group(r.pid)
        if r.status != "stopped" or r.pid is not None:
            self._set(r.id, status="stopped", pid=None)

    # -- actions -----------------------------------------------------------------------------

    def _launch(self, r: Any) -> None:
        if r.pid and is_service_process(r.pid, r.id):
            # left over by a previous LabelPilot process: not our child, so start afresh
            kill_group(r.pid)
        port = r.port if r.port and port_is_free(r.host, r.port) else free_port(r.host)
        if r.port and port != r.port:
            old, new = predict_url(r.host, r.port), predict_url(r.host, port)
            assert old and new
            with self.db.transaction() as s:
                move_http_models(s, r.project_id, old, new)
            log.warning("service %s moves from port %s to %s (taken)", r.id, r.port, port)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{r.id}.log"
        cmd = [
            sys.executable,
            "-m",
            "labelpilot.serving.server",
            "--service-id",
            r.id,
            "--host",
            r.host,
            "--port",
            str(port),
            "--workers",
            str(max(1, int(r.instance_count or 1))),
            "--threads",
            str(self.settings.service_threads),
            "--parent-pid",
            str(os.getpid()),
        ]
        with open(log_path, "ab") as out:
            out.write(f"--- start {time.strftime('%Y-%m-%d %H:%M:%S')} port {port}\n".encode())
            out.flush()
            popen = subprocess.Popen(
                cmd,
                env=self.settings.child_env(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        probe = "127.0.0.1" if r.host in ("0.0.0.0", "::", "") else r.host
        self.procs[r.id] = _Proc(popen, port, time.monotonic(), log_path, probe)
        values: dict[str, Any] = {"status": "deploying", "pid": popen.pid, "port": port}
        if r.id in self.mem.relaunch:
            self.mem.relaunch.discard(r.id)
            values["restart_count"] = Service.restart_count + 1
        self._set(r.id, **values)
        log.info("service %s starting (pid %s, port %s)", r.id, popen.pid, port)

    def _on_exit(self, r: Any, p: _Proc, why: str) -> None:
        """A process died or stopped answering: clean up, then restart or give up."""
        was_running = p.healthy
        self._end(r.id)
        tip = f"{why}; log: {self._tail(p.log_path)}"
        log.warning("service %s: %s", r.id, why)
        self.mem.relaunch.add(r.id)
        if was_running:
            self.mem.failures.pop(r.id, None)
            self.mem.next_try.pop(r.id, None)
            self._set(r.id, status="deploying", pid=None, failure_tip=tip[:2000])
            return
        failures = self.mem.failures.get(r.id, 0) + 1
        if failures >= self.settings.service_start_attempts:
            self.mem.failures.pop(r.id, None)
            self.mem.next_try.pop(r.id, None)
            self.mem.relaunch.discard(r.id)
            self._set(r.id, status="failed", pid=None, failure_tip=tip[:2000])
            return
        self.mem.failures[r.id] = failures
        self.mem.next_try[r.id] = time.monotonic() + min(30.0, 2.0**failures)
        self._set(r.id, status="deploying", pid=None, failure_tip=tip[:2000])

    def _end(self, sid: str) -> None:
        p = self.procs.pop(sid, None)
        if p is None:
            return
        kill_group(p.popen.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.popen.wait(timeout=5)

    def _healthy(self, p: _Proc, sid: str) -> bool:
        try:
            r = self._http.get(f"http://{p.host}:{p.port}/health")
            return r.status_code == 200 and r.json().get("service_id") == sid
        except (httpx.HTTPError, ValueError):
            return False

    @staticmethod
    def _tail(path: Path) -> str:
        try:
            with open(path, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - LOG_TAIL))
                return f.read().decode("utf-8", errors="replace").strip()
        except OSError:
            return "(no log)"

    def _set(self, sid: str, **values: Any) -> None:
        values["update_at"] = now_ms()
        with self.db.transaction() as s:
            s.execute(update(Service).where(Service.id == sid).values(**values))
