"""schemas/bulk.py writes at the driver (COPY, executemany) what SQLAlchemy's executemany writes:
the same stored values (bind processing, Python-side defaults), a refusal as SQLAlchemy's
IntegrityError with nothing kept, and upserts that add to or replace what is there. On SQLite
and PostgreSQL; batches of more rows than bulk.FEW, so the driver path is the one taken."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from schemas import master_data
from schemas import tables as t
from schemas.bulk import FEW, among, insert_many, upsert_many
from schemas.db import write_transaction

N = FEW * 3


async def _company(engine: Any, name: str) -> None:
    async with write_transaction(engine) as conn:
        await master_data.ensure_company(conn, name)
        await master_data.ensure_unit(conn, name, "PCS", "Piece")


def _items(prefix: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for i in range(N):
        row: dict[str, Any] = {"no": f"{prefix}{i:03d}", "system_id": master_data.new_id().upper()}
        if i % 2:  # some rows leave columns to their defaults
            row |= {"description": f"Item {i}", "unit_price": Decimal(i) / 4, "blocked": i % 3 == 0}
        rows.append(row)
    return rows


async def _stored(engine: Any, company: str) -> list[tuple[Any, ...]]:
    item = t.item
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(item.c.no, item.c.system_id, item.c.description, item.c.unit_price, item.c.blocked, item.c.type)
            .where(item.c.company == company)
            .order_by(item.c.no)
        )
        return [tuple(r) for r in rows]


async def test_insert_many_stores_what_sqlalchemy_stores(engine: Any) -> None:
    await _company(engine, "VIA_SA")
    await _company(engine, "VIA_DRIVER")
    async with write_transaction(engine) as conn:
        for row in _items("X"):  # SQLAlchemy's own path, a row at a time
            await conn.execute(insert(t.item).values(company="VIA_SA", **row))
        started = dt.datetime.now(dt.UTC)
        await insert_many(conn, t.item, _items("X"), {"company": "VIA_DRIVER"})
    assert [r[2:] for r in await _stored(engine, "VIA_DRIVER")] == [r[2:] for r in await _stored(engine, "VIA_SA")]
    stored = await _stored(engine, "VIA_DRIVER")
    assert len(stored) == N and all(r[1] == r[1].lower() for r in stored)  # the Guid type's folding
    async with engine.connect() as conn:
        stamps = (
            await conn.execute(select(t.item.c.system_modified_at).where(t.item.c.company == "VIA_DRIVER"))
        ).scalars()
        assert all(s is not None and s >= started - dt.timedelta(seconds=1) for s in stamps)  # the Python default


async def test_a_refused_bulk_insert_is_an_integrity_error_and_keeps_nothing(engine: Any) -> None:
    await _company(engine, "DUP")
    rows = _items("D")
    rows[-1] = {**rows[-1], "no": rows[0]["no"]}  # the same No. twice
    with pytest.raises(IntegrityError):
        async with write_transaction(engine) as conn:
            await insert_many(conn, t.item, rows, {"company": "DUP"})
    assert await _stored(engine, "DUP") == []


async def test_upserts_add_to_and_replace_what_is_there(engine: Any) -> None:
    await _company(engine, "UPS")
    nos = [f"U{i:03d}" for i in range(N)]
    async with write_transaction(engine) as conn:
        await insert_many(
            conn, t.item, [{"no": no, "system_id": master_data.new_id()} for no in nos], {"company": "UPS"}
        )
    for run in range(2):  # the second time every row meets the one the first wrote
        async with write_transaction(engine) as conn:
            await upsert_many(
                conn,
                t.item_inventory,
                ("company", "item_no"),
                [{"item_no": no, "inventory": Decimal(i)} for i, no in enumerate(nos)],
                {"company": "UPS"},
                add=("inventory",),
            )
            await upsert_many(
                conn,
                t.item_unit_of_measure,
                ("company", "item_no", "code"),
                [{"item_no": no, "code": "PCS", "qty_per_unit_of_measure": Decimal(run + 2)} for no in nos],
                {"company": "UPS"},
                replace=("qty_per_unit_of_measure",),
            )
    async with engine.connect() as conn:
        totals = dict((await conn.execute(select(t.item_inventory.c.item_no, t.item_inventory.c.inventory))).all())
        units = (await conn.execute(select(t.item_unit_of_measure.c.qty_per_unit_of_measure))).scalars().all()
        some = [*nos[::7], "NOT THERE"]
        found = (
            await conn.execute(select(t.item.c.no).where(t.item.c.company == "UPS", among(conn, t.item.c.no, some)))
        ).scalars()
        assert sorted(found) == sorted(nos[::7])
    assert totals == {no: 2 * i for i, no in enumerate(nos)}
    assert len(units) == N and set(units) == {3}
