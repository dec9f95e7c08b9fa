"""Inventory postings keep the running totals (BC's SIFT sums) equal to the ledger, on SQLite and
PostgreSQL, one at a time and concurrently; a posting BC would refuse writes nothing."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from schemas import master_data as masterdata
from schemas.db import write_transaction
from schemas.demo_company import ITEMS, LOCATIONS
from schemas.inventory import LedgerLine, PostingError, post_ledger_entries
from schemas.tables import change_log, item_inventory, item_ledger_entry, item_location_inventory

COMPANY = "CRONUS"
ITEM_NOS = [no for no, *_ in ITEMS]
LOCATION_CODES = ["", *(code for code, _ in LOCATIONS)]


async def _ledger_and_totals(engine: Any) -> tuple[dict[Any, Decimal], dict[Any, Decimal], dict[Any, Decimal]]:
    """(ledger sums per item and location, item totals, item-at-location totals), zeros left out."""
    ile = item_ledger_entry.c
    async with engine.connect() as conn:
        entries = (
            await conn.execute(select(ile.item_no, ile.location_code, ile.quantity).where(ile.company == COMPANY))
        ).all()
        items = (
            await conn.execute(
                select(item_inventory.c.item_no, item_inventory.c.inventory).where(item_inventory.c.company == COMPANY)
            )
        ).all()
        locations = (
            await conn.execute(
                select(
                    item_location_inventory.c.item_no,
                    item_location_inventory.c.location_code,
                    item_location_inventory.c.inventory,
                ).where(item_location_inventory.c.company == COMPANY)
            )
        ).all()
    ledger: dict[Any, Decimal] = defaultdict(Decimal)
    for no, location, quantity in entries:  # summed here, exactly, not by the database
        ledger[(no, location)] += quantity
        ledger[no] += quantity
    return (
        {k: v for k, v in ledger.items() if v != 0},
        {no: v for no, v in items if v != 0},
        {(no, loc): v for no, loc, v in locations if v != 0},
    )


async def _assert_totals_match(engine: Any) -> dict[Any, Decimal]:
    ledger, items, locations = await _ledger_and_totals(engine)
    assert items == {k: v for k, v in ledger.items() if isinstance(k, str)}
    assert locations == {k: v for k, v in ledger.items() if isinstance(k, tuple)}
    return ledger


def _random_line(rng: random.Random) -> LedgerLine:
    quantity = Decimal(rng.randint(-50_000_00000, 50_000_00000)).scaleb(-rng.choice([0, 1, 2, 5]))
    if quantity == 0:
        quantity = Decimal("0.00001")
    return LedgerLine(rng.choice(ITEM_NOS), quantity, rng.choice(LOCATION_CODES))


async def test_totals_equal_the_ledger_after_random_postings(engine: Any, demo: Any) -> None:
    before = await _assert_totals_match(engine)  # the demo company's own postings
    rng = random.Random(20261126)
    posted: dict[Any, Decimal] = defaultdict(Decimal)
    for _ in range(25):
        lines = [_random_line(rng) for _ in range(rng.randint(1, 4))]
        async with write_transaction(engine) as conn:
            entry_nos = await post_ledger_entries(conn, COMPANY, lines)
        assert len(entry_nos) == len(lines) and entry_nos == sorted(entry_nos)
        for line in lines:
            posted[line.item_no] += line.quantity
            posted[(line.item_no, line.location_code)] += line.quantity
    after = await _assert_totals_match(engine)
    for key, amount in posted.items():
        assert after.get(key, Decimal(0)) == before.get(key, Decimal(0)) + amount, key


async def test_concurrent_postings_keep_the_totals(engine: Any, demo: Any) -> None:
    before = await _assert_totals_match(engine)
    hot = ITEM_NOS[:3]  # few items, so that tasks collide on the same total rows

    async def poster(seed: int) -> Decimal:
        rng = random.Random(seed)
        total = Decimal(0)
        for _ in range(6):
            line = LedgerLine(rng.choice(hot), Decimal(rng.randint(1, 999)).scaleb(-2), rng.choice(["", "BLUE"]))
            async with write_transaction(engine) as conn:
                await post_ledger_entries(conn, COMPANY, [line])
            total += line.quantity
        return total

    totals = await asyncio.gather(*(poster(seed) for seed in range(8)))
    after = await _assert_totals_match(engine)
    assert sum(after.get(no, Decimal(0)) - before.get(no, Decimal(0)) for no in hot) == sum(totals)
    async with engine.connect() as conn:
        n = (await conn.execute(select(func.count()).select_from(item_ledger_entry))).scalar_one()
        changed = set((await conn.execute(select(change_log.c.key).where(change_log.c.topic == "item"))).scalars())
    assert n >= 48 and set(hot) <= changed


REFUSED: list[tuple[list[LedgerLine], str]] = [
    ([LedgerLine("NOPE", Decimal(1))], "The Item does not exist. Identification fields and values: No.='NOPE'"),
    (
        [LedgerLine("SVC-1", Decimal(1))],
        "Type must be equal to 'Inventory'  in Item: No.=SVC-1. Current value is 'Service'.",
    ),
    (
        [LedgerLine("1896-S", Decimal(1), "MARS")],
        "The Location does not exist. Identification fields and values: Code='MARS'",
    ),
    ([LedgerLine("1896-S", Decimal(0))], "Quantity must not be 0."),
    # A refused line after good ones: the whole posting is refused.
    ([LedgerLine("1896-S", Decimal(5)), LedgerLine("1900-S", Decimal(0))], "Quantity must not be 0."),
    (
        [LedgerLine("1896-S", Decimal(5), "BLUE"), LedgerLine("NOPE", Decimal(1))],
        "The Item does not exist. Identification fields and values: No.='NOPE'",
    ),
]


async def test_refused_postings_write_nothing(engine: Any, demo: Any) -> None:
    async with write_transaction(engine) as conn:
        await masterdata.upsert_item(conn, COMPANY, "SVC-1", description="Installation", type="Service")

    async def snapshot() -> tuple[Any, ...]:
        async with engine.connect() as conn:
            counts = [
                (await conn.execute(select(func.count()).select_from(table))).scalar_one()
                for table in (item_ledger_entry, change_log)
            ]
        return (*counts, await _ledger_and_totals(engine))

    before = await snapshot()
    for lines, message in REFUSED:
        with pytest.raises(PostingError) as info:
            async with write_transaction(engine) as conn:
                await post_ledger_entries(conn, COMPANY, lines)
        assert str(info.value) == message
        assert await snapshot() == before, message
