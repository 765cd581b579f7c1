"""Inputs and outcomes of sample writes and queries, free of wire types."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class NewLabel:
    """A label to put on a sample; ``property`` holds the stored attribute keys as sent."""

    name: str | None
    type: int | None = None
    id: str | None = None
    score: float | None = None
    annotated_by: str | None = None
    property: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NewSample:
    """A sample to add: base64 ``data`` or a server ``data_path``, with optional labels."""

    name: str | None = None
    data: str | None = None
    data_path: str | None = None
    sample_type: int | None = None
    labels: list[NewLabel] = field(default_factory=list)
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class SampleEdit:
    """New final labels (and metadata, usage) of one sample; ``labels`` None clears them."""

    sample_id: str | None
    labels: list[NewLabel] | None = None
    metadata: dict[str, Any] | None = None
    sample_usage: str | None = None


@dataclass(frozen=True)
class ItemResult:
    """One item of a batch write."""

    success: bool
    name: str | None = None
    info: str | None = None
    error_code: str | None = None
    error_msg: str | None = None


@dataclass(frozen=True)
class BatchOutcome:
    """A batch write: it succeeded only if every item did; else the batch's error."""

    results: list[ItemResult]
    error_code: str | None = None
    error_msg: str | None = None

    @property
    def success(self) -> bool:
        return self.error_code is None


@dataclass(frozen=True)
class LabelMatch:
    name: str | None = None
    type: int | None = None
    has_property: bool = False


@dataclass(frozen=True)
class Condition:
    """One search condition (ModelArts ``SearchCondition``); the parts are AND-combined."""

    labels: list[LabelMatch] | None = None
    labels_op: str | None = None
    metadata: dict[str, list[str]] | None = None
    metadata_op: str | None = None
    hard: str | None = None
    sample_name: str | None = None
    sample_dir: str | None = None
    score: str | None = None
    coefficient: str | None = None
    unsupported: tuple[str, ...] = ()  # fields sent that LabelPilot does not support


@dataclass(frozen=True)
class SampleFilter:
    """ListSamples' filters."""

    only_state: str | None = None
    sample_state: str | None = None
    label_name: str | None = None
    label_type: int | None = None
    low_score: float | None = None
    high_score: float | None = None
    conditions: list[Condition] = field(default_factory=list)
