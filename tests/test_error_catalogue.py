"""The error catalogue: one class per code, the same table in docs/api.md, no stray codes."""

from __future__ import annotations

import re
from pathlib import Path

from labelpilot import errors

ROOT = Path(__file__).parents[1]
ROW = re.compile(r"^\| `(ModelArts\.\d{4})` \| (\d{3}) \| `(\w+)` \|", re.M)


def _documented(text: str) -> set[tuple[str, int, str]]:
    section = text.split("## Error codes", 1)[1].split("\n## ", 1)[0]
    return {(code, int(status), name) for code, status, name in ROW.findall(section)}


def _catalogue() -> set[tuple[str, int, str]]:
    return {(c.error_code, c.status_code, c.__name__) for c in errors.catalogue()}


def test_docs_list_the_catalogue() -> None:
    assert _documented((ROOT / "docs" / "api.md").read_text(encoding="utf-8")) == _catalogue()


def test_a_changed_code_is_caught() -> None:
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    assert _documented(text.replace("| `ModelArts.4612` |", "| `ModelArts.4613` |")) != _catalogue()


def test_codes_live_in_the_catalogue_only() -> None:
    """Outside errors.py no module spells a ModelArts code (comments and docstrings aside)."""
    stray = []
    for path in sorted((ROOT / "src" / "labelpilot").rglob("*.py")):
        if path.name == "errors.py":
            continue
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if re.search(r"[\"']ModelArts\.\d{4}[\"']", code):
                stray.append(f"{path.relative_to(ROOT)}:{lineno}")
    assert not stray


def test_each_error_class_has_one_fixed_status_and_code() -> None:
    for cls in errors.catalogue():
        exc = cls.__new__(cls)
        assert re.fullmatch(r"ModelArts\.\d{4}", exc.error_code)
        assert 400 <= exc.status_code < 600
