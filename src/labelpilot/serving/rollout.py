"""Waiting on the supervisor from outside the server: a service's start and its removal.

The supervisor (``serving.supervisor``) runs in the LabelPilot server; a worker (auto-deploy)
only writes ``desired`` and polls ``status`` until the supervisor has acted.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import update

from labelpilot.db import Database
from labelpilot.mlmodels.tables import Service
from labelpilot.serving.service import access_address, delete_service

POLL_SECONDS = 0.3
STOP_WAIT_SECONDS = 20.0


class ServiceDidNotStart(Exception):
    """The service failed, or did not answer in time; the message says which."""


def wait_until_running(
    db: Database, service_id: str, limit: float, check_stop: Callable[[], None]
) -> str:
    """Poll until the service runs and return its URL; ``check_stop`` runs before each poll."""
    deadline = time.monotonic() + limit
    while True:
        check_stop()
        with db.read() as sess:
            svc = sess.get(Service, service_id)
            assert svc is not None
            status, tip, url = svc.status, svc.failure_tip, access_address(svc)
        if status == "running" and url:
            return url
        if status == "failed":
            raise ServiceDidNotStart(f"the service could not start: {tip}"[:1000])
        if time.monotonic() > deadline:
            raise ServiceDidNotStart(
                f"the service did not start within {limit:.0f} s; is a LabelPilot server "
                "(which supervises services) running on this database?"
            )
        time.sleep(POLL_SECONDS)


def remove_service(db: Database, service_id: str) -> None:
    """Ask the service to stop, wait (a while) until its process ended, then delete it."""
    with db.transaction() as sess:
        sess.execute(update(Service).where(Service.id == service_id).values(desired="stopped"))
    deadline = time.monotonic() + STOP_WAIT_SECONDS
    while time.monotonic() < deadline:
        with db.read() as sess:
            svc = sess.get(Service, service_id)
            if svc is None or (svc.status == "stopped" and svc.pid is None):
                break
        time.sleep(0.2)
    with db.transaction() as sess:
        svc = sess.get(Service, service_id)
        if svc is not None:
            delete_service(sess, svc)
