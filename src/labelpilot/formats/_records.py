"""The sample-with-labels records the writers take (private to the writers until the readers'
``formats/types.py`` lands; then one set of types serves both)."""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from typing import Any

SHAPE = "@modelarts:shape"
FEATURE = "@modelarts:feature"
SIZE = "@modelarts:size"
HARD = "@modelarts:hard"
HARD_COEFFICIENT = "@modelarts:hard_coefficient"
HARD_REASONS = "@modelarts:hard_reasons"


@dataclass(slots=True)  # not frozen: an export builds one per label, frozen init is 3x slower
class LabelRecord:
    """One label on a sample, as stored (``property`` holds the shape of a box)."""

    name: str
    type: int = 0
    score: float | None = None
    annotated_by: str | None = None
    property: dict[str, Any] = field(default_factory=dict)

    @builtins.property  # the field above shadows the builtin inside the class
    def box(self) -> tuple[float, float, float, float] | None:
        """``(xmin, ymin, xmax, ymax)`` of a ``bndbox`` label, else None."""
        feature = self.property.get(FEATURE)
        if self.property.get(SHAPE) != "bndbox" or not isinstance(feature, list):
            return None
        try:
            (x1, y1), (x2, y2) = feature[0], feature[1]
            return float(x1), float(y1), float(x2), float(y2)
        except (TypeError, ValueError, IndexError):
            return None


@dataclass(slots=True)
class SampleRecord:
    """One sample with its labels; ``source`` is the URL written into label files."""

    id: str
    name: str
    source: str
    sample_type: int = 0
    usage: str | None = None
    labels: tuple[LabelRecord, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> tuple[int, int, int] | None:
        """``(width, height, depth)`` from ``@modelarts:size``, else None."""
        value = self.metadata.get(SIZE)
        if isinstance(value, list) and len(value) >= 2:
            try:
                depth = int(value[2]) if len(value) > 2 else 3
                return int(value[0]), int(value[1]), depth
            except (TypeError, ValueError):
                return None
        return None

    @property
    def hard(self) -> bool:
        return str(self.metadata.get(HARD, "")).lower() in ("1", "1.0", "true")

    def to_json(self) -> dict[str, Any]:
        """The record as JSON (a version's frozen snapshot holds one per line)."""
        return {
            "id": self.id,
            "name": self.name,
            "source": self.source,
            "sample_type": self.sample_type,
            "usage": self.usage,
            "metadata": self.metadata,
            "labels": [
                {
                    "name": lb.name,
                    "type": lb.type,
                    "score": lb.score,
                    "annotated_by": lb.annotated_by,
                    "property": lb.property,
                }
                for lb in self.labels
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SampleRecord:
        return cls(
            id=data["id"],
            name=data["name"],
            source=data["source"],
            sample_type=int(data.get("sample_type") or 0),
            usage=data.get("usage"),
            metadata=dict(data.get("metadata") or {}),
            labels=tuple(
                LabelRecord(
                    name=lb["name"],
                    type=int(lb.get("type") or 0),
                    score=lb.get("score"),
                    annotated_by=lb.get("annotated_by"),
                    property=dict(lb.get("property") or {}),
                )
                for lb in data.get("labels") or []
            ),
        )


@dataclass(frozen=True)
class Problem:
    """A file or line an import could not read: listed in the task's report, the rest goes on.

    ``where`` names the place (``"train.manifest:12"``, ``"data/a.xml"``), ``reason`` says why.
    """

    where: str
    reason: str


def stem(name: str) -> str:
    """A sample name's file name without its directories and extension."""
    base = name.rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[0] if "." in base else base


def file_name(name: str) -> str:
    return name.rsplit("/", 1)[-1]
