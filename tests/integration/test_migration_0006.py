"""Migration 0006 on data: a stored OData URL that is the old loopback default becomes "derived",
one set on purpose stays; inbox rows keep their ids, and a deleted row's id is never reused."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select, text

from schemas.db import create_engine
from schemas.migrate import upgrade
from schemas.tables import connection_setup, order_inbox
from tests.conftest import PG_URL

OLD_DEFAULT = "http://127.0.0.1:8080/OData/Company('CRONUS')/ProductItemAvailability"


@pytest.fixture
async def at_0004(db_kind: str, tmp_path: Path) -> str:
    if db_kind == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    else:
        url = PG_URL
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()
    engine = create_engine(url)
    await upgrade(engine, "0004")
    await engine.dispose()
    return url


@pytest.mark.parametrize(
    ("stored", "after"),
    [
        (OLD_DEFAULT, ""),
        ("http://localhost:9000/OData/Company('CRONUS')/ProductItemAvailability", ""),
        ("https://bc.example.com/OData/Company('CRONUS')/ProductItemAvailability", "same"),
        ("", ""),
    ],
)
async def test_old_default_odata_url_becomes_derived(at_0004: str, stored: str, after: str) -> None:
    engine = create_engine(at_0004)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO connection_setup (id, odata_url) VALUES (1, :u)"), {"u": stored})
        await upgrade(engine)
        async with engine.connect() as conn:
            value = (await conn.execute(select(connection_setup.c.odata_url))).scalar_one()
        assert value == (stored if after == "same" else after)
    finally:
        await engine.dispose()


async def test_inbox_ids_are_kept_and_never_reused(at_0004: str) -> None:
    engine = create_engine(at_0004)
    try:
        async with engine.begin() as conn:
            for n in (1, 2):
                await conn.execute(
                    text(
                        "INSERT INTO order_inbox (company, table_name, sales_id, event, received_at) "
                        "VALUES ('CRONUS', 'salesorder', :s, 'submit', CURRENT_TIMESTAMP)"
                    ),
                    {"s": f"00000000-0000-4000-8000-00000000000{n}"},
                )
        await upgrade(engine)
        async with engine.begin() as conn:
            ids = list((await conn.execute(select(order_inbox.c.id).order_by(order_inbox.c.id))).scalars())
            assert ids == [1, 2]
            numbers = list((await conn.execute(select(order_inbox.c.sales_number))).scalars())
            assert numbers == ["", ""]
            await conn.execute(delete(order_inbox).where(order_inbox.c.id == 2))
            new_id = (
                await conn.execute(
                    insert(order_inbox)
                    .values(
                        company="CRONUS",
                        table_name="salesorder",
                        sales_id="00000000-0000-4000-8000-000000000003",
                        event="submit",
                        received_at=text("CURRENT_TIMESTAMP"),
                    )
                    .returning(order_inbox.c.id)
                )
            ).scalar_one()
        assert new_id == 3  # not 2: the action and delivery logs may still name row 2
    finally:
        await engine.dispose()
