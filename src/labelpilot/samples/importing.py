"""Importing a dataset's data sources: server directories, class sub-folders, manifests.

The import commits in bounded batches (``IMPORT_BATCH_FILES`` files or ``IMPORT_BATCH_SECONDS``,
whichever comes first), so other writers wait for one batch, never for the whole import.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.orm import Session

from labelpilot.datasets import service as datasets
from labelpilot.datasets.tables import Dataset
from labelpilot.datasets.tables import SampleLabel as SampleLabelRow
from labelpilot.datasets.types import (
    DatasetType,
    DataSourceSpec,
    LabelType,
    NewDataset,
    SampleType,
)
from labelpilot.db import Database
from labelpilot.errors import BadRequest
from labelpilot.samples.policy import ImportPolicy
from labelpilot.samples.service import sample_type_of, store_sample
from labelpilot.samples.types import NewLabel
from labelpilot.storage import Storage
from labelpilot.storage.keys import dataset_prefix
from labelpilot.storage.local import path_from_url


def _manifest_entries(path: Path, text: str) -> dict[str, list[str]]:
    """Labels per source from a ModelArts manifest (JSON lines with ``source``/``annotation``)."""
    out: dict[str, list[str]] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadRequest(f"manifest {path.name} line {lineno} is not JSON") from exc
        src = str(row.get("source", ""))
        names = [a["name"] for a in row.get("annotation") or [] if a.get("name")]
        out[Path(path_from_url(src)).name if src else ""] = names
    return out


IMPORT_BATCH_FILES = 500
IMPORT_BATCH_SECONDS = 0.5


@dataclass(frozen=True)
class _File:
    """One file to import: where it is, its sample name, the label names it gets."""

    path: Path
    name: str
    labels: tuple[str, ...]


FIELD = "data_sources.data_path"


def _source_files(root: Path, import_annotations: bool, policy: ImportPolicy) -> list[_File]:
    """The importable files below ``root`` with their labels, in name order (nothing written).

    With ``import_annotations``: a file in a sub-folder takes the folder's name as its label, and a
    ``*.manifest`` file's annotations label the files it names. Every file is checked on its own
    against the import policy (symlinks resolved) when it is read.
    """
    manifest: dict[str, list[str]] = {}
    if import_annotations:
        for mf in sorted(root.glob("*.manifest")):
            text = _read(policy, mf).decode("utf-8", errors="replace")
            manifest.update(_manifest_entries(mf, text))
    files: list[_File] = []
    for p in sorted(root.rglob("*")):
        if not p.is_file() or sample_type_of(p.name) is None:
            continue
        rel = p.relative_to(root).as_posix()
        labels: list[str] = []
        if import_annotations:
            if p.name in manifest:
                labels = manifest[p.name]
            elif "/" in rel:
                labels = [rel.split("/", 1)[0]]
        files.append(_File(p, rel, tuple(labels)))
    return files


def _read(policy: ImportPolicy, p: Path) -> bytes:
    """One file below a root, checked on its own: symlinks resolved, size bounded."""
    shown = str(p)
    return policy.read(policy.check_member(p, shown, FIELD), shown, FIELD)


def _plan(
    sources: list[DataSourceSpec], import_annotations: bool, policy: ImportPolicy | None
) -> list[_File]:
    """Check every data source and list its files before anything is written."""
    files: list[_File] = []
    for i, src in enumerate(sources):
        if src.data_type not in (None, 0):
            raise BadRequest(
                f"data_sources[{i}].data_type {src.data_type} is not supported "
                "(only 0: a directory or storage URL)"
            )
        if not src.data_path:
            raise BadRequest(f"data_sources[{i}].data_path is required")
        if policy is None:
            raise BadRequest("data_sources are not accepted here")
        root = policy.check(src.data_path, FIELD)
        if not root.is_dir():
            raise BadRequest(f"{FIELD} '{src.data_path}' is not a directory")
        files.extend(_source_files(root, import_annotations, policy))
    return files


def _store_batch(
    session: Session,
    storage: Storage,
    dataset_id: str,
    files: list[_File],
    start: int,
    policy: ImportPolicy,
) -> tuple[int, set[int]]:
    """Store files from ``start`` on until the batch is full; (next start, sample types seen)."""
    ds = session.get(Dataset, dataset_id)
    assert ds is not None
    began = time.monotonic()
    kinds: set[int] = set()
    i = start
    while i < len(files) and i - start < IMPORT_BATCH_FILES:
        f = files[i]
        sample = store_sample(
            session,
            storage,
            ds,
            f.name,
            _read(policy, f.path),
            labels=[NewLabel(name=n) for n in f.labels],
            max_pixels=policy.max_image_pixels,
        )
        kinds.add(sample.sample_type)
        i += 1
        if time.monotonic() - began >= IMPORT_BATCH_SECONDS:
            break
    session.flush()
    return i, kinds


def _decide_type(session: Session, dataset_id: str, kinds: set[int]) -> None:
    """Give a dataset created with an undecided type the type of what was imported."""
    dataset = session.get(Dataset, dataset_id)
    assert dataset is not None
    if dataset.dataset_type != DatasetType.UNDECIDED:
        return
    texts = kinds == {SampleType.TEXT}
    dataset.dataset_type = (
        DatasetType.TEXT_CLASSIFICATION if texts else DatasetType.IMAGE_CLASSIFICATION
    )
    if texts:  # labels made during the import defaulted to images
        image, text = LabelType.IMAGE_CLASSIFICATION, LabelType.TEXT_CLASSIFICATION
        for lb in dataset.labels:
            lb.type = text if lb.type == image else lb.type
        session.execute(
            update(SampleLabelRow)
            .where(SampleLabelRow.dataset_id == dataset.id, SampleLabelRow.type == image)
            .values(type=text)
        )


def _delete_partial(session: Session, storage: Storage, dataset_id: str) -> None:
    dataset = session.get(Dataset, dataset_id)
    if dataset is not None:
        datasets.delete_dataset(session, storage, dataset)


def create_dataset_with_sources(
    *,
    db: Database,
    storage: Storage,
    project_id: str,
    new: NewDataset,
    policy: ImportPolicy | None,
) -> tuple[str, int]:
    """Create a dataset and import its data sources; (dataset id, imported sample count).

    The dataset commits first; then every source is checked and listed, its samples commit in
    bounded batches, and an undecided type is decided last. A failure part way (a refused path,
    an unreadable file, a sample that cannot be stored) deletes the dataset with every batch
    committed so far and its copied files: the request fails and leaves nothing. Until the import
    ends the dataset is visible with the samples committed so far; a process killed mid-import
    leaves it so (deleting it is the user's call; #13 makes imports resumable tasks).
    """

    def create(session: Session) -> str:
        ds = datasets.create_dataset(
            session=session, storage=storage, project_id=project_id, new=new
        )
        if not new.data_sources:  # nothing to import: one transaction, as any other write
            _decide_type(session, ds.id, set())
        return ds.id

    dataset_id = db.run(create)
    if not new.data_sources:
        return dataset_id, 0
    kinds: set[int] = set()
    done = 0
    try:
        files = _plan(new.data_sources, new.import_annotations, policy)
        assert policy is not None  # _plan refused sources without one
        while done < len(files):
            batch = partial(
                _store_batch,
                storage=storage,
                dataset_id=dataset_id,
                files=files,
                start=done,
                policy=policy,
            )
            done, seen = db.run(batch)
            kinds |= seen
        db.run(lambda s: _decide_type(s, dataset_id, kinds))
    except BaseException:
        db.run(lambda s: _delete_partial(s, storage, dataset_id))
        storage.delete_prefix(dataset_prefix(dataset_id))
        raise
    return dataset_id, len(files)
