"""Shared request dependencies: app services, authentication, transactions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from sqlalchemy.orm import Session

from labelpilot.auth import service as creds
from labelpilot.auth.signing import verify_signed
from labelpilot.config import Settings
from labelpilot.datasets.service import get_dataset
from labelpilot.datasets.tables import Dataset, Sample
from labelpilot.db import Database
from labelpilot.errors import BadRequest, Forbidden, InvalidToken, RequestExpired, Unauthorized
from labelpilot.samples.policy import ImportPolicy
from labelpilot.samples.query import get_sample
from labelpilot.storage import Storage
from labelpilot.tasks.kinds import KindRegistry
from labelpilot.tasks.service import get_task
from labelpilot.tasks.tables import Task


@dataclass
class Services:
    """What the app holds for its requests (``app.state.services``)."""

    settings: Settings
    db: Database
    storage: Storage
    import_policy: ImportPolicy
    kinds: KindRegistry


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


def storable_params(request: Request) -> None:
    """Every route's first dependency: no NUL in a path or query value (PostgreSQL refuses it)."""
    params = [*request.path_params.items(), *request.query_params.multi_items()]
    for name, value in params:
        if "\x00" in name or "\x00" in str(value):
            raise BadRequest(f"Invalid parameter {name.replace(chr(0), '')}: NUL character")


# Signed reads may repeat (a client polls with one signature); a write is accepted once.
REPEATABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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
                raise InvalidToken("The token is invalid")
            expires = cred.token_expires_at
            if expires is not None and expires < datetime.now(UTC).replace(tzinfo=None):
                raise RequestExpired("The token has expired")
            owner = cred.project_id
        elif authorization:
            body = await request.body()

            def secret_of(ak: str) -> str | None:
                c = creds.by_access_key(session, ak)
                return c.secret_key if c else None

            verified = verify_signed(
                request.method,
                request.scope["path"],
                request.query_params.multi_items(),
                request.headers,
                body,
                secret_of,
                datetime.now(UTC),
                svc.settings.signature_skew_seconds,
            )
            cred = creds.by_access_key(session, verified.access)
            assert cred is not None
            owner = cred.project_id
            # The signature is committed at once, in its own transaction; a rerun of this same
            # request after a transient failure (api/retry.py) must not meet it as a replay.
            rerun = getattr(request.state, "used_signature", None) == verified.signature
            if request.method not in REPEATABLE_METHODS and not rerun:
                window = timedelta(seconds=svc.settings.signature_skew_seconds)
                expires = (verified.signed_at + window).replace(tzinfo=None)
                with svc.db.transaction() as write:
                    creds.use_signature(write, verified.signature, expires)
                request.state.used_signature = verified.signature
            header_project = request.headers.get("x-project-id")
            if header_project and header_project != project_id:
                raise Forbidden("X-Project-Id does not match the project in the URL")
        else:
            raise Unauthorized(
                "Missing credentials: send X-Auth-Token or an AK/SK-signed Authorization header"
            )
    if owner != project_id:
        raise Forbidden(f"The credential belongs to another project than {project_id}")
    return project_id


ProjectId = Annotated[str, Depends(authenticate)]


def dataset_for_read(dataset_id: str, project_id: ProjectId, session: ReadSession) -> Dataset:
    """The dataset in the path, of the caller's project (404 otherwise)."""
    return get_dataset(session, project_id, dataset_id)


def dataset_for_write(dataset_id: str, project_id: ProjectId, session: WriteSession) -> Dataset:
    """The dataset in the path, in the request's write transaction."""
    return get_dataset(session, project_id, dataset_id)


def sample_for_read(
    dataset_id: str, sample_id: str, project_id: ProjectId, session: ReadSession
) -> Sample:
    """The sample in the path, of the dataset in the path (404 otherwise)."""
    return get_sample(session, get_dataset(session, project_id, dataset_id), sample_id)


def task_for_read(
    dataset_id: str, task_id: str, project_id: ProjectId, session: ReadSession
) -> Task:
    return get_task(session, get_dataset(session, project_id, dataset_id), task_id)


def task_for_write(
    dataset_id: str, task_id: str, project_id: ProjectId, session: WriteSession
) -> Task:
    return get_task(session, get_dataset(session, project_id, dataset_id), task_id)


# The lookups take the path's parameters in the route's order, so OpenAPI lists them as ever.
DatasetForRead = Annotated[Dataset, Depends(dataset_for_read)]
DatasetForWrite = Annotated[Dataset, Depends(dataset_for_write)]
SampleForRead = Annotated[Sample, Depends(sample_for_read)]
TaskForRead = Annotated[Task, Depends(task_for_read)]
TaskForWrite = Annotated[Task, Depends(task_for_write)]
Limit = Annotated[int, Query(ge=1, le=100)]
# an integer query value compared with an SQL INTEGER column
IntQuery = Annotated[int | None, Query(ge=-(2**31), le=2**31 - 1)]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1)]  # a page index: offset * limit fits in SQL
