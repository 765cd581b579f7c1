"""Reads the seed page (tests/data/ListTasks.zh.md): its field tables and its example response."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

SEED = Path(__file__).parent.parent / "data" / "ListTasks.zh.md"


def _cells(row: str) -> list[str]:
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
    return [re.sub(r"<[^>]+>", "", c).strip() for c in cells]


@cache
def seed_tables() -> dict[str, dict[str, str]]:
    """Anchor name (``RunningTask``, ...; ``ListTasksResponse`` for the body) -> field -> type."""
    text = SEED.read_text(encoding="utf-8")
    out: dict[str, dict[str, str]] = {}
    for m in re.finditer(r'<a name="(response\w*)"></a>\s*<table>(.*?)</table>', text, re.S):
        anchor = m.group(1)
        name = "ListTasksResponse" if anchor == "responseParameter" else anchor[len("response_") :]
        fields = {}
        for row in re.findall(r"<tr>(.*?)</tr>", m.group(2), flags=re.S):
            cells = _cells(row)
            if len(cells) >= 2:
                fields[cells[0].replace("&lt;", "<").replace("&gt;", ">")] = (
                    cells[1].replace("&lt;", "<").replace("&gt;", ">")
                )
        out[name] = fields
    return out


@cache
def seed_example() -> dict:
    text = SEED.read_text(encoding="utf-8")
    block = text.split("## 响应示例", 1)[1]
    body = re.search(r"```\s*(\{.*?\})\s*```", block, re.S)
    assert body, "the seed's example response was not found"
    return json.loads(body.group(1))
