"""auto-deploy's training data: the dataset's current version, published by the task itself
when the dataset has none (as ModelArts does); its TRAIN/EVAL usage is the split."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from labelpilot.algorithms.linear_head import split
from labelpilot.datasets import versions
from labelpilot.datasets.records import read_records
from labelpilot.datasets.tables import STATE_ALL, Dataset, DatasetVersion, Sample
from labelpilot.engine.context import RunContext, TaskFailed
from labelpilot.errors import DataTaskFailed, LabelPilotError
from labelpilot.runners.publish import image_size


@dataclass
class Item:
    """A confirmed labeled sample with its first label."""

    sample_id: str
    source: str
    label: str


@dataclass
class TrainingData:
    version_id: str
    version_name: str
    manifest_url: str
    items: list[Item]
    held: np.ndarray  # True: an EVAL sample
    published: bool  # this task published the version


def label_counts(session: Session, dataset_id: str) -> Counter[str]:
    """Labeled samples per (first) label of what auto-deploy would train on: the current
    version's, else the dataset's confirmed samples."""
    current = versions.current_version(session, dataset_id)
    if current is not None:
        return Counter({st["name"]: int(st["sample_count"]) for st in current.label_stats})
    rows = session.scalars(
        select(Sample).where(Sample.dataset_id == dataset_id, Sample.state == STATE_ALL)
    ).all()
    return Counter(r.labels[0].name for r in rows if r.labels)


def _publish(ctx: RunContext, eval_ratio: float) -> str:
    """Publish a version with auto-deploy's split; its id."""
    try:
        with ctx.db.transaction() as s:
            ds = s.get(Dataset, ctx.dataset_id)
            assert ds is not None
            new = versions.NewVersion(
                description=f"published by auto-deploy task {ctx.task_id}",
                train_evaluate_sample_ratio=round(1.0 - eval_ratio, 4),
            )
            version_id = versions.create_version(s, ds, new, ctx.task_id).id
    except LabelPilotError as exc:  # a publish is running, the split is impossible, ...
        raise TaskFailed(DataTaskFailed(f"auto-deploy could not publish a version: {exc}")) from exc
    return version_id


def training_data(ctx: RunContext, eval_ratio: float, seed: int) -> TrainingData:
    """The version to train on, with its labeled items and held-out mask."""
    with ctx.db.read() as s:
        current = versions.current_version(s, ctx.dataset_id)
        version_id = current.id if current is not None else None
    published = version_id is None
    if version_id is None:
        version_id = _publish(ctx, eval_ratio)
        try:
            frozen = versions.freeze(
                ctx.db,
                ctx.storage,
                version_id,
                size_of=lambda r: image_size(ctx, r),
                seed=seed,
                check_stop=ctx.check_stop,
            )
            with ctx.db.transaction() as s:
                versions.finish(s, version_id, frozen)
        except BaseException:
            remove_version(ctx, version_id)
            raise
    with ctx.db.read() as s:
        version = s.get(DatasetVersion, version_id)
        assert version is not None
        records = read_records(ctx.storage, version)
        name, url = version.version_name, ctx.storage.url(versions.manifest_key(version))
    labeled = [r for r in records if r.labels]
    items = [Item(r.id, r.source, r.labels[0].name) for r in labeled]
    held = np.array([r.usage == "EVAL" for r in labeled], dtype=bool)
    if not held.any() and items:  # a version published without a split: draw one
        held = split([i.label for i in items], eval_ratio, seed)
    return TrainingData(version_id, name, url, items, held, published)


def remove_version(ctx: RunContext, version_id: str) -> None:
    """Delete a version this task published (its row and files)."""
    with ctx.db.transaction() as s:
        version = s.get(DatasetVersion, version_id)
        prefix = version.storage_prefix if version is not None else None
        if version is not None:
            s.delete(version)
    if prefix:
        ctx.storage.delete_prefix(prefix)
