"""Issue #12 point 4: the payload hash is computed from the body, and a signed write is
accepted once inside its window (signed reads may repeat)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from labelpilot.auth.service import NewCredential, use_signature
from labelpilot.auth.signing import (
    UNSIGNED_PAYLOAD,
    body_read_as_json,
    sign_request,
    verify_request,
)
from labelpilot.auth.tables import SignatureUse
from labelpilot.db import Database
from labelpilot.errors import RequestReplayed, SignatureMismatch
from tests.support.factories import make_dataset
from tests.test_auth_api import _tasks_path, sdk_signed, send

BODY = b'{"task_type": "test-sleep", "config": {"name": "n1"}}'
SWAPPED = b'{"task_type": "test-sleep", "config": {"name": "n2"}}'


@pytest.fixture
def dataset(client: TestClient, project: str, auth: dict[str, str]) -> str:
    return make_dataset(client, project, auth)


def _signed_with_hash(cred: NewCredential, path: str, claimed: str, body: bytes) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "X-Sdk-Content-Sha256": claimed}
    url = f"http://testserver{path}"
    added = sign_request("POST", url, headers, body, cred.access_key, cred.secret_key)
    return {**headers, **added}


def test_a_swapped_body_under_a_signed_content_hash_is_refused(
    client: TestClient, cred: NewCredential, dataset: str
) -> None:
    """The issue's reproduction: the claimed hash was trusted, so any body was accepted."""
    path = _tasks_path(cred, dataset)
    headers = _signed_with_hash(cred, path, hashlib.sha256(BODY).hexdigest(), BODY)
    r = client.post(path, headers=headers, content=SWAPPED)
    assert r.status_code == 403, r.text
    assert "X-Sdk-Content-Sha256" in r.json()["error_msg"]
    assert client.post(path, headers=headers, content=BODY).status_code == 200


def test_unsigned_payload_is_refused_for_a_json_body(
    client: TestClient, cred: NewCredential, dataset: str
) -> None:
    path = _tasks_path(cred, dataset)
    headers = _signed_with_hash(cred, path, UNSIGNED_PAYLOAD, BODY)
    r = client.post(path, headers=headers, content=SWAPPED)
    assert r.status_code == 403, r.text
    assert "UNSIGNED-PAYLOAD" in r.json()["error_msg"]


def test_verify_rules_for_the_claimed_hash() -> None:
    keys = {"AK": "SK"}.get
    now = datetime.now(UTC)
    url = "http://h/v2/p/datasets"
    cases = [
        ("application/json", False),
        ("application/vnd.x+json", False),
        ("application/bson", False),
        ("application/octet-stream", True),
    ]
    for content_type, ok in cases:
        headers = {"Content-Type": content_type, "X-Sdk-Content-Sha256": UNSIGNED_PAYLOAD}
        headers.update(sign_request("PUT", url, headers, b"x", "AK", "SK", now))
        if ok:
            assert verify_request("PUT", "/v2/p/datasets", [], headers, b"y", keys, now) == "AK"
        else:
            with pytest.raises(SignatureMismatch):
                verify_request("PUT", "/v2/p/datasets", [], headers, b"x", keys, now)
    # uppercase hex is the same hash; an empty body ignores the header, as the SDK does
    headers = {"X-Sdk-Content-Sha256": hashlib.sha256(b"x").hexdigest().upper()}
    headers.update(sign_request("PUT", url, headers, b"x", "AK", "SK", now))
    assert verify_request("PUT", "/v2/p/datasets", [], headers, b"x", keys, now) == "AK"
    assert body_read_as_json(None) and body_read_as_json("Application/JSON; charset=utf-8")
    assert not body_read_as_json("text/plain")


def test_an_identical_signed_write_is_refused_a_signed_read_may_repeat(
    client: TestClient, cred: NewCredential, dataset: str, db: Database
) -> None:
    path = _tasks_path(cred, dataset)
    write = sdk_signed(cred, "POST", path, [], BODY)
    assert send(client, write, query="").status_code == 200
    again = send(client, write, query="")
    assert again.status_code == 401, again.text
    assert again.json()["error_code"] == "ModelArts.0202"
    assert "already accepted" in again.json()["error_msg"]
    read = sdk_signed(cred, "GET", path, [("limit", 5)])
    assert [send(client, read).status_code for _ in range(3)] == [200, 200, 200]
    # a freshly signed request is a new one: it passes authentication (and meets the first
    # task, still active: 501 TaskAlreadyRunning)
    fresh = sdk_signed(cred, "POST", path, [], SWAPPED)
    assert send(client, fresh, query="").status_code == 501
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(SignatureUse)) == 2


def test_the_replay_cache_is_pruned(db: Database) -> None:
    past = datetime(2020, 1, 1)
    with db.transaction() as session:
        use_signature(session, "a" * 64, past)
    with db.transaction() as session:  # a's window is over: pruned, and may be used again
        use_signature(session, "b" * 64, past + timedelta(days=3650))
        use_signature(session, "a" * 64, past + timedelta(days=3650))
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(SignatureUse)) == 2
    with pytest.raises(RequestReplayed), db.transaction() as session:
        use_signature(session, "b" * 64, past + timedelta(days=3650))


def test_our_client_keeps_identical_writes_in_one_second_distinct(
    client: TestClient, cred: NewCredential, dataset: str
) -> None:
    """X-Sdk-Date has one-second resolution: without a signed nonce, the CLI's second identical
    write inside a second was refused as a replay (CI caught ``models add`` twice)."""
    import httpx

    from labelpilot.client import AkSkAuth

    auth = AkSkAuth(cred.access_key, cred.secret_key, cred.project_id)
    path = _tasks_path(cred, dataset)
    signed = []
    for _ in range(2):
        request = httpx.Request("POST", f"http://testserver{path}", content=BODY)
        signed.append(next(auth.auth_flow(request)))
    first, second = (dict(r.headers) for r in signed)
    assert "x-labelpilot-nonce" in first["authorization"]
    assert first["authorization"] != second["authorization"]
    assert client.post(path, headers=first, content=BODY).status_code == 200
    # the identical second write reaches the route (which refuses a second sleep task)
    r = client.post(path, headers=second, content=BODY)
    assert r.json()["error_code"] == "ModelArts.4386", r.text
