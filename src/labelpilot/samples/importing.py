"""Importing a dataset's data sources: server directories, class sub-folders, manifests."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.orm import Session

from labelpilot.datasets.tables import Dataset
from labelpilot.datasets.tables import SampleLabel as SampleLabelRow
from labelpilot.datasets.types import DatasetType, DataSourceSpec, LabelType, SampleType
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


def import_source(
    session: Session,
    storage: Storage,
    ds: Dataset,
    data_path: str,
    import_annotations: bool,
    policy: ImportPolicy,
) -> tuple[int, set[int]]:
    """Import images and text files below a directory; return (count, sample types seen).

    With ``import_annotations``: a file in a sub-folder takes the folder's name as its label, and a
    ``*.manifest`` file's annotations label the files it names.
    """
    field = "data_sources.data_path"
    root = policy.check(data_path, field)
    if not root.is_dir():
        raise BadRequest(f"{field} '{data_path}' is not a directory")

    def read(p: Path) -> bytes:
        """One file below the root, checked on its own: symlinks resolved, size bounded."""
        shown = str(p)
        return policy.read(policy.check_member(p, shown, field), shown, field)

    manifest: dict[str, list[str]] = {}
    if import_annotations:
        for mf in sorted(root.glob("*.manifest")):
            text = read(mf).decode("utf-8", errors="replace")
            manifest.update(_manifest_entries(mf, text))
    count = 0
    kinds: set[int] = set()
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
        sample = store_sample(
            session,
            storage,
            ds,
            rel,
            read(p),
            labels=[NewLabel(name=n) for n in labels],
            max_pixels=policy.max_image_pixels,
        )
        kinds.add(sample.sample_type)
        count += 1
    session.flush()
    return count, kinds


def import_data_sources(
    *,
    session: Session,
    storage: Storage,
    dataset: Dataset,
    sources: list[DataSourceSpec],
    import_annotations: bool,
    policy: ImportPolicy | None,
) -> int:
    """Import a new dataset's data sources; decide an undecided type; return the count.

    On failure the transaction rolls back and the files copied so far are deleted.
    """
    imported = 0
    kinds: set[int] = set()
    try:
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
            n, k = import_source(
                session, storage, dataset, src.data_path, import_annotations, policy
            )
            imported += n
            kinds |= k
    except BaseException:
        storage.delete_prefix(dataset_prefix(dataset.id))
        raise
    if dataset.dataset_type == DatasetType.UNDECIDED:
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
    return imported
