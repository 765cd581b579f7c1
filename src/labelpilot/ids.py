"""Identifiers and times in the forms ModelArts uses."""

from __future__ import annotations

import secrets
import string
import time
import uuid
from datetime import UTC, datetime

_ALNUM = string.ascii_letters + string.digits


def short_id() -> str:
    """A 19-character alphanumeric id, like ModelArts dataset and task ids."""
    return "".join(secrets.choice(_ALNUM) for _ in range(19))


def sample_id() -> str:
    """A 32-hex sample id."""
    return uuid.uuid4().hex


def uuid_str() -> str:
    return str(uuid.uuid4())


def now_ms() -> int:
    return int(time.time() * 1000)


def utcnow() -> datetime:
    """Naive UTC now (the database stores naive UTC datetimes)."""
    return datetime.now(UTC).replace(tzinfo=None)


def format_time(dt: datetime) -> str:
    """``YYYY-MM-DD HH:MM:SS`` as in RunningTask.create_time (UTC)."""
    return dt.strftime("%Y-%m-%d %H:%M:%S")
