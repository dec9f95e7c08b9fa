"""The Sales simulator run on its own (``python -m tests.support.sales_simulator``): it prints what
a connection setup needs, answers with those credentials, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys

import aiohttp
import pytest

pytestmark = pytest.mark.skipif(os.name != "posix", reason="stops it with SIGINT")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_serves_alone_until_ctrl_c() -> None:
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.sales_simulator",
        "--port",
        str(port),
        "--demo",
        "--client-secret",
        "s3cret",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        printed: dict[str, str] = {}
        while len(printed) < 4:
            line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
            assert line, f"the simulator ended early: {(await proc.stderr.read()).decode() if proc.stderr else ''}"
            name, sep, value = line.strip().partition(": ")
            if sep:
                printed[name] = value.strip()
        assert printed["org URL"] == f"http://127.0.0.1:{port}"
        assert printed["token URL"].startswith(printed["org URL"] + "/") and printed["client secret"] == "s3cret"
        async with aiohttp.ClientSession() as http:
            form = {
                "grant_type": "client_credentials",
                "client_id": printed["client id"],
                "client_secret": printed["client secret"],
                "scope": f"{printed['org URL']}/.default",
            }
            async with http.post(printed["token URL"], data=form) as resp:
                assert resp.status == 200
                token = (await resp.json())["access_token"]
            url = f"{printed['org URL']}/api/data/v9.2/accounts?$select=accountnumber"
            async with http.get(url, headers={"Authorization": f"Bearer {token}"}) as resp:
                assert resp.status == 200
                numbers = [row["accountnumber"] for row in (await resp.json())["value"]]
        assert numbers == ["10000", "20000", "40000"]  # --demo: the accounts the demo company is coupled to
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(proc.wait(), 20)
    assert code == 0
