"""SDK-HMAC-SHA256 signing exactly as huaweicloudsdkcore's ``Signer`` does it (contract §6.2-6.3).

Pure functions: the client signs with :func:`sign_request`, the server checks with
:func:`verify_request`. Both sides canonicalise the *decoded* query pairs, so however a client
percent-encodes its URL, the server rebuilds the same canonical query from what it parsed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import NamedTuple
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from labelpilot.errors import (
    MalformedAuthorization,
    MissingAuthorization,
    RequestExpired,
    SignatureMismatch,
    UnknownAccessKey,
)

ALGORITHM = "SDK-HMAC-SHA256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()
CONTENT_SHA256_HEADER = "x-sdk-content-sha256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
REQUIRED_SIGNED_HEADERS = ("host", "x-sdk-date")

_AUTH_RE = re.compile(
    r"Access=(?P<access>[^\s,]+),\s*SignedHeaders=(?P<signed>[^\s,]+),\s*"
    r"Signature=(?P<signature>[0-9a-fA-F]{64})"
)


# Every way an AK/SK request fails verification (catalogue classes: status, code, message).
SignatureError = (
    MissingAuthorization,
    MalformedAuthorization,
    RequestExpired,
    UnknownAccessKey,
    SignatureMismatch,
)


class ParsedAuth(NamedTuple):
    access: str
    signed_headers: list[str]
    signature: str


def _malformed(msg: str) -> MalformedAuthorization:
    return MalformedAuthorization(f"Malformed Authorization: {msg}")


def _encode(text: str) -> str:
    """Percent-encode everything except ``A-Z a-z 0-9 _ . - ~`` (the SDK's ``_url_encode``)."""
    return quote(text, safe="~")


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def canonical_uri(path: str, *, path_decoded: bool = False) -> str:
    """Decode the path (unless already decoded), encode each segment, ensure a trailing ``/``."""
    segments = (path if path_decoded else unquote(path)).split("/")
    uri = "/".join(_encode(segment) for segment in segments)
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(query: Iterable[tuple[str, str]]) -> str:
    """Sort decoded pairs by key then value (as the SDK does) and render ``enc(k)=enc(v)``."""
    return "&".join(f"{_encode(key)}={_encode(value)}" for key, value in sorted(query))


def canonical_request(
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    signed_headers: list[str],
    body: bytes,
    *,
    path_decoded: bool = False,
    payload_hash: str | None = None,
) -> str:
    """Build the CanonicalRequest (contract §6.2 steps 3-7).

    ``path`` is the path as sent (percent-encoded) unless ``path_decoded``. ``payload_hash``
    defaults to the signer's: an ``x-sdk-content-sha256`` header replaces the body hash of a
    non-empty body (the server passes :func:`verified_payload_hash` instead).
    """
    lowered = {name.lower(): value.strip() for name, value in headers.items()}
    missing = [name for name in signed_headers if name not in lowered]
    if missing:
        raise _malformed(f"signed header(s) {', '.join(missing)} not present in the request")
    canonical_headers = "".join(f"{name}:{lowered[name]}\n" for name in signed_headers)
    if payload_hash is None:
        if not body:
            payload_hash = EMPTY_BODY_SHA256
        else:
            payload_hash = lowered.get(CONTENT_SHA256_HEADER) or hashlib.sha256(body).hexdigest()
    return "\n".join(
        [
            method.upper(),
            canonical_uri(path, path_decoded=path_decoded),
            canonical_query(query),
            canonical_headers,
            ";".join(signed_headers),
            payload_hash,
        ]
    )


def body_read_as_json(content_type: str | None) -> bool:
    """Whether the API parses a body of this type (FastAPI: none, ``application/json``,
    ``application/*+json``); the SDK hashes JSON and BSON, and may leave other types unsigned."""
    if not content_type:
        return True
    main, _, sub = content_type.split(";")[0].strip().lower().partition("/")
    return main == "application" and (sub in ("json", "bson") or sub.endswith("+json"))


def verified_payload_hash(
    headers: Mapping[str, str], signed_headers: list[str], body: bytes
) -> str:
    """The payload hash of the canonical request, computed from the body (never taken on trust).

    A claimed ``X-Sdk-Content-Sha256`` must equal the body's SHA-256 (compared in constant
    time). ``UNSIGNED-PAYLOAD``, which huaweicloudsdkcore sends for a Content-Type other than
    JSON or BSON, is accepted only for a signed Content-Type whose body the API never reads.
    """
    if not body:
        return EMPTY_BODY_SHA256  # as the SDK: an empty body ignores the header
    actual = hashlib.sha256(body).hexdigest()
    claimed = headers.get(CONTENT_SHA256_HEADER, "").strip()
    if not claimed:
        return actual
    if claimed == UNSIGNED_PAYLOAD:
        content_type = headers.get("content-type") if "content-type" in signed_headers else None
        if content_type is None or body_read_as_json(content_type):
            raise SignatureMismatch(
                "X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD is refused for a body the API reads "
                "(JSON, or no signed Content-Type); sign the body's SHA-256"
            )
        return UNSIGNED_PAYLOAD
    if not hmac.compare_digest(claimed.lower().encode(), actual.encode()):
        raise SignatureMismatch("X-Sdk-Content-Sha256 does not match the request body")
    return claimed


def string_to_sign(sdk_date: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{sdk_date}\n{digest}"


def sign(sk: str, string_to_sign: str) -> str:
    """Lowercase hex HMAC-SHA256 of ``string_to_sign`` keyed with the secret key."""
    return hmac.new(sk.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def sign_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    ak: str,
    sk: str,
    now: datetime | None = None,
) -> dict[str, str]:
    """Return the headers to add (``X-Sdk-Date``, ``Host``, ``Authorization``) to sign a request.

    Like the SDK: every header present (plus the added ones) is signed except names containing
    ``_``; nothing is signed if an ``Authorization`` header is already there.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    if "authorization" in lowered:
        return {}
    parts = urlsplit(url)
    added: dict[str, str] = {}
    if "x-sdk-date" in lowered:
        sdk_date = datetime.strptime(lowered["x-sdk-date"], DATE_FORMAT).strftime(DATE_FORMAT)
    else:
        sdk_date = added["X-Sdk-Date"] = _utc(now or datetime.now(UTC)).strftime(DATE_FORMAT)
    if "host" not in lowered:
        added["Host"] = parts.netloc.rpartition("@")[2]
    all_headers = {**headers, **added}
    signed = sorted({name.lower() for name in all_headers if "_" not in name})
    query = parse_qsl(parts.query, keep_blank_values=True)
    canonical = canonical_request(method, parts.path, query, all_headers, signed, body)
    signature = sign(sk, string_to_sign(sdk_date, canonical))
    added["Authorization"] = (
        f"{ALGORITHM} Access={ak}, SignedHeaders={';'.join(signed)}, Signature={signature}"
    )
    return added


def parse_authorization(value: str) -> ParsedAuth:
    """Split ``SDK-HMAC-SHA256 Access=…, SignedHeaders=…, Signature=…`` into its parts."""
    algorithm, _, params = value.strip().partition(" ")
    if not algorithm:
        raise _malformed("empty header")
    if algorithm != ALGORITHM:
        raise _malformed(f"signing algorithm {algorithm} is not supported, use {ALGORITHM}")
    match = _AUTH_RE.fullmatch(params.strip())
    if match is None:
        raise _malformed(
            f"expected '{ALGORITHM} Access=<AK>, SignedHeaders=<h1;h2>, Signature=<64 hex>'"
        )
    signed_headers = match["signed"].lower().split(";")
    if "" in signed_headers:
        raise _malformed("empty name in SignedHeaders")
    return ParsedAuth(match["access"], signed_headers, match["signature"].lower())


def _header_text(value: str) -> str:
    """Undo the latin-1 decoding ASGI servers apply to header bytes the SDK sent as UTF-8."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


def _checked_date(value: str | None, now: datetime, skew_seconds: float) -> str:
    """Validate ``X-Sdk-Date`` against the clock; return it in the canonical form the SDK signs."""
    if value is None:
        raise _malformed("X-Sdk-Date header is missing")
    try:
        signed_at = datetime.strptime(value.strip(), DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise RequestExpired(
            f"X-Sdk-Date {value!r} is not a YYYYMMDDTHHMMSSZ UTC timestamp"
        ) from None
    offset = abs((_utc(now) - signed_at).total_seconds())
    if offset > skew_seconds:
        raise RequestExpired(
            f"Request expired: X-Sdk-Date {value} is {offset:.0f}s from server time, "
            f"beyond the allowed clock skew of {skew_seconds:.0f}s"
        )
    return signed_at.strftime(DATE_FORMAT)


class Verified(NamedTuple):
    """An accepted AK/SK request: who signed it, its signature and ``X-Sdk-Date`` (UTC)."""

    access: str
    signature: str
    signed_at: datetime


def verify_signed(
    method: str,
    path: str,
    query_pairs: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes,
    secret_lookup: Callable[[str], str | None],
    now: datetime,
    skew_seconds: float = 900,
) -> Verified:
    """Check an SDK-signed request and return who signed it, else raise one of ``SignatureError``.

    ``path`` is the percent-decoded path and ``query_pairs`` the decoded query (e.g. Starlette's
    ``request.url.path`` and ``request.query_params.multi_items()``); naive ``now`` means UTC.
    """
    lowered = {name.lower(): _header_text(value) for name, value in headers.items()}
    if "authorization" not in lowered:
        raise MissingAuthorization("Missing Authorization header")
    auth = parse_authorization(lowered["authorization"])
    unsigned = [name for name in REQUIRED_SIGNED_HEADERS if name not in auth.signed_headers]
    if unsigned:
        raise _malformed(f"SignedHeaders must include {', '.join(unsigned)}")
    sdk_date = _checked_date(lowered.get("x-sdk-date"), now, skew_seconds)
    secret = secret_lookup(auth.access)
    if secret is None:
        raise UnknownAccessKey(f"Unknown access key {auth.access}")
    canonical = canonical_request(
        method,
        path,
        query_pairs,
        lowered,
        auth.signed_headers,
        body,
        path_decoded=True,
        payload_hash=verified_payload_hash(lowered, auth.signed_headers, body),
    )
    if not hmac.compare_digest(sign(secret, string_to_sign(sdk_date, canonical)), auth.signature):
        raise SignatureMismatch("Invalid AK/SK: signature mismatch")
    signed_at = datetime.strptime(sdk_date, DATE_FORMAT).replace(tzinfo=UTC)
    return Verified(auth.access, auth.signature, signed_at)


def verify_request(
    method: str,
    path: str,
    query_pairs: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes,
    secret_lookup: Callable[[str], str | None],
    now: datetime,
    skew_seconds: float = 900,
) -> str:
    """:func:`verify_signed`, returning the access key only."""
    verified = verify_signed(
        method, path, query_pairs, headers, body, secret_lookup, now, skew_seconds
    )
    return verified.access
