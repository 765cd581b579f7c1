"""ListTasks benchmark: the real LabelPilot API against a bare ASGI floor running the same SQL.

    python bench/list_tasks.py [--tasks 100000] [--requests 2000] [--concurrency 8]
                               [--db sqlite|<url>] [--profile]

It builds a fresh database (one dataset, ``--tasks`` tasks of types 0/1/7/8 with realistic
config/result JSON and events, one token), starts two servers in subprocesses on 127.0.0.1
(the real app from ``create_app`` under uvicorn, and a minimal ASGI app that runs only the
page's count + SELECT with SQLAlchemy Core and answers with orjson), loads both from this
process with httpx, times the SQL alone in-process, and prints one table. Target: the API's
latency within 2x of the bare endpoint's. The exit code is always 0.

``--db <url>`` must point to a throwaway database: the schema is migrated there, and the
benchmark's dataset, tasks, events and credential are deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import random
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import Connection, Engine, delete, event, func, insert, select

from labelpilot.auth.service import create_credential
from labelpilot.auth.tables import Credential
from labelpilot.datasets.tables import Dataset
from labelpilot.db import Database, make_engine
from labelpilot.tasks.tables import Task, TaskEvent
from machine_info import machine

HOST = "127.0.0.1"
LIST_TYPES = (0, 1)  # what ListTasks lists when `type` is omitted
TYPE_MIX = ((0, 0.50), (1, 0.43), (7, 0.05), (8, 0.02))  # ~93% of tasks are listed by default
TASK_TYPES = {0: "auto-label", 1: "pre-label", 7: "auto-grouping", 8: "auto-deploy"}
ACTIVE_STATUS = {0: 1, 1: 0, 7: -1, 8: 1}  # the newest task of each type is still active
FINISHED_MIX = ((3, 0.75), (2, 0.15), (5, 0.10))  # succeeded / failed / stopped
EVENTS_EVERY = 3  # every third task has events (3 status events + 2 runner steps)
INSERT_CHUNK = 5_000
ROUNDS = 4  # HTTP measurements alternate between the servers in this many rounds
SQL_BUDGET_S = 6.0  # in-process SQL timing per page (at least 5 runs per query)


# --- machine --------------------------------------------------------------------------------


def machine_info(db_url: str) -> list[tuple[str, str]]:
    info = machine("sqlalchemy", "fastapi", "uvicorn", "pydantic")
    return [*info.items(), ("database", database_kind(db_url))]


def load_average() -> str:
    """1/5/15-minute load: other processes on the machine skew every number below."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def database_kind(url: str) -> str:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                version = conn.exec_driver_sql("select sqlite_version()").scalar()
                return f"sqlite {version} (file, WAL) via {engine.dialect.driver}"
            version = conn.exec_driver_sql("select version()").scalar()
            return f"{engine.dialect.name} via {engine.dialect.driver}: {version}"
    finally:
        engine.dispose()


# --- data -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fixture:
    db_url: str
    project_id: str
    dataset_id: str
    token: str
    listed: int  # tasks of the default list types (the page's total_count)


def _pick(rng: random.Random, mix: Sequence[tuple[int, float]]) -> int:
    values, weights = zip(*mix, strict=True)
    return rng.choices(values, weights)[0]


def _hex(rng: random.Random, n: int) -> str:
    return rng.randbytes(n).hex()


def _config(rng: random.Random, task_type: int, name: str) -> dict[str, Any]:
    """About eight keys, as in the ListTasks response example."""
    config: dict[str, Any] = {
        "name": name,
        "ambiguity": False,
        "worker_server_num": 0,
        "collect_sample": rng.random() < 0.2,
        "confidence_scope": rng.choice(["0.0-0.5", "0.5-0.8", "0.0-1.0"]),
        "algorithm_type": rng.choice(["supervisory", "active_learning"]),
        "image_brightness": False,
        "image_colorfulness": False,
    }
    if task_type in (1, 8):
        config["inf_config_list"] = [
            {"specification": "modelarts.vm.cpu.2u", "weight": 100, "instance_count": 1}
        ]
    if task_type == 7:
        config["n_clusters"] = rng.randint(2, 12)
    return config


def _result(rng: random.Random, task_type: int, dataset_id: str) -> dict[str, Any]:
    """A few keys, shaped like the example's results for each kind."""
    if task_type == 0:
        return {
            "train_job_name": _hex(rng, 8),
            "train_job_id": str(rng.randint(10_000, 99_999)),
            "version_id": str(rng.randint(10_000, 99_999)),
            "continuity": False,
        }
    if task_type in (1, 8):
        return {
            "service_id": f"{_hex(rng, 4)}-{_hex(rng, 2)}-{_hex(rng, 6)}",
            "service_name": f"prelabel_infer_{rng.randint(10**12, 10**13)}",
            "hard_select_tasks": [
                {
                    "id": _hex(rng, 8),
                    "hard_select_task_id": _hex(rng, 8),
                    "dataset_id": dataset_id,
                    "dataset_name": "bench_dataset",
                    "task_status": "import_dataset_completed",
                    "time": rng.randint(10, 600),
                    "create_at": 0,
                    "update_at": 0,
                }
            ],
            "continuity": False,
        }
    return {"groups": rng.randint(2, 12), "continuity": False}


def _task_rows(
    rng: random.Random, n: int, project_id: str, dataset_id: str
) -> Iterator[dict[str, Any]]:
    """Tasks oldest first; the newest of each type gets that type's active status."""
    types = [_pick(rng, TYPE_MIX) for _ in range(n)]
    newest = {t: i for i, t in enumerate(types)}
    start = datetime(2024, 1, 1)
    prefix = secrets.token_hex(3)
    for i, task_type in enumerate(types):
        status = ACTIVE_STATUS[task_type] if newest[task_type] == i else _pick(rng, FINISHED_MIX)
        created = start + timedelta(seconds=i * 300 + rng.randint(0, 299))
        finished = status in (2, 3, 5)
        name = f"{TASK_TYPES[task_type]}-{created:%Y%m%d%H%M%S}-{i:06d}"
        total = rng.randint(50, 5000)
        annotated = rng.randint(0, total)
        yield {
            "id": f"{prefix}{i:013d}",  # 19 characters, unique
            "project_id": project_id,
            "dataset_id": dataset_id,
            "task_type": TASK_TYPES[task_type],
            "type": task_type,
            "name": name,
            "status": status,
            "code": "ModelArts.4996" if status == 3 else "ModelArts.4914",
            "message": "task executed successfully." if status == 3 else "task submitted.",
            "progress": 100.0 if status == 3 else round(rng.uniform(0, 99), 2),
            "create_time": created,
            "started_at": created + timedelta(seconds=5),
            "finished_at": created + timedelta(seconds=rng.randint(30, 900)) if finished else None,
            "error_code": "ModelArts.4999" if status == 2 else None,
            "error_msg": "training job failed" if status == 2 else None,
            "error_detail": None,
            "model_id": _hex(rng, 8) if task_type in (1, 8) else None,
            "model_name": "Supervisory",
            "model_version": "0.0.1",
            "collect_key_sample": False,
            "config": _config(rng, task_type, name),
            "result": _result(rng, task_type, dataset_id) if status == 3 else {},
            "export_type": 0,
            "resource_id": None,
            "total_sample_count": total,
            "annotated_sample_count": annotated,
            "unconfirmed_sample_count": total - annotated,
            "attempts": 1,
            "worker_id": None,
            "lease_expires_at": None,
            "updated_at": created,
        }


def _event_rows(task: dict[str, Any], first_id: int) -> list[dict[str, Any]]:
    """queuing -> running (with two runner steps) -> the final status."""
    t0 = int(task["create_time"].timestamp() * 1000)
    end = "success" if task["status"] == 3 else "failed"
    last = {2: "failed", 3: "succeeded", 5: "stopped"}.get(task["status"], "running")
    ev = {"task_id": task["id"], "error_code": None, "error_message": None}
    running = first_id + 1
    return [
        dict(ev, id=first_id, parent_id=None, ordinal=1, level=0, name="queuing",
             description="task submitted.", status="success", create_time=t0, end_time=t0 + 5_000),
        dict(ev, id=running, parent_id=None, ordinal=2, level=0, name="running",
             description="", status=end, create_time=t0 + 5_000, end_time=t0 + 60_000),
        dict(ev, id=first_id + 2, parent_id=running, ordinal=3, level=1, name="train",
             description="training the model", status=end, create_time=t0 + 6_000,
             end_time=t0 + 40_000),
        dict(ev, id=first_id + 3, parent_id=running, ordinal=4, level=1, name="infer",
             description="labeling the unlabeled samples", status=end,
             create_time=t0 + 40_000, end_time=t0 + 60_000),
        dict(ev, id=first_id + 4, parent_id=None, ordinal=5, level=0, name=last,
             description=task["message"], status=end, create_time=t0 + 60_000,
             end_time=t0 + 60_000),
    ]  # fmt: skip


def build_fixture(db_url: str, n_tasks: int, seed: int) -> Fixture:
    """Migrate the real schema and bulk-insert the dataset, tasks, events and a credential."""
    rng = random.Random(seed)
    db = Database(db_url)
    try:
        db.migrate()
        project_id = f"bench-{secrets.token_hex(4)}"
        dataset_id = f"ds{secrets.token_hex(8)}"[:19]
        now_ms = int(time.time() * 1000)
        tasks_t, events_t = Task.__table__, TaskEvent.__table__
        listed = n_events = 0
        with db.engine.begin() as conn:
            conn.execute(
                insert(Dataset.__table__),
                [
                    {
                        "id": dataset_id, "project_id": project_id, "name": "bench_dataset",
                        "description": "ListTasks benchmark", "dataset_type": 0, "status": 1,
                        "work_path": "file:///tmp/bench/work/", "work_path_type": 0,
                        "data_sources": [], "workspace_id": "0", "create_time": now_ms,
                        "update_time": now_ms,
                    }
                ],
            )  # fmt: skip
            next_event = conn.scalar(select(func.coalesce(func.max(events_t.c.id), 0))) + 1
            chunk: list[dict[str, Any]] = []
            events: list[dict[str, Any]] = []
            for i, row in enumerate(_task_rows(rng, n_tasks, project_id, dataset_id)):
                chunk.append(row)
                listed += row["type"] in LIST_TYPES
                if i % EVENTS_EVERY == 0:
                    events += _event_rows(row, next_event)
                    next_event += 5
                if len(chunk) == INSERT_CHUNK:
                    conn.execute(insert(tasks_t), chunk)
                    chunk = []
            if chunk:
                conn.execute(insert(tasks_t), chunk)
            for lo in range(0, len(events), INSERT_CHUNK * 4):
                conn.execute(insert(events_t), events[lo : lo + INSERT_CHUNK * 4])
            n_events = len(events)
        with db.transaction() as session:
            token = create_credential(session, project_id).token
        with db.engine.begin() as conn:  # planner statistics, as a long-lived database has
            for table in ("datasets", "tasks", "task_events", "credentials"):
                conn.exec_driver_sql(f"ANALYZE {table}")
        print(f"  {n_tasks:,} tasks ({listed:,} of types 0/1), {n_events:,} events")
        return Fixture(db_url, project_id, dataset_id, token, listed)
    finally:
        db.dispose()


def drop_fixture(fx: Fixture) -> None:
    """For a --db URL: delete what the benchmark inserted."""
    engine = make_engine(fx.db_url)
    try:
        with engine.begin() as conn:
            ids = select(Task.__table__.c.id).where(Task.__table__.c.dataset_id == fx.dataset_id)
            conn.execute(delete(TaskEvent.__table__).where(TaskEvent.__table__.c.task_id.in_(ids)))
            conn.execute(delete(Task.__table__).where(Task.__table__.c.dataset_id == fx.dataset_id))
            conn.execute(delete(Dataset.__table__).where(Dataset.__table__.c.id == fx.dataset_id))
            conn.execute(
                delete(Credential.__table__).where(
                    Credential.__table__.c.project_id == fx.project_id
                )
            )
    finally:
        engine.dispose()


# --- the page's SQL (bare endpoint and in-process timing) -----------------------------------


def page_sql(
    conn: Connection, dataset_id: str, page: int, limit: int, types: Sequence[int] = LIST_TYPES
) -> tuple[int, list[dict[str, Any]]]:
    """What ListTasks' service runs for a page: the count and the ordered, offset SELECT."""
    t = Task.__table__
    q = select(t).where(t.c.dataset_id == dataset_id, t.c.type.in_(types))
    total = conn.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = conn.execute(
        q.order_by(t.c.create_time.desc(), t.c.id.desc()).offset(page * limit).limit(limit)
    )
    return total, [dict(r._mapping) for r in rows]


class BareApp:
    """The floor: a minimal ASGI app (no framework, validation or auth) answering
    GET /v2/{project}/datasets/{dataset}/tasks with ``page_sql`` as orjson, and /ping with {}.

    The DB work runs in a thread pool, as FastAPI runs the real (sync) endpoint.
    """

    def __init__(self, db_url: str) -> None:
        self.engine: Engine = make_engine(db_url)
        self.pool = ThreadPoolExecutor(max_workers=40)  # anyio's default thread limit

    def handle(self, path: str, query: bytes) -> tuple[int, bytes]:
        parts = path.strip("/").split("/")
        if len(parts) != 5 or parts[0] != "v2" or parts[2] != "datasets" or parts[4] != "tasks":
            return 404, b'{"error_code":"ModelArts.4204"}'
        qs = urllib.parse.parse_qs(query.decode())
        limit = int(qs.get("limit", ["10"])[0])
        page = int(qs.get("offset", ["0"])[0])
        types = (int(qs["type"][0]),) if "type" in qs else LIST_TYPES
        with self.engine.connect() as conn:
            total, rows = page_sql(conn, parts[3], page, limit, types)
        return 200, orjson.dumps({"tasks": rows, "total_count": total})

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    self.engine.dispose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["path"] == "/ping":  # the HTTP floor: no DB, no thread
            status, body = 200, b"{}"
        else:
            status, body = await asyncio.get_running_loop().run_in_executor(
                self.pool, self.handle, scope["path"], scope["query_string"]
            )
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


# --- servers --------------------------------------------------------------------------------


def serve(kind: str, port: int, db_url: str, data_dir: str) -> None:
    """Subprocess entry point: one uvicorn worker on 127.0.0.1:port, warnings only."""
    import uvicorn

    app: Any
    if kind == "api":
        from labelpilot.app import create_app
        from labelpilot.config import Settings

        app = create_app(Settings(data_dir=Path(data_dir), database_url=db_url))
    else:
        app = BareApp(db_url)
    uvicorn.run(app, host=HOST, port=port, workers=1, log_level="warning")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    base_url: str


def start_server(kind: str, db_url: str, data_dir: Path, ready_path: str) -> Server:
    port = free_port()
    cmd = [sys.executable, __file__, "--serve", kind, "--port", str(port), "--db", db_url]
    proc = subprocess.Popen([*cmd, "--data-dir", str(data_dir)])
    server = Server(kind, proc, f"http://{HOST}:{port}")
    deadline = time.monotonic() + 60
    with httpx.Client(trust_env=False, timeout=5) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{kind} server exited with {proc.returncode}")
            try:
                if client.get(server.base_url + ready_path).status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    stop_server(server)
    raise RuntimeError(f"{kind} server did not start within 60 s")


def stop_server(server: Server) -> None:
    if server.proc.poll() is None:
        server.proc.terminate()
        try:
            server.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()


# --- measuring ------------------------------------------------------------------------------


@dataclass
class Stats:
    median_ms: float
    p99_ms: float
    per_s: float | None  # requests/s; None for in-process timings
    n: int
    errors: int = 0


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, -(-len(ordered) * q // 100) - 1))
    return ordered[int(k)]


def stats_of(seconds: Sequence[float], per_s: float | None, errors: int = 0) -> Stats:
    ms = [s * 1000 for s in seconds] or [float("nan")]
    return Stats(statistics.median(ms), percentile(ms, 99), per_s, len(seconds), errors)


@dataclass
class Sample:
    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    errors: int = 0


async def _load(
    url: str, headers: dict[str, str], requests: int, concurrency: int, max_seconds: float
) -> Sample:
    """``concurrency`` keep-alive connections send ``requests`` GETs in all; after
    ``max_seconds`` a connection starts no new request (but each sends at least one)."""
    out = Sample()
    todo = requests
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=300, trust_env=False) as client:
        deadline = time.perf_counter() + max_seconds

        async def connection() -> None:
            nonlocal todo
            first = True
            while todo > 0 and (first or time.perf_counter() < deadline):
                first = False
                todo -= 1
                t0 = time.perf_counter()
                response = await client.get(url, headers=headers)
                elapsed = time.perf_counter() - t0
                if response.status_code == 200:
                    out.latencies.append(elapsed)
                else:
                    out.errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(connection() for _ in range(concurrency)))
        out.wall = time.perf_counter() - started
    return out


def measure_http(
    urls: dict[str, str], headers: dict[str, str], args: argparse.Namespace
) -> dict[str, Stats]:
    """Warm each URL up, then alternate between them in up to ROUNDS rounds, so that changes in
    the machine's background load hit all of them alike; return each URL's pooled numbers.

    A slow page (one request on every connection would not fit twice in a round's time) gets
    fewer rounds and only a single warm-up request, and new requests stop early enough that
    the ones in flight end near ``--max-seconds``: the run stays within a few minutes.
    """
    slowest = 0.0
    for url in urls.values():
        started = time.perf_counter()
        httpx.get(url, headers=headers, trust_env=False, timeout=300)
        slowest = max(slowest, time.perf_counter() - started)
    batch_s = slowest * args.concurrency  # one request on every connection, worst case
    rounds = max(1, min(ROUNDS, int(args.max_seconds / (2 * batch_s)) if batch_s else ROUNDS))
    budget = args.max_seconds / rounds
    window = max(0.0, budget - batch_s)  # when to stop starting new requests in a round
    if rounds == ROUNDS:
        warmup = max(args.concurrency * 2, args.requests // 10)
        for url in urls.values():
            asyncio.run(_load(url, headers, warmup, args.concurrency, budget / 2))
    pooled = {name: Sample() for name in urls}
    order = list(urls)
    for _ in range(rounds):
        for name in order:
            todo = -(-args.requests // rounds)
            got = asyncio.run(_load(urls[name], headers, todo, args.concurrency, window))
            pooled[name].latencies += got.latencies
            pooled[name].wall += got.wall
            pooled[name].errors += got.errors
        order.reverse()
    return {
        name: stats_of(s.latencies, len(s.latencies) / s.wall if s.wall else 0.0, s.errors)
        for name, s in pooled.items()
    }


def measure_sql(db_url: str, dataset_id: str, page: int, limit: int) -> dict[str, Stats]:
    """The page's SQL alone, in this process on one connection: count + SELECT (as the bare
    endpoint runs it), and each of the two queries by itself."""
    t = Task.__table__
    base = select(t).where(t.c.dataset_id == dataset_id, t.c.type.in_(LIST_TYPES))
    count_q = select(func.count()).select_from(base.subquery())
    rows_q = base.order_by(t.c.create_time.desc(), t.c.id.desc())
    rows_q = rows_q.offset(page * limit).limit(limit)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            cases: dict[str, Callable[[], object]] = {
                "sql in-process (count+page)": lambda: page_sql(conn, dataset_id, page, limit),
                "  count(*) alone": lambda: conn.scalar(count_q),
                "  page SELECT alone": lambda: conn.execute(rows_q).all(),
            }
            out = {}
            for name, fn in cases.items():
                timer = timeit.Timer(fn)
                one = timer.timeit(number=1)  # also warms the statement and page caches
                repeat = int(min(2000, max(5, SQL_BUDGET_S / len(cases) / max(one, 1e-6))))
                out[name] = stats_of(timer.repeat(repeat=repeat, number=1), None)
            return out
    finally:
        engine.dispose()


def check_page(url: str, headers: dict[str, str], limit: int, expected_total: int) -> str:
    body = httpx.get(url, headers=headers, trust_env=False, timeout=300).json()
    got = (body.get("total_count"), len(body.get("tasks", [])))
    ok = got == (expected_total, limit)
    return "ok" if ok else f"UNEXPECTED total/rows {got}, wanted {(expected_total, limit)}"


# --- profiling ------------------------------------------------------------------------------


class SqlTimer:
    """Times every statement any engine in this process sends, grouped by a short label."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}

    @staticmethod
    def label(statement: str) -> str:
        sql = re.sub(r"\s+", " ", statement)
        sql = re.sub(r"SELECT (.{40,}?) FROM", "SELECT ... FROM", sql)
        return sql if len(sql) <= 110 else sql[:107] + "..."

    def _before(self, conn: Any, *_: Any) -> None:
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def _after(self, conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        elapsed = time.perf_counter() - conn.info["bench_started"].pop()
        self.times.setdefault(self.label(statement), []).append(elapsed)

    def __enter__(self) -> SqlTimer:
        event.listen(Engine, "before_cursor_execute", self._before)
        event.listen(Engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(Engine, "before_cursor_execute", self._before)
        event.remove(Engine, "after_cursor_execute", self._after)

    def report(self, requests: int) -> str:
        lines = [f"{'per request':>11}{'median ms':>10}  statement"]
        for sql, times in sorted(self.times.items(), key=lambda kv: -sum(kv[1])):
            lines.append(
                f"{len(times) / requests:>11.1f}{statistics.median(times) * 1000:>10.2f}  {sql}"
            )
        total = sum(sum(t) for t in self.times.values()) / requests * 1000
        lines.append(f"{'':>11}{total:>10.2f}  = SQL per request (mean)")
        return "\n".join(lines)


def profile_api(
    db_url: str, data_dir: Path, path: str, headers: dict[str, str], n: int, max_s: float
) -> str:
    """Where the API's time goes for one page, in this process and one request at a time:
    the request latency, each SQL statement's time, then a cProfile of the same requests.

    The real ASGI app is driven through httpx's ASGI transport, with thread-pool hops run
    inline so that the endpoint, its dependencies and the response validation all land in
    this thread's profile (uvicorn's HTTP parsing and the thread hand-offs do not).
    """
    import anyio.to_thread

    from labelpilot.app import create_app
    from labelpilot.config import Settings

    async def inline(func: Callable[..., Any], *args: Any, **_: Any) -> Any:
        return func(*args)

    async def requests(app: Any, count: int, profiler: cProfile.Profile | None) -> list[float]:
        transport = httpx.ASGITransport(app=app)
        latencies: list[float] = []
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            deadline = time.perf_counter() + max_s
            if profiler:
                profiler.enable()
            while len(latencies) < count and time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.get(path, headers=headers)
                latencies.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
            if profiler:
                profiler.disable()
        return latencies

    original = anyio.to_thread.run_sync
    anyio.to_thread.run_sync = inline  # type: ignore[assignment]
    try:
        app = create_app(Settings(data_dir=data_dir, database_url=db_url), run_reaper=False)
        asyncio.run(requests(app, 5, None))
        with SqlTimer() as sql:
            latencies = asyncio.run(requests(app, n, None))
        profiler = cProfile.Profile()
        profiled = asyncio.run(requests(app, n, profiler))
    finally:
        anyio.to_thread.run_sync = original
    out = io.StringIO()
    st = stats_of(latencies, None)
    out.write(
        f"in-process, sequential: {st.n} requests, median {st.median_ms:.2f} ms, "
        f"p99 {st.p99_ms:.2f} ms\n{sql.report(len(latencies))}\n\n"
        f"cProfile of {len(profiled)} more requests (times inflated by the profiler):\n"
    )
    ps = pstats.Stats(profiler, stream=out)
    ps.sort_stats("cumulative").print_stats(40)
    ps.sort_stats("tottime").print_stats(15)
    return out.getvalue()


# --- report ---------------------------------------------------------------------------------


def print_table(
    floor: Stats, results: list[tuple[str, dict[str, Stats]]], args: argparse.Namespace
) -> None:
    head = f"{'page / what':<34}{'median ms':>11}{'p99 ms':>10}{'req/s':>9}{'n':>7}{'err':>5}"

    def line(name: str, st: Stats) -> None:
        per_s = f"{st.per_s:.0f}" if st.per_s is not None else "-"
        print(
            f"  {name:<32}{st.median_ms:>11.2f}{st.p99_ms:>10.2f}{per_s:>9}{st.n:>7}{st.errors:>5}"
        )

    print("\n" + head + "\n" + "-" * len(head))
    print("HTTP floor: uvicorn + this httpx client, GET /ping -> {} (no DB)")
    line("ping", floor)
    for title, rows in results:
        print(title)
        for name, st in rows.items():
            line(name, st)
        api, bare = rows["api"], rows["bare"]
        med, p99 = api.median_ms / bare.median_ms, api.p99_ms / bare.p99_ms
        per_s = f"{api.per_s / bare.per_s:.2f}x" if api.per_s and bare.per_s else "-"
        verdict = "meets" if max(med, p99) <= args.target else "MISSES"
        print(
            f"  {'api/bare':<32}{med:>10.2f}x{p99:>9.2f}x{per_s:>9}"
            f"   {verdict} the target (api latency <= {args.target:g}x bare)"
        )
        if bare.median_ms > floor.median_ms:
            server = (api.median_ms - floor.median_ms) / (bare.median_ms - floor.median_ms)
            print(f"  {'  (api-ping)/(bare-ping) median':<32}{server:>10.2f}x")
    print()


# --- main -----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--tasks", type=int, default=100_000, help="tasks to create (default 100000)")
    p.add_argument("--requests", type=int, default=2000, help="requests per measurement")
    p.add_argument("--concurrency", type=int, default=8, help="concurrent connections")
    p.add_argument("--db", default="sqlite", help="'sqlite' (a fresh temp file) or a DB URL")
    p.add_argument("--limit", type=int, default=10, help="page size")
    p.add_argument(
        "--deep-row", type=int, help="first row of the deep page (default: 90%% of tasks)"
    )
    p.add_argument(
        "--max-seconds", type=float, default=30.0, help="time cap per measurement (all rounds)"
    )
    p.add_argument("--target", type=float, default=2.0, help="target api/bare latency ratio")
    p.add_argument("--seed", type=int, default=7, help="seed of the generated data")
    p.add_argument("--profile", action="store_true", help="also cProfile the API in-process")
    p.add_argument("--serve", choices=["api", "bare"], help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--data-dir", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def pages_to_measure(fx: Fixture, args: argparse.Namespace) -> list[tuple[int, str]]:
    limit = args.limit
    deep_row = args.deep_row if args.deep_row is not None else int(args.tasks * 0.9)
    deep = max(0, min(deep_row, fx.listed - limit)) // limit
    last = deep * limit + limit - 1
    return [
        (0, f"page 0: offset=0 limit={limit} (rows 0-{limit - 1})"),
        (deep, f"deep page: offset={deep} limit={limit} (rows {deep * limit:,}-{last:,})"),
    ]


def run(args: argparse.Namespace) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="labelpilot-bench-"))
    db_url = f"sqlite:///{data_dir / 'labelpilot.db'}" if args.db == "sqlite" else args.db
    servers: dict[str, Server] = {}
    fx: Fixture | None = None
    try:
        print("machine")
        for key, value in machine_info(db_url):
            print(f"  {key:<14}{value}")
        print(f"\ndata ({data_dir})")
        started = time.perf_counter()
        fx = build_fixture(db_url, args.tasks, args.seed)
        print(f"  built in {time.perf_counter() - started:.1f} s")
        pages = pages_to_measure(fx, args)
        print(f"  pages without `type` (lists types 0/1; total_count {fx.listed:,})")

        path = f"/v2/{fx.project_id}/datasets/{fx.dataset_id}/tasks"
        servers["api"] = start_server("api", db_url, data_dir, "/health")
        servers["bare"] = start_server("bare", db_url, data_dir, "/ping")
        headers = {"X-Auth-Token": fx.token}
        print(
            f"\nload: {args.requests} requests per row after warm-up, {args.concurrency} "
            f"connections, <= {args.max_seconds:g} s per row in <= {ROUNDS} alternating rounds;"
            "\n      httpx async client in this process, servers in their own processes"
        )
        floor = measure_http({"ping": servers["bare"].base_url + "/ping"}, {}, args)["ping"]
        results = []
        for page, title in pages:
            urls = {
                name: f"{server.base_url}{path}?limit={args.limit}&offset={page}"
                for name, server in servers.items()
            }
            for name, url in urls.items():
                print(f"  {title}, {name}: {check_page(url, headers, args.limit, fx.listed)}")
            rows = measure_http(urls, headers, args)
            rows.update(measure_sql(db_url, fx.dataset_id, page, args.limit))
            results.append((title, rows))
        print(f"\nload avg at the end: {load_average()}")
        print_table(floor, results, args)

        if args.profile:
            for page, title in pages:
                print(f"--- cProfile of the API in-process, {title} ---")
                query = f"{path}?limit={args.limit}&offset={page}"
                print(profile_api(db_url, data_dir, query, headers, n=300, max_s=20))
    finally:
        for server in servers.values():
            stop_server(server)
        if fx is not None and args.db != "sqlite":
            drop_fixture(fx)
        shutil.rmtree(data_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve:
        serve(args.serve, args.port, args.db, args.data_dir)
        return 0
    try:
        run(args)
    except Exception as exc:  # report it, but keep the documented exit code 0
        print(f"benchmark failed: {type(exc).__name__}: {exc}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
