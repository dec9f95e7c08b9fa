"""The admin API (role INTEGRATION_ADMIN): the connection setup (with its warnings) and the users.

It calls the same service modules as the CLI; it holds no rules of its own.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from gateway.auth import PRINCIPAL
from gateway.odata.errors import ODataError, bad_request, forbidden
from gateway.request_body import read_body
from orders.change_setup import SetupService
from orders.setup import SetupChange, SetupError
from schemas.roles import INTEGRATION_ADMIN
from schemas.users import UserService

MAX_BODY = 1024 * 1024  # the application's own limit (a setup change is a few hundred bytes)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json")


def _admin(request: web.Request) -> str:
    principal = request.get(PRINCIPAL)
    if principal is None or INTEGRATION_ADMIN not in principal.user.roles:
        raise forbidden("The admin API needs the role INTEGRATION_ADMIN (Integration Administrator).")
    return principal.user.user_name


def add_admin_routes(app: web.Application, gateway_key: web.AppKey[Any]) -> None:
    def service(request: web.Request) -> SetupService:
        gateway = request.app[gateway_key]
        return SetupService(gateway.engine(), gateway.settings)

    async def get_setup(request: web.Request) -> web.Response:
        _admin(request)
        svc = service(request)
        # Values a real Sales cannot use (loopback, plain http ...): told, not refused.
        return _json({**await svc.view(), "warnings": await svc.warnings()})

    async def patch_setup(request: web.Request) -> web.Response:
        who = _admin(request)
        try:
            values = orjson.loads(await read_body(request, MAX_BODY, "setup change"))
        except orjson.JSONDecodeError as exc:
            raise bad_request(f"The body is not valid JSON: {exc}") from None
        if not isinstance(values, dict):
            raise bad_request("The body must be a JSON object of setup fields.")
        svc = service(request)
        gateway = request.app[gateway_key]
        try:
            result = await svc.change(SetupChange.parse(values), changed_by=who)
        except SetupError as exc:
            raise ODataError(422, "BadRequest_ValidationFailed", str(exc)) from None
        await gateway.reload_setup()
        gateway.feed.wake()
        return _json(
            {
                "setup": await svc.view(),
                "changed": sorted(result.changed),
                # Shown once: only the answer to the change that made it carries it.
                "webhook_secret": result.webhook_secret,
                "warnings": await svc.warnings(),
            }
        )

    async def get_history(request: web.Request) -> web.Response:
        _admin(request)
        return _json(await service(request).history())

    async def get_users(request: web.Request) -> web.Response:
        _admin(request)
        users = await UserService(request.app[gateway_key].engine()).list()
        return _json([u.as_dict() for u in users])

    app.router.add_get("/api/setup", get_setup)
    app.router.add_patch("/api/setup", patch_setup)
    app.router.add_get("/api/setup/history", get_history)
    app.router.add_get("/api/users", get_users)
