"""ModelArts manifest lines (DATA_MANAGEMENT §8.1): one JSON object per sample.

A detection (or segmentation) sample's boxes are not in the line: its annotation names a Pascal
VOC file (``annotation-loc``), which the caller writes with ``voc_write``.
"""

from __future__ import annotations

from typing import Any

import orjson

from labelpilot.formats._records import (
    HARD,
    HARD_COEFFICIENT,
    HARD_REASONS,
    LabelRecord,
    SampleRecord,
)

# label type (API contract §3.3) -> manifest annotation type, written with the ``modelarts/`` prefix
ANNOTATION_TYPES: dict[int, str] = {
    0: "image_classification",
    1: "object_detection",
    3: "image_segmentation",
    100: "text_classification",
    101: "text_entity",
    102: "text_triplet",
    103: "text_entity",
    200: "audio_classification",
    201: "audio_content",
    202: "audio_segmentation",
    600: "object_detection",
}
TYPE_NAMES = {code: "modelarts/" + name for code, name in ANNOTATION_TYPES.items()}
DEFAULT_TYPE = TYPE_NAMES[0]
# label types whose annotation is a VOC file named by ``annotation-loc`` (mandatory, §8.1)
LOCATED_TYPES = frozenset({1, 3, 600})
HARD_KEYS = (HARD, HARD_COEFFICIENT, HARD_REASONS)
USAGES = ("TRAIN", "EVAL", "TEST", "INFERENCE")


def needs_annotation_file(record: SampleRecord) -> bool:
    """Whether the sample's line names a VOC file (it has a box or segmentation label)."""
    return any(lb.type in LOCATED_TYPES for lb in record.labels)


def _label(lb: LabelRecord, clear_hard: bool) -> dict[str, Any]:
    prop = lb.property
    if prop and clear_hard:
        prop = {k: v for k, v in prop.items() if k not in HARD_KEYS}
    out: dict[str, Any] = {"type": TYPE_NAMES.get(lb.type, DEFAULT_TYPE), "name": lb.name}
    if prop:
        out["property"] = prop
    out["annotated-by"] = lb.annotated_by or "human"
    if lb.score is not None:
        out["confidence"] = lb.score
    if not clear_hard and str(lb.property.get(HARD, "")) in ("1", "true"):
        out["hard"] = "true"
        if HARD_COEFFICIENT in lb.property:
            out["hard-coefficient"] = float(lb.property[HARD_COEFFICIENT])
    return out


def manifest_object(
    record: SampleRecord,
    *,
    clear_hard: bool = True,
    annotation_loc: str | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    """The manifest object of one sample; ``annotation_loc`` is its VOC file's URL when
    ``needs_annotation_file(record)``; unlabeled samples have no ``annotation``."""
    out: dict[str, Any] = {"source": source or record.source}
    if record.usage:
        usage = record.usage.upper()
        if usage not in USAGES:
            raise ValueError(f"usage {record.usage!r} is not one of {', '.join(USAGES)}")
        out["usage"] = usage
    out["id"] = record.id
    out["sample-type"] = record.sample_type
    if not clear_hard and HARD in record.metadata:
        out["hard"] = "true" if record.hard else "false"
        if HARD_COEFFICIENT in record.metadata:
            out["hard-coefficient"] = float(record.metadata[HARD_COEFFICIENT])
        reasons = record.metadata.get(HARD_REASONS)
        if reasons:
            out["hard-reasons"] = reasons
    annotations: list[dict[str, Any]] = []
    located = [lb for lb in record.labels if lb.type in LOCATED_TYPES]
    if located:
        if annotation_loc is None:
            raise ValueError(f"sample {record.id} has boxes: annotation_loc is required")
        first = located[0]
        annotations.append(
            {
                "type": "modelarts/" + ANNOTATION_TYPES[first.type],
                "annotation-loc": annotation_loc,
                "annotation-format": "PASCAL VOC",
                "annotated-by": first.annotated_by or "human",
            }
        )
    annotations += [_label(lb, clear_hard) for lb in record.labels if lb.type not in LOCATED_TYPES]
    if annotations:
        out["annotation"] = annotations
    return out


def manifest_line(
    record: SampleRecord,
    *,
    clear_hard: bool = True,
    annotation_loc: str | None = None,
    source: str | None = None,
) -> str:
    """One manifest line (compact UTF-8 JSON, no newline)."""
    line = manifest_bytes(
        record, clear_hard=clear_hard, annotation_loc=annotation_loc, source=source
    )
    return line[:-1].decode()


def manifest_bytes(
    record: SampleRecord,
    *,
    clear_hard: bool = True,
    annotation_loc: str | None = None,
    source: str | None = None,
) -> bytes:
    """One manifest line as UTF-8 bytes ending in a newline, ready to join and store."""
    obj = manifest_object(
        record, clear_hard=clear_hard, annotation_loc=annotation_loc, source=source
    )
    return orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE)
