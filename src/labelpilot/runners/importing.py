"""Import samples into a dataset (task type 22, a data task): a server directory or a manifest,
listed and labeled by ``samples.import_sources``, stored in bounded batches with progress.

A file that cannot be read, decoded or stored is listed in the result's ``failures`` with its
reason and the import goes on; a file whose bytes a sample of the dataset already holds is
skipped (SHA-256 ``content_hash``), so re-importing a folder, or re-running an attempt a crash
cut short, adds nothing twice. The task fails (``ModelArts.4340``) only when nothing at all
could be imported. Sync (type 23) is the same run over the dataset's own data sources.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar

from PIL import Image
from pydantic import field_validator
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from typing_extensions import override

from labelpilot.datasets.tables import Dataset, Sample
from labelpilot.datasets.tables import SampleLabel as SampleLabelRow
from labelpilot.datasets.types import DatasetType, LabelType, SampleType
from labelpilot.engine.context import RunContext, TaskFailed
from labelpilot.errors import (
    BadRequest,
    ImportRunning,
    LabelPilotError,
    NotAvailable,
    NoValidFile,
    StorageUnavailable,
    SyncRunning,
    TaskAlreadyRunning,
    TaskCode,
)
from labelpilot.formats._records import HARD, LabelRecord, Problem
from labelpilot.formats.yolo_read import read_yolo_labels
from labelpilot.samples.import_sources import (
    FIELD,
    FORMATS,
    Item,
    Plan,
    Reader,
    TextFormat,
    plan_directory,
    plan_manifest,
)
from labelpilot.samples.policy import ImportPolicy
from labelpilot.samples.service import (
    UNCHECKED,
    check_content,
    content_hash,
    sample_type_of,
    store_sample,
)
from labelpilot.samples.types import NewLabel
from labelpilot.tasks.kinds import TaskConfig, TaskResult, TaskRunner

SOURCES_FIELD = "data_sources.data_path"  # the field a dataset create's import names
BATCH_ITEMS = 200
BATCH_BYTES = 64 << 20  # two batches are in memory at once: the one written, the one read ahead
READERS = 4  # threads reading, decoding and hashing the next batch while one is written
MAX_LISTED_FAILURES = 1000


class ImportConfig(TaskConfig):
    """What an import reads (``paths``: one ``import_path``, or a dataset's data sources)."""

    paths: list[str]
    import_type: int = 0
    import_annotations: bool = True
    import_samples: bool = True
    final_annotation: bool = True
    difficult_only: bool = False
    included_labels: list[str] = []
    excluded_labels: list[str] = []
    annotation_format: str | None = None
    label_format: dict[str, str] | None = None
    decide_type: bool = False  # a dataset created without a type takes the imported one
    field: str = FIELD  # the request field errors name

    @field_validator("annotation_format")
    @classmethod
    def _format(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        fmt = value.upper().replace("PASCAL VOC", "VOC").replace("PASCAL_VOC", "VOC")
        if fmt not in FORMATS:
            raise BadRequest(f"annotation_format '{value}' is not one of {', '.join(FORMATS)}")
        return fmt

    def text_format(self) -> TextFormat | None:
        """``label_format`` of a text import: labels after a separator in ``.txt`` files."""
        if not self.label_format:
            return None
        delimiter = self.label_format.get("text_sample_separator") or "\t"
        labels = self.label_format.get("text_label_separator") or ","
        return TextFormat(delimiter=delimiter, label_separator=labels)


@dataclass
class Outcome:
    """What the import did so far (the task's result shows it while it runs)."""

    total: int = 0
    imported: int = 0
    annotated: int = 0
    duplicates: int = 0
    failed: int = 0
    size: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)
    kinds: set[int] = field(default_factory=set)

    def fail(self, where: str, reason: str) -> None:
        self.failed += 1
        if len(self.failures) < MAX_LISTED_FAILURES:
            self.failures.append({"file": where, "reason": reason})

    def result(self) -> dict[str, Any]:
        return {
            "total_sample_count": self.total,
            "imported_sample_count": self.imported,
            "annotated_sample_count": self.annotated,
            "duplicate_sample_count": self.duplicates,
            "failed_file_count": self.failed,
            "finished_file_size": self.size,
            "failures": self.failures,
        }


@dataclass(frozen=True)
class Ready:
    """An item read, labeled, checked and hashed ahead of its batch's database write."""

    item: Item
    data: bytes
    labels: list[LabelRecord]
    digest: str
    sample_type: int | None
    size: list[int] | None
    problems: list[Problem]  # bad lines of its label file: the sample keeps its other labels


def _chunks(items: list[Item]) -> list[list[Item]]:
    """Batches of at most ``BATCH_ITEMS`` items and about ``BATCH_BYTES`` bytes (file sizes from
    ``stat``; a file that cannot be stat'ed counts as empty and fails when it is read)."""
    chunks: list[list[Item]] = [[]]
    held = 0
    for item in items:
        size = len(item.text or "") if item.path is None else _size(item)
        if chunks[-1] and (len(chunks[-1]) >= BATCH_ITEMS or held + size > BATCH_BYTES):
            chunks.append([])
            held = 0
        chunks[-1].append(item)
        held += size
    return [c for c in chunks if c]


def _size(item: Item) -> int:
    try:
        return item.path.stat().st_size if item.path is not None else 0
    except OSError:
        return 0


def _wanted(item: Item, config: ImportConfig) -> bool:
    names = {lb.name for lb in item.labels}
    hard = str(item.metadata.get(HARD, "")).lower() in ("1", "1.0", "true")
    if config.difficult_only and not hard:
        return False
    if config.included_labels and not names & set(config.included_labels):
        return False
    return not (config.excluded_labels and names & set(config.excluded_labels))


def _new_labels(labels: Iterable[LabelRecord]) -> list[NewLabel]:
    return [
        NewLabel(
            name=lb.name,
            type=lb.type if lb.type or lb.property else None,
            score=lb.score,
            annotated_by=lb.annotated_by,
            property=dict(lb.property),
        )
        for lb in labels
    ]


class ImportRunner(TaskRunner[ImportConfig]):
    task_type: ClassVar[str] = "import"
    type_code: ClassVar[int] = 22
    submit_code: ClassVar[str] = TaskCode.DATA_TASK_SUBMITTED
    submit_message: ClassVar[str] = "Import task submitted."
    success_message: ClassVar[str] = "import task executed successfully."
    running_error: ClassVar[type[TaskAlreadyRunning]] = ImportRunning
    running_message: ClassVar[str] = "An import task is already running on this dataset."
    Config = ImportConfig
    intelligent: ClassVar[bool] = False
    title: ClassVar[str] = "import"
    dataset_status: ClassVar[int | None] = 8  # importing

    def policy(self) -> ImportPolicy:
        return ImportPolicy.from_settings(self.settings)

    @override
    def check(self, session: Session, dataset: Dataset, config: ImportConfig) -> None:
        """Refuse what cannot be read before the task is queued (a cheap ``stat`` per path)."""
        if not config.import_samples:
            raise NotAvailable(
                "import_samples=false (labels onto existing samples) is not available yet"
            )
        if not config.paths:
            raise BadRequest(f"{config.field} is required")
        policy = self.policy()
        for path in config.paths:
            resolved = policy.check(path, config.field)
            if config.import_type == 1:
                if not resolved.is_file():
                    raise BadRequest(f"{config.field} '{path}' is not a manifest file")
            elif not resolved.is_dir():
                raise BadRequest(f"{config.field} '{path}' is not a directory")

    # -- listing ------------------------------------------------------------------------------

    def _plans(self, ctx: RunContext, config: ImportConfig) -> list[Plan]:
        policy = self.policy()
        plans = []

        def key(url: str) -> str | None:
            return self._key(ctx, url)

        for path in config.paths:
            try:
                resolved = policy.check(path, FIELD)
            except LabelPilotError as exc:  # the roots changed since the task was queued
                raise TaskFailed(NoValidFile(exc.error_msg)) from exc
            if config.import_type == 1:
                reader = Reader(resolved.parent, policy, key, ctx.storage.get)
                plans.append(plan_manifest(reader, resolved))
            else:
                reader = Reader(resolved, policy, key, ctx.storage.get)
                plans.append(
                    plan_directory(
                        reader,
                        import_annotations=config.import_annotations,
                        annotation_format=config.annotation_format,
                        text_format=config.text_format(),
                    )
                )
        return plans

    @staticmethod
    def _key(ctx: RunContext, url: str) -> str | None:
        """The storage key of a manifest source in LabelPilot's storage: only another dataset
        of the same project (a manifest must not read other projects' samples)."""
        key = ctx.storage.key_of(url)
        if key is None or not key.startswith("datasets/"):
            return None
        owner = key.split("/", 2)[1]
        with ctx.db.read() as s:
            project = s.scalar(select(Dataset.project_id).where(Dataset.id == owner))
        return key if project == ctx.project_id else None

    @staticmethod
    def _known(ctx: RunContext) -> tuple[set[str], set[str]]:
        """The dataset's content hashes and sample names; samples from before migration 0011
        are hashed now, once."""
        with ctx.db.read() as s:
            missing = list(
                s.execute(
                    select(Sample.id, Sample.source).where(
                        Sample.dataset_id == ctx.dataset_id, Sample.content_hash.is_(None)
                    )
                )
            )
        for start in range(0, len(missing), 500):
            hashes = {}
            for sid, source in missing[start : start + 500]:
                key = ctx.storage.key_of(source)
                if key is not None and ctx.storage.exists(key):
                    hashes[sid] = content_hash(ctx.storage.get(key))

            def save(s: Session, found: dict[str, str] = hashes) -> None:
                for sid, digest in found.items():
                    s.execute(update(Sample).where(Sample.id == sid).values(content_hash=digest))

            ctx.db.run(save)
            ctx.check_stop()
        with ctx.db.read() as s:
            rows = s.execute(
                select(Sample.content_hash, Sample.name).where(Sample.dataset_id == ctx.dataset_id)
            ).all()
        return {h for h, _ in rows if h}, {n for _, n in rows}

    # -- storing ------------------------------------------------------------------------------

    def _bytes(self, ctx: RunContext, item: Item, policy: ImportPolicy) -> bytes:
        if item.text is not None:
            return item.text.encode("utf-8")
        if item.storage_key is not None:
            if not ctx.storage.exists(item.storage_key):
                raise FileNotFoundError("the file the manifest names is missing")
            return ctx.storage.get(item.storage_key)
        assert item.path is not None
        return policy.read(policy.check_member(item.path, item.origin, FIELD), item.origin, FIELD)

    @staticmethod
    def _labels(
        item: Item, data: bytes, names: list[str]
    ) -> tuple[list[LabelRecord], list[Problem]]:
        if item.yolo is None:
            return list(item.labels), []
        if not item.yolo:
            return [], []
        with Image.open(io.BytesIO(data)) as img:
            size = img.size
        labels, problems = read_yolo_labels(item.yolo, names, size, item.origin)
        return labels, problems

    def _prepare(
        self, ctx: RunContext, item: Item, policy: ImportPolicy, yolo_names: list[str]
    ) -> Ready | Problem:
        """Read, label, check and hash one item (in a reader thread: no database here)."""
        try:
            data = self._bytes(ctx, item, policy)
            labels, problems = self._labels(item, data, yolo_names)
            stype = SampleType.TEXT if item.text is not None else sample_type_of(item.name)
            size = None
            if stype is not None:
                size = check_content(item.name, stype, data, ctx.settings.max_image_pixels)
        except StorageUnavailable:
            raise  # not this file's fault: the task fails saying so
        except (LabelPilotError, OSError, ValueError) as exc:
            return Problem(item.origin, getattr(exc, "error_msg", None) or str(exc))
        return Ready(item, data, labels, content_hash(data), stype, size, problems)

    @staticmethod
    def _name(item: Item, digest: str, names: set[str]) -> str:
        """The item's name, or one with the hash's head when another file took it."""
        name = item.name
        if name in names:
            head, dot, ext = name.rpartition(".")
            name = f"{head}-{digest[:8]}.{ext}" if dot else f"{name}-{digest[:8]}"
        return name

    def _store(
        self,
        ctx: RunContext,
        config: ImportConfig,
        batch: list[Ready],
        out: Outcome,
        known: set[str],
        names: set[str],
    ) -> None:
        """Store one batch in one transaction; an item that fails is rolled back alone."""
        max_pixels = ctx.settings.max_image_pixels

        def write(s: Session) -> tuple[Outcome, set[str], set[str]]:
            with s.no_autoflush:  # one flush for the batch: the rows go in as one executemany
                return write_batch(s)

        def write_batch(s: Session) -> tuple[Outcome, set[str], set[str]]:
            ds = s.get(Dataset, ctx.dataset_id)
            assert ds is not None
            done = Outcome()
            seen: set[str] = set()
            taken: set[str] = set()
            for ready in batch:
                item, data, labels, digest = ready.item, ready.data, ready.labels, ready.digest
                if digest in known or digest in seen:
                    done.duplicates += 1
                    continue
                name = self._name(item, digest, names | taken)
                try:  # store_sample checks everything before it adds a row or a file
                    sample = store_sample(
                        s,
                        ctx.storage,
                        ds,
                        name,
                        data,
                        sample_type=ready.sample_type,
                        labels=_new_labels(labels),
                        metadata=item.metadata,
                        final_annotation=config.final_annotation,
                        max_pixels=max_pixels,
                        name_is_free=True,  # _name() chose it against every name stored
                        # checked ahead (_prepare), unless the type is unknown: then it refuses
                        checked_size=ready.size if ready.sample_type is not None else UNCHECKED,
                    )
                except LabelPilotError as exc:
                    done.fail(item.origin, exc.error_msg)
                    continue
                sample.sample_usage = item.usage
                seen.add(digest)
                taken.add(name)
                done.imported += 1
                done.annotated += bool(labels)
                done.size += len(data)
                done.kinds.add(sample.sample_type)
            return done, seen, taken

        # db.run may run ``write`` again after a transient failure: what it saw counts only
        # once the batch committed
        done, seen, taken = ctx.db.run(write)
        known.update(seen)
        names.update(taken)
        out.imported += done.imported
        out.annotated += done.annotated
        out.duplicates += done.duplicates
        out.size += done.size
        out.kinds |= done.kinds
        for f in done.failures:
            out.fail(f["file"], f["reason"])

    # -- run ----------------------------------------------------------------------------------

    @override
    def run(self, ctx: RunContext, config: ImportConfig) -> TaskResult:
        policy = self.policy()
        out = Outcome()
        with ctx.step("scan", f"list {', '.join(config.paths)}"):
            plans = self._plans(ctx, config)
            items = [it for plan in plans for it in plan.items if _wanted(it, config)]
            for plan in plans:
                for problem in plan.problems:
                    out.fail(problem.where, problem.reason)
            known, names = self._known(ctx)
            out.total = len(items)
            ctx.set_result(**out.result(), layout=[p.layout for p in plans])
        yolo_names = next((p.yolo_names for p in plans if p.yolo_names), [])
        with ctx.step("import", f"{len(items)} samples"):
            done = 0
            chunks = _chunks(items)

            def prepare(item: Item) -> Ready | Problem:
                return self._prepare(ctx, item, policy, yolo_names)

            with ThreadPoolExecutor(READERS, thread_name_prefix="import-read") as pool:
                ahead = pool.map(prepare, chunks[0]) if chunks else iter(())
                for k, chunk in enumerate(chunks):
                    prepared = list(ahead)
                    if k + 1 < len(chunks):  # read the next batch while this one is written
                        ahead = pool.map(prepare, chunks[k + 1])
                    batch = []
                    for r in prepared:
                        if isinstance(r, Problem):
                            out.fail(r.where, r.reason)
                            continue
                        for problem in r.problems:
                            out.fail(problem.where, problem.reason)
                        batch.append(r)
                    self._store(ctx, config, batch, out, known, names)
                    done += len(chunk)
                    ctx.set_result(**out.result())
                    ctx.progress(99.0 * done / max(len(items), 1))
        if config.decide_type:
            ctx.db.run(lambda s: decide_type(s, ctx.dataset_id, out.kinds))
        if not out.imported and not out.duplicates:
            why = "no file could be imported" if out.failed else "no importable file was found"
            ctx.set_result(**out.result())
            raise TaskFailed(NoValidFile(f"{why} in {', '.join(config.paths)}"))
        ctx.progress(100.0)
        return TaskResult(**out.result())


class SyncRunner(ImportRunner):
    """Import what is new in the dataset's own data sources (``sync-data``)."""

    task_type: ClassVar[str] = "sync"
    type_code: ClassVar[int] = 23
    submit_message: ClassVar[str] = "Sync task submitted."
    success_message: ClassVar[str] = "sync task executed successfully."
    running_error: ClassVar[type[TaskAlreadyRunning]] = SyncRunning
    running_message: ClassVar[str] = "A sync task is already running on this dataset."
    title: ClassVar[str] = "sync"
    dataset_status: ClassVar[int | None] = 5  # syncing


def decide_type(session: Session, dataset_id: str, kinds: set[int]) -> None:
    """Give a dataset created with an undecided type the type of what was imported."""
    dataset = session.get(Dataset, dataset_id)
    if dataset is None or dataset.dataset_type != DatasetType.UNDECIDED:
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
