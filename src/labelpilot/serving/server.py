"""The inference server of one online service: a FastAPI app on uvicorn, in its own process.

Started by the supervisor as::

    python -m labelpilot.serving.server --service-id <id> --port <port> --workers <n> \\
        --parent-pid <supervisor pid>

It reads its service and model rows once, loads the model with
``mlmodels.service.load_predictor`` and answers:

``POST /predict``
    The LabelPilot prediction protocol (``{"instances": [{"image": "<base64>"} | {"text": "..."}]}``
    -> ``{"predictions": [{"labels": [...], "scores": {...}}]}``), or, for curl, one raw image
    (``Content-Type: image/*`` or ``application/octet-stream``) or one raw text (``text/plain``).
``GET /health``
    ``{"status": "ok", "service_id", "model_id", "pid"}`` once the model is loaded.

``--workers`` > 1 runs that many uvicorn worker processes on one socket. Every process exits when
the process that started it is gone (the supervisor for the main process, the main process for
workers), so a dead LabelPilot leaves no service behind.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from labelpilot.config import (
    DEFAULT_MAX_IMAGE_PIXELS,
    ServiceProcessSettings,
    Settings,
    export_service_process,
)
from labelpilot.db import Database
from labelpilot.errors import (
    BadRequest,
    BodyTooLarge,
    ImageTooLarge,
    ImageUnreadable,
    InvalidJson,
    LabelPilotError,
)
from labelpilot.mlmodels.imaging import check_image
from labelpilot.mlmodels.predictor import InvalidModel, Predictor, decode_image_b64
from labelpilot.mlmodels.service import load_predictor
from labelpilot.mlmodels.tables import Model, Service
from labelpilot.storage import open_storage

log = logging.getLogger("labelpilot.serving")

MAX_INSTANCES_PER_REQUEST = 256
MAX_BODY_BYTES = 12 * 1024 * 1024


class PredictResponse(BaseModel):
    predictions: list[dict[str, Any]]


class HealthResponse(BaseModel):
    status: str
    service_id: str
    model_id: str
    pid: int


def _bad(msg: str) -> BadRequest:
    return BadRequest(msg)


def watch_parent(parent_pid: int, interval: float = 0.5) -> threading.Thread:
    """Send SIGTERM to this process when ``parent_pid`` is no longer its parent; hard exit later."""

    def run() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval)
        log.warning("parent process %s is gone; the service exits", parent_pid)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(10)
        os._exit(1)

    t = threading.Thread(target=run, name="parent-watch", daemon=True)
    t.start()
    return t


def _instances(body: Any) -> tuple[list[bytes], list[str]]:
    if not isinstance(body, dict) or not isinstance(body.get("instances"), list):
        raise _bad('the body must be {"instances": [{"image": "<base64>"} | {"text": "..."}]}')
    items = body["instances"]
    if not items:
        raise _bad("instances must not be empty")
    if len(items) > MAX_INSTANCES_PER_REQUEST:
        raise _bad(f"at most {MAX_INSTANCES_PER_REQUEST} instances per request")
    images: list[bytes] = []
    texts: list[str] = []
    for i, item in enumerate(items):
        if isinstance(item, dict) and isinstance(item.get("image"), str):
            try:
                images.append(decode_image_b64(item["image"]))
            except ValueError as exc:
                raise _bad(f"instances[{i}].image must be base64") from exc
        elif isinstance(item, dict) and isinstance(item.get("text"), str):
            texts.append(item["text"])
        else:
            raise _bad(f'instances[{i}] must be {{"image": "<base64>"}} or {{"text": "..."}}')
    if images and texts:
        raise _bad("instances must be all images or all texts")
    return images, texts


async def _bounded_body(request: Request) -> bytes:
    """The body, read on the stream up to ``MAX_BODY_BYTES`` (a chunked one too); 413 past it."""
    size = request.headers.get("content-length", "")
    too_large = BodyTooLarge(f"body larger than {MAX_BODY_BYTES} bytes")
    if size.isdigit() and int(size) > MAX_BODY_BYTES:
        raise too_large
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > MAX_BODY_BYTES:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def build_app(
    service_id: str, model_id: str, predictor: Predictor, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
) -> FastAPI:
    """The service's ASGI app around a loaded predictor; images over ``max_pixels`` (read from
    their header) answer 413 before anything decodes them."""
    is_text = predictor.config.task == "text_classification"
    parent = os.getppid()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        watch_parent(parent)
        yield
        predictor.close()

    app = FastAPI(title=f"LabelPilot service {service_id}", lifespan=lifespan)

    @app.exception_handler(LabelPilotError)
    async def _err(_: Request, exc: LabelPilotError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status_code)

    @app.get("/health", response_model=HealthResponse)
    def health() -> HealthResponse:
        return HealthResponse(
            status="ok", service_id=service_id, model_id=model_id, pid=os.getpid()
        )

    @app.post("/predict", response_model=PredictResponse)
    async def predict(request: Request) -> PredictResponse:
        raw = await _bounded_body(request)
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype.startswith("image/") or ctype == "application/octet-stream":
            images, texts = [raw], []
        elif ctype == "text/plain":
            images, texts = [], [raw.decode("utf-8", errors="replace")]
        else:
            try:
                body = json.loads(raw)
            except ValueError as exc:
                raise InvalidJson("the body is not valid JSON") from exc
            images, texts = _instances(body)
        if is_text and images:
            raise _bad("this service classifies text: send instances with 'text'")
        if not is_text and texts:
            raise _bad("this service classifies images: send instances with 'image'")
        for i, data in enumerate(images):
            try:
                check_image(data, max_pixels)
            except (ImageTooLarge, ImageUnreadable) as exc:
                raise type(exc)(f"instances[{i}]: {exc.error_msg}") from exc
        run: Callable[[], list[Any]] = (
            (lambda: predictor.predict_texts(texts))
            if is_text
            else (lambda: predictor.predict_images(images))
        )
        try:
            preds = await run_in_threadpool(run)
        except (ValueError, InvalidModel) as exc:  # undecodable image, wrong input
            raise _bad(str(exc)) from exc
        return PredictResponse(predictions=[p.to_json() for p in preds])

    return app


def load_service(settings: Settings, service_id: str, threads: int) -> tuple[str, Predictor]:
    """Read the service's model from the database and storage; return ``(model_id, predictor)``."""
    db = Database(settings.resolved_database_url)
    try:
        with db.read() as s:
            svc = s.get(Service, service_id)
            if svc is None:
                raise SystemExit(f"service {service_id} does not exist")
            model = s.get(Model, svc.model_id)
            if model is None:
                raise SystemExit(f"model {svc.model_id} of service {service_id} does not exist")
            s.expunge(model)
    finally:
        db.dispose()
    storage = open_storage(settings.resolved_storage_root, settings)
    predictor = load_predictor(storage, model, threads)
    return model.id, predictor


def create_service_app() -> FastAPI:
    """uvicorn factory: the service ``main`` named with ``config.export_service_process``."""
    settings = Settings()
    service_id = ServiceProcessSettings().service_id
    model_id, predictor = load_service(settings, service_id, settings.service_threads)
    return build_app(service_id, model_id, predictor, settings.max_image_pixels)


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="Run one LabelPilot online service")
    parser.add_argument("--service-id", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--parent-pid", type=int, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    export_service_process(args.service_id, args.threads)
    if args.parent_pid is not None:
        watch_parent(args.parent_pid)
    uvicorn.run(
        "labelpilot.serving.server:create_service_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=max(1, args.workers),
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
