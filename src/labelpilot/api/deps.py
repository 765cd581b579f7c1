"""Shared request dependencies: app services, authentication, transactions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session

from labelpilot.auth import service as creds
from labelpilot.auth.signing import verify_request
from labelpilot.config import Settings
from labelpilot.db import Database
from labelpilot.errors import Forbidden, Unauthorized
from labelpilot.samples.service import ImportPolicy
from labelpilot.storage import Storage


@dataclass
class Services:
    """What the app holds for its requests (``app.state.services``)."""

    settings: Settings
    db: Database
    storage: Storage
    import_policy: ImportPolicy


async def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


Svc = Annotated[Services, Depends(services)]


def read_session(svc: Svc) -> Iterator[Session]:
    with svc.db.read() as session:
        yield session


def write_session(svc: Svc) -> Iterator[Session]:
    with svc.db.transaction() as session:
        yield session


# scope="function": the session ends (and a write commits) before the response is sent, so a
# client that has its answer can read what it wrote, and a failed commit is an error response
ReadSession = Annotated[Session, Depends(read_session, scope="function")]
WriteSession = Annotated[Session, Depends(write_session, scope="function")]


async def authenticate(
    request: Request,
    svc: Svc,
    project_id: Annotated[str, Path(min_length=1, max_length=64)],
) -> str:
    """Check the caller's credential against the project in the URL; return the project id."""
    if svc.settings.auth_mode == "none":
        return project_id
    token = request.headers.get("x-auth-token")
    authorization = request.headers.get("authorization")
    with svc.db.read() as session:
        if token:
            cred = creds.by_token(session, token)
            if cred is None:
                raise Unauthorized("The token is invalid", error_code="ModelArts.0203")
            expires = cred.token_expires_at
            if expires is not None and expires < datetime.now(UTC).replace(tzinfo=None):
                raise Unauthorized("The token has expired", error_code="ModelArts.0202")
            owner = cred.project_id
        elif authorization:
            body = await request.body()

            def secret_of(ak: str) -> str | None:
                c = creds.by_access_key(session, ak)
                return c.secret_key if c else None

            ak = verify_request(
                request.method,
                request.scope["path"],
                request.query_params.multi_items(),
                request.headers,
                body,
                secret_of,
                datetime.now(UTC),
                svc.settings.signature_skew_seconds,
            )
            cred = creds.by_access_key(session, ak)
            assert cred is not None
            owner = cred.project_id
            header_project = request.headers.get("x-project-id")
            if header_project and header_project != project_id:
                raise Forbidden("X-Project-Id does not match the project in the URL")
        else:
            raise Unauthorized(
                "Missing credentials: send X-Auth-Token or an AK/SK-signed Authorization header",
                error_code="ModelArts.0201",
            )
    if owner != project_id:
        raise Forbidden(
            f"The credential belongs to another project than {project_id}",
            error_code="ModelArts.0210",
        )
    return project_id


ProjectId = Annotated[str, Depends(authenticate)]
