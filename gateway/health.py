"""Health checks, open without authentication: liveness and readiness (database reachable)."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web
from sqlalchemy import text


def add_health_routes(app: web.Application, key: web.AppKey[Any]) -> None:
    async def live(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"}, dumps=lambda o: orjson.dumps(o).decode())

    async def ready(request: web.Request) -> web.Response:
        gateway = request.app[key]
        try:
            async with gateway.engine().connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:
            return web.json_response(
                {"status": "unavailable", "database": type(exc).__name__},
                status=503,
                headers={"Retry-After": "5"},
                dumps=lambda o: orjson.dumps(o).decode(),
            )
        body: dict[str, Any] = {"status": "ok", "database": "ok"}
        if gateway.response_cache is not None:
            body["cache_entries"] = len(gateway.response_cache)
        return web.json_response(body, dumps=lambda o: orjson.dumps(o).decode())

    app.router.add_get("/health", live)
    app.router.add_get("/health/ready", ready)
