"""Fuzzing $filter over real HTTP: generated expressions (tests/support/filter_fuzz.py) against the
gateway on SQLite and, when BCGW_TEST_DATABASE_URL is set, on PostgreSQL at the same time.

The property: no answer is a 5xx, and both databases give the same status. Each gateway serves the
demo company plus a sales order with lines and an inbox row, so that every entity set has rows for
the database to evaluate the filter on (SQLite evaluates an expression only on a row).

BCGW_FUZZ_EXAMPLES sets the number of cases (CI: the default; `make fuzz`: 100,000).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import os
import shutil
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import text

from gateway.config import Settings
from gateway.entity_sets import ALL_SETS
from schemas.db import create_engine, write_transaction
from schemas.sales_document_store import ORDER_SERIES, insert_document, next_number
from schemas.tables import metadata
from tests.support import builders
from tests.support.db_fixtures import COMPANY, PG_URL
from tests.support.filter_fuzz import Case, cases
from tests.support.helpers import basic

pytestmark = pytest.mark.fuzz

EXAMPLES = int(os.environ.get("BCGW_FUZZ_EXAMPLES", "800"))
SETS = [s for s in ALL_SETS if s.name in ("ItemAvailability", "SalesLines", "SalesOrders", "SalesInbox")]


class ServedGateway:
    """A gateway on a loopback port, run by an event loop in a thread of its own (the hypothesis
    test is synchronous); its database filled with the demo company and one order with lines."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.port = 0
        self.key = ""
        self.runner: Any = None
        self.connection: http.client.HTTPConnection | None = None

    def start(self) -> None:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=120)

    async def _start(self) -> None:
        from aiohttp import web

        from gateway.app import create_app
        from gateway.initialise import initialise
        from schemas.users import UserService

        settings = Settings(database_url=self.database_url, company=COMPANY, reconcile_interval=0)
        engine = create_engine(self.database_url)
        await initialise(engine, settings, demo=True)
        _user, self.key = await UserService(engine).change_key("DEMO")
        doc = builders.convert(builders.order_input())
        async with write_transaction(engine) as conn:
            no = await next_number(conn, COMPANY, ORDER_SERIES)
            await insert_document(conn, COMPANY, doc, no, date(2024, 5, 30))
        await builders.inbox_row(engine)
        self.runner = web.AppRunner(create_app(settings, engine=engine, worker=False, mirror=False))
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]

    def get(self, path: str) -> tuple[int, Any]:
        for attempt in (1, 2):  # a keep-alive connection the server closed: once more on a new one
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self.connection.request("GET", path, headers={"Authorization": basic("DEMO", self.key)})
                response = self.connection.getresponse()
                body = response.read()
                return response.status, orjson.loads(body) if body.startswith(b"{") else body
            except (http.client.HTTPException, ConnectionError):
                self.connection.close()
                self.connection = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def stop(self) -> None:
        if self.connection is not None:
            self.connection.close()
        if self.runner is not None:
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(timeout=60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        with contextlib.suppress(Exception):
            self.loop.close()


@pytest.fixture(scope="module")
def gateways(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory, request: Any
) -> Iterator[dict[str, ServedGateway]]:
    path = tmp_path_factory.mktemp("fuzz") / "bcgw.db"
    shutil.copy(sqlite_template, path)
    urls = {"sqlite": f"sqlite+aiosqlite:///{path}"}
    if PG_URL:
        request.getfixturevalue("pg_migrated")

        async def truncate() -> None:
            engine = create_engine(PG_URL)
            names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
            async with engine.begin() as conn:
                await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            await engine.dispose()

        asyncio.run(truncate())
        urls["postgresql"] = PG_URL
    served = {name: ServedGateway(url) for name, url in urls.items()}
    try:
        for gateway in served.values():
            gateway.start()
        yield served
    finally:
        for gateway in served.values():
            gateway.stop()


def url(case: Case) -> str:
    query = "$filter=" + quote(case.filter, safe="")
    for name, value in case.aliases:
        query += f"&{name}=" + quote(value, safe="")
    return f"/ODataV4/Company('{COMPANY}')/{case.set_name}?$top=5&{query}"


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
@given(case=cases(SETS))
def test_no_filter_gives_a_5xx_and_both_databases_agree(gateways: dict[str, ServedGateway], case: Case) -> None:
    path = url(case)
    answers = {name: gateway.get(path) for name, gateway in gateways.items()}
    for name, (status, body) in answers.items():
        assert status < 500, f"{name}: {status} for $filter={case.filter!r} {case.aliases}: {body}"
        if status >= 400:
            assert isinstance(body, dict) and set(body) == {"error"}, body
    statuses = {name: status for name, (status, _body) in answers.items()}
    assert len(set(statuses.values())) == 1, f"$filter={case.filter!r} {case.aliases}: {answers}"
