"""auto-grouping: cluster the dataset's unlabeled images into ``n_clusters`` groups.

Features come from the shared cache (MobileNetV2 embeddings + image statistics); clustering is
``algorithms.grouping.ImageGrouper``. ``ambiguity`` / ``image_brightness`` / ``image_colorfulness``
add sharpness / brightness / colourfulness to the clustering space.

Results: ``result_type`` 1 writes the group number into each sample's metadata under
``config.property`` (default ``group``); ``result_type`` 0 writes a manifest (JSON lines
``{"source", "sample_id", "group"}``) under the dataset's annotation path and records it as
``result.manifest_path``.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, ClassVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from labelpilot.api.schemas import CreateTaskRequest
from labelpilot.datasets.service import dataset_prefix
from labelpilot.datasets.tables import Dataset, Sample
from labelpilot.engine.context import RunContext, TaskFailed
from labelpilot.errors import BadRequest
from labelpilot.features.images import image_features
from labelpilot.runners.common import IMAGE_DATASET_TYPES, unlabeled_images, unsupported_dataset

DEFAULT_PROPERTY = "group"
MIN_CLUSTERS, MAX_CLUSTERS = 2, 200


class GroupingRunner:
    task_type: ClassVar[str] = "auto-grouping"

    def check(self, session: Session, dataset: Dataset, request: CreateTaskRequest) -> None:
        if dataset.dataset_type not in IMAGE_DATASET_TYPES:
            raise unsupported_dataset(dataset, "auto grouping")
        config = request.config
        n = config.n_clusters if config else None
        if n is None:
            raise BadRequest("config.n_clusters is required (2-200)")
        if not MIN_CLUSTERS <= n <= MAX_CLUSTERS:
            raise BadRequest(f"config.n_clusters must be between 2 and 200, got {n}")
        result_type = config.result_type if config and config.result_type is not None else 1
        if result_type not in (0, 1):
            raise BadRequest("config.result_type must be 0 (storage) or 1 (samples)")
        images = len(unlabeled_images(session, dataset.id))
        if n >= images:
            raise BadRequest(
                f"config.n_clusters ({n}) must be smaller than the number of unlabeled "
                f"images ({images})",
                error_code="ModelArts.4622",
            )

    def run(self, ctx: RunContext) -> dict[str, Any]:
        from labelpilot.algorithms.grouping import ImageGrouper

        cfg = ctx.config
        n_clusters = int(cfg["n_clusters"])
        result_type = int(cfg.get("result_type", 1))
        prop = cfg.get("property") or DEFAULT_PROPERTY
        with ctx.db.read() as s:
            samples = unlabeled_images(s, ctx.dataset_id)
        if n_clusters >= len(samples):
            raise TaskFailed(
                "ModelArts.4622",
                f"n_clusters ({n_clusters}) must be smaller than the unlabeled images "
                f"({len(samples)})",
            )
        with ctx.step("features", f"embeddings and statistics of {len(samples)} images"):
            embeddings, stats = image_features(ctx, samples, progress_to=85.0)
        ctx.check_stop()
        with ctx.step("clustering", f"{n_clusters} groups"):
            grouper = ImageGrouper(
                n_clusters,
                use_sharpness=bool(cfg.get("ambiguity")),
                use_brightness=bool(cfg.get("image_brightness")),
                use_colorfulness=bool(cfg.get("image_colorfulness")),
                random_state=0,
            )
            groups = grouper.fit_predict(embeddings, stats)
            ctx.progress(95.0)
        with ctx.step("writing", "group results to samples" if result_type else "manifest"):
            ids = [sid for sid, _ in samples]
            result: dict[str, Any] = {
                "description": f"{len(ids)} images in {n_clusters} groups",
                "group_sizes": {str(k): v for k, v in sorted(Counter(groups.tolist()).items())},
            }
            if result_type == 1:
                self._write_metadata(ctx, ids, [int(g) for g in groups], prop)
                result["property"] = prop
            else:
                lines = [
                    json.dumps({"source": src, "sample_id": sid, "group": int(g)})
                    for (sid, src), g in zip(samples, groups, strict=True)
                ]
                key = (
                    f"{dataset_prefix(ctx.dataset_id)}/annotation/auto-grouping/"
                    f"{ctx.task_id}/groups.manifest"
                )
                result["manifest_path"] = ctx.storage.put(key, ("\n".join(lines) + "\n").encode())
        return result

    @staticmethod
    def _write_metadata(ctx: RunContext, ids: list[str], groups: list[int], prop: str) -> None:
        by_id = dict(zip(ids, groups, strict=True))
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            with ctx.db.transaction() as s:
                for sample in s.scalars(select(Sample).where(Sample.id.in_(chunk))):
                    sample.meta = {**(sample.meta or {}), prop: by_id[sample.id]}
