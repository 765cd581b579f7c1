"""The OpenAPI document's error contract: every error status a route answers, with the ModelArts
error body, and no 422 (FastAPI's default, which LabelPilot never sends: a validation failure is a
400 ModelArts body).

A route declares the errors of its own with ``responses=errors(DatasetNotFound, ...)``;
:func:`install` adds the ones every route can answer (a bad value, authentication, tenancy, an
internal error) and the body limit to every route that takes a body.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

from labelpilot.errors import (
    BadRequest,
    BodyTooLarge,
    DatasetNotFound,
    Forbidden,
    InternalError,
    InvalidJson,
    InvalidToken,
    LabelPilotError,
    MalformedAuthorization,
    MissingAuthorization,
    RequestExpired,
    RequestReplayed,
    SignatureMismatch,
    Unauthorized,
    UnknownAccessKey,
)


class ErrorBody(BaseModel):
    """The ModelArts error body every 4xx and 5xx answer carries."""

    error_code: str = Field(examples=[DatasetNotFound.error_code])
    error_msg: str = Field(examples=["Dataset d1 not found"])


Errors = dict[int | str, dict[str, Any]]

EVERY_ROUTE: tuple[type[LabelPilotError], ...] = (
    BadRequest,
    Unauthorized,
    RequestExpired,
    RequestReplayed,
    InvalidToken,
    MissingAuthorization,
    MalformedAuthorization,
    UnknownAccessKey,
    Forbidden,
    SignatureMismatch,
    InternalError,
)
WITH_A_BODY: tuple[type[LabelPilotError], ...] = (InvalidJson, BodyTooLarge)


def _line(kind: type[LabelPilotError]) -> str:
    doc = (kind.__doc__ or kind.__name__).strip().splitlines()[0]
    return f"`{kind.error_code}` {kind.__name__}: {doc}"


def errors(*kinds: type[LabelPilotError]) -> Errors:
    """A route's ``responses=``: its error statuses, each listing the codes it may carry."""
    by_status: dict[int, list[type[LabelPilotError]]] = {}
    for kind in kinds:
        by_status.setdefault(kind.status_code, []).append(kind)
    return {
        status: {"model": ErrorBody, "description": "; ".join(_line(k) for k in group)}
        for status, group in sorted(by_status.items())
    }


def _merge(operation: dict[str, Any], kinds: tuple[type[LabelPilotError], ...]) -> None:
    responses = operation.setdefault("responses", {})
    ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
    for status, entry in errors(*kinds).items():
        known = responses.setdefault(str(status), {"description": "", **ref})
        lines = [line for line in known["description"].split("; ") if line]
        lines += [line for line in entry["description"].split("; ") if line not in lines]
        known["description"] = "; ".join(lines)


def document(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document with the error contract applied."""
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["ErrorBody"] = ErrorBody.model_json_schema()
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
            _merge(operation, EVERY_ROUTE)
            if "requestBody" in operation:
                _merge(operation, WITH_A_BODY)
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """The methods documented for ``path`` (for ``Allow``): those of the most specific documented
    path it matches, so ``/samples/delete`` is POST only although ``/samples/{sample_id}`` matches
    it too."""
    matches = []
    for template, operations in app.openapi()["paths"].items():
        pattern = re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            matches.append((template.count("{"), sorted(m.upper() for m in operations)))
    return min(matches)[1] if matches else []


def install(app: FastAPI) -> None:
    """Serve :func:`document` (built once) as the app's ``/openapi.json``."""
    cached: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not cached:
            cached.update(document(app))
        return cached

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI documents this override
