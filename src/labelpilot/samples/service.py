"""Sample services. They never commit: the caller owns the transaction."""

from __future__ import annotations

import base64
import binascii
import io
import json
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError
from sqlalchemy import String, and_, cast, delete, exists, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from labelpilot.api import schemas as s
from labelpilot.config import Settings
from labelpilot.datasets.service import dataset_prefix, ensure_label
from labelpilot.datasets.tables import (
    STATE_ALL,
    STATE_AUTO,
    STATE_NONE,
    Dataset,
    Sample,
    SampleLabel,
)
from labelpilot.db import after_commit
from labelpilot.errors import BadRequest, LabelPilotError, NotAvailable, SampleNotFound
from labelpilot.ids import now_ms, sample_id
from labelpilot.storage import Storage
from labelpilot.storage.local import path_from_url

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
TEXT_EXTS = {".txt"}
MAX_SAMPLE_BYTES = 12_582_912
STATUS_OUT = {
    STATE_NONE: "UN_ANNOTATION",
    STATE_ALL: "MANUAL_ANNOTATION",
    STATE_AUTO: "AUTO_ANNOTATION",
}
# Accepted sample_state filter values -> stored state (None: a valid state nothing here is in).
STATE_FILTERS: dict[str, str | None] = {
    "__ALL__": STATE_ALL,
    "__NONE__": STATE_NONE,
    "__AUTO_ANNOTATION__": STATE_AUTO,
    "MANUAL_ANNOTATION": STATE_ALL,
    "UN_ANNOTATION": STATE_NONE,
    "AUTO_ANNOTATION": STATE_AUTO,
    **{
        k: None
        for k in (
            "__UNCHECK__",
            "__ACCEPTED__",
            "__REJECTED__",
            "__UNREVIEWED__",
            "__REVIEWED__",
            "__WORKFORCE_SAMPLED__",
            "__WORKFORCE_SAMPLED_UNCHECK__",
            "__WORKFORCE_SAMPLED_CHECKED__",
            "__WORKFORCE_SAMPLED_ACCEPTED__",
            "__WORKFORCE_SAMPLED_REJECTED__",
        )
    },
}
UNSUPPORTED_CONDITIONS = (
    "frame_in_video",
    "import_origin",
    "kvp",
    "labeler",
    "parent_sample_id",
    "sample_time",
    "slice_thickness",
    "study_date",
    "time_in_video",
)


def sample_type_of(name: str) -> int | None:
    ext = posixpath.splitext(name.lower())[1]
    if ext in IMAGE_EXTS:
        return 0
    if ext in TEXT_EXTS:
        return 1
    return None


def image_size(data: bytes) -> list[int]:
    """``[width, height, depth]`` from the image header; ValueError if unreadable."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            depth = len(im.getbands())
            return [im.width, im.height, depth]
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError("image is not readable") from exc


# --- creating samples ------------------------------------------------------------------------


def _label_rows(
    session: Session, ds: Dataset, labels: Iterable[s.SampleLabel], *, auto_create: bool = True
) -> list[SampleLabel]:
    rows = []
    for pos, lb in enumerate(labels):
        if not lb.name:
            raise BadRequest(f"labels[{pos}].name is required")
        if auto_create:
            ensure_label(session, ds, lb.name, lb.type)
        elif lb.name not in {x.name for x in ds.labels}:
            raise BadRequest(f"label '{lb.name}' does not exist", error_code="ModelArts.4410")
        prop = lb.property.model_dump(by_alias=True, exclude_none=True) if lb.property else {}
        if lb.score is not None and not 0 <= lb.score <= 1:
            raise BadRequest(f"labels[{pos}].score must be in [0, 1]")
        rows.append(
            SampleLabel(
                dataset_id=ds.id,
                position=pos,
                label_id=lb.id,
                name=lb.name,
                type=lb.type if lb.type is not None else _label_type(ds, lb.name),
                score=lb.score,
                annotated_by=lb.annotated_by,
                property=prop,
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
    labels: Iterable[s.SampleLabel] = (),
    metadata: dict[str, Any] | None = None,
    final_annotation: bool = True,
) -> Sample:
    """Store one sample's bytes and row (labels make it labeled, or to-be-confirmed)."""
    if len(data) > MAX_SAMPLE_BYTES:
        raise LabelPilotError(
            f"sample '{name}' is larger than {MAX_SAMPLE_BYTES} bytes",
            error_code="ModelArts.4656",
        )
    stype = sample_type if sample_type is not None else sample_type_of(name)
    if stype is None:
        raise BadRequest(f"sample '{name}': unsupported file type (images or .txt files)")
    meta = dict(metadata or {})
    if stype == 0:
        try:
            meta.setdefault("@modelarts:size", image_size(data))
        except ValueError as exc:
            raise LabelPilotError(
                f"sample '{name}': image size is not readable", error_code="ModelArts.4423"
            ) from exc
    taken = session.scalar(select(Sample.id).where(Sample.dataset_id == ds.id, Sample.name == name))
    if taken:
        raise BadRequest(f"sample '{name}' already exists", error_code="ModelArts.4422")
    sid = sample_id()
    rows = _label_rows(session, ds, labels)  # validate before anything is written
    try:
        url = storage.put(f"{dataset_prefix(ds.id)}/data/{name}", data)
    except (OSError, ValueError) as exc:  # e.g. a name part too long, or a file/dir clash
        raise LabelPilotError(
            f"sample '{name}' could not be stored: {exc.__class__.__name__}",
            error_code="ModelArts.4421",
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
    )
    session.add(sample)
    return sample


@dataclass(frozen=True)
class ImportPolicy:
    """Where server-side ``data_path`` imports may read: under ``roots`` (None: anywhere), never
    inside ``protected`` (the data directory: other datasets' files, the database)."""

    roots: tuple[Path, ...] | None
    protected: tuple[Path, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> ImportPolicy:
        roots = None
        if settings.import_roots is not None:
            roots = tuple(Path(r).expanduser().resolve() for r in settings.import_roots)
        return cls(roots, (settings.data_dir.resolve(),))

    def check(self, path_or_url: str, field: str) -> Path:
        if "://" in path_or_url and not path_or_url.startswith("file://"):
            raise NotAvailable(
                f"{field} '{path_or_url}': importing from object storage URLs is not available "
                "yet; import a server-side directory or add samples through the API"
            )
        p = path_from_url(path_or_url).expanduser().resolve()
        inside = lambda root: p == root or root in p.parents  # noqa: E731
        if any(inside(r) for r in self.protected) or (
            self.roots is not None and not any(inside(r) for r in self.roots)
        ):
            raise LabelPilotError(
                f"{field} '{path_or_url}' is not in an allowed import location",
                error_code="ModelArts.4205",
                status_code=403,
            )
        return p


def _read_source(policy: ImportPolicy, path_or_url: str) -> bytes:
    p = policy.check(path_or_url, "data_source.data_path")
    if not p.is_file():
        raise BadRequest(f"data_source.data_path '{path_or_url}' is not a readable file")
    return p.read_bytes()


def _failed(name: str | None, exc: LabelPilotError) -> s.BatchResult:
    return s.BatchResult(
        success=False, name=name, error_code=exc.error_code, error_msg=exc.error_msg
    )


def _batch_response(
    ds: Dataset, results: list[s.BatchResult], code: str, msg: str
) -> s.BatchResponse:
    """The ModelArts batch answer: success only if every item succeeded."""
    ok = all(r.success for r in results)
    ds.update_time = now_ms()
    return s.BatchResponse(
        success=ok,
        results=results,
        error_code=None if ok else code,
        error_msg=None if ok else msg,
    )


def add_samples(
    session: Session,
    storage: Storage,
    ds: Dataset,
    req: s.AddSamplesRequest,
    policy: ImportPolicy,
) -> s.BatchResponse:
    """Add samples in batch; each item succeeds or fails on its own (ModelArts batch style)."""
    results: list[s.BatchResult] = []
    for i, item in enumerate(req.samples):
        try:
            with session.begin_nested():
                if item.data is not None:
                    try:
                        data = base64.b64decode(item.data, validate=True)
                    except (binascii.Error, ValueError) as exc:
                        raise BadRequest(f"samples[{i}].data is not valid base64") from exc
                    name = item.name
                elif item.data_source is not None and item.data_source.data_path:
                    data = _read_source(policy, item.data_source.data_path)
                    name = item.name or Path(path_from_url(item.data_source.data_path)).name
                else:
                    raise BadRequest(f"samples[{i}] needs data (base64) or data_source")
                if not name:
                    raise BadRequest(f"samples[{i}].name is required")
                if any(c in name for c in "!<>=&\"'"):
                    raise BadRequest(f"samples[{i}].name has a forbidden character")
                if "\\" in name or any(p in ("", ".", "..") for p in name.split("/")):
                    # The name is the storage key below the dataset: no escaping it.
                    raise BadRequest(
                        f"samples[{i}].name must be a relative file name without '.', '..' "
                        "or empty path parts"
                    )
                metadata = (
                    item.metadata.model_dump(by_alias=True, exclude_none=True)
                    if item.metadata
                    else None
                )
                sample = store_sample(
                    session,
                    storage,
                    ds,
                    name,
                    data,
                    sample_type=item.sample_type,
                    labels=item.labels or (),
                    metadata=metadata,
                    final_annotation=req.final_annotation is not False,
                )
                session.flush()
            results.append(s.BatchResult(success=True, name=sample.source, info=sample.id))
        except LabelPilotError as exc:
            results.append(_failed(item.name, exc))
    return _batch_response(
        ds, results, "ModelArts.4421", "some samples were not added; see results"
    )


def _manifest_entries(path: Path) -> dict[str, list[str]]:
    """Labels per source from a ModelArts manifest (JSON lines with ``source``/``annotation``)."""
    out: dict[str, list[str]] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
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
    root = policy.check(data_path, "data_sources.data_path")
    if not root.is_dir():
        raise BadRequest(f"data_sources.data_path '{data_path}' is not a directory")
    manifest: dict[str, list[str]] = {}
    if import_annotations:
        for mf in sorted(root.glob("*.manifest")):
            manifest.update(_manifest_entries(mf))
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
            p.read_bytes(),
            labels=[s.SampleLabel(name=n) for n in labels],
        )
        kinds.add(sample.sample_type)
        count += 1
    session.flush()
    return count, kinds


# --- reading -------------------------------------------------------------------------------


def sample_out(sample: Sample) -> s.SampleOut:
    name = sample.name
    return s.SampleOut(
        sample_id=sample.id,
        sample_type=sample.sample_type,
        sample_name=posixpath.basename(name),
        sample_dir=posixpath.dirname(sample.source) + "/",
        sample_size=sample.size,
        sample_time=sample.sample_time,
        sample_status=STATUS_OUT.get(sample.state, sample.state),
        source=sample.source,
        labels=[label_out(lb) for lb in sample.labels],
        metadata=s.SampleMetadata.model_validate(sample.meta or {}),
    )


def label_out(lb: SampleLabel) -> s.SampleLabel:
    return s.SampleLabel(
        id=lb.label_id,
        name=lb.name,
        type=lb.type,
        score=lb.score,
        annotated_by=lb.annotated_by,
        property=s.SampleLabelProperty.model_validate(lb.property) if lb.property else None,
    )


def _range(value: str, field: str) -> tuple[float, float]:
    try:
        lo, hi = (float(x) for x in value.split("-", 1))
    except ValueError as exc:
        raise BadRequest(f"{field} must look like 'min-max', e.g. '0.1-0.9'") from exc
    return lo, hi


def _has_label(*conds: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists().where(SampleLabel.sample_id == Sample.id, *conds)


def _meta_str(key: str) -> ColumnElement[Any]:
    return cast(Sample.meta[key].as_string(), String)


def _condition(i: int, c: s.SearchCondition) -> list[ColumnElement[bool]]:
    f = f"search_conditions[{i}]"
    for name in UNSUPPORTED_CONDITIONS:
        if getattr(c, name) is not None:
            raise BadRequest(f"{f}.{name} is not supported by LabelPilot")
    out: list[ColumnElement[bool]] = []
    if c.label_list and c.label_list.labels:
        parts = []
        for lb in c.label_list.labels:
            conds: list[ColumnElement[bool]] = []
            if lb.name is not None:
                conds.append(SampleLabel.name == lb.name)
            if lb.type is not None:
                conds.append(SampleLabel.type == lb.type)
            if lb.property:
                raise BadRequest(f"{f}.label_list.labels.property is not supported by LabelPilot")
            parts.append(_has_label(*conds))
        op = (c.label_list.op or "OR").upper()
        if op not in ("AND", "OR"):
            raise BadRequest(f"{f}.label_list.op must be AND or OR")
        out.append(and_(*parts) if op == "AND" else or_(*parts))
    if c.metadata and c.metadata.props:
        op = (c.metadata.op or "AND").upper()
        if op not in ("AND", "OR"):
            raise BadRequest(f"{f}.metadata.op must be AND or OR")
        props = [_meta_str(k).in_([str(v) for v in vals]) for k, vals in c.metadata.props.items()]
        out.append(and_(*props) if op == "AND" else or_(*props))
    if c.hard is not None:
        if c.hard not in ("0", "1"):
            raise BadRequest(f"{f}.hard must be '0' or '1'")
        hard = _meta_str("@modelarts:hard").in_(["1", "1.0", "true"])
        out.append(hard if c.hard == "1" else ~func.coalesce(hard, False))
    if c.sample_name is not None:
        out.append(or_(Sample.name == c.sample_name, Sample.name.endswith("/" + c.sample_name)))
    if c.sample_dir is not None:
        if not c.sample_dir.endswith("/"):
            raise BadRequest(f"{f}.sample_dir must end with '/'")
        out.append(Sample.source.like(c.sample_dir.replace("%", r"\%") + "%", escape="\\"))
    if c.score is not None:
        lo, hi = _range(c.score, f"{f}.score")
        out.append(_has_label(SampleLabel.score >= lo, SampleLabel.score <= hi))
    if c.coefficient is not None:
        lo, hi = _range(c.coefficient, f"{f}.coefficient")
        coef = Sample.meta["@modelarts:hard_coefficient"].as_float()
        out.append(and_(coef >= lo, coef <= hi))
    return out


def parse_search_conditions(raw: str | None) -> list[s.SearchCondition]:
    if not raw:
        return []
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BadRequest("search_conditions must be a JSON array of SearchCondition") from exc
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise BadRequest("search_conditions must be a JSON array of SearchCondition")
    try:
        return [s.SearchCondition.model_validate(x) for x in data]
    except ValueError as exc:
        raise BadRequest(f"search_conditions: {exc}") from exc


def list_samples(
    session: Session,
    ds: Dataset,
    *,
    offset: int = 0,
    limit: int = 10,
    sample_state: str | None = None,
    label_name: str | None = None,
    label_type: int | None = None,
    low_score: float | None = None,
    high_score: float | None = None,
    search_conditions: list[s.SearchCondition] | None = None,
    order: str = "desc",
    only_state: str | None = None,
) -> tuple[int, list[Sample]]:
    """Filtered, paged samples (``offset`` is a page index, as for tasks)."""
    q = select(Sample).where(Sample.dataset_id == ds.id)
    if only_state is not None:
        q = q.where(Sample.state == only_state)
    if sample_state is not None:
        if sample_state not in STATE_FILTERS:
            raise BadRequest(f"sample_state '{sample_state}' is not a valid sample state")
        stored = STATE_FILTERS[sample_state]
        if stored is None:
            return 0, []
        q = q.where(Sample.state == stored)
    if label_name is not None:
        q = q.where(_has_label(SampleLabel.name == label_name))
    if label_type is not None:
        q = q.where(_has_label(SampleLabel.type == label_type))
    if low_score is not None or high_score is not None:
        lo = 0.0 if low_score is None else low_score
        hi = 1.0 if high_score is None else high_score
        q = q.where(_has_label(SampleLabel.score >= lo, SampleLabel.score <= hi))
    for i, cond in enumerate(search_conditions or []):
        for expr in _condition(i, cond):
            q = q.where(expr)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    key = (Sample.sample_time.asc(), Sample.id.asc())
    if order == "desc":
        key = (Sample.sample_time.desc(), Sample.id.desc())
    rows = session.scalars(q.order_by(*key).offset(offset * limit).limit(limit)).all()
    return total, list(rows)


def get_sample(session: Session, ds: Dataset, sid: str) -> Sample:
    sample = session.get(Sample, sid)
    if sample is None or sample.dataset_id != ds.id:
        raise SampleNotFound(sid)
    return sample


def thumbnail(storage: Storage, sample: Sample, size: int) -> bytes:
    """A JPEG of at most ``size`` pixels a side, cached under the dataset's storage prefix."""
    if sample.sample_type != 0:
        raise BadRequest(f"sample {sample.id} is not an image; thumbnails exist for images only")
    key = f"{dataset_prefix(sample.dataset_id)}/thumbnails/{size}/{sample.id}.jpg"
    if storage.exists(key):
        return storage.get(key)
    src = storage.key_of(sample.source)
    if src is None or not storage.exists(src):
        raise SampleNotFound(sample.id)
    with Image.open(io.BytesIO(storage.get(src))) as opened:
        im: Image.Image = opened
        im.thumbnail((size, size))
        if im.mode != "RGB":
            rgba = im.convert("RGBA")
            im = Image.new("RGB", rgba.size, (255, 255, 255))
            im.paste(rgba, mask=rgba.getchannel("A"))
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=85)
    data = buf.getvalue()
    storage.put(key, data)
    return data


# --- updating --------------------------------------------------------------------------------


def set_labels(
    session: Session,
    ds: Dataset,
    sample: Sample,
    labels: list[s.SampleLabel],
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


def update_samples(session: Session, ds: Dataset, req: s.UpdateSamplesRequest) -> s.BatchResponse:
    """Write final labels: a to-be-confirmed sample becomes labeled; empty labels clear it."""
    results: list[s.BatchResult] = []
    for i, item in enumerate(req.samples):
        try:
            with session.begin_nested():
                if not item.sample_id:
                    raise BadRequest(f"samples[{i}].sample_id is required")
                sample = get_sample(session, ds, item.sample_id)
                metadata = None
                if item.metadata is not None:
                    metadata = {
                        **(sample.meta or {}),
                        **item.metadata.model_dump(by_alias=True, exclude_none=True),
                    }
                labels = item.labels if item.labels is not None else []
                set_labels(session, ds, sample, labels, state=STATE_ALL, metadata=metadata)
                if item.sample_usage is not None:
                    sample.sample_usage = item.sample_usage
                session.flush()
            results.append(s.BatchResult(success=True, name=item.sample_id))
        except LabelPilotError as exc:
            results.append(_failed(item.sample_id, exc))
    return _batch_response(
        ds, results, "ModelArts.4417", "some samples were not updated; see results"
    )


def delete_samples(
    session: Session, storage: Storage, ds: Dataset, sample_ids: list[str]
) -> s.BatchResponse:
    rows = session.scalars(
        select(Sample).where(Sample.dataset_id == ds.id, Sample.id.in_(sample_ids))
    ).all()
    found = {r.id: r for r in rows}
    results = []
    for sid in sample_ids:
        sample = found.get(sid)
        if sample is None:
            results.append(
                s.BatchResult(
                    success=False,
                    name=sid,
                    error_code="ModelArts.4420",
                    error_msg=f"Sample {sid} not found",
                )
            )
            continue
        key = storage.key_of(sample.source)
        if key is not None and key.startswith(dataset_prefix(ds.id) + "/"):
            after_commit(session, partial(storage.delete, key))
        results.append(s.BatchResult(success=True, name=sid))
    if found:
        session.execute(delete(SampleLabel).where(SampleLabel.sample_id.in_(list(found))))
        session.execute(delete(Sample).where(Sample.id.in_(list(found))))
    return _batch_response(ds, results, "ModelArts.4424", "some samples were not found")
