"""A data task kind (import, export, publish, sync) runs on the engine but is not an intelligent
task: CreateTask refuses its name and ListTasks neither shows nor filters by it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from labelpilot.config import Settings
from labelpilot.tasks.kinds import KindRegistry
from tests.support.factories import make_dataset

DATA_KIND = "tests.support.runners:DataSleepRunner"


def test_a_data_kind_is_not_an_intelligent_task(settings: Settings) -> None:
    registry = KindRegistry(
        settings.model_copy(
            update={"runner_plugins": {**settings.runner_plugins, "test-data-sleep": DATA_KIND}}
        )
    )
    assert registry.get("test-data-sleep").type == 97  # the worker finds it
    assert "test-data-sleep" not in registry.names()
    assert "test-sleep" in registry.names()


def test_create_and_list_refuse_a_data_kind(
    settings: Settings, client: TestClient, project: str, auth: dict[str, str]
) -> None:
    settings.runner_plugins["test-data-sleep"] = DATA_KIND  # the app's registry reads it on use
    assert client.app.state.services.kinds.get("test-data-sleep").type == 97  # installed
    ds = make_dataset(client, project, auth)
    path = f"/v2/{project}/datasets/{ds}/tasks"
    r = client.post(path, json={"task_type": "test-data-sleep", "config": {}}, headers=auth)
    assert r.status_code == 400, r.text
    assert "test-data-sleep" in r.json()["error_msg"] and "auto-label" in r.json()["error_msg"]
    r = client.get(path, params={"type": "test-data-sleep"}, headers=auth)
    assert r.status_code == 400 and "type 'test-data-sleep'" in r.json()["error_msg"]
    r = client.post(path, json={"task_type": "test-sleep", "config": {}}, headers=auth)
    assert r.status_code == 200, r.text
