"""Dataset versions: a published, frozen ModelArts manifest of a dataset, with its counts.

A version's files live under ``datasets/<id>/versions/<version_name>/``: the manifest
``<version_name>.manifest`` (§8: every sample, confirmed labels only, ``usage`` TRAIN/EVAL when
split), one Pascal VOC file per detection sample under ``annotations/``, and ``records.jsonl``,
the frozen samples and labels that exports of the version and auto-deploy read. The row
(``DatasetVersion``) is created with status 0 by the request; the publish task (or auto-deploy)
writes the files and sets status 1 and ``is_current``.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from labelpilot.algorithms.linear_head import split
from labelpilot.datasets.records import RECORDS, iter_records
from labelpilot.datasets.tables import STATE_ALL, Dataset, DatasetVersion, Sample, SampleLabel
from labelpilot.db import Database
from labelpilot.errors import (
    SplitNotPossible,
    VersionNameTaken,
    VersionNotFound,
    VersionPublishing,
)
from labelpilot.formats._records import SampleRecord
from labelpilot.formats.manifest_write import manifest_line, needs_annotation_file
from labelpilot.formats.voc_write import voc_xml
from labelpilot.ids import now_ms, short_id
from labelpilot.paging import page_of
from labelpilot.storage import Storage
from labelpilot.storage.keys import versions_prefix

CREATING, NORMAL, FAILED = 0, 1, 4
# dataset types whose labeled samples may be split into train and evaluate (contract §4.1)
SPLIT_TYPES = (0, 1, 100, 200)
VERSION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")

SizeOf = Callable[[SampleRecord], tuple[int, int, int]]


@dataclass(frozen=True)
class NewVersion:
    """What CreateDatasetVersion asks for (§4.1), free of wire types."""

    version_name: str | None = None
    version_format: str = "Default"
    description: str = ""
    clear_hard_property: bool = True
    remove_sample_usage: bool = True
    train_evaluate_sample_ratio: float = 1.0
    options: dict[str, Any] = field(default_factory=dict)  # echoed, no effect (§10.13)


@dataclass(frozen=True)
class Frozen:
    """What a publish wrote."""

    manifest_key: str
    total: int
    annotated: int
    label_stats: list[dict[str, Any]]


def version_prefix(dataset_id: str, version_name: str) -> str:
    return f"{versions_prefix(dataset_id)}{version_name}/"


def manifest_key(version: DatasetVersion) -> str:
    return f"{version.storage_prefix}{version.version_name}.manifest"


# --- rows -------------------------------------------------------------------------------------


def next_version_name(session: Session, dataset_id: str) -> str:
    """``V001``, ``V002``, …: one more than the highest ``Vnnn`` the dataset ever had."""
    names = session.scalars(
        select(DatasetVersion.version_name).where(DatasetVersion.dataset_id == dataset_id)
    ).all()
    numbers = [int(n[1:]) for n in names if re.fullmatch(r"V\d{3,}", n)]
    return f"V{max(numbers, default=0) + 1:03d}"


def check_split(session: Session, dataset: Dataset, ratio: float) -> None:
    """A split (ratio < 1) needs a splittable type and every label on two labeled samples."""
    if ratio >= 1.0:
        return
    if dataset.dataset_type not in SPLIT_TYPES:
        raise SplitNotPossible(
            f"train_evaluate_sample_ratio: dataset type {dataset.dataset_type} cannot be split "
            f"(only types {', '.join(map(str, SPLIT_TYPES))})"
        )
    rows = session.execute(
        select(SampleLabel.name, func.count(func.distinct(SampleLabel.sample_id)))
        .join(Sample, Sample.id == SampleLabel.sample_id)
        .where(Sample.dataset_id == dataset.id, Sample.state == STATE_ALL)
        .group_by(SampleLabel.name)
    ).all()
    few = sorted(name for name, n in rows if n < 2)
    if not rows or few:
        detail = f"too few: {', '.join(few)}" if few else "no labeled samples"
        raise SplitNotPossible(
            "train_evaluate_sample_ratio: a split needs every label on at least 2 labeled "
            f"samples ({detail})"
        )


def create_version(
    session: Session, dataset: Dataset, new: NewVersion, task_id: str | None
) -> DatasetVersion:
    """A version row in status 0 (creating); its files are written by the publish task."""
    busy = session.scalar(
        select(DatasetVersion.id).where(
            DatasetVersion.dataset_id == dataset.id, DatasetVersion.status == CREATING
        )
    )
    if busy:
        raise VersionPublishing(f"version {busy} of dataset {dataset.id} is being published")
    name = new.version_name or next_version_name(session, dataset.id)
    taken = session.scalar(
        select(DatasetVersion.id).where(
            DatasetVersion.dataset_id == dataset.id, DatasetVersion.version_name == name
        )
    )
    if taken:
        raise VersionNameTaken(f"version_name '{name}' is already used on this dataset")
    check_split(session, dataset, new.train_evaluate_sample_ratio)
    now = now_ms()
    version = DatasetVersion(
        id=short_id(),
        dataset_id=dataset.id,
        version_name=name,
        version_format=new.version_format,
        description=new.description,
        status=CREATING,
        is_current=False,
        task_id=task_id,
        train_evaluate_sample_ratio=f"{new.train_evaluate_sample_ratio:.2f}",
        options={
            "clear_hard_property": new.clear_hard_property,
            "remove_sample_usage": new.remove_sample_usage,
            **new.options,
        },
        total_sample_count=0,
        annotated_sample_count=0,
        label_stats=[],
        storage_prefix=version_prefix(dataset.id, name),
        create_time=now,
        update_time=now,
    )
    session.add(version)
    session.flush()
    return version


def list_versions(
    session: Session,
    dataset_id: str,
    *,
    status: int | None = None,
    ratio: tuple[float, float] | None = None,
    version_format: str | None = None,
    offset: int = 0,
    limit: int = 1000,
    marker: str | None = None,
) -> tuple[int, list[DatasetVersion]]:
    """Versions newest first; ``marker`` (a version id) pages after that row, ignoring offset."""
    q = select(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id)
    if status is not None:
        q = q.where(DatasetVersion.status == status)
    if version_format is not None:
        q = q.where(func.lower(DatasetVersion.version_format) == version_format.lower())
    rows = list(
        session.scalars(q.order_by(DatasetVersion.create_time.desc(), DatasetVersion.id.desc()))
    )
    if ratio is not None:  # a string column: compared as numbers here
        lo, hi = ratio
        rows = [v for v in rows if lo <= float(v.train_evaluate_sample_ratio) <= hi]
    return len(rows), page_of(rows, offset=offset, limit=limit, marker=marker, key=lambda v: v.id)


def get_version(session: Session, dataset_id: str, version_id: str) -> DatasetVersion:
    version = session.get(DatasetVersion, version_id)
    if version is None or version.dataset_id != dataset_id:
        raise VersionNotFound(version_id)
    return version


def current_version(session: Session, dataset_id: str) -> DatasetVersion | None:
    return session.scalar(
        select(DatasetVersion).where(
            DatasetVersion.dataset_id == dataset_id,
            DatasetVersion.is_current.is_(True),
            DatasetVersion.status == NORMAL,
        )
    )


def delete_version(session: Session, version: DatasetVersion) -> None:
    """Delete the row (its files stay, §4.4); the newest normal version left becomes current."""
    if version.status == CREATING:
        raise VersionPublishing(f"version {version.id} is being published; stop its task first")
    was_current = version.is_current
    dataset_id = version.dataset_id
    session.delete(version)
    session.flush()
    if was_current:
        newest = session.scalar(
            select(DatasetVersion)
            .where(DatasetVersion.dataset_id == dataset_id, DatasetVersion.status == NORMAL)
            .order_by(DatasetVersion.create_time.desc(), DatasetVersion.id.desc())
            .limit(1)
        )
        if newest is not None:
            newest.is_current = True


# --- publishing -------------------------------------------------------------------------------


def assign_usage(
    records: list[SampleRecord],
    ratio: float,
    *,
    remove_sample_usage: bool,
    seed: int = 0,
) -> list[SampleRecord]:
    """Records with ``usage`` set: a stratified split (per first label) of the labeled samples
    into TRAIN and EVAL when ``ratio`` < 1; samples keep a usage they had unless
    ``remove_sample_usage``; unlabeled samples get none."""
    out = [r if (r.usage and not remove_sample_usage) else _with_usage(r, None) for r in records]
    todo = [i for i, r in enumerate(out) if r.labels and not r.usage]
    if ratio >= 1.0 or not todo:
        for i in todo:
            out[i] = _with_usage(out[i], "TRAIN")
        return out
    held = split([out[i].labels[0].name for i in todo], 1.0 - ratio, seed)
    for i, h in zip(todo, held, strict=True):
        out[i] = _with_usage(out[i], "EVAL" if h else "TRAIN")
    return out


def _with_usage(record: SampleRecord, usage: str | None) -> SampleRecord:
    return SampleRecord(
        record.id,
        record.name,
        record.source,
        record.sample_type,
        usage,
        record.labels,
        record.metadata,
    )


def label_stats(records: Sequence[SampleRecord]) -> list[dict[str, Any]]:
    """Per label: ``count`` (instances, e.g. boxes), ``sample_count`` and ``type``."""
    count: Counter[str] = Counter()
    samples: Counter[str] = Counter()
    types: dict[str, int] = {}
    for r in records:
        for lb in r.labels:
            count[lb.name] += 1
            types.setdefault(lb.name, lb.type)
        for name in {lb.name for lb in r.labels}:
            samples[name] += 1
    return [
        {"name": n, "type": types[n], "count": count[n], "sample_count": samples[n]}
        for n in sorted(count)
    ]


def write_files(
    storage: Storage,
    prefix: str,
    manifest_name: str,
    records: Sequence[SampleRecord],
    *,
    clear_hard: bool,
    size_of: SizeOf,
    snapshot: bool = True,
) -> str:
    """Write the manifest (and the VOC files of box samples, and the snapshot); its key."""
    lines: list[str] = []
    for r in records:
        loc = None
        if needs_annotation_file(r):
            key = f"{prefix}annotations/{r.id}.xml"
            loc = storage.put(key, voc_xml(r, folder="annotations", size=size_of(r)))
        lines.append(manifest_line(r, clear_hard=clear_hard, annotation_loc=loc))
    key = f"{prefix}{manifest_name}"
    storage.put(key, "".join(line + "\n" for line in lines).encode())
    if snapshot:
        body = "".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in records)
        storage.put(f"{prefix}{RECORDS}", body.encode())
    return key


def write_usage(db: Database, records: Sequence[SampleRecord]) -> None:
    """Store the split on the samples (``sample_usage``), in batches of 500."""
    by_usage: dict[str | None, list[str]] = {}
    for r in records:
        by_usage.setdefault(r.usage, []).append(r.id)
    for usage, ids in by_usage.items():
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]

            def store(s: Session, chunk: list[str] = chunk, usage: str | None = usage) -> None:
                s.execute(update(Sample).where(Sample.id.in_(chunk)).values(sample_usage=usage))

            db.run(store)


def freeze(
    db: Database,
    storage: Storage,
    version_id: str,
    *,
    size_of: SizeOf,
    seed: int = 0,
    check_stop: Callable[[], None] = lambda: None,
) -> Frozen:
    """Write a version's files from the dataset's current samples (a rerun starts over)."""
    with db.read() as s:
        version = s.get(DatasetVersion, version_id)
        if version is None:
            raise VersionNotFound(version_id)
        dataset_id, prefix, name = version.dataset_id, version.storage_prefix, version.version_name
        ratio = float(version.train_evaluate_sample_ratio)
        options = dict(version.options or {})
    storage.delete_prefix(prefix)
    records: list[SampleRecord] = []
    for chunk in iter_records(db, dataset_id, confirmed_labels_only=True):
        records += chunk
        check_stop()
    remove_usage = bool(options.get("remove_sample_usage", True))
    records = assign_usage(records, ratio, remove_sample_usage=remove_usage, seed=seed)
    key = write_files(
        storage,
        prefix,
        f"{name}.manifest",
        records,
        clear_hard=bool(options.get("clear_hard_property", True)),
        size_of=size_of,
    )
    write_usage(db, records)
    return Frozen(key, len(records), sum(1 for r in records if r.labels), label_stats(records))


def finish(session: Session, version_id: str, frozen: Frozen) -> DatasetVersion:
    """Status 1: the version becomes current, the previous current one its predecessor."""
    version = session.get(DatasetVersion, version_id)
    if version is None:
        raise VersionNotFound(version_id)
    previous = current_version(session, version.dataset_id)
    if previous is not None and previous.id != version.id:
        previous.is_current = False
        version.previous_version_id = previous.id
    version.status = NORMAL
    version.is_current = True
    version.total_sample_count = frozen.total
    version.annotated_sample_count = frozen.annotated
    version.label_stats = frozen.label_stats
    version.update_time = now_ms()
    version.code = version.message = None
    return version


def fail(session: Session, version_id: str, code: str, message: str) -> None:
    """Status 4 with the failure's code and message."""
    version = session.get(DatasetVersion, version_id)
    if version is not None and version.status == CREATING:
        version.status = FAILED
        version.code, version.message = code, message[:2000]
        version.update_time = now_ms()
