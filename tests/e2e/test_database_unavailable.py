"""Issue 9, item 1: every "database unavailable" path answers 503 with Retry-After, never 500 —
the webhooks, OData, authentication (good or bad credentials), the admin API and readiness —
on PostgreSQL (a refused connection, a role out of connections, a connection dropped in the
middle of a statement, SQLAlchemy's pool time-out) as on SQLite (a file that cannot be opened,
a file that is not a database). Real HTTP over loopback; the failures are the drivers' own."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.db import create_engine, is_unavailable
from tests.support.fuzzing import LoopBridge, SyncClient, fuzz_settings, run_property
from tests.support.helpers import basic
from tests.support.order_harness import ORG_HOST, WEBHOOK_HEADER

# (method, path, body): every route that touches the database, by the way it does.
ODATA = ("GET", "/ODataV4/Company('CRONUS')/ProductItemAvailability?$top=1", None)
ODATA_V3 = ("GET", "/OData/Company('CRONUS')/ProductItemAvailability?$top=1", None)
ADMIN_GET = ("GET", "/api/setup", None)
ADMIN_PATCH = ("PATCH", "/api/setup", b'{"item_availability_enabled": true}')
USERS = ("GET", "/api/users", None)
AUTHED_ROUTES = [ODATA, ODATA_V3, ADMIN_GET, ADMIN_PATCH, USERS]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _request(
    harness: Any, method: str, path: str, body: bytes | None, headers: dict[str, str]
) -> tuple[int, dict[str, str], str]:
    url = str(harness.server.make_url(path))
    async with aiohttp.ClientSession() as session, session.request(method, url, data=body, headers=headers) as resp:
        return resp.status, dict(resp.headers), await resp.text()


def _assert_503(status: int, headers: dict[str, str], body: str, where: str) -> None:
    assert status == 503, f"{where}: {status} {body[:300]}"
    assert headers.get("Retry-After", "").isdigit(), f"{where}: no Retry-After in {headers}"


def _webhook_headers(harness: Any) -> dict[str, str]:
    return {"Content-Type": "application/json", "x-ms-dynamics-organization": ORG_HOST, WEBHOOK_HEADER: harness.secret}


async def _every_route_answers_503(
    harness: Any, demo: dict[str, Any], swap: Callable[[], None], odata_reads_use_the_pool: bool = True
) -> None:
    """Warm the key's verification (so the handlers themselves meet the database), take the
    database away, then ask every route: with the remembered key, a fresh verification of the
    good key, a bad key, Sales' webhook and BC's webhook, and readiness.

    `odata_reads_use_the_pool=False`: only the engine's pool is exhausted, and OData's reads on
    SQLite do not take a connection from it (schemas/sqlite_reader.py): they are answered."""
    good = {"Authorization": basic(demo["user"], demo["key"])}
    status, _h, body = await _request(harness, "GET", "/api/setup", None, good)
    assert status == 200, body
    swap()
    for method, path, body_bytes in AUTHED_ROUTES:
        answer = await _request(harness, method, path, body_bytes, good)
        if not odata_reads_use_the_pool and (method, path, body_bytes) in (ODATA, ODATA_V3):
            assert answer[0] == 200, f"{method} {path} (key remembered): {answer[0]} {answer[2][:300]}"
            continue
        _assert_503(*answer, f"{method} {path} (key remembered)")
    harness.gateway.auth.forget_verifications()
    for who, headers in (("good key", good), ("bad key", {"Authorization": basic(demo["user"], "not-the-key")})):
        answer = await _request(harness, *ODATA, headers)
        _assert_503(*answer, f"OData with a {who}")
    answer = await _request(harness, "POST", "/webhooks/dataverse", b"{}", _webhook_headers(harness))
    _assert_503(*answer, "Sales webhook")
    answer = await _request(harness, "POST", "/webhooks/dataverse", b"{}", {**good, "Content-Type": "application/json"})
    harness.gateway.auth.forget_verifications()
    _assert_503(*answer, "Sales webhook with Basic")
    bc_body = b'{"value": [{"subscriptionId": "x", "clientState": "y", "resource": "r", "changeType": "updated"}]}'
    json_type = {"Content-Type": "application/json"}
    answer = await _request(harness, "POST", "/webhooks/business-central", bc_body, json_type)
    _assert_503(*answer, "BC webhook")
    answer = await _request(harness, "GET", "/health/ready", None, {})
    _assert_503(*answer, "readiness")


@pytest.fixture
async def swap_engine(receiver_only: Any) -> AsyncIterator[Callable[[AsyncEngine], None]]:
    """Replace the running gateway's engine (as if its database went away); put it back after."""
    gateway = receiver_only.gateway
    original = gateway._engine
    made: list[AsyncEngine] = []

    def swap(engine: AsyncEngine) -> None:
        made.append(engine)
        # The one engine of the process, also the one the key verification holds.
        gateway._engine = gateway.auth.users.engine = engine

    yield swap
    gateway._engine = gateway.auth.users.engine = original
    for engine in made:
        await engine.dispose()


# A failure of one database only: that database's run alone (no skipped twin on the other).
ON_POSTGRESQL = pytest.mark.parametrize("db_kind", ["postgresql"], indirect=True)
ON_SQLITE = pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)


@ON_POSTGRESQL
async def test_postgresql_refusing_connections_gives_503_everywhere(
    db_kind: str, receiver_only: Any, demo: dict[str, Any], swap_engine: Any, settings: Any
) -> None:
    # asyncpg raises a refused connection as a bare ConnectionRefusedError (before the fix: 500).
    refused = make_url(settings.database_url).set(port=_free_port())
    await _every_route_answers_503(
        receiver_only, demo, lambda: swap_engine(create_engine(refused.render_as_string(hide_password=False)))
    )
    # A bad key while the database is away is no failed sign-in: a dozen of them lock nobody out.
    gateway = receiver_only.gateway
    for _ in range(12):
        answer = await _request(receiver_only, *ODATA, {"Authorization": basic(demo["user"], "not-the-key")})
        _assert_503(*answer, "OData with a bad key")
    gateway._engine = gateway.auth.users.engine = receiver_only.engine
    gateway.auth.forget_verifications()
    status, _h, body = await _request(receiver_only, *ODATA, {"Authorization": basic(demo["user"], demo["key"])})
    assert status == 200, body


@ON_POSTGRESQL
async def test_postgresql_out_of_connections_gives_503_everywhere(
    db_kind: str, receiver_only: Any, demo: dict[str, Any], swap_engine: Any, settings: Any
) -> None:
    # A role allowed no connection at all: PostgreSQL answers TooManyConnectionsError (53300).
    role = f"bcgw_noconn_{uuid.uuid4().hex[:8]}"
    admin = create_engine(settings.database_url)
    async with admin.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 0"))
    try:
        limited = make_url(settings.database_url).set(username=role, password=None)
        await _every_route_answers_503(
            receiver_only, demo, lambda: swap_engine(create_engine(limited.render_as_string(hide_password=False)))
        )
    finally:
        async with admin.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f"DROP ROLE IF EXISTS {role}"))
        await admin.dispose()


async def test_pool_timeout_gives_503_everywhere(
    receiver_only: Any, demo: dict[str, Any], swap_engine: Any, settings: Any
) -> None:
    # Every connection of the pool is busy longer than a request may wait: SQLAlchemy's TimeoutError.
    busy = create_engine(settings.database_url, pool_size=1, max_overflow=0, pool_timeout=0.05)
    held = await busy.connect()
    await held.execute(text("SELECT 1"))
    try:
        raw_reads = busy.dialect.name == "sqlite"
        await _every_route_answers_503(receiver_only, demo, lambda: swap_engine(busy), not raw_reads)
    finally:
        await held.close()


@ON_SQLITE
async def test_sqlite_file_that_cannot_be_opened_gives_503_everywhere(
    db_kind: str, receiver_only: Any, demo: dict[str, Any], swap_engine: Any, tmp_path: Path
) -> None:
    gone = tmp_path / "no-such-directory" / "bcgw.db"
    await _every_route_answers_503(
        receiver_only, demo, lambda: swap_engine(create_engine(f"sqlite+aiosqlite:///{gone}"))
    )


@ON_SQLITE
async def test_sqlite_file_that_is_not_a_database_gives_503_everywhere(
    db_kind: str, receiver_only: Any, demo: dict[str, Any], swap_engine: Any, tmp_path: Path
) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a SQLite file " * 200)
    await _every_route_answers_503(
        receiver_only, demo, lambda: swap_engine(create_engine(f"sqlite+aiosqlite:///{garbage}"))
    )


@pytest.mark.parametrize(
    "dropped",
    [
        # What asyncpg raises when the server goes in the middle of a statement, and a reset socket.
        lambda: asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        lambda: ConnectionResetError(104, "Connection reset by peer"),
    ],
    ids=["asyncpg-connection-closed", "connection-reset"],
)
async def test_connection_dropped_while_storing_a_delivery_gives_503_and_stores_nothing(
    receiver_only: Any, dropped: Callable[[], BaseException]
) -> None:
    harness = receiver_only
    order_id = await harness.order()

    def drop(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO ORDER_INBOX"):
            raise dropped()

    event.listen(harness.engine.sync_engine, "before_cursor_execute", drop)
    try:
        await harness.sim.submit_order(order_id)
        await harness.sim.flush()
    finally:
        event.remove(harness.engine.sync_engine, "before_cursor_execute", drop)
    # Sales heard 503 twice (it tries once more), never a 2xx or a 500; nothing was stored.
    assert harness.sim.deliveries[-1].statuses == [503, 503]
    assert await harness.inbox_rows(order_id) == []


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ConnectionRefusedError(111, "Connect call failed"), True),
        (OSError(113, "No route to host"), True),
        (TimeoutError(), True),
        (asyncpg.CannotConnectNowError("the database system is starting up"), True),
        (asyncpg.TooManyConnectionsError("sorry, too many clients already"), True),
        (asyncpg.AdminShutdownError("terminating connection due to administrator command"), True),
        (asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"), True),
        (asyncpg.InterfaceError("connection is closed"), True),
        (asyncpg.UniqueViolationError("duplicate key value"), False),
        (asyncpg.NumericValueOutOfRangeError("numeric field overflow"), False),
        (ValueError("not a database matter"), False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_which_driver_errors_mean_the_database_is_unavailable(error: BaseException, expected: bool) -> None:
    assert is_unavailable(error) is expected
    # The same when SQLAlchemy wrapped it, or when it caused another error.
    try:
        try:
            raise error
        except BaseException as inner:
            raise RuntimeError("while serving") from inner
    except RuntimeError as outer:
        assert is_unavailable(outer) is expected


# -- property test --------------------------------------------------------------------------------

ROUTES = [*AUTHED_ROUTES, ("POST", "/webhooks/dataverse", b"{}"), ("GET", "/health/ready", None)]


@pytest.mark.fuzz
async def test_property_with_the_database_away_every_answer_is_503_with_retry_after_never_500(
    receiver_only: Any, demo: dict[str, Any], settings: Any, tmp_path: Path
) -> None:
    harness = receiver_only
    gateway = harness.gateway
    up = gateway._engine
    if settings.database_url.startswith("sqlite"):
        away = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'gone' / 'bcgw.db'}")
    else:
        away = create_engine(make_url(settings.database_url).set(port=_free_port()).render_as_string(False))
    busy = create_engine(settings.database_url, pool_size=1, max_overflow=0, pool_timeout=0.05)
    held = await busy.connect()
    await held.execute(text("SELECT 1"))
    engines = {"up": up, "refused": away, "pool exhausted": busy}
    credentials = {
        "none": {},
        "good key": {"Authorization": basic(demo["user"], demo["key"])},
        "bad key": {"Authorization": basic(demo["user"], "not-the-key")},
        "unknown user": {"Authorization": basic("NOBODY", "not-a-key")},
        "malformed": {"Authorization": "Basic ???"},
        "webhook secret": {WEBHOOK_HEADER: harness.secret, "x-ms-dynamics-organization": ORG_HOST},
    }
    base = str(harness.server.make_url(""))

    @fuzz_settings()
    @given(
        state=st.sampled_from(sorted(engines)),
        route=st.sampled_from(ROUTES),
        who=st.sampled_from(sorted(credentials)),
        forget=st.booleans(),
    )
    def check(bridge: LoopBridge, state: str, route: tuple[str, str, bytes | None], who: str, forget: bool) -> None:
        gateway._engine = gateway.auth.users.engine = engines[state]
        gateway.auth.lockout = type(gateway.auth.lockout)()  # each example from a clean slate
        if forget:
            gateway.auth.forget_verifications()
        method, path, body = route
        client = SyncClient(base)
        try:
            answer = client.request(method, path, body, {"Content-Type": "application/json", **credentials[who]})
        finally:
            client.close()
        where = (state, method, path, who, answer.status, answer.body[:200])
        assert answer.status < 500 or answer.status == 503, where
        if answer.status == 503:
            assert answer.headers.get("retry-after", "").isdigit(), where
        if state == "up":
            assert answer.status != 503, where
            return
        if path.startswith("/OData") and answer.status == 200:
            return  # an answer still in the OData answer cache needs no database
        needs_the_database = path.startswith(("/webhooks/", "/health/ready")) or who in ("good key", "bad key")
        if needs_the_database and not (path.startswith("/api/") and who == "webhook secret"):
            assert answer.status == 503, where

    try:
        await run_property(check)
    finally:
        gateway._engine = gateway.auth.users.engine = up
        await held.close()
        await busy.dispose()
        await away.dispose()
