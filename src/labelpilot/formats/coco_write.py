"""COCO object-detection JSON (cocodataset.org/#format-data): ``images``, ``annotations`` with
``bbox`` ``[x, y, width, height]`` in pixels, ``categories`` numbered from 1."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from labelpilot.formats._records import SampleRecord


class CocoDocument:
    """Built one image at a time; ``document()`` is the whole JSON object."""

    def __init__(self, categories: Sequence[str]) -> None:
        self.category_ids = {name: i for i, name in enumerate(categories, start=1)}
        self.images: list[dict[str, Any]] = []
        self.annotations: list[dict[str, Any]] = []

    def add(self, record: SampleRecord, file_name: str, size: tuple[int, int, int]) -> None:
        """Add an image and its boxes (labels without a ``bndbox`` are not COCO boxes)."""
        image_id = len(self.images) + 1
        self.images.append(
            {"id": image_id, "file_name": file_name, "width": size[0], "height": size[1]}
        )
        for lb in record.labels:
            box = lb.box
            if box is None:
                continue
            category = self.category_ids.get(lb.name)
            if category is None:
                category = self.category_ids[lb.name] = len(self.category_ids) + 1
            x1, y1, x2, y2 = box
            w, h = x2 - x1, y2 - y1
            ann: dict[str, Any] = {
                "id": len(self.annotations) + 1,
                "image_id": image_id,
                "category_id": category,
                "bbox": [x1, y1, w, h],
                "area": w * h,
                "iscrowd": 0,
                "segmentation": [],
            }
            if lb.score is not None:
                ann["score"] = lb.score
            self.annotations.append(ann)

    def document(self) -> dict[str, Any]:
        return {
            "info": {"description": "exported by LabelPilot"},
            "images": self.images,
            "annotations": self.annotations,
            "categories": [
                {"id": i, "name": name, "supercategory": ""}
                for name, i in sorted(self.category_ids.items(), key=lambda kv: kv[1])
            ],
        }
