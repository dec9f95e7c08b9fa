"""The one middleware every request passes (after the proxy gate): the Host check, the request
metrics, Basic authentication and the error answers.

One middleware, not four: aiohttp wraps each in a partial and a coroutine of its own on every
request, a measurable share of a cached answer. The order is the one the four had: a refused Host
is answered before anything is counted; the metrics see every answer with its final status (an
error raised by a handler counts as the 4xx it becomes); authentication runs inside them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from gateway.auth import PRINCIPAL, Authenticator
from gateway.config import Settings
from gateway.hosts import host_refusal
from gateway.metrics import Metrics
from gateway.odata.errors import ODataError, service_unavailable
from gateway.odata.host import error_response
from gateway.odata.service import V3_ROOT
from schemas.db import is_unavailable

log = logging.getLogger("bcgw.app")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Routes without Basic authentication: health checks, and webhooks (they check their own secret).
OPEN_PREFIXES = ("/health", "/webhooks/")

_HTTP_CODES = {
    404: "BadRequest_NotFound",
    405: "BadRequest_MethodNotAllowed",
    413: "BadRequest_RequestEntityTooLarge",
}


def is_v3(request: web.Request) -> bool:
    return request.path == V3_ROOT or request.path.startswith(V3_ROOT + "/")


def edge_middleware(settings: Settings, metrics: Metrics, auth: Callable[[], Authenticator]) -> Middleware:
    """`auth` gives the authenticator (made when the gateway starts, after the app)."""
    refuse_host = host_refusal(settings)

    @web.middleware
    async def edge(request: web.Request, handler: Handler) -> web.StreamResponse:
        refused = refuse_host(request)
        if refused is not None:
            return error_response(refused, is_v3(request))
        started = time.perf_counter()
        status = 500
        try:
            try:
                response = await _authenticated(request, handler, auth(), metrics)
            except web.HTTPException as exc:
                if exc.status < 400:
                    status = exc.status
                    raise
                response = _http_error(request, exc)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                response = _error(request, exc)
            status = response.status
            return response
        finally:
            metrics.observe(request.path, request.method, status, time.perf_counter() - started)

    return edge


async def _authenticated(
    request: web.Request, handler: Handler, auth: Authenticator, metrics: Metrics
) -> web.StreamResponse:
    if request.path == "/" or request.path.startswith(OPEN_PREFIXES):  # `/` only says where things are
        return await handler(request)
    try:
        request[PRINCIPAL] = await auth.authenticate(request)
    except ODataError as err:
        metrics.auth_failures.labels(str(err.status)).inc()
        return error_response(err, is_v3(request))
    return await handler(request)


def _http_error(request: web.Request, exc: web.HTTPException) -> web.StreamResponse:
    """aiohttp's own 4xx/5xx (no route, method not allowed, body too large) as an OData error body."""
    code = _HTTP_CODES.get(exc.status, "BadRequest" if exc.status < 500 else "Internal_ServerError")
    headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
    return error_response(ODataError(exc.status, code, exc.reason or "Error", headers), is_v3(request))


def _error(request: web.Request, exc: Exception) -> web.StreamResponse:
    """No input produces a 500 page from aiohttp: every error answer is an OData error body."""
    if isinstance(exc, ODataError):
        return error_response(exc, is_v3(request))
    if is_unavailable(exc):
        # The database is away (down, refused, out of connections, locked): a client retries.
        log.error("database unavailable in %s %s: %s", request.method, request.path, type(exc).__name__)
        return error_response(service_unavailable("The database is not available; try again."), is_v3(request))
    log.exception("unhandled error in %s %s", request.method, request.path)
    return error_response(
        ODataError(500, "Internal_ServerError", "An unexpected error occurred in the server."), is_v3(request)
    )
