"""Statistics and ListSamples at scale, through the real HTTP API, next to the bare SQL.

    python bench/data.py [--samples 1000000] [--repeat 5] [--db sqlite|<url>]

Creates a fresh database (a temp dir for SQLite; ``--db`` must name an EMPTY, throwaway
PostgreSQL database), one dataset with 10 labels through the API, then inserts ``--samples``
sample rows and their label rows **directly** (executemany on SQLite, COPY on PostgreSQL; no
files: the queries timed here never read one), then ``ANALYZE``. The rows: 60 % labeled, 10 %
to be confirmed, 30 % unlabeled; a labeled sample has one label, every tenth a second one; 5 % of
the samples are hard examples with reasons ``[1, 19]``.

Then it starts the real API (``create_app`` under uvicorn, one worker, on 127.0.0.1, as
``bench/writers.py`` does) and times, after one warm-up, the median of ``--repeat`` calls of:

* ``GET …/data-annotations/stats``;
* ``GET …/data-annotations/samples?limit=100`` (page 0) and a deep page (``offset`` = the
  middle of the dataset);

each next to the bare SQL that answers it (the same statements, run on a plain DBAPI
connection in this process: no HTTP, no ORM, no rendering). Prints the machine, the setup times
and, per call, API ms, SQL ms and their ratio (target: within 2x).
"""

from __future__ import annotations

import argparse
import io
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from labelpilot.auth.service import create_credential
from labelpilot.db import Database
from labelpilot.samples.stats import REASONS_SQL
from machine_info import print_machine
from writers import start_server  # the real app under uvicorn, in a subprocess

PROJECT = "bench-data"
LABELS = [f"label{k}" for k in range(10)]
HARD_META = '{"@modelarts:hard": 1.0, "@modelarts:hard_coefficient": 0.8, "@modelarts:hard_reasons": [1, 19]}'  # noqa: E501
LIMIT = 100
CHUNK = 100_000

# The statements behind each call, as the ORM sends them (placeholders :d, :limit, :offset).
MENTIONS_HARD = "CAST(metadata AS TEXT) LIKE '%' || '\"@modelarts:hard\"' || '%' ESCAPE '/'"
STATS_SQL = {
    "sqlite": [
        f"SELECT state, count(*), sum(CASE WHEN {MENTIONS_HARD} AND CAST(JSON_EXTRACT(metadata, "
        "'$.\"@modelarts:hard\"') AS VARCHAR) IN ('1', '1.0', 'true') THEN 1 ELSE 0 END) "
        "FROM samples WHERE dataset_id = :d GROUP BY state",
        "SELECT name, count(*), count(DISTINCT sample_id) FROM sample_labels "
        "WHERE dataset_id = :d GROUP BY name",
        REASONS_SQL["sqlite"].format(key="@modelarts:hard_reasons", state=""),
    ],
    "postgresql": [
        f"SELECT state, count(*), sum(CASE WHEN {MENTIONS_HARD} AND CAST((metadata ->> "
        "'@modelarts:hard') AS VARCHAR) IN ('1', '1.0', 'true') THEN 1 ELSE 0 END) "
        "FROM samples WHERE dataset_id = :d GROUP BY state",
        "SELECT name, count(*), count(DISTINCT sample_id) FROM sample_labels "
        "WHERE dataset_id = :d GROUP BY name",
        REASONS_SQL["postgresql"].format(key="@modelarts:hard_reasons", state=""),
    ],
}
SAMPLE_ROW = (
    "id, dataset_id, name, sample_type, source, size, sample_time, state, metadata, sample_usage"
)
LIST_SQL = [
    f"SELECT count(*) FROM (SELECT {SAMPLE_ROW} FROM samples WHERE dataset_id = :d) AS anon_1",
    f"SELECT {SAMPLE_ROW} FROM samples WHERE dataset_id = :d "
    "ORDER BY sample_time DESC, id DESC LIMIT :limit OFFSET :offset",
]
LABELS_OF_PAGE = (
    "SELECT sample_id, id, dataset_id, position, label_id, name, type, score, annotated_by, "
    "property FROM sample_labels WHERE sample_id IN ({ids}) ORDER BY position"
)


def rows(n: int, dataset: str) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """Sample and sample-label rows in chunks of ``CHUNK``."""
    base = 1_700_000_000_000
    label_id = 0
    for start in range(0, n, CHUNK):
        samples, labels = [], []
        for i in range(start, min(n, start + CHUNK)):
            sid = f"{i:032x}"
            r = i % 10
            state = "__ALL__" if r < 6 else "__AUTO_ANNOTATION__" if r == 6 else "__NONE__"
            meta = HARD_META if i % 20 == 0 else "{}"
            samples.append(
                (sid, dataset, f"s{i:07d}.txt", 1, f"file:///bench/s{i:07d}.txt", 10, base + i,
                 state, meta)
            )  # fmt: skip
            if state != "__NONE__":
                score = 0.8 if state == "__AUTO_ANNOTATION__" else None
                for pos in range(2 if i % 10 == 3 else 1):
                    label_id += 1
                    name = LABELS[(i + pos * 3) % len(LABELS)]
                    labels.append((label_id, sid, dataset, pos, name, 100, score, "{}"))
        yield samples, labels


SAMPLE_COLS = "id, dataset_id, name, sample_type, source, size, sample_time, state, metadata"
LABEL_COLS = "id, sample_id, dataset_id, position, name, type, score, property"


def insert_sqlite(path: str, n: int, dataset: str) -> None:
    con = sqlite3.connect(path)
    with con:
        for samples, labels in rows(n, dataset):
            con.executemany(
                f"INSERT INTO samples ({SAMPLE_COLS}) VALUES (?,?,?,?,?,?,?,?,?)", samples
            )
            con.executemany(
                f"INSERT INTO sample_labels ({LABEL_COLS}) VALUES (?,?,?,?,?,?,?,?)", labels
            )
    con.execute("ANALYZE")
    con.close()


def _copy_text(items: list[tuple[Any, ...]]) -> io.StringIO:
    buf = io.StringIO()
    for row in items:
        buf.write("\t".join("\\N" if v is None else str(v) for v in row) + "\n")
    buf.seek(0)
    return buf


def insert_pg(url: str, n: int, dataset: str) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as con:
        with con.cursor() as cur:
            for samples, labels in rows(n, dataset):
                with cur.copy(f"COPY samples ({SAMPLE_COLS}) FROM STDIN") as cp:
                    cp.write(_copy_text(samples).read())
                with cur.copy(f"COPY sample_labels ({LABEL_COLS}) FROM STDIN") as cp:
                    cp.write(_copy_text(labels).read())
            cur.execute(
                "SELECT setval(pg_get_serial_sequence('sample_labels', 'id'), "
                "(SELECT max(id) FROM sample_labels))"
            )
        con.commit()
        con.autocommit = True
        con.execute("VACUUM ANALYZE")


class Bare:
    """The same statements on a plain DBAPI connection (named parameters rewritten)."""

    def __init__(self, db_url: str, sqlite_path: str | None) -> None:
        self.dialect = "sqlite" if sqlite_path else "postgresql"
        if sqlite_path:
            self.con: Any = sqlite3.connect(sqlite_path)
        else:
            import psycopg

            self.con = psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://"))
            self.con.autocommit = True

    def run(self, sql: str, params: dict[str, Any]) -> list[Any]:
        if self.dialect == "postgresql":
            sql = sql.replace("%", "%%")  # psycopg's placeholders start with %
            for key in sorted(params, key=len, reverse=True):  # :dataset_id before :d
                sql = sql.replace(f":{key}", f"%({key})s")
        cur = self.con.execute(sql, params)
        return list(cur.fetchall())

    def stats(self, dataset: str) -> None:
        for sql in STATS_SQL[self.dialect]:
            self.run(sql, {"d": dataset, "dataset_id": dataset})

    def page(self, dataset: str, offset: int) -> None:
        self.run(LIST_SQL[0], {"d": dataset})
        page = self.run(LIST_SQL[1], {"d": dataset, "limit": LIMIT, "offset": offset * LIMIT})
        ids = ", ".join(f"'{r[0]}'" for r in page)
        if ids:
            self.run(LABELS_OF_PAGE.format(ids=ids), {})


def timed(fn: Callable[[], Any], repeat: int) -> float:
    """Median milliseconds of ``repeat`` calls after one warm-up."""
    fn()
    laps = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        laps.append(time.perf_counter() - started)
    return statistics.median(laps) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--db", default="sqlite")
    args = ap.parse_args()

    print_machine("sqlalchemy", "fastapi", "uvicorn", "psycopg")
    with tempfile.TemporaryDirectory(prefix="labelpilot-data-") as tmp:
        data_dir = Path(tmp) / "data"
        sqlite_path = str(data_dir / "labelpilot.db") if args.db == "sqlite" else None
        db_url = f"sqlite:///{sqlite_path}" if sqlite_path else args.db
        print(f"{'database':>12}: {db_url.split('://')[0]}, {args.samples:,} samples")
        database = Database(db_url)
        database.migrate()
        with database.transaction() as s:
            token = create_credential(s, PROJECT).token
        database.dispose()
        proc, base = start_server(db_url, data_dir, Path(tmp))
        headers = {"X-Auth-Token": token}
        try:
            with httpx.Client(trust_env=False, timeout=600, headers=headers) as http:
                r = http.post(
                    f"{base}/v2/{PROJECT}/datasets",
                    json={
                        "dataset_name": "big",
                        "dataset_type": 100,
                        "labels": [{"name": n} for n in LABELS],
                    },
                )
                r.raise_for_status()
                dataset = r.json()["dataset_id"]
                started = time.perf_counter()
                if sqlite_path:
                    insert_sqlite(sqlite_path, args.samples, dataset)
                else:
                    insert_pg(db_url, args.samples, dataset)
                took = time.perf_counter() - started
                print(
                    f"{'inserted':>12}: {args.samples:,} sample rows (direct SQL) in {took:.1f} s"
                )
                report(http, f"{base}/v2/{PROJECT}/datasets/{dataset}", Bare(db_url, sqlite_path),
                       dataset, args)  # fmt: skip
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def report(http: httpx.Client, url: str, bare: Bare, dataset: str, args: Any) -> None:
    deep = args.samples // LIMIT // 2

    def get(path: str, **params: Any) -> Callable[[], Any]:
        def call() -> Any:
            r = http.get(url + path, params=params)
            r.raise_for_status()
            return r.json()

        return call

    stats = get("/data-annotations/stats")()
    assert stats["sample_stats"]["total"] == args.samples, stats["sample_stats"]
    cases = [
        ("stats", get("/data-annotations/stats"), lambda: bare.stats(dataset)),
        ("list page 0", get("/data-annotations/samples", limit=LIMIT, offset=0),
         lambda: bare.page(dataset, 0)),
        (f"list page {deep}", get("/data-annotations/samples", limit=LIMIT, offset=deep),
         lambda: bare.page(dataset, deep)),
    ]  # fmt: skip
    print(f"{'call':>16} {'API ms':>10} {'SQL ms':>10} {'ratio':>7}")
    for name, api_call, sql_call in cases:
        api_ms = timed(api_call, args.repeat)
        sql_ms = timed(sql_call, args.repeat)
        print(f"{name:>16} {api_ms:10.1f} {sql_ms:10.1f} {api_ms / sql_ms:6.2f}x")
    sys.stdout.flush()
    parts = ("states + hard", "per label", "hard reasons")
    for part, sql in zip(parts, STATS_SQL[bare.dialect], strict=True):
        ms = timed(lambda sql=sql: bare.run(sql, {"d": dataset, "dataset_id": dataset}), 3)
        print(f"{'stats SQL:':>16} {part:<14} {ms:8.1f} ms")


if __name__ == "__main__":
    main()
