"""Import benchmark: an import task over a folder of small images next to a bare ``cp -r`` of
the same folder, in the same run.

    python bench/imports.py [--files 20000] [--repeat 2] [--db sqlite|<url>]

It writes ``--files`` distinct 16x16 PNG files (a few hundred bytes each) into 10 class
sub-folders under a temp dir, then, alternating, ``--repeat`` times:

* **bare**: ``cp -r`` of the folder to a fresh directory (the files' bytes read and written,
  nothing else);
* **task**: a fresh dataset, an import task of the folder queued and run to its end by an
  in-process worker: every file listed, checked by the import policy (symlinks resolved, size
  bounded), decoded in full, hashed (SHA-256) and looked up for duplicates, copied into storage,
  and a sample row plus a label row committed in batches.

It prints the machine, the medians in seconds and files/s, and the ratio (target: the task within
3x of the bare copy). ``--db <url>`` must be a throwaway database: the schema is migrated there.
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from PIL import Image

from labelpilot.config import Settings
from labelpilot.datasets.service import create_dataset
from labelpilot.datasets.types import NewDataset
from labelpilot.db import Database
from labelpilot.engine.worker import Worker
from labelpilot.storage import open_storage
from labelpilot.tasks.data import queue_data_task
from labelpilot.tasks.kinds import KindRegistry
from labelpilot.tasks.status import TaskStatus
from labelpilot.tasks.tables import Task
from machine_info import print_machine


def write_folder(root: Path, n: int) -> int:
    """``n`` distinct PNGs in 10 class folders; their total size in bytes."""
    total = 0
    for i in range(n):
        buf = io.BytesIO()
        Image.new("RGB", (16, 16), (i % 256, (i // 256) % 256, (i // 65536) % 256)).save(buf, "PNG")
        p = root / f"class{i % 10}" / f"{i:06d}.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(buf.getvalue())
        total += len(buf.getvalue())
    return total


def bare_copy(src: Path, dest: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["cp", "-r", str(src), str(dest)], check=True)
    return time.perf_counter() - started


def import_task(settings: Settings, db: Database, src: Path, run: int, n: int) -> float:
    storage = open_storage(settings.resolved_storage_root, settings)
    kinds = KindRegistry(settings)
    started = time.perf_counter()
    with db.transaction() as s:
        ds = create_dataset(
            session=s,
            storage=storage,
            project_id="bench",
            new=NewDataset(name=f"import-{run}", dataset_type=0),
        )
        task = queue_data_task(
            s,
            kinds,
            dataset=ds,
            task_type="import",
            config={"paths": [str(src)], "import_type": 0},
        )
        task_id = task.id
    worker = Worker(settings, db=db, storage=storage)
    while worker.run_once():
        pass
    took = time.perf_counter() - started
    with db.read() as s:
        done = s.get(Task, task_id)
        assert done is not None and done.status == TaskStatus.SUCCEEDED, done and done.error_msg
        imported = int((done.result or {}).get("imported_sample_count") or 0)
    assert imported == n, f"imported {imported} of {n}"
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--db", default="sqlite")
    args = ap.parse_args()
    print_machine("sqlalchemy", "pillow")
    with tempfile.TemporaryDirectory(prefix="labelpilot-imports-") as tmp:
        root = Path(tmp)
        src = root / "src"
        size = write_folder(src, args.files)
        print(f"folder: {args.files:,} PNG files, {size / 1e6:.1f} MB, 10 class folders")
        data_dir = root / "data"
        db_url = f"sqlite:///{data_dir / 'labelpilot.db'}" if args.db == "sqlite" else args.db
        data_dir.mkdir()
        settings = Settings(data_dir=data_dir, database_url=db_url, import_roots=[str(src)])
        db = Database(db_url)
        db.migrate()
        print(f"database: {db_url.split('://')[0]}")
        bare, task = [], []
        for run in range(args.repeat):
            dest = root / f"copy{run}"
            bare.append(bare_copy(src, dest))
            shutil.rmtree(dest)
            task.append(import_task(settings, db, src, run, args.files))
            print(f"  run {run + 1}: cp -r {bare[-1]:.2f} s, import task {task[-1]:.2f} s")
        b, t = statistics.median(bare), statistics.median(task)
        print(f"cp -r        : {b:7.2f} s  {args.files / b:9.0f} files/s")
        print(f"import task  : {t:7.2f} s  {args.files / t:9.0f} files/s")
        print(f"ratio        : {t / b:.2f}x (target within 3x)")
        db.dispose()


if __name__ == "__main__":
    main()
