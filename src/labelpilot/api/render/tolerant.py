"""Rendering rows that an older version stored: one bad row never fails a page."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from labelpilot.api.untrusted import check_json, repaired
from labelpilot.errors import BadRequest

log = logging.getLogger(__name__)
Row = TypeVar("Row")
Wire = TypeVar("Wire")


def stored_json(value: Any, what: str) -> Any:
    """``value`` if it renders as stored, else a repaired copy (logged; the row is unchanged)."""
    try:
        check_json(value)
    except BadRequest as exc:
        log.warning("%s cannot be rendered as stored (%s); rendering a repaired copy", what, exc)
        return repaired(value)
    return value


def each(rows: Iterable[Row], render: Callable[[Row], Wire], what: str) -> list[Wire]:
    """Render every row; one that still fails is logged and left out of the page."""
    out: list[Wire] = []
    for row in rows:
        try:
            out.append(render(row))
        except Exception:
            log.exception("%s %s cannot be rendered; left out of the page", what, _id(row))
    return out


def _id(row: object) -> str:
    return str(getattr(row, "id", "?"))
