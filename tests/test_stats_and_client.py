"""GetDatasetStats, and the client and CLI for labels and stats, through real HTTP (issue #13
scope 3, 10). Helpers and the recount: ``tests/test_labels_stats.py``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from labelpilot.db import Database
from tests.test_labels_stats import Api, error, recount, text_item


@pytest.fixture
def api(client: Any, project: str, auth: dict[str, str]) -> Api:
    return Api(client, project, auth)


@pytest.fixture
def zoo(api: Api) -> str:
    ds = api.create("zoo", dataset_type=100)
    api.add(ds, *(text_item(f"{k}.txt", "cat") for k in range(5)))
    return ds


# --- statistics -----------------------------------------------------------------------------


def test_stats(api: Api, db: Database) -> None:
    ds = api.create("st", dataset_type=100)
    hard = {"@modelarts:hard": 1.0, "@modelarts:hard_reasons": [1, 19]}
    api.add(
        ds,
        text_item("a.txt", "x", "x"),  # two instances of one label
        text_item("b.txt", "x", "y", **hard),
        text_item("c.txt", "y", **{"@modelarts:hard": 1.0, "@modelarts:hard_reasons": [1]}),
        text_item("d.txt"),
    )
    api.add(ds, text_item("e.txt", "y"), final=False)
    st = api.stats(ds)
    assert {x["name"]: (x["count"], x["sample_count"]) for x in st["label_stats"]} == {
        "x": (3, 2),
        "y": (3, 3),
    }
    assert st["label_stats"][0]["type"] == 100
    assert st["sample_stats"] == {
        "total": 5,
        "all": 5,
        "lefted": 5,
        "deleted": 0,
        "un_annotation": 1,
        "manual_annotation": 3,
        "auto_annotation": 1,
    }
    assert st["key_sample_stats"] == {"total": 5, "key_sample": 2, "non_key_sample": 3}
    assert st["hard_detail_stats"]["1"]["key"] == 2
    assert st["hard_detail_stats"]["1"]["value"]["reason"] == "low confidence"
    assert st["hard_detail_stats"]["19"]["key"] == 1
    assert set(st["hard_detail_stats"]) == {"1", "19"}
    assert [x["name"] for x in st["grouped_label_stats"]["100"]] == ["x", "y"]
    assert st["metadata_stats"] == {}
    assert st["data_spliting_enable"] is True  # type 100, 3 labeled, each label on >= 2 samples
    only = api.stats(ds, sample_state="__AUTO_ANNOTATION__")
    assert only["sample_stats"]["total"] == 1
    assert {x["name"]: x["sample_count"] for x in only["label_stats"]} == {"x": 0, "y": 1}
    assert api.stats(ds, sample_state="__UNCHECK__")["sample_stats"]["total"] == 0
    recount(db, api, ds)


def test_split_needs_two_samples_per_label(api: Api) -> None:
    ds = api.create("sp", dataset_type=100)
    api.add(ds, text_item("a.txt", "x"), text_item("b.txt", "x"), text_item("c.txt", "y"))
    assert api.stats(ds)["data_spliting_enable"] is False


def test_stats_bad_query(api: Api, zoo: str) -> None:
    error(
        api.call("GET", zoo, "/data-annotations/stats", params={"sample_state": "x"}),
        400,
        "ModelArts.0104",
        "sample_state",
    )
    error(
        api.call("GET", zoo, "/data-annotations/stats", params={"locale": "fr"}),
        400,
        "ModelArts.0104",
        "locale",
    )
    error(
        api.call("GET", zoo, "/data-annotations/stats", params={"email": "a@b.c"}),
        501,
        "ModelArts.4383",
        "email",
    )
    assert api.stats(zoo, locale="zh-cn")["sample_stats"]["total"] == 5


# --- client and CLI, signed, against a live server -----------------------------------------


def test_client_and_cli(app: Any, db: Database, cred: Any, project: str, api: Api) -> None:
    from typer.testing import CliRunner

    from labelpilot.cli.main import app as cli
    from labelpilot.client import LabelPilotClient
    from labelpilot.config import get_settings
    from tests.support.live import live_server

    ds = api.create("cli", dataset_type=100)
    api.add(ds, text_item("a.txt", "x"), text_item("b.txt", "x", "y"), text_item("c.txt", "z"))
    with live_server(app) as url:
        with LabelPilotClient(url, project, ak=cred.access_key, sk=cred.secret_key) as c:
            assert c.update_label(ds, "z", {"@modelarts:color": "#123456"}) == {}
            out = c.update_labels(ds, [{"name": "x", "property": {"@modelarts:rename_to": "w"}}])
            assert out["success"] is True
            assert c.delete_labels(ds, ["y"], delete_policy=1)["success"] is True
            assert c.delete_label(ds, "z", delete_source=True) == {}
            assert c.get_stats(ds)["sample_stats"]["total"] == 2  # c.txt went with z
        env = {
            "LABELPILOT_URL": url,
            "LABELPILOT_PROJECT_ID": project,
            "LABELPILOT_ACCESS_KEY": cred.access_key,
            "LABELPILOT_SECRET_KEY": cred.secret_key,
            "COLUMNS": "200",
        }
        get_settings.cache_clear()
        runner = CliRunner()
        done = runner.invoke(
            cli,
            ["datasets", "update", ds, "--description", "d", "--add-label", "v", "--rename", "w=u"],
            env=env,
        )
        assert done.exit_code == 0, done.output
        assert json.loads(done.output) == {"dataset_id": ds}
        shown = runner.invoke(cli, ["datasets", "stats", ds], env=env)
        assert shown.exit_code == 0, shown.output
        row = next(line for line in shown.output.splitlines() if " u " in line)
        assert [cell.strip() for cell in row.split("│")[1:5]] == ["u", "100", "2", "2"]
        bad = runner.invoke(cli, ["datasets", "update", ds, "--rename", "u"], env=env)
        assert bad.exit_code != 0
        get_settings.cache_clear()
    assert api.sample_labels(ds) == {"a.txt": ["u"], "b.txt": ["u"]}
    assert api.dataset(ds)["description"] == "d"
    recount(db, api, ds)
