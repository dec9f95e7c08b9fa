"""Issue 9, items 2 and 4: a body whose Content-Encoding is wrong is a 400 with the reason (not a
500, not a connection left hanging, also past 100 KB), an unknown encoding a 415, a body that
inflates past the limit a 413 — on Sales' webhook, BC's webhook and PATCH /api/setup, every route
that reads a body. Regression tests, then a property test (hypothesis) over real HTTP."""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from schemas.tables import webhook_delivery
from tests.support.dataverse_payloads import build_context
from tests.support.fuzzing import LoopBridge, SyncClient, fuzz_settings, run_property
from tests.support.helpers import basic
from tests.support.order_harness import ORG_HOST, WEBHOOK_HEADER

pytestmark = pytest.mark.usefixtures("receiver_only")

PLAIN = json.dumps({"not": "compressed"}).encode()
BIG_PLAIN = b'{"padding": "' + b"x" * 150_000 + b'"}'  # past the 100 KB of item 4


def _context(row_id: str = "4b5c2f7e-1a2b-4c3d-8e9f-000000000001") -> bytes:
    return json.dumps(build_context("Update", "salesorder", row_id)).encode()


def _webhook_headers(harness: Any, encoding: str | None) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "x-ms-dynamics-organization": ORG_HOST,
        WEBHOOK_HEADER: harness.secret,
    }
    if encoding is not None:
        headers["Content-Encoding"] = encoding
    return headers


def _admin_headers(demo: dict[str, Any], encoding: str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "Authorization": basic(demo["user"], demo["key"])}
    if encoding is not None:
        headers["Content-Encoding"] = encoding
    return headers


async def _send(harness: Any, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any, Any]:
    url = str(harness.server.make_url(path))
    async with aiohttp.ClientSession() as session, session.request(method, url, data=body, headers=headers) as resp:
        text = await resp.text()
        try:
            return resp.status, dict(resp.headers), json.loads(text)
        except ValueError:
            return resp.status, dict(resp.headers), text


async def _stored(harness: Any) -> int:
    async with harness.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(webhook_delivery))).scalar_one())


WRONG = [
    ("gzip", PLAIN, "not gzip data"),
    ("deflate", PLAIN, "not deflate data"),
    ("x-gzip", PLAIN, "not gzip data"),
    ("gzip", gzip.compress(PLAIN)[:-9], "it is incomplete"),
    ("deflate", BIG_PLAIN, "not deflate data"),  # item 4: answered, not hung
    ("gzip", BIG_PLAIN, "not gzip data"),
    ("gzip", gzip.compress(PLAIN) + b"trailing", "more data follows the end"),
]
COMPRESSORS = [("gzip", gzip.compress), ("deflate", zlib.compress), ("deflate", lambda d: zlib.compress(d)[2:-4])]
UNKNOWN = ["br", "compress", "zstd", "gzip, xyz"]


# One test per route and database, every case in it: the fixtures (a fresh database) are the cost.
async def test_sales_webhook_decodes_its_body_or_says_why_not(receiver_only: Any) -> None:
    harness = receiver_only
    before = await _stored(harness)
    for encoding, body, reason in WRONG:
        status, _headers, answer = await _send(
            harness, "POST", "/webhooks/dataverse", body, _webhook_headers(harness, encoding)
        )
        assert status == 400, (encoding, len(body), answer)
        assert reason in answer["error"]["message"], answer
    assert await _stored(harness) == before
    for encoding in UNKNOWN:
        status, headers, answer = await _send(
            harness, "POST", "/webhooks/dataverse", _context(), _webhook_headers(harness, encoding)
        )
        assert status == 415, answer
        assert headers["Accept-Encoding"] == "gzip, deflate"
        assert encoding.split(",")[-1].strip() in answer["error"]["message"]
    bomb = gzip.compress(b"0" * (3 * 1024 * 1024))  # 3 MiB of zeros in a few KB
    status, _headers, answer = await _send(
        harness, "POST", "/webhooks/dataverse", bomb, _webhook_headers(harness, "gzip")
    )
    assert status == 413, answer
    assert "once decoded" in answer["error"]["message"]
    assert await _stored(harness) == before
    for n, (encoding, compress) in enumerate(COMPRESSORS):
        row_id = f"4b5c2f7e-1a2b-4c3d-8e9f-{n:012d}"
        status, _headers, answer = await _send(
            harness, "POST", "/webhooks/dataverse", compress(_context(row_id)), _webhook_headers(harness, encoding)
        )
        assert status == 200, (encoding, answer)
    assert await _stored(harness) == before + len(COMPRESSORS)


async def test_the_setup_api_and_bc_webhook_decode_their_bodies_the_same_way(
    receiver_only: Any, demo: dict[str, Any]
) -> None:
    change = json.dumps({"item_availability_enabled": True}).encode()
    cases = [(e, b, 400) for e, b, _r in WRONG] + [(e, change, 415) for e in UNKNOWN]
    cases += [(e, compress(change), 200) for e, compress in COMPRESSORS]
    for encoding, body, expected in cases:
        status, _headers, answer = await _send(
            receiver_only, "PATCH", "/api/setup", body, _admin_headers(demo, encoding)
        )
        assert status == expected, (encoding, len(body), answer)
    for encoding, expected in [("gzip", 400), ("deflate", 400), ("br", 415)]:
        status, _headers, answer = await _send(
            receiver_only,
            "POST",
            "/webhooks/business-central",
            b'{"value": []}',
            {"Content-Type": "application/json", "Content-Encoding": encoding},
        )
        assert status == expected, (encoding, answer)


# -- property test --------------------------------------------------------------------------------

CODINGS = [
    "gzip",
    "x-gzip",
    "deflate",
    "identity",
    "GZIP",
    " deflate ",
    "br",
    "xyz",
    "gzip, gzip",
    "gzip, identity",
    "",
]
TAKEN = {"gzip", "x-gzip", "deflate", "identity", ""}


def _taken(coding: str) -> bool:
    return all(c.strip().lower() in TAKEN for c in coding.split(","))


def _encode(data: bytes, how: str) -> bytes:
    return {
        "plain": lambda d: d,
        "gzip": gzip.compress,
        "zlib": zlib.compress,
        "raw": lambda d: zlib.compress(d)[2:-4],
        "gzip-cut": lambda d: gzip.compress(d)[: max(1, len(d) // 2)],
    }[how](data)


raw_bodies = st.one_of(
    st.binary(max_size=2048),
    # Bodies past 100 KB, cheaply: a random chunk repeated (item 4).
    st.tuples(st.binary(min_size=1, max_size=64), st.integers(1_600, 4_000)).map(lambda t: t[0] * t[1]),
    st.builds(lambda n: _context(f"4b5c2f7e-1a2b-4c3d-8e9f-{n:012d}"), st.integers(0, 10**12 - 1)),
    st.just(json.dumps({"item_availability_enabled": True}).encode()),
)


@pytest.mark.fuzz
async def test_property_no_body_and_no_content_encoding_gives_a_5xx_or_a_hang(
    receiver_only: Any, demo: dict[str, Any]
) -> None:
    harness = receiver_only
    hook_headers = _webhook_headers(harness, None)
    admin_headers = _admin_headers(demo, None)
    base = str(harness.server.make_url(""))

    @fuzz_settings()
    @given(
        route=st.sampled_from(["/webhooks/dataverse", "/api/setup", "/webhooks/business-central"]),
        raw=raw_bodies,
        how=st.sampled_from(["plain", "gzip", "zlib", "raw", "gzip-cut"]),
        coding=st.sampled_from(CODINGS),
    )
    def check(bridge: LoopBridge, route: str, raw: bytes, how: str, coding: str) -> None:
        client = SyncClient(base)
        try:
            headers = dict(admin_headers if route == "/api/setup" else hook_headers)
            if coding:
                headers["Content-Encoding"] = coding
            method = "PATCH" if route == "/api/setup" else "POST"
            before = bridge.run(_stored(harness)) if route == "/webhooks/dataverse" else 0
            answer = client.request(method, route, _encode(raw, how), headers)
        finally:
            client.close()
        assert answer.status < 500, (route, coding, how, answer.status, answer.body[:300])
        if not _taken(coding):
            assert answer.status == 415, (coding, answer.status, answer.body[:200])
        if answer.status >= 400:
            error = json.loads(answer.body)["error"]
            assert error["code"] and error["message"]
        if route == "/webhooks/dataverse":
            stored = bridge.run(_stored(harness)) - before
            # No 2xx without a stored row; nothing stored without a 2xx.
            assert stored == (1 if 200 <= answer.status < 300 else 0), (answer.status, stored)

    await run_property(check)
