"""Migration 0019 on data: a POSTEDSALESINV-INV mapping stored before it gets BC's Salesperson Code
→ ownerid row (as a new setup has it, orders/sync/defaults.py), once; other mappings, and one that
has the row already, are left as they are."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import select, text

from orders.sync.defaults import POSTED_SALES_INVOICE, default_mapping
from schemas.db import create_engine
from schemas.migrate import upgrade
from schemas.tables import integration_field_mapping as ifm
from tests.conftest import PG_URL


@pytest.fixture
async def at_0018(db_kind: str, tmp_path: Path) -> str:
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
    await upgrade(engine, "0018")
    await engine.dispose()
    return url


async def test_a_stored_invoice_mapping_gets_the_salesperson_row_once(at_0018: str) -> None:
    engine = create_engine(at_0018)
    try:
        async with engine.begin() as conn:
            for company in ("CRONUS", "FABRIKAM"):
                await conn.execute(
                    text("INSERT INTO company (name, system_id) VALUES (:c, :i)"),
                    {"c": company, "i": str(uuid.uuid4())},
                )
                for name, table_id, table in ((POSTED_SALES_INVOICE, 112, "invoice"), ("CUSTOMER", 18, "account")):
                    await conn.execute(
                        text(
                            "INSERT INTO integration_table_mapping (company, name, table_id, integration_table) "
                            "VALUES (:c, :n, :t, :i)"
                        ),
                        {"c": company, "n": name, "t": table_id, "i": table},
                    )
                    await conn.execute(
                        text(
                            "INSERT INTO integration_field_mapping (company, mapping_name, no, field_name, "
                            "integration_table_field) VALUES (:c, :n, 1, 'no', 'invoicenumber')"
                        ),
                        {"c": company, "n": name},
                    )
            # FABRIKAM's person added the row already (under another number): it is not doubled.
            await conn.execute(
                text(
                    "INSERT INTO integration_field_mapping (company, mapping_name, no, field_name, "
                    "integration_table_field, lookup_mapping) VALUES ('FABRIKAM', :n, 40, 'salesperson_code', "
                    "'ownerid', 'SALESPEOPLE')"
                ),
                {"n": POSTED_SALES_INVOICE},
            )
        await upgrade(engine)
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(ifm).where(ifm.c.field_name == "salesperson_code").order_by(ifm.c.company, ifm.c.no)
                )
            ).all()
        assert [(r.company, r.mapping_name, r.no) for r in rows] == [
            ("CRONUS", POSTED_SALES_INVOICE, 23),
            ("FABRIKAM", POSTED_SALES_INVOICE, 40),
        ]
        added = rows[0]
        mapping = default_mapping(POSTED_SALES_INVOICE)
        assert mapping is not None
        (default,) = [f for f in mapping.fields if f.field_name == "salesperson_code"]
        assert (added.no, added.integration_table_field, added.lookup_mapping, added.not_null) == (
            default.no,
            default.integration_field,
            default.lookup_mapping,
            default.not_null,
        )
        assert (added.direction, added.status, added.clear_value_on_failed_sync) == (
            "ToIntegrationTable",
            "Enabled",
            False,
        )
    finally:
        await engine.dispose()
