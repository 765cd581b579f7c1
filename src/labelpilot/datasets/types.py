"""Dataset, label and sample type codes (ModelArts' numbers), and the inputs of dataset writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


class DatasetType(IntEnum):
    """A dataset's ``dataset_type``; -1 until an import decides (images or texts)."""

    UNDECIDED = -1
    IMAGE_CLASSIFICATION = 0
    OBJECT_DETECTION = 1
    IMAGE_SEGMENTATION = 3
    TEXT_CLASSIFICATION = 100
    NAMED_ENTITY = 101
    TEXT_TRIPLET = 102
    SOUND_CLASSIFICATION = 200
    SPEECH_CONTENT = 201
    SPEECH_PARAGRAPH = 202
    TABLE = 400
    VIDEO = 600
    FREE_FORMAT = 900


SUPPORTED_DATASET_TYPES = frozenset(t for t in DatasetType if t != DatasetType.UNDECIDED)
IMAGE_DATASET_TYPES = (
    DatasetType.IMAGE_CLASSIFICATION,
    DatasetType.OBJECT_DETECTION,
    DatasetType.IMAGE_SEGMENTATION,
)


class LabelType(IntEnum):
    """A label's ``type``: the dataset type it belongs to."""

    IMAGE_CLASSIFICATION = 0
    OBJECT_DETECTION = 1
    IMAGE_SEGMENTATION = 3
    TEXT_CLASSIFICATION = 100
    NAMED_ENTITY = 101
    SOUND_CLASSIFICATION = 200


class SampleType(IntEnum):
    """A sample's ``sample_type``."""

    IMAGE = 0
    TEXT = 1


def default_label_type(dataset_type: int) -> int:
    """The type of a label created without one on a dataset of ``dataset_type``."""
    return dataset_type if dataset_type in set(LabelType) else LabelType.IMAGE_CLASSIFICATION


@dataclass(frozen=True)
class LabelSpec:
    """A dataset label to create."""

    name: str
    type: int | None = None
    property: dict[str, Any] = field(default_factory=dict)
    attributes: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class DataSourceSpec:
    """Where a dataset's files come from (``data_type`` 0: a server directory)."""

    data_type: int | None = 0
    data_path: str | None = None
    stored: dict[str, Any] = field(default_factory=dict)  # the source as sent, shown as is


@dataclass(frozen=True)
class NewDataset:
    name: str
    description: str = ""
    dataset_type: int | None = None
    work_path: str | None = None
    work_path_type: int = 0
    workspace_id: str = "0"
    labels: list[LabelSpec] = field(default_factory=list)
    data_sources: list[DataSourceSpec] = field(default_factory=list)
    import_annotations: bool = True
