"""What an import reads: the samples of a server directory or a manifest, with their labels.

A directory's labels come from the first layout found (DATA_MANAGEMENT §5.1), in this order:
a COCO JSON file (``images``/``annotations``/``categories``), YOLO (``obj.names`` with one
``<image>.txt`` per image), Pascal VOC (``<image>.xml`` next to an image), ModelArts manifests
(``*.manifest``: exactly the samples they list), else class sub-folders (the first folder is the
label) and ``<image>.txt`` files holding one label per line. Text tables (``.csv``, ``.tsv``,
``.jsonl``) hold one text sample per row. Nothing here writes: a file that cannot be read or
parsed becomes a :class:`Problem` in the plan, and the import goes on without it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from labelpilot.errors import LabelPilotError
from labelpilot.formats._records import LabelRecord, Problem, SampleRecord
from labelpilot.formats.coco_read import read_coco
from labelpilot.formats.csv_read import read_jsonl_texts, read_text_table
from labelpilot.formats.manifest_read import loads_untrusted, read_manifest
from labelpilot.formats.voc_read import read_voc
from labelpilot.formats.yolo_read import read_yolo_list, read_yolo_names
from labelpilot.samples.policy import ImportPolicy
from labelpilot.samples.service import IMAGE_EXTS, sample_type_of
from labelpilot.storage.local import path_from_url

FIELD = "import_path"
TABLE_EXTS = {".csv", ".tsv", ".jsonl"}
FORMATS = ("MANIFEST", "COCO", "VOC", "YOLO", "CLASS_FOLDERS", "CSV")


@dataclass(frozen=True)
class Item:
    """One sample to import: where its bytes are, its name, and its labels.

    Exactly one of ``path`` (a server file, checked by the policy when read), ``storage_key``
    (a file in LabelPilot's storage, named by a manifest) and ``text`` (a text table's row) is
    set. ``yolo`` holds a YOLO label file's text, turned into boxes once the image's size is
    known.
    """

    origin: str
    name: str
    path: Path | None = None
    storage_key: str | None = None
    text: str | None = None
    labels: tuple[LabelRecord, ...] = ()
    usage: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    yolo: str | None = None


@dataclass
class Plan:
    """The items of one import source, the problems met listing them, and the layout found."""

    items: list[Item] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    layout: str = "CLASS_FOLDERS"
    yolo_names: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TextFormat:
    """How text samples and their labels sit in ``.txt`` files (``label_format``), if given."""

    delimiter: str = "\t"
    label_separator: str = ","


class Reader:
    """Reads the files of one import below ``root`` through the policy (symlinks checked)."""

    def __init__(
        self,
        root: Path,
        policy: ImportPolicy,
        storage_key: Callable[[str], str | None],
        storage_get: Callable[[str], bytes],
    ) -> None:
        self.root = root
        self.policy = policy
        self.storage_key = storage_key  # a URL's key in LabelPilot's storage, if it may be read
        self.storage_get = storage_get

    def rel(self, p: Path) -> str:
        try:
            return p.relative_to(self.root).as_posix()
        except ValueError:
            return str(p)

    def read(self, p: Path) -> bytes:
        shown = self.rel(p)
        return self.policy.read(self.policy.check_member(p, shown, FIELD), shown, FIELD)

    def text(self, p: Path) -> str:
        data = self.read(p)
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return data.decode("gbk", errors="replace")  # ModelArts allows GBK text files


def _problem(where: str, exc: Exception) -> Problem:
    reason = exc.error_msg if isinstance(exc, LabelPilotError) else str(exc)
    return Problem(where, reason or type(exc).__name__)


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def _record_item(origin: str, name: str, record: SampleRecord, **where: Any) -> Item:
    return Item(
        origin=origin,
        name=name,
        labels=record.labels,
        usage=record.usage,
        metadata=dict(record.metadata),
        **where,
    )


# -- manifests --------------------------------------------------------------------------------


def _manifest_items(
    reader: Reader, mf: Path, plan: Plan, beside: dict[str, Path] | None = None
) -> None:
    """The samples a manifest file lists; a source is resolved against the manifest's folder,
    or is a file in LabelPilot's storage, or ``content://`` text; in a directory import, a source
    found neither way names the file of that name in the directory (``beside``), as when a
    manifest was copied with its images."""
    where = reader.rel(mf)
    try:
        text = reader.text(mf)
    except (LabelPilotError, OSError) as exc:
        plan.problems.append(_problem(where, exc))
        return

    def load(loc: str) -> bytes:
        key = reader.storage_key(loc)
        if key is not None:
            return reader.storage_get(key)
        moved = _relocated(mf.parent, loc)  # an export's VOC file, downloaded with it
        return reader.read(moved if moved is not None else _local(mf.parent, loc))

    records, problems = read_manifest(text, where, load)
    plan.problems.extend(problems)
    for i, record in enumerate(records, 1):
        origin = f"{where}:{i}"
        src = record.source
        if src.startswith("content://"):
            text_value = src[len("content://") :]
            plan.items.append(
                _record_item(origin, f"{Path(mf).stem}/{i}.txt", record, text=text_value)
            )
            continue
        key = reader.storage_key(src)
        name = record.name or posixpath.basename(src) or f"{i}"
        if key is not None:
            plan.items.append(_record_item(origin, name, record, storage_key=key))
            continue
        try:
            path: Path | None = _local(mf.parent, src)
        except ValueError as exc:
            path, why = None, str(exc)
        if path is None or not path.exists():
            near = (beside or {}).get(posixpath.basename(src))
            if near is None:
                plan.problems.append(
                    Problem(origin, why if path is None else f"{src}: no such file")
                )
                continue
            path = near
        plan.items.append(_record_item(origin, reader.rel(path), record, path=path))


def _relocated(base: Path, loc: str) -> Path | None:
    """A file a URL names, found below ``base`` by the URL's trailing path parts (an export
    moved elsewhere: its manifest still names the files where they were written)."""
    parts = [p for p in loc.split("://", 1)[-1].split("/") if p not in ("", ".", "..")]
    for n in range(min(len(parts), 4), 0, -1):
        candidate = base.joinpath(*parts[-n:])
        if candidate.is_file():
            return candidate
    return None


def _local(base: Path, source: str) -> Path:
    """A manifest source or ``annotation-loc`` as a server path (relative to ``base``)."""
    if "://" in source and not source.startswith("file://"):
        raise ValueError(f"source {source} is neither a server path nor in LabelPilot's storage")
    p = path_from_url(source) if source.startswith("file://") else Path(source)
    return p if p.is_absolute() else base / p


# -- directories ------------------------------------------------------------------------------


def _coco_documents(
    reader: Reader, files: list[Path], plan: Plan
) -> list[tuple[Path, list[SampleRecord]]]:
    docs = []
    for p in files:
        if p.suffix.lower() != ".json":
            continue
        try:
            records, problems = read_coco(reader.read(p), reader.rel(p))
        except ValueError:
            continue  # some other JSON file
        except LabelPilotError as exc:
            plan.problems.append(_problem(reader.rel(p), exc))
            continue
        plan.problems.extend(problems)
        docs.append((p, records))
    return docs


def _coco(
    reader: Reader, files: list[Path], docs: list[tuple[Path, list[SampleRecord]]], plan: Plan
) -> None:
    by_rel = {reader.rel(p): p for p in files}
    for json_path, records in docs:
        base = json_path.parent
        bases = [base, base / "images", base.parent / "images", reader.root, reader.root / "images"]
        for record in records:
            found = next((b / record.source for b in bases if (b / record.source).is_file()), None)
            if found is None:
                found = by_rel.get(record.source)
            if found is None:
                plan.problems.append(
                    Problem(reader.rel(json_path), f"image {record.source}: no such file")
                )
                continue
            plan.items.append(
                _record_item(reader.rel(found), reader.rel(found), record, path=found)
            )


def _yolo(reader: Reader, files: list[Path], names_file: Path, plan: Plan) -> None:
    try:
        plan.yolo_names = read_yolo_names(reader.text(names_file))
    except (LabelPilotError, OSError) as exc:
        plan.problems.append(_problem(reader.rel(names_file), exc))
        return
    texts = {p.with_suffix("").as_posix(): p for p in files if p.suffix.lower() == ".txt"}
    for p in files:
        if p.suffix.lower() not in IMAGE_EXTS:
            continue
        label_file = texts.get(p.with_suffix("").as_posix())
        yolo = None
        if label_file is not None:
            try:
                yolo = reader.text(label_file)
            except (LabelPilotError, OSError) as exc:
                plan.problems.append(_problem(reader.rel(label_file), exc))
        plan.items.append(Item(origin=reader.rel(p), name=reader.rel(p), path=p, yolo=yolo or ""))


def _voc(reader: Reader, files: list[Path], plan: Plan) -> None:
    xml = {p.with_suffix("").as_posix(): p for p in files if p.suffix.lower() == ".xml"}
    for p in files:
        if p.suffix.lower() not in IMAGE_EXTS:
            continue
        ann = xml.get(p.with_suffix("").as_posix())
        if ann is None:
            plan.items.append(Item(origin=reader.rel(p), name=reader.rel(p), path=p))
            continue
        try:
            record, problems = read_voc(reader.read(ann), reader.rel(ann))
        except (LabelPilotError, ValueError, OSError) as exc:
            plan.problems.append(_problem(reader.rel(ann), exc))
            continue  # a sample whose labels cannot be read is not imported half-labeled
        plan.problems.extend(problems)
        plan.items.append(_record_item(reader.rel(p), reader.rel(p), record, path=p))


def _tables(reader: Reader, tables: list[Path], plan: Plan, text_format: TextFormat | None) -> None:
    for p in tables:
        where = reader.rel(p)
        try:
            text = reader.text(p)
        except (LabelPilotError, OSError) as exc:
            plan.problems.append(_problem(where, exc))
            continue
        if p.suffix.lower() == ".jsonl":
            records, problems = read_jsonl_texts(text, where)
        elif p.suffix.lower() == ".txt" and text_format is not None:
            records, problems = read_text_table(
                text,
                where,
                delimiter=text_format.delimiter,
                label_separator=text_format.label_separator,
                with_header=False,
            )
        else:
            delimiter = "\t" if p.suffix.lower() == ".tsv" else None
            records, problems = read_text_table(text, where, delimiter=delimiter)
        plan.problems.extend(problems)
        stem = reader.rel(p).rsplit(".", 1)[0]
        for i, record in enumerate(records, 1):
            plan.items.append(
                _record_item(
                    f"{where}:{i}",
                    f"{stem}/{i}.txt",
                    record,
                    text=record.source[len("content://") :],
                )
            )


def _folders(reader: Reader, files: list[Path], plan: Plan, annotations: bool) -> None:
    stems = {p.with_suffix("").as_posix() for p in files if p.suffix.lower() in IMAGE_EXTS}
    for p in files:
        rel = reader.rel(p)
        if sample_type_of(p.name) is None:
            continue
        if p.suffix.lower() == ".txt" and p.with_suffix("").as_posix() in stems:
            continue  # the labels of the image next to it
        labels: tuple[LabelRecord, ...] = ()
        if annotations:
            label_file = p.with_suffix(".txt")
            if p.suffix.lower() in IMAGE_EXTS and label_file.is_file():
                try:
                    names = [n.strip() for n in reader.text(label_file).splitlines()]
                except (LabelPilotError, OSError) as exc:
                    plan.problems.append(_problem(reader.rel(label_file), exc))
                    continue
                labels = tuple(LabelRecord(name=n) for n in dict.fromkeys(names) if n)
            elif "/" in rel:
                labels = (LabelRecord(name=rel.split("/", 1)[0]),)
        plan.items.append(Item(origin=rel, name=rel, path=p, labels=labels))


def plan_directory(
    reader: Reader,
    *,
    import_annotations: bool = True,
    annotation_format: str | None = None,
    text_format: TextFormat | None = None,
) -> Plan:
    """The items below ``reader.root``, labeled by the first layout found (or the one asked)."""
    plan = Plan()
    files = _files(reader.root)
    tables = [p for p in files if p.suffix.lower() in TABLE_EXTS]
    if text_format is not None:
        tables += [p for p in files if p.suffix.lower() == ".txt"]
    fmt = (annotation_format or "").upper() or None
    if not import_annotations:
        _folders(reader, [p for p in files if p not in tables], plan, annotations=False)
        _tables(reader, tables, plan, text_format)
        return plan
    if fmt in (None, "COCO"):
        docs = _coco_documents(reader, files, plan)
        if docs:
            plan.layout = "COCO"
            _coco(reader, files, docs, plan)
            return _with_usage(reader, files, plan)
    names = [p for p in files if p.name == "obj.names"]
    if fmt in (None, "YOLO") and names:
        plan.layout = "YOLO"
        _yolo(reader, files, names[0], plan)
        return _with_usage(reader, files, plan)
    xml = {p.with_suffix("").as_posix() for p in files if p.suffix.lower() == ".xml"}
    paired = any(
        p.with_suffix("").as_posix() in xml for p in files if p.suffix.lower() in IMAGE_EXTS
    )
    if fmt == "VOC" or (fmt is None and paired):  # an image with its VOC file beside it
        plan.layout = "VOC"
        _voc(reader, files, plan)
        return _with_usage(reader, files, plan)
    manifests = [p for p in files if p.suffix.lower() == ".manifest"]
    if fmt in (None, "MANIFEST") and manifests:
        plan.layout = "MANIFEST"
        samples = [p for p in files if sample_type_of(p.name) is not None]
        beside = {p.name: p for p in samples}
        for mf in manifests:
            _manifest_items(reader, mf, plan, beside)
        named = {it.path for it in plan.items if it.path is not None}
        for p in samples:  # the directory's other files come in unlabeled
            if p not in named:
                plan.items.append(Item(origin=reader.rel(p), name=reader.rel(p), path=p))
        return plan
    plan.layout = "CSV" if tables and len(tables) == len(files) else "CLASS_FOLDERS"
    _folders(reader, [p for p in files if p not in tables], plan, annotations=True)
    _tables(reader, tables, plan, text_format)
    return _with_usage(reader, files, plan)


def _with_usage(reader: Reader, files: list[Path], plan: Plan) -> Plan:
    """Give items the split the files beside them record: YOLO's ``train.txt``/``valid.txt``,
    or the ``usage`` of a manifest that names a file of the same name (every LabelPilot export
    writes one). Files in neither keep no usage."""
    usage: dict[str, str] = {}
    for p in files:
        if p.suffix.lower() == ".manifest":
            try:
                lines = reader.text(p).split("\n")
            except (LabelPilotError, OSError):
                continue  # the split is a bonus here; the labels came from the layout
            for line in lines:
                try:
                    obj = loads_untrusted(line) if line.strip() else None
                except ValueError:
                    continue
                if isinstance(obj, dict) and isinstance(obj.get("usage"), str):
                    name = posixpath.basename(str(obj.get("source", "")))
                    usage.setdefault(name, obj["usage"].upper())
        elif plan.layout == "YOLO" and p.name in ("train.txt", "valid.txt"):
            split = "TRAIN" if p.name == "train.txt" else "EVAL"
            try:
                listed = read_yolo_list(reader.text(p))
            except (LabelPilotError, OSError):
                continue
            for entry in listed:
                usage[posixpath.basename(entry)] = split
    if usage:
        plan.items = [
            it if it.usage else replace(it, usage=usage.get(posixpath.basename(it.name)))
            for it in plan.items
        ]
    return plan


def plan_manifest(reader: Reader, manifest: Path) -> Plan:
    """The items a manifest file lists (``import_type`` manifest)."""
    plan = Plan(layout="MANIFEST")
    _manifest_items(reader, manifest, plan)
    return plan
