"""`bc-gateway serve` as real processes: a second `serve --demo` on a port that is taken stops with
a clear message and changes nothing (the first server's demo key keeps working); the banner shows
where it listens and the public URL."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.support.helpers import basic

PATH = "/ODataV4/Company('CRONUS')/ProductItemAvailability"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(settings: Any, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BCGW_")}
    env.update(
        BCGW_DATABASE_URL=settings.database_url,
        BCGW_COMPANY=settings.company,
        BCGW_LOG_LEVEL="WARNING",
        BCGW_WORKER_POLL_INTERVAL="0.2",
        BCGW_RECONCILE_INTERVAL="0",
        **extra,
    )
    return env


async def _start(settings: Any, port: int, **env: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway.cli",
        "serve",
        "--demo",
        "--port",
        str(port),
        env=_env(settings, **env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _banner(proc: asyncio.subprocess.Process, within: float = 30.0) -> list[str]:
    """Lines of standard output up to the demo key's ('try: ...' follows it)."""
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        raw = await asyncio.wait_for(proc.stdout.readline(), max(0.1, deadline - time.monotonic()))
        if not raw:
            break
        lines.append(raw.decode().rstrip("\n"))
        if lines[-1].lstrip().startswith("try:"):
            return lines
    err = (await proc.stderr.read()).decode() if proc.stderr and proc.returncode is not None else ""
    raise AssertionError(f"no banner: {lines} {err}")


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 15)
        except TimeoutError:
            proc.kill()
            await proc.wait()


@pytest.fixture
async def first_server(settings: Any) -> AsyncIterator[tuple[int, str, list[str]]]:
    port = _free_port()
    proc = await _start(settings, port, BCGW_PUBLIC_URL="https://bc.example.com")
    try:
        lines = await _banner(proc)
        key = re.search(r"demo key \(shown once\): (\S+)", "\n".join(lines))
        assert key is not None, lines
        yield port, key.group(1), lines
    finally:
        await _stop(proc)


async def _status(port: int, key: str) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}{PATH}", headers={"Authorization": basic("DEMO", key)}) as resp,
    ):
        return resp.status


async def test_the_banner_shows_where_it_listens_and_the_public_url(first_server: Any) -> None:
    port, key, lines = first_server
    assert lines[0] == (
        f"Business Central gateway serving company CRONUS: listening on http://127.0.0.1:{port}, "
        "public URL https://bc.example.com"
    )
    assert lines[1].startswith("  OData V4: https://bc.example.com/ODataV4/")
    assert lines[2] == "  accepted Host names: localhost, 127.0.0.1, [::1], bc.example.com (BCGW_ALLOWED_HOSTS)"
    assert await _status(port, key) == 200


async def test_a_second_serve_on_a_taken_port_changes_nothing(first_server: Any, settings: Any) -> None:
    port, key, _lines = first_server
    second = await _start(settings, port)
    try:
        out, err = await asyncio.wait_for(second.communicate(), 60)
    finally:
        await _stop(second)
    assert second.returncode == 1
    assert "demo key" not in out.decode() and "serving" not in out.decode()
    assert err.decode().strip() == (
        f"bc-gateway: Port {port} on 127.0.0.1 is in use: another program listens there (a 'bc-gateway serve' "
        "already running?). Nothing was changed. Stop it, or choose another port (--port or BCGW_PORT)."
    )
    assert await _status(port, key) == 200  # the first server's key still works


async def test_without_a_public_url_the_banner_shows_the_listening_address(settings: Any) -> None:
    port = _free_port()
    proc = await _start(settings, port)
    try:
        lines = await _banner(proc)
    finally:
        await _stop(proc)
    assert lines[0] == f"Business Central gateway serving company CRONUS: listening on http://127.0.0.1:{port}"
    assert lines[1].startswith(f"  OData V4: http://127.0.0.1:{port}/ODataV4/")
