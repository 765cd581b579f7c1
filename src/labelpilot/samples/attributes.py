"""The stored attribute vocabulary of samples and labels (ModelArts and LabelPilot keys).

These keys and value formats are stored data: sample ``metadata`` values are numbers and lists,
label ``property`` values of the hard-example keys are strings, exactly as ModelArts writes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "FEATURE",
    "HARD",
    "HARD_COEFFICIENT",
    "HARD_REASONS",
    "MODEL",
    "MODEL_ID",
    "SHAPE",
    "SIZE",
    "TASK_ID",
    "bndbox_property",
    "hard_label_property",
    "hard_metadata",
    "image_size_metadata",
    "model_property",
]

HARD = "@modelarts:hard"
HARD_COEFFICIENT = "@modelarts:hard_coefficient"
HARD_REASONS = "@modelarts:hard_reasons"
SIZE = "@modelarts:size"
"""Sample metadata: ``[width, height, depth]`` of an image."""
SHAPE = "@modelarts:shape"
FEATURE = "@modelarts:feature"
MODEL = "@labelpilot:model"
"""Label property: ``name:version`` of the model that predicted the label."""
MODEL_ID = "@labelpilot:model_id"
TASK_ID = "@labelpilot:task_id"


def hard_metadata(hard: bool, coefficient: float, reasons: Sequence[int]) -> dict[str, Any]:
    """``SampleMetadata`` hard-example entries (API contract §2.5).

    Returns
    -------
    dict
        ``@modelarts:hard`` (1.0 / 0.0), ``@modelarts:hard_coefficient`` (float, 4 decimals) and
        ``@modelarts:hard_reasons`` (list of int).
    """
    return {
        HARD: 1.0 if hard else 0.0,
        HARD_COEFFICIENT: round(float(coefficient), 4),
        HARD_REASONS: list(reasons),
    }


def without_hard(meta: dict[str, Any]) -> dict[str, Any]:
    """``meta`` without its hard-example entries: a new prediction that collected none must not
    keep an earlier run's flags, coefficient and reasons (issue #14 point 5)."""
    return {k: v for k, v in meta.items() if k not in (HARD, HARD_COEFFICIENT, HARD_REASONS)}


def hard_label_property(hard: bool, coefficient: float, reasons: Sequence[int]) -> dict[str, str]:
    """Label-level ``SampleLabelProperty`` hard-example entries (strings; reasons joined by -)."""
    return {
        HARD: "1" if hard else "0",
        HARD_COEFFICIENT: f"{float(coefficient):.4f}",
        HARD_REASONS: "-".join(str(r) for r in reasons),
    }


def model_property(model: str, task_id: str, model_id: str | None = None) -> dict[str, str]:
    """Label property naming the model (``name:version``), its id when registered, and the task."""
    prop = {MODEL: model}
    if model_id is not None:
        prop[MODEL_ID] = model_id
    prop[TASK_ID] = task_id
    return prop


def bndbox_property(bbox: Sequence[float]) -> dict[str, Any]:
    """Label property of a detection box ``(x1, y1, x2, y2)`` in pixels, rounded to 0.01."""
    x1, y1, x2, y2 = (round(v, 2) for v in bbox)
    return {SHAPE: "bndbox", FEATURE: [[x1, y1], [x2, y2]]}


def image_size_metadata(width: int, height: int) -> dict[str, list[int]]:
    """Sample metadata ``@modelarts:size`` of an RGB image."""
    return {SIZE: [width, height, 3]}
