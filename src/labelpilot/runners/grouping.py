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

from pydantic import model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session
from typing_extensions import override

from labelpilot.datasets.tables import Dataset, Sample
from labelpilot.datasets.types import IMAGE_DATASET_TYPES
from labelpilot.engine.context import RunContext, TaskFailed
from labelpilot.errors import BadRequest, GroupingRunning, TaskCode, TooManyClusters
from labelpilot.features.images import image_features
from labelpilot.runners.common import unlabeled_images, unreadable_outcome
from labelpilot.storage.keys import task_output_key
from labelpilot.tasks.kinds import TaskConfig, TaskResult, TaskRunner

DEFAULT_PROPERTY = "group"
MIN_CLUSTERS, MAX_CLUSTERS = 2, 200


class GroupingConfig(TaskConfig):
    n_clusters: int | None = None
    result_type: int = 1
    property: str | None = None
    ambiguity: bool = False
    image_brightness: bool = False
    image_colorfulness: bool = False

    @model_validator(mode="after")
    def _ranges(self) -> GroupingConfig:
        n = self.n_clusters
        if n is None:
            raise BadRequest("config.n_clusters is required (2-200)")
        if not MIN_CLUSTERS <= n <= MAX_CLUSTERS:
            raise BadRequest(f"config.n_clusters must be between 2 and 200, got {n}")
        if self.result_type not in (0, 1):
            raise BadRequest("config.result_type must be 0 (storage) or 1 (samples)")
        return self


class GroupingRunner(TaskRunner[GroupingConfig]):
    task_type: ClassVar[str] = "auto-grouping"
    type_code: ClassVar[int] = 7
    submit_code: ClassVar[str] = TaskCode.GROUPING_SUBMITTED
    submit_message: ClassVar[str] = "Auto grouping task submitted."
    success_message: ClassVar[str] = "auto grouping task executed successfully."
    running_error = GroupingRunning
    running_message: ClassVar[str] = "An auto grouping task is already running on this dataset."
    Config = GroupingConfig
    dataset_types = IMAGE_DATASET_TYPES
    title: ClassVar[str] = "auto grouping"

    @override
    def check(self, session: Session, dataset: Dataset, config: GroupingConfig) -> None:
        n = config.n_clusters
        images = len(unlabeled_images(session, dataset.id))
        if n is not None and n >= images:
            raise TooManyClusters(
                f"config.n_clusters ({n}) must be smaller than the number of unlabeled "
                f"images ({images})"
            )

    @override
    def run(self, ctx: RunContext, config: GroupingConfig) -> TaskResult:
        from labelpilot.algorithms.grouping import ImageGrouper

        n_clusters = int(config.n_clusters or 0)
        result_type = config.result_type
        prop = config.property or DEFAULT_PROPERTY
        with ctx.db.read() as s:
            samples = unlabeled_images(s, ctx.dataset_id)
        if n_clusters >= len(samples):
            raise TaskFailed(
                TooManyClusters(
                    f"n_clusters ({n_clusters}) must be smaller than the unlabeled images "
                    f"({len(samples)})"
                )
            )
        with ctx.step("features", f"embeddings and statistics of {len(samples)} images"):
            embeddings, stats, skipped = ctx.interruptible(
                lambda: image_features(ctx, samples, progress_to=85.0)
            )
        unreadable = unreadable_outcome(ctx, len(samples), skipped)
        samples = [x for x in samples if x[0] not in skipped]  # the rows' samples, in order
        if n_clusters >= len(samples):
            raise TaskFailed(
                TooManyClusters(
                    f"n_clusters ({n_clusters}) must be smaller than the readable unlabeled "
                    f"images ({len(samples)})"
                )
            )
        ctx.check_stop()
        with ctx.step("clustering", f"{n_clusters} groups"):
            grouper = ImageGrouper(
                n_clusters,
                use_sharpness=config.ambiguity,
                use_brightness=config.image_brightness,
                use_colorfulness=config.image_colorfulness,
                random_state=0,
            )
            groups = ctx.interruptible(lambda: grouper.fit_predict(embeddings, stats))
            ctx.progress(95.0)
        with ctx.step("writing", "group results to samples" if result_type else "manifest"):
            ids = [sid for sid, _ in samples]
            result: dict[str, Any] = {
                "description": f"{len(ids)} images in {n_clusters} groups",
                "group_sizes": {str(k): v for k, v in sorted(Counter(groups.tolist()).items())},
                **unreadable,
            }
            if result_type == 1:
                self._write_metadata(ctx, ids, [int(g) for g in groups], prop)
                result["property"] = prop
            else:
                lines = [
                    json.dumps({"source": src, "sample_id": sid, "group": int(g)})
                    for (sid, src), g in zip(samples, groups, strict=True)
                ]
                key = task_output_key(
                    ctx.dataset_id, "auto-grouping", ctx.task_id, "groups.manifest"
                )
                result["manifest_path"] = ctx.storage.put(key, ("\n".join(lines) + "\n").encode())
        return TaskResult(**result)

    @staticmethod
    def _write_metadata(ctx: RunContext, ids: list[str], groups: list[int], prop: str) -> None:
        by_id = dict(zip(ids, groups, strict=True))
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            with ctx.db.transaction() as s:
                for sample in s.scalars(select(Sample).where(Sample.id.in_(chunk))):
                    sample.meta = {**(sample.meta or {}), prop: by_id[sample.id]}
