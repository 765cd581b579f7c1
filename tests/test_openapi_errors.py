"""Issue #12 point 8: the OpenAPI document states every error a route answers with the ModelArts
error body (no 422, which is never sent), and 405 carries ``Allow``."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

ERROR_REF = "#/components/schemas/ErrorBody"
CODE = re.compile(r"`(ModelArts\.\d{4})` ")


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), p, op) for p, ops in doc["paths"].items() for m, op in ops.items()]


def test_every_error_status_carries_the_modelarts_body(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert set(doc["components"]["schemas"]["ErrorBody"]["required"]) == {"error_code", "error_msg"}
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    operations = _operations(doc)
    assert len(operations) >= 28
    for method, path, op in operations:
        responses = op["responses"]
        assert "422" not in responses, (method, path)
        for status in ("400", "401", "403", "500"):
            assert status in responses, (method, path, status)
        for status, entry in responses.items():
            if int(status) < 400:
                continue
            schema = entry["content"]["application/json"]["schema"]
            assert schema == {"$ref": ERROR_REF}, (method, path, status)
            assert CODE.search(entry["description"]), (method, path, status)
        if "requestBody" in op:
            assert "ModelArts.4104" in responses["413"]["description"], (method, path)
        if re.search(r"\{(dataset|sample|task|model|service)_id\}", path):
            assert "404" in responses, (method, path)


def test_a_route_lists_its_own_codes(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    create = doc["paths"]["/v2/{project_id}/datasets/{dataset_id}/tasks"]["post"]["responses"]
    assert {"ModelArts.4386", "ModelArts.4383"} <= set(CODE.findall(create["501"]["description"]))
    assert "ModelArts.4352" in create["404"]["description"]
    listed = doc["paths"]["/v2/{project_id}/datasets/{dataset_id}/tasks"]["get"]["responses"]
    assert "ModelArts.4386" not in listed.get("501", {}).get("description", "")
    described = doc["paths"]["/v2/{project_id}/datasets/{dataset_id}/tasks/{task_id}"]["get"]
    assert "ModelArts.4612" in described["responses"]["404"]["description"]


def test_405_carries_allow(client: TestClient, project: str, auth: dict[str, str]) -> None:
    r = client.patch(f"/v2/{project}/datasets", headers=auth)
    assert r.status_code == 405
    assert r.json()["error_code"] == "ModelArts.4204"
    assert r.headers["Allow"] == "GET, POST"
    assert client.head(f"/v2/{project}/datasets", headers=auth).headers["Allow"] == "GET, POST"
    r = client.put(f"/v2/{project}/datasets/d1/tasks/t1/stop", headers=auth)
    assert r.status_code == 405 and r.headers["Allow"] == "POST"
    assert "POST" in r.json()["error_msg"]
    # the most specific documented path decides: /samples/delete is not /samples/{sample_id}
    r = client.get(f"/v2/{project}/datasets/d1/data-annotations/samples/delete", headers=auth)
    assert r.status_code == 404
    r = client.options(f"/v2/{project}/datasets/d1/data-annotations/samples/delete", headers=auth)
    assert r.status_code == 405 and r.headers["Allow"] == "POST"
