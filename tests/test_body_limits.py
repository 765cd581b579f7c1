"""Issue #12 point 3: the body limit holds on the stream (chunked bodies too), and a request
without a credential is refused before its body is read."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi.testclient import TestClient

CHUNK = b"x" * (1 << 20)


class Body:
    """A chunked request body of ``mib`` MiB that counts what was read of it."""

    def __init__(self, mib: int) -> None:
        self.mib, self.sent = mib, 0

    def __iter__(self) -> Iterator[bytes]:
        for _ in range(self.mib):
            self.sent += 1
            yield CHUNK


def test_a_chunked_body_over_the_limit_is_413(
    client: TestClient, project: str, auth: dict[str, str]
) -> None:
    body = Body(40)
    r = client.post(
        f"/v2/{project}/datasets",
        content=iter(body),
        headers={**auth, "Content-Type": "application/json"},
    )
    assert r.status_code == 413 and r.json()["error_code"] == "ModelArts.4104"
    assert r.headers["x-request-id"]


def test_a_body_without_credentials_is_refused_before_it_is_read(
    client: TestClient, project: str
) -> None:
    body = Body(40)
    r = client.post(
        f"/v2/{project}/datasets", content=iter(body), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 401 and r.json()["error_code"] == "ModelArts.0201"
    assert body.sent <= 1


def test_a_small_chunked_body_still_works(
    client: TestClient, project: str, auth: dict[str, str]
) -> None:
    r = client.post(
        f"/v2/{project}/datasets",
        content=iter([b'{"dataset_name": ', b'"chunked"}']),
        headers={**auth, "Content-Type": "application/json"},
    )
    assert r.status_code == 201, r.text
