"""Task kinds plug in through this registry of runners.

A runner checks a kind's preconditions when a task is created (inside the request, no ML) and runs
the task in a worker process. Kinds whose runner has not landed answer a clear 501 instead.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from labelpilot.errors import NotAvailable

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from labelpilot.api.schemas import CreateTaskRequest
    from labelpilot.config import Settings
    from labelpilot.datasets.tables import Dataset
    from labelpilot.engine.context import RunContext


class Runner(Protocol):
    """What a task kind provides."""

    task_type: ClassVar[str]

    def check(self, session: Session, dataset: Dataset, request: CreateTaskRequest) -> None:
        """Raise a ``LabelPilotError`` when the task cannot start (no ML here)."""
        ...

    def run(self, ctx: RunContext) -> dict[str, Any]:
        """Run the task; return fields to merge into its ``result``."""
        ...


# task_type -> "module:Class"; a kind is listed here once its runner has landed.
BUILTIN_RUNNERS: dict[str, str] = {
    "auto-label": "labelpilot.runners.autolabel:AutoLabelRunner",
    "auto-grouping": "labelpilot.runners.grouping:GroupingRunner",
    "auto-deploy": "labelpilot.runners.deploy:AutoDeployRunner",
    "pre-label": "labelpilot.runners.prelabel:PreLabelRunner",
}


def load_object(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def get_runner(task_type: str, settings: Settings) -> Runner:
    """The runner of ``task_type``; 501 when that kind is not available in this version."""
    path = settings.runner_plugins.get(task_type) or BUILTIN_RUNNERS.get(task_type)
    if path is None:
        raise NotAvailable(
            f"task_type '{task_type}' is not available yet in this LabelPilot version"
        )
    runner: Runner = load_object(path)()
    return runner
