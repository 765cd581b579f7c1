"""Export a dataset (task type 21, a data task): the filtered samples, or a version's frozen ones,
written in one format below the task's storage prefix, with progress.

Formats (``annotation_format``): ``MANIFEST`` (default; the ModelArts manifest, sources left in
storage), ``COCO``, ``VOC`` and ``YOLO`` (object detection, with copies of the images),
``CLASS_FOLDERS`` (image classification, one folder per label; also ``export_format`` 1) and
``CSV``/``JSONL`` (text classification). Every format also writes ``<task_id>.manifest``. A rerun
after a crash deletes what an earlier attempt wrote and starts over.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typing_extensions import override

from labelpilot.datasets import versions
from labelpilot.datasets.records import iter_records, no_cyclic_gc, read_records
from labelpilot.datasets.tables import STATE_ALL, STATE_NONE, Dataset, Label, Sample, SampleLabel
from labelpilot.engine.context import RunContext, TaskFailed
from labelpilot.errors import (
    DataTaskFailed,
    ExportRunning,
    InvalidExportParameter,
    TaskCode,
)
from labelpilot.formats._records import SampleRecord, file_name, stem
from labelpilot.formats.coco_write import CocoDocument
from labelpilot.formats.csv_write import csv_header, csv_row, jsonl_line
from labelpilot.formats.manifest_write import manifest_bytes, needs_annotation_file
from labelpilot.formats.voc_write import voc_xml
from labelpilot.formats.yolo_write import DATA_DIR, yolo_data, yolo_labels, yolo_names
from labelpilot.runners.publish import image_size
from labelpilot.samples.query import sample_conditions
from labelpilot.samples.types import Condition, LabelMatch, SampleFilter
from labelpilot.tasks.kinds import TaskConfig, TaskResult, TaskRunner

# format -> the dataset types it is for (None: any)
FORMATS: dict[str, tuple[int, ...] | None] = {
    "MANIFEST": None,
    "COCO": (1,),
    "VOC": (1,),
    "YOLO": (1,),
    "CLASS_FOLDERS": (0,),
    "CSV": (100,),
    "JSONL": (100,),
}
EXPORT_TYPES = {0: "labeled", 1: "unlabeled", 2: "all", 3: "conditional search"}
BATCH = 2000


def condition_from_json(data: dict[str, Any]) -> Condition:
    """A stored search condition (the route stores ``Condition`` fields as JSON)."""
    labels = data.get("labels")
    return Condition(
        **{
            **data,
            "labels": None if labels is None else [LabelMatch(**lb) for lb in labels],
            "unsupported": tuple(data.get("unsupported") or ()),
        }
    )


class ExportConfig(TaskConfig):
    prefix: str  # storage key prefix of the output, ending in /
    export_type: int = 2
    annotation_format: str = "MANIFEST"
    sample_state: str | None = None
    search_conditions: list[dict[str, Any]] = []
    samples: list[str] = []
    version_id: str | None = None
    clear_hard_property: bool = True
    ratio_sample_usage: bool = False
    train_sample_ratio: float = 1.0
    source_type_header: str | None = None


@dataclass
class Output:
    """What the export writes as it goes (whole-file formats are written at the end)."""

    ctx: RunContext
    config: ExportConfig
    classes: list[str]
    manifest: list[bytes] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    train: list[str] = field(default_factory=list)
    valid: list[str] = field(default_factory=list)
    used: set[str] = field(default_factory=set)
    files: int = 0
    coco: CocoDocument | None = None

    def put(self, name: str, data: bytes) -> str:
        self.files += 1
        return self.ctx.storage.put(self.config.prefix + name, data)

    def unique(self, path: str, record: SampleRecord) -> str:
        """``path``, or ``<sample id>-path`` if another sample took it (``a.jpg``/``a.png``)."""
        if path in self.used:
            head, _, tail = path.rpartition("/")
            path = f"{head}/{record.id}-{tail}" if head else f"{record.id}-{tail}"
        self.used.add(path)
        return path

    def copy(self, record: SampleRecord, name: str) -> None:
        key = self.ctx.storage.key_of(record.source)
        if key is None or not self.ctx.storage.exists(key):
            raise TaskFailed(DataTaskFailed(f"sample {record.id}: its file is missing"))
        self.put(name, self.ctx.storage.get(key))

    def source(self, record: SampleRecord) -> str:
        header = self.config.source_type_header
        if header and record.source.startswith("s3://"):
            return header + record.source[len("s3://") :]
        return record.source


class ExportRunner(TaskRunner[ExportConfig]):
    task_type: ClassVar[str] = "export"
    type_code: ClassVar[int] = 21
    submit_code: ClassVar[str] = TaskCode.DATA_TASK_SUBMITTED
    submit_message: ClassVar[str] = "Export task submitted."
    success_message: ClassVar[str] = "export task executed successfully."
    running_error = ExportRunning
    running_message: ClassVar[str] = "An export task is already running on this dataset."
    Config = ExportConfig
    intelligent: ClassVar[bool] = False
    title: ClassVar[str] = "export"

    @override
    def check(self, session: Session, dataset: Dataset, config: ExportConfig) -> None:
        fmt = config.annotation_format
        if fmt not in FORMATS:
            raise InvalidExportParameter(
                f"annotation_format '{fmt}' is not one of {', '.join(FORMATS)}"
            )
        types = FORMATS[fmt]
        if types is not None and dataset.dataset_type not in types:
            raise InvalidExportParameter(
                f"annotation_format '{fmt}' is for dataset type {types[0]}, "
                f"not {dataset.dataset_type}"
            )
        if config.export_type not in EXPORT_TYPES:
            raise InvalidExportParameter(
                f"export_type {config.export_type} is not one of 0, 1, 2, 3"
            )
        if config.version_id is not None:
            versions.get_version(session, dataset.id, config.version_id)
            if config.export_type == 3 and (config.sample_state or config.search_conditions):
                raise InvalidExportParameter(
                    "export_params: a version is exported whole; sample_state and "
                    "search_conditions apply to the live samples only"
                )
        else:
            self._conditions(config)  # a bad state or condition answers 400 now

    # -- selection ---------------------------------------------------------------------------

    @staticmethod
    def _conditions(config: ExportConfig) -> list[Any] | None:
        if config.export_type == 0:
            return [Sample.state == STATE_ALL]
        if config.export_type == 1:
            return [Sample.state == STATE_NONE]
        if config.export_type == 2:
            return []
        where = SampleFilter(
            sample_state=config.sample_state or None,
            conditions=[condition_from_json(c) for c in config.search_conditions],
        )
        terms = sample_conditions(where, any_condition=True)
        if terms is not None and config.samples:
            terms.append(Sample.id.in_(config.samples))
        return terms

    def _batches(self, ctx: RunContext, config: ExportConfig) -> tuple[int, Iterator[list[Any]]]:
        if config.version_id is not None:
            with ctx.db.read() as s:
                version = versions.get_version(s, ctx.dataset_id, config.version_id)
                records = read_records(ctx.storage, version)
            if config.export_type in (0, 1):
                records = [r for r in records if bool(r.labels) == (config.export_type == 0)]
            chunks = [records[i : i + BATCH] for i in range(0, len(records), BATCH)]
            return len(records), iter(chunks)
        terms = self._conditions(config)
        if terms is None:
            return 0, iter([])
        with ctx.db.read() as s:
            total = s.scalar(
                select(func.count()).where(Sample.dataset_id == ctx.dataset_id, *terms)
            )
        return int(total or 0), iter_records(ctx.db, ctx.dataset_id, terms)

    @staticmethod
    def _classes(ctx: RunContext) -> list[str]:
        """The dataset's label names, then any a sample carries that the dataset lacks."""
        with ctx.db.read() as s:
            names = list(
                s.scalars(
                    select(Label.name).where(Label.dataset_id == ctx.dataset_id).order_by(Label.id)
                )
            )
            extra = s.scalars(
                select(SampleLabel.name)
                .where(SampleLabel.dataset_id == ctx.dataset_id)
                .distinct()
                .order_by(SampleLabel.name)
            )
            return names + [n for n in extra if n not in names]

    # -- run ---------------------------------------------------------------------------------

    @override
    def run(self, ctx: RunContext, config: ExportConfig) -> TaskResult:
        ctx.storage.delete_prefix(config.prefix)
        total, batches = self._batches(ctx, config)
        # class indexes: YOLO and COCO only (a scan of the dataset's label rows)
        classes = self._classes(ctx) if config.annotation_format in ("COCO", "YOLO") else []
        out = Output(ctx, config, classes)
        if config.annotation_format == "COCO":
            out.coco = CocoDocument(out.classes)
        ctx.set_result(total_sample_count=total, finished_sample_count=0)
        done = 0
        with ctx.step("write", f"{total} samples as {config.annotation_format}"):
            for batch in batches:
                if config.ratio_sample_usage:
                    batch = versions.assign_usage(
                        batch, config.train_sample_ratio, remove_sample_usage=True
                    )
                with no_cyclic_gc():  # the lines are many small objects, as the records
                    for record in batch:
                        self._write(out, record)
                done += len(batch)
                ctx.set_result(finished_sample_count=done)
                ctx.progress(95.0 * done / total if total else 95.0)
            self._finish(out)
        ctx.progress(100.0)
        return TaskResult(
            total_sample_count=total,
            finished_sample_count=done,
            file_count=out.files,
            export_path=ctx.storage.url(config.prefix),
            manifest_path=ctx.storage.url(f"{config.prefix}{ctx.task_id}.manifest"),
        )

    def _write(self, out: Output, record: SampleRecord) -> None:
        fmt, ctx = out.config.annotation_format, out.ctx
        loc = None
        if fmt in ("COCO", "VOC", "YOLO"):
            size = image_size(ctx, record)
            folder = {"COCO": "images", "VOC": "data", "YOLO": DATA_DIR}[fmt]
            path = out.unique(f"{folder}/{record.name}", record)
            out.copy(record, path)
            if fmt == "VOC" and record.labels:
                loc = out.put(path.rsplit(".", 1)[0] + ".xml", voc_xml(record, size=size))
            elif fmt == "COCO" and out.coco is not None:
                out.coco.add(record, path.split("/", 1)[1], size)
            elif fmt == "YOLO":
                index = {name: i for i, name in enumerate(out.classes)}
                txt = path.rsplit(".", 1)[0] + ".txt"
                out.put(txt, yolo_labels(record, size, index).encode())
                (out.valid if record.usage == "EVAL" else out.train).append(f"data/{path}")
        elif fmt == "CLASS_FOLDERS":
            for folder in sorted({lb.name for lb in record.labels}) or [""]:
                name = f"{folder}/{file_name(record.name)}" if folder else file_name(record.name)
                out.copy(record, out.unique(name, record))
        elif fmt in ("CSV", "JSONL"):
            key = ctx.storage.key_of(record.source)
            text = ctx.storage.get(key).decode("utf-8", errors="replace") if key else ""
            out.text.append(
                csv_row(record, text) if fmt == "CSV" else jsonl_line(record, text) + "\n"
            )
        if loc is None and needs_annotation_file(record):
            xml = voc_xml(record, folder="annotations", size=image_size(ctx, record))
            loc = out.put(f"annotations/{stem(record.id)}.xml", xml)
        out.manifest.append(
            manifest_bytes(
                record,
                clear_hard=out.config.clear_hard_property,
                annotation_loc=loc,
                source=out.source(record),
            )
        )

    def _finish(self, out: Output) -> None:
        task_id, fmt = out.ctx.task_id, out.config.annotation_format
        out.put(f"{task_id}.manifest", b"".join(out.manifest))
        if fmt == "COCO" and out.coco is not None:
            out.put("annotations.json", json.dumps(out.coco.document()).encode())
        elif fmt == "YOLO":
            out.put("obj.names", yolo_names(out.classes).encode())
            out.put("obj.data", yolo_data(out.classes, has_valid=bool(out.valid)).encode())
            out.put("train.txt", "".join(f"{p}\n" for p in out.train).encode())
            if out.valid:
                out.put("valid.txt", "".join(f"{p}\n" for p in out.valid).encode())
        elif fmt == "CSV":
            out.put(f"{task_id}.csv", (csv_header() + "".join(out.text)).encode())
        elif fmt == "JSONL":
            out.put(f"{task_id}.jsonl", "".join(out.text).encode())
