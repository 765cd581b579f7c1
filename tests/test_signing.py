"""AK/SK signing: contract test vector, interop with huaweicloudsdkcore, rejections, httpx auth."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from labelpilot.auth.signing import (
    SignatureError,
    canonical_request,
    parse_authorization,
    sign,
    sign_request,
    string_to_sign,
    verify_request,
)
from labelpilot.client import AkSkAuth, ApiError, LabelPilotClient, TokenAuth

AK, SK = "AKEXAMPLE", "SKEXAMPLE"
KEYS = {AK: SK}
T0 = datetime(2024, 1, 1, tzinfo=UTC)
VECTOR_URL = "https://modelarts.example.com/v2/proj123/datasets/ds1/tasks"
VECTOR_HEADERS = {
    "Content-Type": "application/json",
    "Host": "modelarts.example.com",
    "X-Project-Id": "proj123",
    "X-Sdk-Date": "20240101T000000Z",
}
VECTOR_BODY = b'{"task_type": "auto-label"}'
VECTOR_AUTH = (
    "SDK-HMAC-SHA256 Access=AKEXAMPLE, SignedHeaders=content-type;host;x-project-id;x-sdk-date, "
    "Signature=f937516e3823e64e626a19ab7096029dd9a16d1760f13236a1c3bef889d99c12"
)
# Query values that stress the encoding: repeats, spaces, '/', '+', '&', '=', unicode, '~', empty.
TRICKY_QUERY: list[tuple[str, object]] = [
    ("label_name", "cat dog"),
    ("label_name", "a/b"),
    ("label_name", "Zebra"),
    ("label_name", "été"),
    ("label_name", "zoo"),
    ("search_conditions", '[{"label_list":{"labels":[{"name":"x+y&z=1"}]}}]'),
    ("limit", 10),
    ("preview", True),
    ("locale", "标签 é~"),
    ("email", ""),
]


def _verify(method: str, url: str, headers: dict[str, str], body: bytes, now: datetime) -> str:
    """Verify as a server would: decoded path and decoded query pairs of the URL on the wire."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    return verify_request(method, unquote(parts.path), query, headers, body, KEYS.get, now)


def _vector_headers() -> dict[str, str]:
    return {**VECTOR_HEADERS, "Authorization": VECTOR_AUTH}


def _sdk_sign(
    method: str,
    resource_path: str,
    query: list[tuple[str, object]],
    body: bytes | None,
    headers: dict[str, str] | None = None,
    credentials: BasicCredentials | None = None,
) -> SdkRequest:
    """Sign the way ``Client.build_future_request`` and ``BasicCredentials`` of the SDK do."""
    request = SdkRequest(
        method=method,
        schema="https",
        host="modelarts.example.com:8443",
        resource_path=resource_path,
        query_params=list(query),
        header_params={
            "Content-Type": "application/json",
            "User-Agent": "huaweicloud-usdk-python/3.0",
            **(headers or {}),
        },
        body=body,
    )
    return (credentials or BasicCredentials(AK, SK, "proj123")).sign_request(request)


def _raises(
    status: int,
    code: str,
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    now: datetime = T0,
) -> SignatureError:
    with pytest.raises(SignatureError) as info:
        _verify(method, url, headers, body, now)
    assert (info.value.status_code, info.value.error_code) == (status, code)
    return info.value


# --- the contract's test vector --------------------------------------------------------------


def test_sign_request_reproduces_contract_vector() -> None:
    added = sign_request("POST", VECTOR_URL, VECTOR_HEADERS, VECTOR_BODY, AK, SK)
    assert added == {"Authorization": VECTOR_AUTH}


def test_sign_request_adds_date_and_host_and_signs_them() -> None:
    headers = {"Content-Type": "application/json", "X-Project-Id": "proj123"}
    added = sign_request("POST", VECTOR_URL, headers, VECTOR_BODY, AK, SK, now=T0)
    assert added == {
        "X-Sdk-Date": "20240101T000000Z",
        "Host": "modelarts.example.com",
        "Authorization": VECTOR_AUTH,
    }


def test_sign_request_leaves_signed_requests_and_underscore_headers_alone() -> None:
    assert sign_request("GET", VECTOR_URL, _vector_headers(), b"", AK, SK) == {}
    added = sign_request("GET", VECTOR_URL, {**VECTOR_HEADERS, "X_Trace": "1"}, b"", AK, SK)
    assert parse_authorization(added["Authorization"]).signed_headers == [
        "content-type",
        "host",
        "x-project-id",
        "x-sdk-date",
    ]


def test_verify_accepts_contract_vector() -> None:
    path = "/v2/proj123/datasets/ds1/tasks"
    now = T0 + timedelta(minutes=5)
    assert verify_request("POST", path, [], _vector_headers(), VECTOR_BODY, KEYS.get, now) == AK
    # naive "now" is taken as UTC; header names are matched case-insensitively
    lower = {k.lower(): v for k, v in _vector_headers().items()}
    naive = datetime(2024, 1, 1, 0, 5)
    assert verify_request("POST", path, [], lower, VECTOR_BODY, KEYS.get, naive) == AK


def test_canonical_request_matches_sdk_signer() -> None:
    request = SdkRequest(
        method="post",
        schema="https",
        host="h",
        resource_path="/v2/p/datasets/a%20b%2Fc%25d/x~y",
        query_params=list(TRICKY_QUERY),
        header_params={"Content-Type": "application/json", "Host": "h", "X-Sdk-Date": "x"},
        body=b"{}",
    )
    signed = ["content-type", "host", "x-sdk-date"]
    expected = Signer(BasicCredentials(AK, SK))._process_canonical_request(request, signed)
    query = [(k, str(v).lower() if isinstance(v, bool) else str(v)) for k, v in TRICKY_QUERY]
    got = canonical_request(
        "POST", request.resource_path, query, request.header_params, signed, b"{}"
    )
    assert got == expected
    assert got.split("\n")[1] == "/v2/p/datasets/a%20b/c%25d/x~y/"
    assert "\n\ncontent-type;host;x-sdk-date\n" in got


# --- requests signed by huaweicloudsdkcore ---------------------------------------------------


@pytest.mark.parametrize(
    ("method", "query", "body"),
    [
        ("POST", TRICKY_QUERY, json.dumps({"task_type": "auto-label", "名": "値"}).encode()),
        ("GET", TRICKY_QUERY, None),
        ("GET", [], None),
        ("DELETE", [("x", "1")], b""),
    ],
)
def test_sdk_signed_request_is_accepted(
    method: str, query: list[tuple[str, object]], body: bytes | None
) -> None:
    path = "/v2/proj123/datasets/" + "ds%201%2F%C3%A9" + "/data-annotations/samples"
    signed = _sdk_sign(method, path, query, body)
    auth = parse_authorization(signed.header_params["Authorization"])
    assert {"host", "x-sdk-date", "x-project-id", "user-agent"} <= set(auth.signed_headers)
    now = datetime.now(UTC)
    assert _verify(method, signed.url, signed.header_params, body or b"", now) == AK


def test_sdk_signed_request_with_security_token_and_unsigned_payload() -> None:
    credentials = BasicCredentials(AK, SK, "proj123").with_security_token("tok")
    body = b"\x00\x01 binary upload"
    signed = _sdk_sign(
        "PUT",
        "/v2/proj123/files",
        [],
        body,
        {"Content-Type": "application/octet-stream"},
        credentials,
    )
    assert signed.header_params["X-Sdk-Content-Sha256"] == "UNSIGNED-PAYLOAD"
    assert "x-security-token" in signed.header_params["Authorization"]
    assert _verify("PUT", signed.url, signed.header_params, body, datetime.now(UTC)) == AK


def test_sdk_signed_non_ascii_header_value_as_an_asgi_server_sees_it() -> None:
    """The SDK signs the text but sends UTF-8 bytes; ASGI servers decode header bytes as latin-1."""
    signed = _sdk_sign("GET", "/v2/proj123/datasets", [], None, {"User-Agent": "工具/1.0"})
    assert signed.header_params["User-Agent"] == "工具/1.0".encode().decode("latin-1")
    assert _verify("GET", signed.url, signed.header_params, b"", datetime.now(UTC)) == AK


async def _asgi_verifier(scope: Scope, receive: Receive, send: Send) -> None:
    """A minimal server: verify exactly as the FastAPI dependency is meant to."""
    request = Request(scope, receive)
    body = await request.body()
    response: Response
    try:
        access = verify_request(
            request.method,
            request.scope["path"],
            request.query_params.multi_items(),
            request.headers,
            body,
            KEYS.get,
            datetime.now(UTC),
        )
        query = request.query_params.multi_items()
        response = JSONResponse({"access": access, "path": request.scope["path"], "query": query})
    except SignatureError as exc:
        response = JSONResponse(exc.body(), status_code=exc.status_code)
    await response(scope, receive, send)


async def _send_via_asgi(
    method: str, url: str, headers: dict[str, str], body: bytes | None
) -> httpx.Response:
    transport = httpx.ASGITransport(app=_asgi_verifier)
    async with httpx.AsyncClient(transport=transport) as client:
        return await client.request(method, url, headers=headers, content=body)


def test_sdk_signed_request_is_accepted_by_a_starlette_server() -> None:
    body = b'{"samples": []}'
    signed = _sdk_sign("POST", "/v2/proj123/datasets/ds%201/x", TRICKY_QUERY, body)
    response = asyncio.run(_send_via_asgi("POST", signed.url, signed.header_params, body))
    assert response.status_code == 200, response.text
    assert response.json()["path"] == "/v2/proj123/datasets/ds 1/x"
    tampered = asyncio.run(_send_via_asgi("POST", signed.url, signed.header_params, b"{}"))
    assert tampered.status_code == 403


# --- rejections ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "body", "header_change"),
    [
        (VECTOR_URL, b'{"task_type": "pre-label"}', {}),
        (VECTOR_URL.replace("ds1", "ds2"), VECTOR_BODY, {}),
        (VECTOR_URL + "?limit=10", VECTOR_BODY, {}),
        (VECTOR_URL, VECTOR_BODY, {"X-Sdk-Date": "20240101T000001Z"}),
        (VECTOR_URL, VECTOR_BODY, {"X-Project-Id": "proj999"}),
        (VECTOR_URL, b"", {}),
    ],
    ids=["body", "path", "query-added", "date", "signed-header", "body-dropped"],
)
def test_tampered_vector_is_refused(url: str, body: bytes, header_change: dict[str, str]) -> None:
    error = _raises(
        403, "ModelArts.0206", "POST", url, {**_vector_headers(), **header_change}, body
    )
    assert "Invalid AK/SK" in error.error_msg


def test_changed_query_value_is_refused() -> None:
    url = VECTOR_URL + "?label_name=cat%20dog&label_name=a%2Fb"
    headers = {**VECTOR_HEADERS, **sign_request("GET", url, VECTOR_HEADERS, b"", AK, SK)}
    assert _verify("GET", url, headers, b"", T0) == AK
    # re-encoding and reordering the same pairs, or adding unsigned headers, is harmless
    same = VECTOR_URL + "?label_name=a/b&label_name=cat+dog"
    assert _verify("GET", same, {**headers, "Accept": "*/*"}, b"", T0) == AK
    for bad in (
        url.replace("cat%20dog", "cat%20dogs"),
        url.replace("a%2Fb", "a%2Fc"),
        url + "&label_name=x",
        url.replace("label_name=a", "label=a"),
    ):
        _raises(403, "ModelArts.0206", "GET", bad, headers, b"")
    _raises(403, "ModelArts.0206", "DELETE", url, headers, b"")


@pytest.mark.parametrize(
    ("minutes", "accepted"), [(10, True), (-10, True), (20, False), (-20, False)]
)
def test_clock_skew_window(minutes: int, accepted: bool) -> None:
    now = T0 + timedelta(minutes=minutes)
    if accepted:
        assert _verify("POST", VECTOR_URL, _vector_headers(), VECTOR_BODY, now) == AK
    else:
        error = _raises(
            401, "ModelArts.0202", "POST", VECTOR_URL, _vector_headers(), VECTOR_BODY, now
        )
        assert "expired" in error.error_msg and "skew" in error.error_msg


@pytest.mark.parametrize("date", ["2024-01-01T00:00:00Z", "20240101T000000", "garbage", ""])
def test_unparsable_date_is_refused(date: str) -> None:
    headers = {**_vector_headers(), "X-Sdk-Date": date}
    error = _raises(401, "ModelArts.0202", "POST", VECTOR_URL, headers, VECTOR_BODY)
    assert "X-Sdk-Date" in error.error_msg


def test_unknown_access_key_is_refused() -> None:
    headers = {**_vector_headers(), "Authorization": VECTOR_AUTH.replace(AK, "AKOTHER")}
    error = _raises(401, "ModelArts.4504", "POST", VECTOR_URL, headers, VECTOR_BODY)
    assert "unknown access key" in error.error_msg.lower()


def test_wrong_secret_is_refused() -> None:
    added = sign_request("POST", VECTOR_URL, VECTOR_HEADERS, VECTOR_BODY, AK, "WRONG")
    _raises(403, "ModelArts.0206", "POST", VECTOR_URL, {**VECTOR_HEADERS, **added}, VECTOR_BODY)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "SDK-HMAC-SHA256",
        "SDK-HMAC-SHA256 Access=AKEXAMPLE",
        "SDK-HMAC-SHA256 Access=AKEXAMPLE, SignedHeaders=host;x-sdk-date, Signature=zz",
        "SDK-HMAC-SHA256 Access=AKEXAMPLE, SignedHeaders=host;;x-sdk-date, Signature=" + "a" * 64,
        "SDK-HMAC-SHA256 Access=, SignedHeaders=host;x-sdk-date, Signature=" + "a" * 64,
        "Access=AKEXAMPLE, SignedHeaders=host;x-sdk-date, Signature=" + "a" * 64,
    ],
)
def test_malformed_authorization_is_refused(value: str) -> None:
    headers = {**VECTOR_HEADERS, "Authorization": value}
    error = _raises(401, "ModelArts.0206", "POST", VECTOR_URL, headers, VECTOR_BODY)
    assert "Malformed Authorization" in error.error_msg


@pytest.mark.parametrize("algorithm", ["SDK-HMAC-SM3", "V11-HMAC-SHA256", "SDK-ECDSA-P256-SHA256"])
def test_other_algorithms_are_refused_by_name(algorithm: str) -> None:
    value = VECTOR_AUTH.replace("SDK-HMAC-SHA256", algorithm, 1)
    headers = {**VECTOR_HEADERS, "Authorization": value}
    error = _raises(401, "ModelArts.0206", "POST", VECTOR_URL, headers, VECTOR_BODY)
    assert algorithm in error.error_msg and "not supported" in error.error_msg


@pytest.mark.parametrize("dropped", ["host", "x-sdk-date"])
def test_host_and_date_must_be_signed(dropped: str) -> None:
    signed = [h for h in ["content-type", "host", "x-project-id", "x-sdk-date"] if h != dropped]
    path = "/v2/proj123/datasets/ds1/tasks"
    canonical = canonical_request("POST", path, [], VECTOR_HEADERS, signed, VECTOR_BODY)
    signature = sign(SK, string_to_sign("20240101T000000Z", canonical))
    value = f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders={';'.join(signed)}, Signature={signature}"
    error = _raises(
        401,
        "ModelArts.0206",
        "POST",
        VECTOR_URL,
        {**VECTOR_HEADERS, "Authorization": value},
        VECTOR_BODY,
    )
    assert dropped in error.error_msg


def test_signed_header_missing_from_request_is_refused() -> None:
    headers = {k: v for k, v in _vector_headers().items() if k != "X-Project-Id"}
    error = _raises(401, "ModelArts.0206", "POST", VECTOR_URL, headers, VECTOR_BODY)
    assert "x-project-id" in error.error_msg


def test_missing_authorization_header() -> None:
    _raises(401, "ModelArts.0205", "POST", VECTOR_URL, VECTOR_HEADERS, VECTOR_BODY)


# --- httpx auth and client -------------------------------------------------------------------


def _verifying_transport(seen: list[httpx.Request]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        query = parse_qsl(request.url.query.decode("latin-1"), keep_blank_values=True)
        try:
            verify_request(
                request.method,
                request.url.path,
                query,
                request.headers,
                request.content,
                KEYS.get,
                datetime.now(UTC),
            )
        except SignatureError as exc:
            return httpx.Response(exc.status_code, json=exc.body())
        if request.url.path.endswith("/stop") or request.method == "DELETE":
            return httpx.Response(204)
        return httpx.Response(200, json={"ok": True, "path": request.url.path})

    return httpx.MockTransport(handler)


def test_aksk_auth_request_is_accepted() -> None:
    seen: list[httpx.Request] = []
    auth = AkSkAuth(AK, SK, project_id="proj123")
    with httpx.Client(transport=_verifying_transport(seen), auth=auth) as client:
        response = client.post(
            "http://labelpilot.local:8080/v2/proj123/datasets/ds%201%2Fx/tasks",
            params=[(k, v) for k, v in TRICKY_QUERY if not isinstance(v, bool)] + [("a", "b+c")],
            json={"task_type": "auto-label", "名": "値"},
        )
        assert response.status_code == 200, response.text
        assert client.get("http://labelpilot.local/v2/proj123/datasets").status_code == 200
    request = seen[0]
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Project-Id"] == "proj123"
    signed_headers = parse_authorization(request.headers["Authorization"]).signed_headers
    assert "host" in signed_headers and "connection" not in signed_headers
    assert seen[1].headers["Content-Type"] == "application/json"  # also on GET, like the SDK


def test_aksk_auth_request_is_accepted_by_a_starlette_server() -> None:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=_asgi_verifier)
        async with httpx.AsyncClient(transport=transport, auth=AkSkAuth(AK, SK)) as client:
            url = "http://testserver/v2/p/datasets/d%25x%2Fy"
            return await client.get(url, params={"q": "a b/c é", "r": ["2", "1"]})

    response = asyncio.run(call())
    assert response.status_code == 200, response.text
    assert response.json()["path"] == "/v2/p/datasets/d%x/y"


def test_aksk_auth_tampered_in_transit_is_refused() -> None:
    def tamper(request: httpx.Request) -> httpx.Response:
        request.headers["X-Project-Id"] = "other"
        return _verifying_transport([]).handle_request(request)

    with httpx.Client(transport=httpx.MockTransport(tamper), auth=AkSkAuth(AK, SK, "p")) as client:
        assert client.get("http://h/v2/p/datasets").status_code == 403


def test_client_calls_signed_endpoints() -> None:
    seen: list[httpx.Request] = []
    client = LabelPilotClient(
        "http://labelpilot.local/", "proj123", ak=AK, sk=SK, transport=_verifying_transport(seen)
    )
    with client:
        listed = client.list_samples("ds 1", label_name=["a b", "c/d"], preview=True, email=None)
        assert listed["path"] == "/v2/proj123/datasets/ds 1/data-annotations/samples"
        assert client.stop_task("ds1", "t1") == {}
        assert client.delete_samples("ds1", ["s1"])["ok"]
    assert seen[0].url.params.get_list("label_name") == ["a b", "c/d"]
    assert seen[0].url.params["preview"] == "true" and "email" not in seen[0].url.params
    assert seen[1].url.path == "/v2/proj123/datasets/ds1/tasks/t1/stop"
    assert json.loads(seen[2].content) == {"samples": ["s1"]}


def test_client_raises_api_error_and_sends_token() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["X-Auth-Token"] == "tok"
        if request.url.path.endswith("/tasks/missing"):
            body = {"error_code": "ModelArts.4612", "error_msg": "Task missing not found"}
            return httpx.Response(404, json=body, headers={"X-Request-Id": "rid"})
        return httpx.Response(502, text="bad gateway")

    client = LabelPilotClient("http://h", "p", token="tok", transport=httpx.MockTransport(handler))
    with pytest.raises(ApiError) as info:
        client.get_task("d", "missing")
    assert (info.value.status, info.value.error_code, info.value.request_id) == (
        404,
        "ModelArts.4612",
        "rid",
    )
    with pytest.raises(ApiError) as info:
        client.list_datasets()
    assert (info.value.error_code, info.value.error_msg) == ("502", "bad gateway")
    assert isinstance(TokenAuth("x"), httpx.Auth)
    with pytest.raises(ValueError):
        LabelPilotClient("http://h", "p")
