from __future__ import annotations

import base64
import io

import pytest
from PIL import Image


def png(color: tuple[int, int, int] = (255, 0, 0), size: int = 8) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


@pytest.mark.sleeping_deploy
def test_dataset_samples_tasks_flow(client, auth, project):
    r = client.post(f"/v2/{project}/datasets", json={"dataset_name": "d1"}, headers=auth)
    assert r.status_code == 201, r.text
    ds = r.json()["dataset_id"]
    r = client.post(
        f"/v2/{project}/datasets/{ds}/data-annotations/samples",
        json={"samples": [{"name": "a.png", "data": png(), "labels": [{"name": "red"}]}]},
        headers=auth,
    )
    assert r.status_code == 200 and r.json()["success"], r.text
    r = client.get(f"/v2/{project}/datasets/{ds}", headers=auth)
    assert r.json()["total_sample_count"] == 1
    assert r.json()["annotated_sample_count"] == 1
    assert "x-request-id" in r.headers
    r = client.post(
        f"/v2/{project}/datasets/{ds}/tasks", json={"task_type": "auto-deploy"}, headers=auth
    )
    assert r.status_code == 200, r.text
    r = client.get(f"/v2/{project}/datasets/{ds}/tasks?type=auto-deploy", headers=auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total_count"] == 1 and body["exist_running_deploy_task"] is True
