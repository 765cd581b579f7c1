"""A route class that reruns a request after a transient database failure (issue #12 point 6).

A route's write transaction is its ``WriteSession`` dependency, committed when the dependency
exits, before the response. On PostgreSQL a serialization failure (40001) or a deadlock (40P01)
there, or in any statement of the route, means that the same transaction may simply run again.
``RetryingRoute`` reruns the whole request handling then: dependencies included, so each attempt
gets fresh sessions and transactions, with the backoff of ``db.backoff_delays``. Any other
exception (a ``LabelPilotError``, a non-transient database error) goes through at once, and so
does the last transient failure once the budget is spent (500, as before).

A rerun reads the same ``Request``: Starlette caches its body, so the handler, the body's
validation and the signature check see the same bytes every time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import AsyncExitStack
from typing import Any, ClassVar

from fastapi import Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import DBAPIError

from labelpilot.db import RETRY_SECONDS, backoff_delays, is_transient

log = logging.getLogger(__name__)

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
# The exit stacks FastAPI's ``request_response`` opens around the handler: "function"-scoped
# dependencies (the sessions) end on the first, the others after the response is sent.
_FUNCTION_STACK = "fastapi_function_astack"
_REQUEST_STACK = "fastapi_inner_astack"


class RetryingRoute(APIRoute):
    """An ``APIRoute`` whose requests are rerun after a transient database failure."""

    # Retries stop this long after the request started (a subclass may shorten it).
    retry_budget_s: ClassVar[float] = RETRY_SECONDS

    def get_route_handler(self) -> Handler:
        handle = super().get_route_handler()
        budget = self.retry_budget_s

        async def retrying(request: Request) -> Response:
            started = time.monotonic()
            delays: Iterator[float] | None = None
            while True:
                try:
                    return await _attempt(handle, request)
                except DBAPIError as exc:
                    if not is_transient(exc):
                        raise
                    if delays is None:  # the budget counts from the request's start
                        delays = backoff_delays(budget - (time.monotonic() - started))
                    pause = next(delays, None)
                    if pause is None:
                        raise
                    log.warning(
                        "transient database failure in %s %s (%s); rerunning in %.2fs",
                        request.method,
                        request.url.path,
                        exc.orig,
                        pause,
                    )
                    await asyncio.sleep(pause)

        return retrying


async def _attempt(handle: Handler, request: Request) -> Response:
    """One run of the handler with exit stacks of its own, so its commit happens in here.

    FastAPI ends the "function"-scoped dependencies after the handler returns, outside it; this
    attempt ends them itself, so that a failed commit is an exception of the attempt. What the
    other dependencies hold passes to the request's own stack (ended after the response) once
    the attempt succeeded; a failed attempt ends them at once.
    """
    scope = request.scope
    outer_request, outer_function = scope[_REQUEST_STACK], scope[_FUNCTION_STACK]
    try:
        async with AsyncExitStack() as request_stack:
            scope[_REQUEST_STACK] = request_stack
            async with AsyncExitStack() as function_stack:
                scope[_FUNCTION_STACK] = function_stack
                response = await handle(request)
            await outer_request.enter_async_context(request_stack.pop_all())
        return response
    finally:
        scope[_REQUEST_STACK], scope[_FUNCTION_STACK] = outer_request, outer_function
