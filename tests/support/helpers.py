"""Test helpers: a small HTTP client for the gateway (real HTTP, aiohttp), and the CLI run as
a process or in this one against the test database."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

import aiohttp


def basic(user: str, key: str) -> str:
    """An Authorization header value for HTTP Basic."""
    return aiohttp.encode_basic_auth(user, key)


def q(text: str) -> str:
    """Percent-encode a query value as an OData client would."""
    return quote(text, safe="$,'()=@")


def cli_env(settings: Any) -> dict[str, str]:
    """The environment a CLI process needs to work on the test's database and company."""
    env = dict(os.environ)
    env.update(
        BCGW_DATABASE_URL=settings.database_url,
        BCGW_COMPANY=settings.company,
        BCGW_LOG_LEVEL="WARNING",
    )
    return env


class Api:
    def __init__(self, server: Any, user: str, key: str) -> None:
        self.server = server
        self.base = str(server.make_url("")).rstrip("/")
        self.auth = basic(user, key)
        self.session: aiohttp.ClientSession

    async def __aenter__(self) -> Api:
        self.session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.session.close()

    def url(self, path: str) -> str:
        return path if path.startswith("http") else self.base + path

    async def get(self, path: str, auth: Any = "default", **kw: Any) -> tuple[int, dict[str, str], Any]:
        """GET; returns (status, headers, JSON body or text). auth: a header value, or None."""
        return await self.request("GET", path, auth=auth, **kw)

    async def request(
        self, method: str, path: str, auth: Any = "default", **kw: Any
    ) -> tuple[int, dict[str, str], Any]:
        auth = self.auth if auth == "default" else auth
        headers = dict(kw.pop("headers", None) or {})
        if auth is not None:
            headers.setdefault("Authorization", auth)
        async with self.session.request(method, self.url(path), headers=headers, **kw) as resp:
            body = await resp.read()
            data: Any = body.decode("utf-8") if body else None
            if body and "json" in resp.headers.get("Content-Type", ""):
                data = await resp.json(content_type=None)
            return resp.status, dict(resp.headers), data


async def run_cli(settings: Any, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    """Run `bc-gateway ARGS` as a real process against the test database."""
    import asyncio
    import sys

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway.cli",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=cli_env(settings),
    )
    out, err = await proc.communicate(stdin.encode() if stdin is not None else None)
    return proc.returncode or 0, out.decode(), err.decode()


async def cli(settings: Any, *args: str) -> tuple[int, str, str]:
    """Run a command in this process (in a thread: it runs its own event loop); fast."""
    import asyncio
    import contextlib
    import io

    from gateway.cli import main

    out, err = io.StringIO(), io.StringIO()

    def run() -> int:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                return main(list(args), environ=cli_env(settings))
            except SystemExit as exc:
                return int(exc.code or 0)

    code = await asyncio.to_thread(run)
    return code, out.getvalue(), err.getvalue()
