"""create_app(): routers, error handlers, request ids, lifespan, console."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from labelpilot import __version__
from labelpilot.api import (
    datasets,
    exports,
    imports,
    labels,
    models,
    openapi,
    samples,
    services,
    stats,
    tasks,
    versions,
)
from labelpilot.api.deps import Services, storable_params
from labelpilot.config import Settings, get_settings
from labelpilot.db import Database
from labelpilot.engine.worker import reap_expired
from labelpilot.errors import (
    BadRequest,
    BodyTooLarge,
    EmptyBody,
    InternalError,
    InvalidJson,
    LabelPilotError,
    MethodNotAllowed,
    NotFound,
    Unauthorized,
)
from labelpilot.samples.policy import ImportPolicy
from labelpilot.storage import open_storage
from labelpilot.tasks.kinds import KindRegistry

log = logging.getLogger(__name__)
WEB_DIR = Path(__file__).parent / "web"
MODEL_UPLOAD = re.compile(r"^/v1/[^/]+/models/?$")


def error_response(exc: LabelPilotError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=headers)


API_PATH = re.compile(r"^/v[12]/")
CREDENTIAL_HEADERS = (b"x-auth-token", b"authorization")


class RequestIdMiddleware:
    """Sets ``X-Request-Id`` on every response, limits body size, hides tracebacks.

    The body limit holds on the stream (a chunked body included): the app sees a disconnect
    once the limit is passed and the client gets 413. With ``require_credentials``, an API
    request that has a body but no credential header is answered 401 before any of its body is
    read (the route's authentication says the same, later).
    """

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        max_model_bytes: int = 0,
        require_credentials: bool = False,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # model uploads (base64 in JSON) may be larger than other requests
        self.max_model_body = max(max_body_bytes, max_model_bytes * 4 // 3 + 65536)
        self.require_credentials = require_credentials

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        header = (b"x-request-id", request_id.encode())
        started = answered = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if answered:  # the middleware answered already (413): the app's answer is dropped
                return
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        async def answer(exc: LabelPilotError) -> None:
            nonlocal answered
            await error_response(exc)(scope, receive, send_with_id)
            answered = True

        path = scope.get("path", "")
        limit = self.max_model_body if MODEL_UPLOAD.match(path) else self.max_body_bytes
        headers = dict(scope.get("headers", []))
        too_large = BodyTooLarge(f"Request body is larger than {limit} bytes")
        size = headers.get(b"content-length", b"")
        if size.isdigit() and int(size) > limit:
            await answer(too_large)
            return
        has_body = (size.isdigit() and int(size) > 0) or b"transfer-encoding" in headers
        if (
            self.require_credentials
            and has_body
            and API_PATH.match(path)
            and not any(headers.get(h) for h in CREDENTIAL_HEADERS)
        ):
            await answer(
                Unauthorized(
                    "Missing credentials: send X-Auth-Token or an AK/SK-signed Authorization header"
                )
            )
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            if answered:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    if not started:
                        await answer(too_large)
                    return {"type": "http.disconnect"}
            return message

        try:
            await self.app(scope, limited_receive, send_with_id)
        except Exception:
            if answered:  # the app failed on the disconnect it was given
                return
            log.exception("unhandled error (request %s)", request_id)
            if not started:
                resp = error_response(InternalError(f"Internal error; request id {request_id}"))
                await resp(scope, receive, send_with_id)


def _validation_error(exc: RequestValidationError) -> LabelPilotError:
    err: dict[str, Any] = exc.errors()[0] if exc.errors() else {}
    loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
    field = ".".join(loc) or "body"
    if err.get("type") == "json_invalid":
        return InvalidJson(f"The request body is not valid JSON: {err.get('msg', '')}")
    if err.get("type") == "missing" and field == "body":
        return EmptyBody("The request body is empty")
    return BadRequest(f"Invalid parameter {field}: {err.get('msg', 'invalid value')}")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LabelPilotError)
    async def _lp(_: Request, exc: LabelPilotError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(_validation_error(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return error_response(NotFound("No such API"))
        if exc.status_code == 405:
            allow = openapi.allowed_methods(request.app, request.url.path)
            msg = f"Method {request.method} not allowed on this API; allowed: {', '.join(allow)}"
            return error_response(MethodNotAllowed(msg), headers={"Allow": ", ".join(allow)})
        # any other status Starlette raises itself keeps its number in the code
        body = {"error_code": f"ModelArts.{exc.status_code}", "error_msg": str(exc.detail)}
        return JSONResponse(body, status_code=exc.status_code)


async def _reaper(svc: Services) -> None:
    """Ends or requeues tasks whose worker died, even if no worker is left to notice."""
    interval = max(1.0, svc.settings.lease_seconds / 3)
    while True:
        await asyncio.sleep(interval)
        try:
            await asyncio.to_thread(reap_expired, svc.db, svc.settings)
        except Exception:
            log.exception("reaper failed")


def create_app(
    settings: Settings | None = None,
    *,
    run_reaper: bool = True,
    run_supervisor: bool | None = None,
) -> FastAPI:
    """The LabelPilot ASGI app: ModelArts v2 API, OpenAPI at /openapi.json, docs at /docs.

    ``run_supervisor`` (default: as ``run_reaper``) starts the online-service supervisor in the
    lifespan: it starts, restarts and stops service processes, and restores them at startup.
    """
    if run_supervisor is None:
        run_supervisor = run_reaper
    settings = settings or get_settings()
    db = Database(settings.resolved_database_url)
    db.migrate()
    svc = Services(
        settings=settings,
        db=db,
        storage=open_storage(settings.resolved_storage_root, settings),
        import_policy=ImportPolicy.from_settings(settings),
        kinds=KindRegistry(settings),
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        reaper = asyncio.create_task(_reaper(svc)) if run_reaper else None
        supervisor = None
        if run_supervisor:
            from labelpilot.serving.supervisor import ServiceSupervisor

            supervisor = ServiceSupervisor(settings, db)
            supervisor.start()
            app.state.supervisor = supervisor
        try:
            yield
        finally:
            if reaper:
                reaper.cancel()
            if supervisor:
                await asyncio.to_thread(supervisor.stop)
            db.dispose()

    app = FastAPI(
        title="LabelPilot",
        version=__version__,
        description="Intelligent labeling tasks behind a ModelArts-compatible data-management API.",
        lifespan=lifespan,
        default_response_class=_OrjsonResponse,
        dependencies=[Depends(storable_params)],
    )
    app.state.services = svc
    install_error_handlers(app)
    openapi.install(app)
    app.include_router(tasks.router)
    app.include_router(datasets.router)
    app.include_router(labels.router)  # issue #13: dataset update, label maintenance
    app.include_router(stats.router)
    app.include_router(samples.router)
    app.include_router(models.router)
    app.include_router(services.router)
    app.include_router(versions.router)
    app.include_router(exports.router)
    app.include_router(imports.router)

    @app.get("/health", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    if (WEB_DIR / "index.html").is_file():
        from fastapi.staticfiles import StaticFiles

        app.mount("/console", StaticFiles(directory=WEB_DIR, html=True), name="console")

        @app.get("/", include_in_schema=False)
        def root() -> RedirectResponse:
            return RedirectResponse("/console/")

    app.add_middleware(
        RequestIdMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_model_bytes=settings.max_model_bytes,
        require_credentials=settings.auth_mode == "required",
    )
    return app


class _OrjsonResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
