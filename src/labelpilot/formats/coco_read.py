"""COCO object-detection JSON (cocodataset.org/#format-data) back into records: the inverse of
``coco_write``, and any COCO file (category ids need not be contiguous, boxes may be floats)."""

from __future__ import annotations

import math
from typing import Any

from labelpilot.formats._records import (
    FEATURE,
    SHAPE,
    SIZE,
    LabelRecord,
    Problem,
    SampleRecord,
    file_name,
)
from labelpilot.formats.manifest_read import loads_untrusted, unstorable


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _key(value: Any) -> int | str | None:
    """An image or category id (COCO uses ints; some tools write strings)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    return value


def _categories(doc: list[Any], where: str, problems: list[Problem]) -> dict[int | str, str]:
    names: dict[int | str, str] = {}
    for i, cat in enumerate(doc):
        place = f"{where}:categories[{i}]"
        key = _key(cat.get("id")) if isinstance(cat, dict) else None
        name = cat.get("name") if isinstance(cat, dict) else None
        if key is None or not isinstance(name, str) or not name:
            problems.append(Problem(place, "a category needs an id and a name"))
        elif key in names:
            problems.append(Problem(place, f"category id {key!r} is listed twice"))
        else:
            names[key] = name
    return names


def _images(
    doc: list[Any], where: str, problems: list[Problem]
) -> dict[int | str, tuple[SampleRecord, list[LabelRecord]]]:
    images: dict[int | str, tuple[SampleRecord, list[LabelRecord]]] = {}
    for i, img in enumerate(doc):
        place = f"{where}:images[{i}]"
        key = _key(img.get("id")) if isinstance(img, dict) else None
        source = img.get("file_name") if isinstance(img, dict) else None
        if key is None or not isinstance(source, str) or not source:
            problems.append(Problem(place, "an image needs an id and a file_name"))
            continue
        if key in images:
            problems.append(Problem(place, f"image id {key!r} is listed twice"))
            continue
        metadata: dict[str, Any] = {}
        width, height = img.get("width"), img.get("height")
        if _finite(width) and _finite(height) and width > 0 and height > 0:
            # COCO has no depth: RGB, as image_size_metadata stores it
            metadata[SIZE] = [int(width), int(height), 3]
        record = SampleRecord(id="", name=file_name(source), source=source, metadata=metadata)
        images[key] = (record, [])
    return images


def _box(ann: dict[str, Any]) -> list[list[float]] | None:
    """``bbox`` ``[x, y, width, height]`` as bndbox corners, None when it is not one."""
    bbox = ann.get("bbox")
    if not isinstance(bbox, list) or len(bbox) != 4 or not all(_finite(v) for v in bbox):
        return None
    x, y, w, h = bbox
    if w < 0 or h < 0:
        return None
    return [[x, y], [x + w, y + h]]


def read_coco(data: bytes, where: str) -> tuple[list[SampleRecord], list[Problem]]:
    """One record per image (in the document's order, with its boxes as type-1 labels) and the
    entries that could not be read.

    Raises
    ------
    ValueError
        When ``data`` is not JSON or not a COCO detection document (``images``, ``annotations``
        and ``categories`` lists).
    """
    try:
        doc = loads_untrusted(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{where}: not JSON ({exc})") from None
    if not isinstance(doc, dict) or not all(
        isinstance(doc.get(key), list) for key in ("images", "annotations", "categories")
    ):
        raise ValueError(
            f"{where}: not a COCO detection document (images, annotations, categories)"
        )
    problems: list[Problem] = []
    categories = _categories(doc["categories"], where, problems)
    images = _images(doc["images"], where, problems)
    for i, ann in enumerate(doc["annotations"]):
        place = f"{where}:annotations[{i}]"
        if not isinstance(ann, dict):
            problems.append(Problem(place, "not an object"))
            continue
        image_key = _key(ann.get("image_id"))
        image = None if image_key is None else images.get(image_key)
        if image is None:
            problems.append(Problem(place, f"unknown image_id {ann.get('image_id')!r}"))
            continue
        category_key = _key(ann.get("category_id"))
        name = None if category_key is None else categories.get(category_key)
        if name is None:
            problems.append(Problem(place, f"unknown category_id {ann.get('category_id')!r}"))
            continue
        corners = _box(ann)
        if corners is None:
            problems.append(Problem(place, f"bbox {ann.get('bbox')!r} is not [x, y, w, h]"))
            continue
        score = ann.get("score")
        if score is not None and not _finite(score):
            problems.append(Problem(place, f"score {score!r} is not a number"))
            continue
        # a stored property must read back (issue #12): corners of huge ints are refused here
        why = unstorable([name, corners], "bbox")
        if why is not None:
            problems.append(Problem(place, why))
            continue
        image[1].append(
            LabelRecord(
                name=name,
                type=1,
                score=None if score is None else float(score),
                property={SHAPE: "bndbox", FEATURE: corners},
            )
        )
    records = []
    for record, labels in images.values():
        record.labels = tuple(labels)
        records.append(record)
    return records, problems
