"""The baseline: a bare aiohttp app with the gateway's server settings (uvloop, no access log)
answering with a fixed JSON body. What aiohttp itself can do on this machine.

    python -m bench.bare --port 8099 --bodies DIR

The body of a request is DIR/<name>.json, where <name> is the last segment of the path without
its query (ProductItemAvailability, ItemAvailability, dataverse ...): read once, at the first
request that asks for it (the bench writes it from the gateway's own answer just before), then
served from memory. So one bare process serves every case, started alongside the gateway.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from pathlib import Path

from aiohttp import web


def make_app(bodies: Path) -> web.Application:
    cache: dict[str, bytes] = {}

    def body(request: web.Request) -> bytes:
        name = request.path.rstrip("/").rsplit("/", 1)[-1]
        found = cache.get(name)
        if found is None:
            found = cache[name] = (bodies / f"{name}.json").read_bytes()
        return found

    async def answer(request: web.Request) -> web.Response:
        if request.path == "/health":
            return web.Response(body=b'{"status":"ok"}', content_type="application/json")
        return web.Response(body=body(request), content_type="application/json")

    async def read_and_answer(request: web.Request) -> web.Response:
        await request.read()  # as the webhook intake reads its body
        return web.Response(body=body(request), content_type="application/json")

    app = web.Application()
    app.router.add_get("/{tail:.*}", answer)
    app.router.add_post("/{tail:.*}", read_and_answer)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bodies", type=Path, required=True)
    args = parser.parse_args()
    with contextlib.suppress(ImportError):  # as `bc-gateway serve` does
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    web.run_app(make_app(args.bodies), host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
