"""The HTTP front: URL forms, then authentication, limits and injected faults, then the handlers.

Served paths:
- ``/v2.0/{tenant}/{environment}/api/v2.0/...`` and ``/v2.0/{environment}/api/v2.0/...`` (online),
  ``/{serverInstance}/api/v2.0/...`` (on-premises); the same prefixes with ``/ODataV4/...``;
- ``/{tenant}/oauth2/v2.0/token`` (the Entra token endpoint);
- ``/environments/v1.2`` (the environment list of the admin API);
- ``/_sim/...`` (the test control API, unauthenticated).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson
from aiohttp import web

from .batch import run_batch
from .config import Identity
from .errors import ApiError, resource_not_found
from .faults import Fault
from .request import ApiRequest, ApiResponse

if TYPE_CHECKING:
    from .simulator import BcSimulator


@dataclass
class Route:
    kind: str  # api | odata
    prefix: str  # the URL path up to and including api/v2.0 or ODataV4
    rest: str
    tenant: str | None


@dataclass
class LoggedRequest:
    method: str
    path: str
    identity: str | None
    status: int | None
    at: float


def resolve(sim: BcSimulator, path: str) -> Route | None:
    config = sim.config
    parts = path.split("/")
    for marker, kind, width in (("api", "api", 2), ("ODataV4", "odata", 1)):
        for i, part in enumerate(parts):
            if part != marker or (kind == "api" and (i + 1 >= len(parts) or parts[i + 1] != "v2.0")):
                continue
            head = [p for p in parts[:i] if p]
            tenant: str | None = None
            if len(head) == 3 and head[0] == "v2.0" and head[2].lower() == config.environment.lower():
                tenant = head[1]
            elif not (
                (len(head) == 2 and head[0] == "v2.0" and head[1].lower() == config.environment.lower())
                or (len(head) == 1 and head[0] == config.server_instance)
            ):
                return None
            prefix = "/".join(parts[: i + width])
            return Route(kind, prefix, "/".join(parts[i + width :]), tenant)
    return None


def to_web(response: ApiResponse) -> web.Response:
    headers = dict(response.headers)
    headers.setdefault("OData-Version", "4.0")
    if response.body is None:
        return web.Response(status=response.status, headers=headers)
    if isinstance(response.body, str):
        return web.Response(
            status=response.status,
            text=response.body,
            headers=headers,
            content_type=response.content_type.split(";")[0],
        )
    headers["Content-Type"] = response.content_type
    return web.Response(status=response.status, body=orjson.dumps(response.body), headers=headers)


def error_response(sim: BcSimulator, err: ApiError) -> web.Response:
    return to_web(ApiResponse(err.status, err.body(sim.config.correlation_ids), dict(err.headers)))


async def _fault_answer(sim: BcSimulator, request: web.Request, fault: Fault) -> web.StreamResponse | None:
    """Act out a fault before the handler; None means carry on (after a delay, or to drop later)."""
    if fault.kind == "delay":
        # BC has the whole request before it is slow at it: a client that hangs up meanwhile does
        # not stop it, and the POST is still carried out (what makes a timed-out POST uncertain).
        await request.read()
        timeout = sim.config.operation_timeout
        await asyncio.sleep(min(fault.delay, timeout))
        if fault.delay > timeout:
            return error_response(sim, ApiError(408, "Request_Timeout", "The operation has timed out."))
        return None
    if fault.kind == "drop":
        await request.read()
        assert request.transport is not None
        request.transport.abort()
        return web.Response(status=500)
    if fault.kind == "status":
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        if fault.body is not None:
            return web.Response(status=fault.status, text=fault.body, headers=headers, content_type=fault.content_type)
        return web.Response(
            status=fault.status,
            body=orjson.dumps(fault.error_body()),
            headers={**headers, "Content-Type": "application/json"},
        )
    return None


def make_app(sim: BcSimulator) -> web.Application:
    app = web.Application(client_max_size=350 * 1024 * 1024)
    log: deque[LoggedRequest] = sim.request_log

    async def handle(request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/_sim/") or path == "/_sim":
            return await sim.control.handle(request)
        entry = LoggedRequest(request.method, request.path_qs, None, None, sim.clock.monotonic())
        log.append(entry)
        fault = sim.faults.take(request.method, path)
        if path.endswith("/oauth2/v2.0/token"):
            response = await _token(sim, request, fault)
        elif path.rstrip("/") == "/environments/v1.2":
            response = web.json_response(
                {
                    "value": [
                        {
                            "aadTenantId": sim.config.tenant_id,
                            "name": sim.config.environment,
                            "type": "Production",
                            "applicationFamily": "BusinessCentral",
                        }
                    ]
                }
            )
        else:
            route = resolve(sim, path)
            if route is None:
                response = error_response(sim, resource_not_found(path.strip("/").split("/")[-1] or "/"))
            else:
                response = await _guarded(sim, request, route, fault, entry)
        entry.status = response.status
        return response

    app.router.add_route("*", "/{tail:.*}", handle)
    return app


async def _token(sim: BcSimulator, request: web.Request, fault: Fault | None) -> web.StreamResponse:
    if fault is not None:
        early = await _fault_answer(sim, request, fault)
        if early is not None:
            return early
    if request.method != "POST":
        return web.json_response(
            {"error": "invalid_request", "error_description": "AADSTS900561: POST expected."}, status=400
        )
    tenant = request.path.split("/")[1]
    form = {k: str(v) for k, v in (await request.post()).items()}
    basic = None
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("basic "):
        with contextlib.suppress(ValueError):
            basic = base64.b64decode(auth[6:]).decode(errors="replace")
    status, body = sim.auth.token_response(tenant, form, basic)
    return web.json_response(body, status=status)


async def _guarded(
    sim: BcSimulator, request: web.Request, route: Route, fault: Fault | None, entry: LoggedRequest
) -> web.StreamResponse:
    try:
        identity = sim.auth.authenticate(request.headers.get("Authorization"), route.tenant)
    except ApiError as err:
        return error_response(sim, err)
    entry.identity = identity.name
    try:
        await sim.limiter.acquire(identity.name)
    except ApiError as err:
        return error_response(sim, err)
    try:
        if fault is not None:
            early = await _fault_answer(sim, request, fault)
            if early is not None:
                return early
        try:
            response = await _dispatch(sim, request, route, identity)
        except Exception as exc:  # a simulator bug must look like BC's 500, and be visible
            sim.errors.append(repr(exc))
            response = error_response(sim, ApiError(500, "Internal_ServerError", f"Simulator error: {exc!r}"))
        if fault is not None and fault.kind == "drop_after_commit":
            assert request.transport is not None
            request.transport.abort()
        return response
    finally:
        sim.limiter.release(identity.name)


async def _dispatch(sim: BcSimulator, request: web.Request, route: Route, identity: Identity) -> web.Response:
    body = await request.read()
    root = f"{request.scheme}://{request.host}{route.prefix}"
    req = ApiRequest(request.method, route.rest, dict(request.query), dict(request.headers), body, identity, root)
    if route.kind == "odata":
        return to_web(sim.webservices.handle(req))
    first = route.rest.split("/", 1)[0].split("(", 1)[0]
    if first == "subscriptions":
        return to_web(await sim.subscription_api.handle(req))
    if first == "$batch" and "/" not in route.rest.strip("/"):
        return to_web(run_batch(sim.api, req))
    return to_web(sim.api.handle(req))
