"""``labelpilot doctor`` (issue #15 point 4): a table of checks with a fix each, exit 1 on a
problem; on a migrated data directory everything is ok."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labelpilot.cli.main import app as cli
from labelpilot.config import get_settings
from labelpilot.db import Database

runner = CliRunner()


def _run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str
) -> tuple[int, list[dict[str, str]]]:
    monkeypatch.setenv("LABELPILOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LABELPILOT_PORT", "0")  # any free port: the check binds it for a moment
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        result = runner.invoke(cli, ["doctor", "--json"])
    finally:
        get_settings.cache_clear()
    return result.exit_code, json.loads(result.output)


def test_a_fresh_data_directory_is_a_problem_with_its_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, found = _run(tmp_path, monkeypatch)
    by = {f["check"]: f for f in found}
    assert code == 1
    assert by["database"]["status"] == "problem" and "not created yet" in by["database"]["detail"]
    assert "labelpilot serve" in by["database"]["fix"]
    assert not (tmp_path / "data" / "labelpilot.db").exists()  # the doctor created nothing
    assert by["storage"]["status"] == "ok" and by["packages"]["status"] == "ok"


def test_a_migrated_install_is_ok(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "data").mkdir()
    db = Database(f"sqlite:///{tmp_path / 'data' / 'labelpilot.db'}")
    db.migrate()
    db.dispose()
    code, found = _run(tmp_path, monkeypatch, LABELPILOT_IMPORT_ROOTS=json.dumps([str(tmp_path)]))
    assert code == 0, found
    assert {f["check"]: f["status"] for f in found} == {
        "python": "ok",
        "packages": "ok",
        "model assets": "ok",
        "database": "ok",
        "storage": "ok",
        "port": "ok",
        "import roots": "ok",
    }


def test_an_unreachable_database_and_a_missing_root_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, found = _run(
        tmp_path,
        monkeypatch,
        LABELPILOT_DATABASE_URL="postgresql+psycopg://nobody:secret@127.0.0.1:1/none",
        LABELPILOT_IMPORT_ROOTS=json.dumps([str(tmp_path / "gone")]),
    )
    by = {f["check"]: f for f in found}
    assert code == 1
    assert by["database"]["status"] == "problem" and "secret" not in by["database"]["detail"]
    assert "LABELPILOT_DATABASE_URL" in by["database"]["fix"]
    assert by["import roots"]["status"] == "warning" and "gone" in by["import roots"]["detail"]
