"""Sample writes: add, store, label, update, delete. They never commit: the caller owns the
transaction."""

from __future__ import annotations

import base64
import binascii
import hashlib
import posixpath
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from labelpilot.config import DEFAULT_MAX_IMAGE_PIXELS
from labelpilot.datasets.service import ensure_label
from labelpilot.datasets.tables import STATE_ALL, STATE_AUTO, STATE_NONE, Dataset, Sample
from labelpilot.datasets.tables import SampleLabel as SampleLabelRow
from labelpilot.datasets.types import SampleType
from labelpilot.db import after_commit
from labelpilot.errors import (
    BadRequest,
    ImageTooLarge,
    ImageUnreadable,
    LabelNotFound,
    LabelPilotError,
    SampleExists,
    SampleNotFound,
    SampleNotStored,
    SamplesNotFound,
    SamplesNotUpdated,
    SampleTooLarge,
)
from labelpilot.ids import now_ms, sample_id
from labelpilot.mlmodels.imaging import decoded_size
from labelpilot.samples import attributes as attr
from labelpilot.samples.policy import MAX_SAMPLE_BYTES, ImportPolicy
from labelpilot.samples.query import get_sample
from labelpilot.samples.types import BatchOutcome, ItemResult, NewLabel, NewSample, SampleEdit
from labelpilot.storage import Storage
from labelpilot.storage.keys import dataset_prefix, sample_key
from labelpilot.storage.local import path_from_url

MAX_ANNOTATED_BY = 256  # the column's width (migration 0012)
IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
TEXT_EXTS = {".txt"}


def sample_type_of(name: str) -> SampleType | None:
    ext = posixpath.splitext(name.lower())[1]
    if ext in IMAGE_EXTS:
        return SampleType.IMAGE
    if ext in TEXT_EXTS:
        return SampleType.TEXT
    return None


class Unchecked:
    """The default of ``store_sample(checked_size=...)``: the bytes are not checked yet."""


UNCHECKED = Unchecked()


def check_content(name: str, stype: int, data: bytes, max_pixels: int) -> list[int] | None:
    """Check the bytes against the declared sample type; an image's ``[width, height, depth]``.

    Images are decoded completely (a truncated file fails) after their header passed the pixel
    limit; texts must be UTF-8. Other types are refused: no task could read them.
    """
    if stype == SampleType.IMAGE:
        try:
            return decoded_size(data, max_pixels)
        except (ImageUnreadable, ImageTooLarge) as exc:
            raise type(exc)(f"sample '{name}': {exc.error_msg}") from exc
    if stype == SampleType.TEXT:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequest(f"sample '{name}': a text sample must be UTF-8 text") from exc
        return None
    raise BadRequest(f"sample '{name}': sample_type {stype} is not supported (0 image, 1 text)")


def _label_rows(
    session: Session, ds: Dataset, labels: Iterable[NewLabel], *, auto_create: bool = True
) -> list[SampleLabelRow]:
    rows = []
    for pos, lb in enumerate(labels):
        if not lb.name:
            raise BadRequest(f"labels[{pos}].name is required")
        if auto_create:
            ensure_label(session, ds, lb.name, lb.type)
        elif lb.name not in {x.name for x in ds.labels}:
            raise LabelNotFound(f"label '{lb.name}' does not exist")
        if lb.score is not None and not 0 <= lb.score <= 1:
            raise BadRequest(f"labels[{pos}].score must be in [0, 1]")
        if lb.annotated_by is not None and len(lb.annotated_by) > MAX_ANNOTATED_BY:
            raise BadRequest(
                f"labels[{pos}].annotated_by is longer than {MAX_ANNOTATED_BY} characters"
            )
        rows.append(
            SampleLabelRow(
                dataset_id=ds.id,
                position=pos,
                label_id=lb.id,
                name=lb.name,
                type=lb.type if lb.type is not None else _label_type(ds, lb.name),
                score=lb.score,
                annotated_by=lb.annotated_by,
                property=dict(lb.property),
            )
        )
    return rows


def _label_type(ds: Dataset, name: str) -> int:
    for lb in ds.labels:
        if lb.name == name:
            return lb.type
    return ds.dataset_type if ds.dataset_type >= 0 else 0


def store_sample(
    session: Session,
    storage: Storage,
    ds: Dataset,
    name: str,
    data: bytes,
    *,
    sample_type: int | None = None,
    labels: Iterable[NewLabel] = (),
    metadata: dict[str, Any] | None = None,
    final_annotation: bool = True,
    max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
    name_is_free: bool = False,
    checked_size: list[int] | None | Unchecked = UNCHECKED,
) -> Sample:
    """Store one sample's bytes and row (labels make it labeled, or to-be-confirmed).

    ``name_is_free``: the caller knows no sample of the dataset has ``name`` (an import that
    listed the names first), so the per-sample lookup, and the flush it would cause, is skipped.
    ``checked_size``: what :func:`check_content` returned for these bytes, when the caller ran
    it already (an import decodes ahead in threads); by default they are checked here.
    """
    if len(data) > MAX_SAMPLE_BYTES:
        raise SampleTooLarge(f"sample '{name}' is larger than {MAX_SAMPLE_BYTES} bytes")
    stype = sample_type if sample_type is not None else sample_type_of(name)
    if stype is None:
        raise BadRequest(f"sample '{name}': unsupported file type (images or .txt files)")
    meta = dict(metadata or {})
    size = (
        check_content(name, stype, data, max_pixels)
        if isinstance(checked_size, Unchecked)
        else checked_size
    )
    if size is not None:
        meta.setdefault(attr.SIZE, size)
    taken = not name_is_free and session.scalar(
        select(Sample.id).where(Sample.dataset_id == ds.id, Sample.name == name)
    )
    if taken:
        raise SampleExists(f"sample '{name}' already exists")
    sid = sample_id()
    rows = _label_rows(session, ds, labels)  # validate before anything is written
    try:
        url = storage.put(sample_key(ds.id, name), data)
    except (OSError, ValueError) as exc:  # e.g. a name part too long, or a file/dir clash
        raise SampleNotStored(
            f"sample '{name}' could not be stored: {exc.__class__.__name__}"
        ) from exc
    state = STATE_NONE
    if rows:
        state = STATE_ALL if final_annotation else STATE_AUTO
    sample = Sample(
        id=sid,
        dataset_id=ds.id,
        name=name,
        sample_type=stype,
        source=url,
        size=len(data),
        sample_time=now_ms(),
        state=state,
        meta=meta,
        labels=rows,
        content_hash=content_hash(data),
    )
    session.add(sample)
    return sample


def content_hash(data: bytes) -> str:
    """The hex SHA-256 of a sample's bytes (imports skip a file a sample already holds)."""
    return hashlib.sha256(data).hexdigest()


def _failed(name: str | None, exc: LabelPilotError) -> ItemResult:
    return ItemResult(success=False, name=name, error_code=exc.error_code, error_msg=exc.error_msg)


def _outcome(
    ds: Dataset, results: list[ItemResult], error: type[LabelPilotError], msg: str
) -> BatchOutcome:
    """The ModelArts batch answer: success only if every item succeeded."""
    ds.update_time = now_ms()
    if all(r.success for r in results):
        return BatchOutcome(results)
    return BatchOutcome(results, error_code=error.error_code, error_msg=msg)


def _sample_name(i: int, name: str | None) -> str:
    if not name:
        raise BadRequest(f"samples[{i}].name is required")
    if any(c in name for c in "!<>=&\"'"):
        raise BadRequest(f"samples[{i}].name has a forbidden character")
    if "\\" in name or any(p in ("", ".", "..") for p in name.split("/")):
        # The name is the storage key below the dataset: no escaping it.
        raise BadRequest(
            f"samples[{i}].name must be a relative file name without '.', '..' or empty path parts"
        )
    return name


def add_samples(
    *,
    session: Session,
    storage: Storage,
    dataset: Dataset,
    samples: list[NewSample],
    final_annotation: bool,
    policy: ImportPolicy,
) -> BatchOutcome:
    """Add samples in batch; each item succeeds or fails on its own (ModelArts batch style)."""
    results: list[ItemResult] = []
    for i, item in enumerate(samples):
        try:
            with session.begin_nested():
                if item.data is not None:
                    try:
                        data = base64.b64decode(item.data, validate=True)
                    except (binascii.Error, ValueError) as exc:
                        raise BadRequest(f"samples[{i}].data is not valid base64") from exc
                    name = item.name
                elif item.data_path:
                    data = policy.read_file(item.data_path, "data_source.data_path")
                    name = item.name or Path(path_from_url(item.data_path)).name
                else:
                    raise BadRequest(f"samples[{i}] needs data (base64) or data_source")
                sample = store_sample(
                    session,
                    storage,
                    dataset,
                    _sample_name(i, name),
                    data,
                    sample_type=item.sample_type,
                    labels=item.labels,
                    metadata=item.metadata,
                    final_annotation=final_annotation,
                    max_pixels=policy.max_image_pixels,
                )
                session.flush()
            results.append(ItemResult(success=True, name=sample.source, info=sample.id))
        except LabelPilotError as exc:
            results.append(_failed(item.name, exc))
    return _outcome(dataset, results, SampleNotStored, "some samples were not added; see results")


def set_labels(
    session: Session,
    ds: Dataset,
    sample: Sample,
    labels: list[NewLabel],
    *,
    state: str,
    metadata: dict[str, Any] | None = None,
) -> None:
    """Replace a sample's labels and set its state (used by the API and by runners)."""
    if sample.labels:
        sample.labels.clear()
        session.flush()  # the old rows go before new ones take their positions
    sample.labels.extend(_label_rows(session, ds, labels))
    sample.state = state if labels else STATE_NONE
    if metadata is not None:
        sample.meta = metadata


def update_samples(
    *, session: Session, dataset: Dataset, edits: list[SampleEdit], final: bool = True
) -> BatchOutcome:
    """Write final labels: a to-be-confirmed sample becomes labeled; empty labels clear it.
    ``final`` False writes the labels as to be confirmed (the console's undo of a confirm)."""
    state = STATE_ALL if final else STATE_AUTO
    results: list[ItemResult] = []
    for i, item in enumerate(edits):
        try:
            with session.begin_nested():
                if not item.sample_id:
                    raise BadRequest(f"samples[{i}].sample_id is required")
                sample = get_sample(session, dataset, item.sample_id)
                metadata = None
                if item.metadata is not None:
                    metadata = {**(sample.meta or {}), **item.metadata}
                labels = item.labels if item.labels is not None else []
                set_labels(session, dataset, sample, labels, state=state, metadata=metadata)
                if item.sample_usage is not None:
                    sample.sample_usage = item.sample_usage
                session.flush()
            results.append(ItemResult(success=True, name=item.sample_id))
        except LabelPilotError as exc:
            results.append(_failed(item.sample_id, exc))
    return _outcome(
        dataset, results, SamplesNotUpdated, "some samples were not updated; see results"
    )


def delete_samples(
    *, session: Session, storage: Storage, dataset: Dataset, sample_ids: list[str]
) -> BatchOutcome:
    rows = session.scalars(
        select(Sample).where(Sample.dataset_id == dataset.id, Sample.id.in_(sample_ids))
    ).all()
    found = {r.id: r for r in rows}
    results = []
    for sid in sample_ids:
        sample = found.get(sid)
        if sample is None:
            results.append(_failed(sid, SampleNotFound(sid)))
            continue
        key = storage.key_of(sample.source)
        if key is not None and key.startswith(dataset_prefix(dataset.id) + "/"):
            after_commit(session, partial(storage.delete, key))
        results.append(ItemResult(success=True, name=sid))
    if found:
        session.execute(delete(SampleLabelRow).where(SampleLabelRow.sample_id.in_(list(found))))
        session.execute(delete(Sample).where(Sample.id.in_(list(found))))
    return _outcome(dataset, results, SamplesNotFound, "some samples were not found")
