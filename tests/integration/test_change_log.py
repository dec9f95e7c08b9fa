"""The change feed's write side (schemas.change_log) on SQLite and PostgreSQL: a row per change,
written in the same transaction as the change itself — another connection sees both or neither —
and the topic and key each store writes (the gateway's caches and other processes poll them)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from orders import inbox
from schemas import change_log as changes
from schemas import master_data as md
from schemas import tables as t
from schemas.db import write_transaction
from schemas.inventory import LedgerLine, post_ledger_entries
from schemas.users import UserService

COMPANY = "CRONUS"


async def _feed(engine: AsyncEngine, after: int = 0) -> list[tuple[str, str, str | None]]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(t.change_log.c.topic, t.change_log.c.company, t.change_log.c.key)
                .where(t.change_log.c.seq > after)
                .order_by(t.change_log.c.seq)
            )
        ).all()
    return [(r.topic, r.company, r.key) for r in rows]


async def _last_seq(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        seqs = (await conn.execute(select(t.change_log.c.seq))).scalars().all()
    return max(seqs, default=0)


async def test_record_and_record_items(engine: AsyncEngine) -> None:
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    async with write_transaction(engine) as conn:
        await changes.record(conn, changes.SETUP)
        await changes.record(conn, changes.INBOX, company=COMPANY, key="42")
        await changes.record_items(conn, COMPANY, {"1900-S", "1896-S"})
        await changes.record_items(conn, COMPANY, set())  # nothing touched: nothing written
    assert await _feed(engine) == [
        ("setup", "", None),
        ("inbox", COMPANY, "42"),
        ("item", COMPANY, "1896-S"),  # items in order, one row each
        ("item", COMPANY, "1900-S"),
    ]
    async with engine.connect() as conn:
        rows = (await conn.execute(select(t.change_log).order_by(t.change_log.c.seq))).all()
    assert [r.seq for r in rows] == sorted(r.seq for r in rows) and len({r.seq for r in rows}) == 4
    assert all(before <= r.changed_at <= dt.datetime.now(dt.UTC) for r in rows)


async def test_a_change_and_its_feed_row_commit_together(engine: AsyncEngine) -> None:
    async with write_transaction(engine) as conn:
        await md.ensure_company(conn, COMPANY)
    start = await _last_seq(engine)
    async with write_transaction(engine) as conn:
        await md.upsert_item(conn, COMPANY, "1896-S", description="ATHENS Desk")
        # Another connection sees neither the item nor its feed row before the commit.
        async with engine.connect() as other:
            assert (await other.execute(select(t.item))).all() == []
        assert await _feed(engine, start) == []
    assert await _feed(engine, start) == [("master", COMPANY, None)]
    async with engine.connect() as conn:
        assert [r.no for r in (await conn.execute(select(t.item))).all()] == ["1896-S"]


async def test_a_rolled_back_change_leaves_no_feed_row(engine: AsyncEngine) -> None:
    async with write_transaction(engine) as conn:
        await md.ensure_company(conn, COMPANY)
    start = await _last_seq(engine)
    with pytest.raises(md.MasterDataError):
        async with write_transaction(engine) as conn:
            await md.upsert_item(conn, COMPANY, "1896-S")
            await md.couple(conn, COMPANY, "item", "1896-S", "not-a-guid")  # refused: all of it rolls back
    assert await _feed(engine, start) == []
    async with engine.connect() as conn:
        assert (await conn.execute(select(t.item))).all() == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param("company", [("company", "FABRIKAM", None)], id="company"),
        pytest.param("item", [("master", COMPANY, None)], id="master-data"),
        pytest.param("couple", [("master", COMPANY, None)], id="coupling"),
        pytest.param("ledger", [("item", COMPANY, "1896-S"), ("item", COMPANY, "1900-S")], id="ledger"),
        pytest.param("user", [("users", "", "SALESAVAIL")], id="user"),
        pytest.param("inbox", [("inbox", COMPANY, "1")], id="inbox"),
    ],
)
async def test_each_store_writes_its_topic(engine: AsyncEngine, change: str, expected: list[Any]) -> None:
    async with write_transaction(engine) as conn:
        await md.ensure_company(conn, COMPANY)
        await md.ensure_unit(conn, COMPANY, "PCS")  # an item's base unit must exist, as in BC
        for no in ("1896-S", "1900-S"):
            await md.upsert_item(conn, COMPANY, no, base_unit_of_measure="PCS")
    start = await _last_seq(engine)
    if change == "user":
        await UserService(engine).add("SALESAVAIL", roles={"PRODUCT_AVAILABILITY"})
    elif change == "inbox":
        await inbox.enqueue(engine, COMPANY, "salesorder", str(uuid.uuid4()), "submit")
    else:
        async with write_transaction(engine) as conn:
            if change == "company":
                await md.ensure_company(conn, "FABRIKAM")
            elif change == "item":
                await md.upsert_item(conn, COMPANY, "1896-S", unit_price=Decimal(1))
            elif change == "couple":
                await md.couple(conn, COMPANY, "item", "1896-S", str(uuid.uuid4()))
            else:
                lines = [
                    LedgerLine("1900-S", Decimal(3)),
                    LedgerLine("1896-S", Decimal(2)),
                    LedgerLine("1896-S", Decimal(-1)),
                ]
                await post_ledger_entries(conn, COMPANY, lines)
    assert await _feed(engine, start) == expected
