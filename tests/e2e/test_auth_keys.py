"""Access keys over real HTTP: roles, key changes made by the CLI, grace, lockout, and the logs."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest

from gateway.app import GATEWAY
from gateway.auth import ADDRESS_FAILURES, LOCKOUT_FAILURES, LOCKOUT_WINDOW
from tests.support.helpers import basic, cli, run_cli

AVAIL = "/ODataV4/ProductItemAvailability"


async def _eventually(check: Any, within: float = 15.0) -> Any:
    """Poll until check() is truthy: a change made by another process arrives by the change feed."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.05)


async def test_cli_key_works_for_exactly_the_users_roles(api: Any, settings: Any) -> None:
    code, _out, err = await cli(settings, "users", "add", "SALES", "--role", "PRODUCT_AVAILABILITY")
    assert code == 0, err
    code, key, err = await run_cli(settings, "users", "change-key", "SALES", "--quiet")
    assert code == 0, err
    key = key.strip()
    assert len(key) == 44
    auth = basic("SALES", key)
    status, _h, _b = await api.get(AVAIL, auth=auth)
    assert status == 200
    status, _h, body = await api.get("/ODataV4/Customers", auth=auth)
    assert status == 403 and body["error"]["code"] == "Authorization_Forbidden"
    assert "INTEGRATION" in body["error"]["message"]
    status, _h, body = await api.get("/api/setup", auth=auth)
    assert status == 403
    code, _o, err = await cli(settings, "users", "roles", "SALES", "--add", "INTEGRATION")
    assert code == 0, err

    async def customers_allowed() -> bool:
        return (await api.get("/ODataV4/Customers", auth=auth))[0] == 200

    assert await _eventually(customers_allowed)


async def test_changed_key_stops_working_and_grace_keeps_it(api: Any, settings: Any) -> None:
    await cli(settings, "users", "add", "SALES", "--role", "PRODUCT_AVAILABILITY")
    _c, first, _e = await cli(settings, "users", "change-key", "SALES", "--quiet")
    first = first.strip()
    assert (await api.get(AVAIL, auth=basic("SALES", first)))[0] == 200  # now cached as verified
    code, second, err = await run_cli(settings, "users", "change-key", "SALES", "--quiet")
    assert code == 0, err
    second = second.strip()

    async def first_refused() -> bool:
        return (await api.get(AVAIL, auth=basic("SALES", first)))[0] == 401

    assert await _eventually(first_refused), "the old key must stop working"
    assert (await api.get(AVAIL, auth=basic("SALES", second)))[0] == 200

    code, out, err = await run_cli(settings, "users", "change-key", "SALES", "--grace", "10")
    assert code == 0, err
    assert "keeps working until" in out
    third = next(line for line in out.splitlines() if len(line.strip()) == 44).strip()
    await asyncio.sleep(0.3)
    assert (await api.get(AVAIL, auth=basic("SALES", second)))[0] == 200
    assert (await api.get(AVAIL, auth=basic("SALES", third)))[0] == 200


async def test_expired_and_disabled(api: Any, settings: Any, engine: Any) -> None:
    import datetime as dt

    from sqlalchemy import update

    from schemas.tables import web_service_user

    await cli(settings, "users", "add", "SALES", "--role", "PRODUCT_AVAILABILITY")
    code, out, err = await cli(settings, "users", "change-key", "SALES", "--expires", "2099-12-31")
    assert code == 0, err
    assert "expires 2100-01-01T00:00:00+00:00" in out
    key = next(line for line in out.splitlines() if len(line.strip()) == 44)
    assert (await api.get(AVAIL, auth=basic("SALES", key)))[0] == 200
    api.server.app[GATEWAY].auth.forget_verifications()
    async with engine.begin() as conn:
        await conn.execute(
            update(web_service_user).values(key_expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    status, headers, body = await api.get(AVAIL, auth=basic("SALES", key))
    assert status == 401 and "WWW-Authenticate" in headers
    assert body["error"]["code"] == "Authentication_InvalidCredentials"
    code, _o, _e = await cli(settings, "users", "change-key", "SALES", "--expires", "2001-01-01")
    assert code == 1
    code, _o, _e = await cli(settings, "users", "disable", "SALES")
    code, out, _e = await cli(settings, "users", "list", "--json")
    assert '"enabled": false' in out


async def test_unknown_user_and_wrong_key_get_the_same_answer(api: Any, demo: Any) -> None:
    a = await api.get(AVAIL, auth=basic("NOBODY", demo["key"]))
    b = await api.get(AVAIL, auth=basic("DEMO", "x" * 44))
    c = await api.get(AVAIL, auth=None)
    for status, headers, body in (a, b, c):
        assert status == 401
        assert headers["WWW-Authenticate"] == 'Basic realm="Business Central", charset="UTF-8"'
        assert body == a[2]


async def test_lockout_after_ten_failures_and_its_end(api: Any, demo: Any) -> None:
    lockout = api.server.app[GATEWAY].auth.lockout
    now = [1000.0]
    lockout.clock = lambda: now[0]
    for _ in range(LOCKOUT_FAILURES):
        assert (await api.get(AVAIL, auth=basic("DEMO", "wrong")))[0] == 401
    status, headers, body = await api.get(AVAIL, auth=basic("DEMO", demo["key"]))
    assert status == 429, "the right key is refused too while the user is locked out"
    assert body["error"]["code"] == "Application_TooManyRequests"
    assert 1 <= int(headers["Retry-After"]) <= LOCKOUT_WINDOW + 1
    now[0] += LOCKOUT_WINDOW + 1
    assert (await api.get(AVAIL, auth=basic("DEMO", demo["key"])))[0] == 200


async def test_lockout_by_client_address_across_user_names(api: Any, demo: Any) -> None:
    lockout = api.server.app[GATEWAY].auth.lockout
    lockout.clock = lambda: 5000.0
    for i in range(ADDRESS_FAILURES):
        assert (await api.get(AVAIL, auth=basic(f"GUESS{i}", "wrong")))[0] == 401
    status, _h, _b = await api.get(AVAIL, auth=basic("DEMO", demo["key"]))
    assert status == 429


async def test_no_key_reaches_the_logs(api: Any, demo: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    key = demo["key"]
    assert (await api.get(AVAIL, auth=basic("DEMO", key)))[0] == 200
    assert (await api.get(AVAIL, auth=basic("DEMO", key[:-4] + "abcd")))[0] == 401
    # A key pasted into the user name field is not written out either.
    assert (await api.get(AVAIL, auth=basic(key, key)))[0] == 401
    text = "\n".join(r.getMessage() + " " + str(r.args) for r in caplog.records)
    assert "authentication failed" in text
    assert key not in text
    assert key[:-4] not in text
    assert "reason=wrong key" in text and "reason=unknown user" in text
