"""Export benchmark: a ModelArts manifest export through the task engine next to writing the same
rows with plain ``json.dumps``, in the same run.

    python bench/export.py [--samples 100000] [--repeat 3] [--db sqlite|<url>]

It builds a fresh database with one image-classification dataset of ``--samples`` labeled
samples (rows inserted directly: one sample and one label row each, no files, since a manifest
export references the files and never reads them), then, alternating, ``--repeat`` times:

* **task**: queue an export task (``annotation_format`` MANIFEST) and run it with an in-process
  worker until it succeeds (claim, steps, progress and result updates, the keyset-paged reads,
  the manifest writer, storage);
* **bare**: one SQL join of the same samples and labels reading the columns a manifest line is
  made of (usage, metadata, each label's type, score, author, properties), each row
  ``json.dumps``-ed into the same manifest line and written to a file. (Until 2026-12-02 the
  bare read four columns only: name, source, type and label name, and printed 2.2-2.3x.)

It prints the machine, the medians and the ratio (target: the task within 2x of the bare
write). ``--db <url>`` must be a throwaway database: the schema is migrated there.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Text, cast, insert, select

from labelpilot.config import Settings
from labelpilot.datasets.tables import STATE_ALL, Dataset, Sample, SampleLabel
from labelpilot.db import Database
from labelpilot.engine.worker import Worker
from labelpilot.ids import now_ms, sample_id, short_id
from labelpilot.storage import open_storage
from labelpilot.tasks.data import queue_data_task
from labelpilot.tasks.kinds import KindRegistry
from labelpilot.tasks.status import TaskStatus
from labelpilot.tasks.tables import Task
from machine_info import machine

TYPES = {0: "modelarts/image_classification", 1: "modelarts/object_detection"}


def build(db: Database, n: int) -> str:
    dataset_id = short_id()
    now = now_ms()
    with db.transaction() as s:
        s.add(
            Dataset(
                id=dataset_id,
                project_id="bench",
                name="export-bench",
                dataset_type=0,
                create_time=now,
                update_time=now,
            )
        )
    for start in range(0, n, 10000):
        samples, labels = [], []
        for i in range(start, min(n, start + 10000)):
            sid = sample_id()
            samples.append(
                {
                    "id": sid,
                    "dataset_id": dataset_id,
                    "name": f"img{i:07d}.jpg",
                    "sample_type": 0,
                    "source": f"s3://bench-bucket/data/img{i:07d}.jpg",
                    "size": 12345,
                    "sample_time": now + i,
                    "state": STATE_ALL,
                    "meta": {"@modelarts:size": [224, 224, 3]},
                }
            )
            labels.append(
                {
                    "sample_id": sid,
                    "dataset_id": dataset_id,
                    "position": 0,
                    "name": ("cat", "dog", "bird")[i % 3],
                    "type": 0,
                    "annotated_by": "human",
                    "property": {},
                }
            )
        with db.transaction() as s:
            s.execute(insert(Sample), samples)
            s.execute(insert(SampleLabel), labels)
    return dataset_id


def run_task(settings: Settings, db: Database, dataset_id: str, n: int) -> float:
    kinds = KindRegistry(settings)
    start = time.perf_counter()
    with db.transaction() as s:
        ds = s.get(Dataset, dataset_id)
        assert ds is not None
        task_id = short_id()
        queue_data_task(
            s,
            kinds,
            dataset=ds,
            task_type="export",
            config={"prefix": f"exports/bench/{task_id}/", "export_type": 2},
            task_id=task_id,
        )
    Worker(settings, db).run_once()
    elapsed = time.perf_counter() - start
    with db.read() as s:
        task = s.get(Task, task_id)
        assert task is not None and task.status == TaskStatus.SUCCEEDED, task and task.error_msg
        assert task.result["finished_sample_count"] == n
    return elapsed


def run_bare(db: Database, dataset_id: str, out: Path, n: int) -> float:
    """The same manifest written the plain way: one SQL join reading the columns a manifest line
    is made of (the sample's usage and metadata, each label's type, score, author and
    properties), ``json.loads`` of the JSON columns, ``json.dumps`` of each line."""
    start = time.perf_counter()
    q = (
        select(
            Sample.id,
            Sample.source,
            Sample.sample_type,
            Sample.sample_usage,
            cast(Sample.meta, Text),
            SampleLabel.name,
            SampleLabel.type,
            SampleLabel.score,
            SampleLabel.annotated_by,
            cast(SampleLabel.property, Text),
        )
        .join(SampleLabel, SampleLabel.sample_id == Sample.id)
        .where(Sample.dataset_id == dataset_id)
        .order_by(Sample.sample_time, Sample.id)
    )
    lines = []
    with db.read() as s:
        for sid, source, stype, usage, meta, name, ltype, score, by, prop in s.execute(q):
            label: dict[str, Any] = {"type": TYPES.get(ltype, TYPES[0]), "name": name}
            props = json.loads(prop) if prop and prop != "{}" else {}
            if props:
                label["property"] = props
            label["annotated-by"] = by or "human"
            if score is not None:
                label["confidence"] = score
            obj: dict[str, Any] = {"source": source}
            if usage:
                obj["usage"] = usage.upper()
            obj["id"] = sid
            obj["sample-type"] = stype
            if meta and meta != "{}":
                json.loads(meta)  # the hard-example attributes live there
            obj["annotation"] = [label]
            lines.append(json.dumps(obj) + "\n")
    out.write_text("".join(lines))
    elapsed = time.perf_counter() - start
    assert len(lines) == n
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--db", default="sqlite")
    args = parser.parse_args()
    for k, v in machine("sqlalchemy", "psycopg").items():
        print(f"{k:>14}: {v}")
    with tempfile.TemporaryDirectory(prefix="lp-export-bench-") as tmp:
        url = f"sqlite:///{tmp}/bench.db" if args.db == "sqlite" else args.db
        settings = Settings(data_dir=Path(tmp) / "data", database_url=url, runner_plugins={})
        db = Database(settings.resolved_database_url)
        db.migrate()
        open_storage(settings.resolved_storage_root, settings)
        t0 = time.perf_counter()
        dataset_id = build(db, args.samples)
        print(
            f"{'database':>14}: {db.engine.dialect.name}, {args.samples} samples inserted in "
            f"{time.perf_counter() - t0:.1f} s"
        )
        task_times, bare_times = [], []
        for i in range(args.repeat):
            bare_times.append(
                run_bare(db, dataset_id, Path(tmp) / f"bare-{i}.manifest", args.samples)
            )
            task_times.append(run_task(settings, db, dataset_id, args.samples))
        task, bare = statistics.median(task_times), statistics.median(bare_times)
        print()
        print(f"{'':>22} {'median s':>9} {'rows/s':>10}   runs")
        for name, value, runs in (
            ("export task", task, task_times),
            ("bare json.dumps", bare, bare_times),
        ):
            runs_s = " ".join(f"{x:.2f}" for x in runs)
            print(f"{name:>22} {value:9.2f} {args.samples / value:10,.0f}   {runs_s}")
        ratio = task / bare
        print(f"\ntask / bare = {ratio:.2f}x (target <= 2x): {'ok' if ratio <= 2 else 'OVER'}")
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
