"""The setup's storage on a real database (SQLite and PostgreSQL): the connection setup row, the
Sales & Receivables Setup rows and the change log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from schemas import setup_store as store
from schemas.db import write_transaction
from schemas.master_data import ensure_company

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


async def test_the_connection_setup_row(engine: Any) -> None:
    async with engine.connect() as conn:
        assert await store.read_connection_setup(conn) is None
    async with write_transaction(engine) as conn:
        await store.ensure_connection_setup(conn)
        await store.ensure_connection_setup(conn)  # once only
        row = await store.read_connection_setup(conn, for_update=True)
        assert row is not None and "id" not in row
        assert row["webhook_auth_mode"] == "header" and row["webhook_secret_hash"] is None
        await store.update_connection_setup(conn, {"sales_url": "https://contoso", "item_availability_enabled": True})
        await store.update_connection_setup(conn, {})
    async with engine.connect() as conn:
        row = await store.read_connection_setup(conn)
    assert row is not None
    assert row["sales_url"] == "https://contoso" and row["item_availability_enabled"] is True


async def test_a_company_without_sales_setup_reads_the_defaults(engine: Any) -> None:
    async with engine.connect() as conn:
        row = await store.read_sales_setup(conn, "CRONUS")
    assert row == {
        "write_in_product_type": "",
        "write_in_product_no": "",
        "local_currency_code": "",
        "freight_gl_account": "",
        "payment_terms_map": {},
        "shipping_agent_map": {},
        "shipment_method_map": {},
    }


async def test_sales_setup_changes_insert_then_update_and_merge_mappings(engine: Any) -> None:
    async with write_transaction(engine) as conn:
        await ensure_company(conn, "CRONUS")
        await ensure_company(conn, "OTHER")
        changed = await store.change_sales_setup(
            conn, "CRONUS", {"local_currency_code": "USD", "payment_terms_map": {"3": "N45", "1": "N30"}}
        )
        assert changed == {
            "local_currency_code": ("", "USD"),
            "payment_terms_map": ("{}", '{"1": "N30", "3": "N45"}'),  # stored in option-value order
        }
    async with write_transaction(engine) as conn:
        changed = await store.change_sales_setup(
            conn, "CRONUS", {"local_currency_code": "USD", "payment_terms_map": {"2": "", "1": "N30"}}
        )
        assert changed == {"payment_terms_map": ('{"1": "N30", "3": "N45"}', '{"1": "N30", "2": "", "3": "N45"}')}
        assert await store.change_sales_setup(conn, "CRONUS", {"payment_terms_map": {"2": ""}}) == {}
        assert await store.change_sales_setup(conn, "OTHER", {"local_currency_code": ""}) == {}
    async with engine.connect() as conn:
        row = await store.read_sales_setup(conn, "CRONUS")
        other = await store.read_sales_setup(conn, "OTHER")
    assert row["local_currency_code"] == "USD"
    assert row["payment_terms_map"] == {"1": "N30", "2": "", "3": "N45"}
    assert other["local_currency_code"] == "" and other["payment_terms_map"] == {}


async def test_the_change_log_newest_first(engine: Any) -> None:
    async with write_transaction(engine) as conn:
        await store.add_setup_changes(conn, NOW, "alice", [("sales_url", "", "https://a")])
        await store.add_setup_changes(
            conn,
            NOW + dt.timedelta(minutes=1),
            "b" * 80,
            [("sdk_version", "", "9.1"), ("webhook_secret", "", "(new secret)")],
        )
    async with engine.connect() as conn:
        entries = await store.read_setup_changes(conn)
        latest = await store.read_setup_changes(conn, limit=1)
    assert [e.field for e in entries] == ["webhook_secret", "sdk_version", "sales_url"]
    assert entries[0].changed_by == "b" * 50  # the column's length
    assert entries[-1].changed_at == NOW and entries[-1].new_value == "https://a"
    assert latest == entries[:1]
