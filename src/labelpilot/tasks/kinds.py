"""The four task kinds: their ModelArts type integers, codes and messages."""

from __future__ import annotations

from dataclasses import dataclass

from labelpilot.config import get_settings


@dataclass(frozen=True)
class TaskKind:
    task_type: str
    type: int
    submit_code: str
    submit_message: str
    success_message: str
    running_code: str
    running_message: str


def _kinds(auto_deploy_type: int) -> dict[str, TaskKind]:
    return {
        "auto-label": TaskKind(
            "auto-label",
            0,
            "ModelArts.4914",
            "Auto labeling task submitted.",
            "task executed successfully.",
            "ModelArts.4386",
            "An auto labeling task is already running on this dataset.",
        ),
        "pre-label": TaskKind(
            "pre-label",
            1,
            "ModelArts.4950",
            "Auto inference task submitted.",
            "prelabel task execute successfully.",
            "ModelArts.4387",
            "A pre-label task is already running on this dataset.",
        ),
        "auto-grouping": TaskKind(
            "auto-grouping",
            7,
            "ModelArts.4960",
            "Auto grouping task submitted.",
            "auto grouping task executed successfully.",
            "ModelArts.4964",
            "An auto grouping task is already running on this dataset.",
        ),
        "auto-deploy": TaskKind(
            "auto-deploy",
            auto_deploy_type,
            "ModelArts.4900",
            "Auto deploy task submitted.",
            "auto deploy task executed successfully.",
            "ModelArts.4385",
            "An auto deploy task is already running on this dataset.",
        ),
    }


KINDS: dict[str, TaskKind] = _kinds(get_settings().auto_deploy_type)
KIND_BY_TYPE: dict[int, TaskKind] = {k.type: k for k in KINDS.values()}
DEFAULT_LIST_TYPES = (0, 1)
