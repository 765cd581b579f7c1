"""The console's constants (web/lib/format.js) agree with the Python enums and registries."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from labelpilot.algorithms.hard_rules import REASON_NAMES
from labelpilot.config import Settings
from labelpilot.datasets.types import SUPPORTED_DATASET_TYPES
from labelpilot.tasks.kinds import BUILTIN_KINDS, KindRegistry
from labelpilot.tasks.status import ACTIVE, TaskStatus

FORMAT_JS = Path(__file__).parents[1] / "src" / "labelpilot" / "web" / "lib" / "format.js"


def _block(source: str, name: str, opener: str, closer: str) -> str:
    """The text between ``export const NAME = <opener>`` and its closing ``<closer>;``."""
    m = re.search(
        rf"export const {name} = {re.escape(opener)}(.*?)\n{re.escape(closer)};", source, re.S
    )
    assert m, f"{name} not found in format.js"
    return m.group(1)


@pytest.fixture(scope="module")
def js() -> str:
    return FORMAT_JS.read_text(encoding="utf-8")


def test_statuses(js: str) -> None:
    block = _block(js, "STATUS", "{", "}")
    found = {int(k): text for k, text in re.findall(r"'?(-?\d+)'?: \{ text: '([a-z]+)'", block)}
    assert found == {int(s): s.label for s in TaskStatus}
    active = re.search(r"export const ACTIVE = new Set\(\[([^\]]*)\]\)", js)
    assert active and {int(x) for x in active.group(1).split(",")} == {int(s) for s in ACTIVE}


def test_kinds(js: str) -> None:
    block = _block(js, "KINDS", "[", "]")
    found = {k: int(t) for k, t in re.findall(r"key: '([a-z-]+)', type: (\d+)", block)}
    registry = KindRegistry(Settings(runner_plugins={}))
    # data kinds (publish, export, ...) have their own routes: the console's task tabs and
    # forms list the intelligent kinds only
    intelligent = [name for name in BUILTIN_KINDS if registry.get(name).intelligent]
    assert found == {name: registry.get(name).type for name in intelligent}


def test_dataset_types(js: str) -> None:
    block = _block(js, "DATASET_TYPES", "{", "}")
    assert {int(k) for k in re.findall(r"^\s*(\d+):", block, re.M)} == {
        int(t) for t in SUPPORTED_DATASET_TYPES
    }


def test_hard_reasons(js: str) -> None:
    """The console names every reason of the contract (0-30), so every one LabelPilot emits."""
    block = _block(js, "HARD_REASONS", "{", "}")
    shown = {int(k) for k in re.findall(r"^\s*(\d+):", block, re.M)}
    assert shown == set(range(31))
    assert set(REASON_NAMES) <= shown


def test_a_mismatch_is_caught() -> None:
    """The parsers see a changed status word (the check can fail)."""
    changed = FORMAT_JS.read_text(encoding="utf-8").replace("text: 'stopped'", "text: 'halted'")
    block = _block(changed, "STATUS", "{", "}")
    found = {int(k): t for k, t in re.findall(r"'?(-?\d+)'?: \{ text: '([a-z]+)'", block)}
    assert found != {int(s): s.label for s in TaskStatus}


def test_event_statuses(js: str) -> None:
    """Every status an event can have (running or ended) has a tone in the console."""
    from labelpilot.tasks.status import EVENT_END_STATUSES, EVENT_STATUS

    m = re.search(r"export const EVENT_TONE = \{([^}]*)\}", js)
    assert m
    shown = set(re.findall(r"(\w+): '", m.group(1)))
    assert shown == set(EVENT_STATUS.values()) | set(EVENT_END_STATUSES)
