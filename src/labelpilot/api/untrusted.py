"""Untrusted JSON at the edge: what a request may carry before anything of it is stored.

Every request body (the ``In`` models' roots) and every JSON query value is walked once: integers
must fit int64 (what PostgreSQL's JSONB, SQLite and orjson all render back), floats must be finite
(JSON has no NaN or Infinity; Python's parser accepts them), strings carry no NUL (PostgreSQL text
and JSONB refuse it) and no unpaired surrogate (an escape such as ``"\\ud800"`` parses to one; no
UTF-8 encoder, so neither orjson nor the databases' drivers, takes it), and nesting is bounded. A
free-form value that is stored as it came (label ``property`` and ``attributes``, sample
``metadata``, task ``config`` extras) is bounded in size too. A violation is a 400 naming the
field; nothing is stored.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, Field, model_validator

from labelpilot.errors import BadRequest

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
MAX_DEPTH = 32
MAX_FREE_JSON_BYTES = 64 * 1024  # a label property or attributes, a sample's metadata
MAX_CONFIG_BYTES = 1024 * 1024  # a task or model config (may list many samples or classes)
_SURROGATE = re.compile("[\ud800-\udfff]")

# A body or query integer stored in an SQL INTEGER column (4 bytes on PostgreSQL).
Int32 = Annotated[int, Field(ge=INT32_MIN, le=INT32_MAX)]
# A body integer stored inside JSON (task config): the int64 range of the validator.
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def _fail(field: str, why: str) -> BadRequest:
    return BadRequest(f"Invalid parameter {field or 'body'}: {why}")


def check_json(value: Any, field: str = "") -> None:
    """Raise a 400 naming the first value under ``field`` that cannot be stored and read back."""
    stack: list[tuple[Any, str, int]] = [(value, field, 0)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, bool) or item is None:
            continue
        if isinstance(item, int):
            if not INT64_MIN <= item <= INT64_MAX:
                raise _fail(where, "integer outside the int64 range")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise _fail(where, "number is not finite")
        elif isinstance(item, str):
            if "\x00" in item:
                raise _fail(where, "NUL character in a string")
            if _SURROGATE.search(item):
                raise _fail(where, "unpaired surrogate in a string")
        elif isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                raise _fail(where, f"nested deeper than {MAX_DEPTH} levels")
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in reversed(list(pairs)):
                if isinstance(key, str) and "\x00" in key:
                    raise _fail(where, "NUL character in a key")
                if isinstance(key, str) and _SURROGATE.search(key):
                    raise _fail(where, "unpaired surrogate in a key")
                stack.append((child, _path(where, key), depth + 1))


def check_free_json(value: Any, field: str, limit: int = MAX_FREE_JSON_BYTES) -> None:
    """:func:`check_json` plus the size bound of a stored free-form value."""
    check_json(value, field)
    size = len(orjson.dumps(value))
    if size > limit:
        raise _fail(field, f"{size} bytes of JSON, more than {limit}")


def repaired(value: Any) -> Any:
    """A copy that :func:`check_json` accepts: what older versions stored, made renderable.

    Out-of-range integers become their decimal strings (nothing is lost), non-finite floats
    become null and NUL characters are dropped; migration 0006 applies the same rule to rows.
    """
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if INT64_MIN <= value <= INT64_MAX else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {str(k).replace("\x00", ""): repaired(v) for k, v in value.items()}
    if isinstance(value, list):
        return [repaired(v) for v in value]
    return value


class CheckedBody(BaseModel):
    """Base of request bodies: the raw JSON is checked before any field is read."""

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        check_json(data)
        return data
