"""Authentication against the real app: tokens, and AK/SK requests signed by Huawei's SDK."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest

from labelpilot.auth.service import NewCredential
from labelpilot.client import ApiError, LabelPilotClient
from tests.support.factories import make_dataset
from tests.support.live import live_server


def sdk_signed(
    cred: NewCredential,
    method: str,
    path: str,
    query: list[tuple[str, object]],
    body: bytes | None = None,
    project_header: str | None = None,
) -> SdkRequest:
    request = SdkRequest(
        method=method,
        schema="http",
        host="testserver",
        resource_path=path,
        query_params=query,
        header_params={
            "Content-Type": "application/json",
            "User-Agent": "huaweicloud-usdk-python/3.0",
        },
        body=body,
    )
    project = project_header if project_header is not None else cred.project_id
    return BasicCredentials(cred.access_key, cred.secret_key, project).sign_request(request)


def send(client: TestClient, req: SdkRequest, *, path: str | None = None, query: str | None = None):
    """Send what the SDK signed (its own ``uri``), optionally with a changed path or query."""
    url = req.uri
    if path is not None or query is not None:
        url = (path or req.resource_path) + (f"?{query}" if query else "")
    return client.request(
        req.method, url, headers=dict(req.header_params), content=req.body or None
    )


@pytest.fixture
def dataset(client: TestClient, project: str, auth: dict[str, str]) -> str:
    return make_dataset(client, project, auth)


def _tasks_path(cred: NewCredential, dataset: str) -> str:
    return f"/v2/{cred.project_id}/datasets/{dataset}/tasks"


def test_sdk_signed_get_is_accepted(client, cred, dataset):
    req = sdk_signed(
        cred, "GET", _tasks_path(cred, dataset), [("limit", 5), ("type", "auto-label")]
    )
    r = send(client, req)
    assert r.status_code == 200, r.text
    assert r.json()["total_count"] == 0


def test_sdk_signed_post_is_accepted(client, cred, dataset):
    body = b'{"task_type": "test-sleep", "config": {"name": "deploy-1"}}'
    req = sdk_signed(cred, "POST", _tasks_path(cred, dataset), [], body)
    r = send(client, req, query="")
    assert r.status_code == 200, r.text
    assert len(r.json()["task_id"]) == 19


def test_changed_query_is_rejected(client, cred, dataset):
    req = sdk_signed(cred, "GET", _tasks_path(cred, dataset), [("limit", 5)])
    r = send(client, req, query="limit=6")
    assert r.status_code == 403
    assert r.json()["error_code"] == "ModelArts.0206"


def test_changed_path_is_rejected(client, cred, dataset):
    req = sdk_signed(cred, "GET", _tasks_path(cred, dataset), [])
    r = send(client, req, path=f"/v2/{cred.project_id}/datasets/{dataset}", query="")
    assert r.status_code == 403


def test_changed_body_is_rejected(client, cred, dataset):
    req = sdk_signed(cred, "POST", _tasks_path(cred, dataset), [], b'{"task_type": "test-sleep"}')
    req.body = b'{"task_type": "auto-label"}'
    r = send(client, req, query="")
    assert r.status_code == 403


def test_changed_date_is_rejected(client, cred, dataset):
    req = sdk_signed(cred, "GET", _tasks_path(cred, dataset), [])
    req.header_params["X-Sdk-Date"] = "20240101T000000Z"
    r = send(client, req, query="")
    assert r.status_code in (401, 403)


def test_other_projects_aksk_is_403(client, db, cred, dataset):
    from labelpilot.auth.service import create_credential

    with db.transaction() as s:
        other = create_credential(s, "someone-else")
    req = sdk_signed(other, "GET", _tasks_path(cred, dataset), [], project_header="")
    r = send(client, req, query="")
    assert r.status_code == 403
    assert r.json()["error_code"] == "ModelArts.0210"


def test_project_header_must_match_url(client, cred, dataset):
    req = sdk_signed(cred, "GET", _tasks_path(cred, dataset), [], project_header="elsewhere")
    r = send(client, req, query="")
    assert r.status_code == 403


@pytest.fixture
def live(app) -> Iterator[str]:
    with live_server(app) as url:
        yield url


def test_python_client_with_aksk_and_token_over_real_http(live, cred):
    with LabelPilotClient(live, cred.project_id, ak=cred.access_key, sk=cred.secret_key) as c:
        ds = c.create_dataset({"dataset_name": "via-client"})["dataset_id"]
        assert c.list_tasks(ds, limit=3) == {
            "tasks": [],
            "total_count": 0,
            "exist_running_deploy_task": False,
        }
        with pytest.raises(ApiError) as err:
            c.list_tasks(ds, limit=0)
        assert err.value.status == 400 and err.value.error_code == "ModelArts.0104"
    with LabelPilotClient(live, cred.project_id, token=cred.token) as c:
        assert c.get_dataset(ds)["dataset_name"] == "via-client"
    with LabelPilotClient(live, cred.project_id, ak=cred.access_key, sk="wrong") as c:
        with pytest.raises(ApiError) as err:
            c.get_dataset(ds)
        assert err.value.status == 403
