"""The answer cache over real HTTP: answers are cached, and a change made by another process (the
CLI, through the change feed) drops exactly the answers it touches."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, func, insert, select

from gateway.app import GATEWAY
from gateway.change_feed import ChangeFeed
from schemas import tables as t
from schemas.demo_company import product_id
from tests.support.helpers import q, run_cli

PIA = "/ODataV4/Company('CRONUS')/ProductItemAvailability"
IA = "/ODataV4/ItemAvailability"
ATHENS, PARIS = "1896-S", "1900-S"


def _cache(gateway_server: Any) -> Any:
    cache = gateway_server.app[GATEWAY].response_cache
    assert cache is not None
    return cache


@pytest.fixture
def data_queries(engine: Any, gateway_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """SQL statements that read availability data (not the change feed's own polling): through
    the engine, and through the OData reads' raw reader on SQLite (schemas/sqlite_reader.py)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "item_inventory" in statement or "crm_integration_record" in statement:
            seen.append(statement)

    reader = gateway_server.app[GATEWAY].reader()
    if reader is not None:
        fetch = reader.fetch

        async def recorded(sql: str, params: Any) -> Any:
            record(None, None, sql)
            return await fetch(sql, params)

        monkeypatch.setattr(reader, "fetch", recorded)
    event.listen(engine.sync_engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine.sync_engine, "before_cursor_execute", record)


async def _eventually(check: Callable[[], Awaitable[bool]], what: str, seconds: float = 10.0) -> None:
    """Poll until `check` holds: a change reaches the server through the change feed, not at once."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await check():
        assert loop.time() < deadline, f"not within {seconds} s: {what}"
        await asyncio.sleep(0.05)


def _inventory(body: Any) -> Decimal:
    row = body["value"][0] if "value" in body else body
    return Decimal(str(row["Inventory"]))


async def test_a_repeated_query_is_answered_from_the_cache(
    api: Any, gateway_server: Any, data_queries: list[str]
) -> None:
    cache = _cache(gateway_server)
    url = f"{PIA}?$filter={q(f'CRM_ID eq {product_id(ATHENS)}')}"
    first = await api.get(url)
    assert first[0] == 200 and data_queries
    hits, misses = cache.hits, cache.misses
    data_queries.clear()
    second = await api.get(url)
    assert second[2] == first[2]
    assert (cache.hits, cache.misses) == (hits + 1, misses)
    assert data_queries == []
    # Another spelling is another question: asked of the database once, then cached too.
    other = f"{PIA}?$filter={q(f'CRM_ID eq {product_id(ATHENS).upper()}')}"
    assert (await api.get(other))[2]["value"] == first[2]["value"]
    assert data_queries
    # Users without access are refused before the cache is looked at.
    assert (await api.get(url, auth=None))[0] == 401


async def test_inventory_post_from_the_cli_reaches_the_answers_about_that_item_only(
    api: Any, gateway_server: Any, settings: Any
) -> None:
    cache = _cache(gateway_server)
    _s, _h, row = await api.get(f"{PIA}?$filter={q(f'ItemNo eq {ATHENS!r}')}")
    ids = f"CRM_ID={product_id(ATHENS)},Integration_ID={row['value'][0]['Integration_ID']}"
    about_athens = {
        "by CRM_ID": f"{PIA}?$filter={q(f'CRM_ID eq {product_id(ATHENS)}')}",
        "by ItemNo": f"{PIA}?$filter={q(f'ItemNo eq {ATHENS!r}')}",
        "by key": f"{PIA}({ids})",
        "by item key": f"{IA}('{ATHENS}')",
        "by location": f"/ODataV4/ItemAvailabilityByLocation?$filter={q(f'No eq {ATHENS!r}')}",
        "broad list": f"{IA}?$orderby=No&$filter={q('Inventory ge 0')}",
    }
    about_paris = {
        "by CRM_ID": f"{PIA}?$filter={q(f'CRM_ID eq {product_id(PARIS)}')}",
        "by item key": f"{IA}('{PARIS}')",
    }
    before: dict[str, Any] = {}
    for name, url in {**about_athens, **{f"paris {k}": v for k, v in about_paris.items()}}.items():
        status, _h, body = await api.get(url)
        assert status == 200, (name, body)
        before[name] = body
        hits = cache.hits
        assert (await api.get(url))[2] == body
        assert cache.hits == hits + 1, f"{name} is not cached"
    athens_before = _inventory(before["by item key"])

    code, out, err = await run_cli(settings, "inventory", "post", ATHENS, "7", "--location", "BLUE")
    assert code == 0, err
    assert f"{ATHENS} +7" in out

    for name, url in about_athens.items():
        if name in ("by location", "broad list"):
            continue

        async def shows_new_inventory(url: str = url) -> bool:
            return _inventory((await api.get(url))[2]) == athens_before + 7

        await _eventually(shows_new_inventory, f"{name} shows the posting")

    async def location_moved() -> bool:
        body = (await api.get(about_athens["by location"]))[2]
        return sum(Decimal(str(r["Inventory"])) for r in body["value"]) == athens_before + 7

    await _eventually(location_moved, "the answer by location shows the posting")
    body = (await api.get(about_athens["broad list"]))[2]
    listed = {r["No"]: Decimal(str(r["Inventory"])) for r in body["value"]}
    assert listed[ATHENS] == athens_before + 7

    # The answers about another item, asked by its identity, are still served from the cache.
    for name, url in about_paris.items():
        hits = cache.hits
        assert (await api.get(url))[2] == before[f"paris {name}"]
        assert cache.hits == hits + 1, f"paris {name} was dropped"


async def test_couple_and_uncouple_from_the_cli_drop_set_wide_answers(
    api: Any, gateway_server: Any, settings: Any
) -> None:
    cache = _cache(gateway_server)
    item = "1925-W"  # uncoupled in the demo company
    sales_id = str(uuid.uuid4())
    listing = f"{PIA}?$select=ItemNo"
    by_no = f"{PIA}?$filter={q(f'ItemNo eq {item!r}')}"
    by_crm = f"{PIA}?$filter={q(f'CRM_ID eq {sales_id}')}"
    for url in (listing, by_no, by_crm):
        await api.get(url)
        hits = cache.hits
        await api.get(url)
        assert cache.hits == hits + 1
    assert item not in {r["ItemNo"] for r in (await api.get(listing))[2]["value"]}

    code, _out, err = await run_cli(settings, "couple", "item", item, sales_id)
    assert code == 0, err

    async def coupled() -> bool:
        return item in {r["ItemNo"] for r in (await api.get(listing))[2]["value"]}

    await _eventually(coupled, "the list shows the new coupling")
    assert [r["ItemNo"] for r in (await api.get(by_no))[2]["value"]] == [item]
    assert [r["ItemNo"] for r in (await api.get(by_crm))[2]["value"]] == [item]

    code, _out, err = await run_cli(settings, "uncouple", "item", item)
    assert code == 0, err

    async def uncoupled() -> bool:
        return (await api.get(by_crm))[2]["value"] == []

    await _eventually(uncoupled, "the answer by CRM_ID forgets the coupling")
    assert (await api.get(by_no))[2]["value"] == []
    assert item not in {r["ItemNo"] for r in (await api.get(listing))[2]["value"]}


async def test_the_change_feed_sees_a_change_that_commits_after_a_later_one(engine: Any) -> None:
    """On PostgreSQL seq N+1 can commit (and be read) before seq N: N must still be delivered."""
    seen: list[int] = []

    async def handler(rows: list[Any]) -> None:
        seen.extend(r.seq for r in rows)

    feed = ChangeFeed(engine, 0.05)
    await feed.start()
    feed.on("item", handler)
    base = feed.last_seq

    async def add(seq: int | None, conn: Any = None) -> None:
        values: dict[str, Any] = {"company": "CRONUS", "topic": "item", "key": "X", "changed_at": func.now()}
        if seq is not None:
            values["seq"] = seq
        if conn is not None:
            await conn.execute(insert(t.change_log).values(**values))
            return
        async with engine.begin() as c:
            await c.execute(insert(t.change_log).values(**values))

    # The order of commits, as PostgreSQL can show it, written with explicit numbers.
    await add(base + 2)
    assert await feed.poll() == 1 and seen == [base + 2]
    await add(base + 1)
    await feed.poll()
    assert seen == [base + 2, base + 1]
    await feed.poll()
    assert seen == [base + 2, base + 1], "a change was delivered twice"

    if engine.dialect.name == "postgresql":
        # And for real: a transaction holds its number while a later one commits.
        async with engine.connect() as c:
            await c.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('change_log', 'seq'), {base + 2})")
            await c.commit()
        async with engine.connect() as slow:
            txn = await slow.begin()
            await add(None, slow)
            held = (await slow.execute(select(func.max(t.change_log.c.seq)))).scalar_one()
            await add(None)
            await feed.poll()
            await txn.commit()
        await feed.poll()
        assert held in seen and seen.count(held) == 1
        assert len(seen) == 4
