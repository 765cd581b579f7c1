"""One page of an ordered list, by page index or by ``marker`` (openstacksdk re-sends the query
with ``marker=<last id>`` until a page is empty)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def page_of(
    rows: Sequence[T], *, offset: int, limit: int, marker: str | None, key: Callable[[T], str]
) -> list[T]:
    """``rows[offset * limit:][:limit]``, or the ``limit`` rows after the one whose ``key`` is
    ``marker`` (none when no row has it)."""
    if marker:
        ids = [key(r) for r in rows]
        start = ids.index(marker) + 1 if marker in ids else len(rows)
        return list(rows[start : start + limit])
    return list(rows[offset * limit : offset * limit + limit])
