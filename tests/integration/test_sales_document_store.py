"""Storing BC sales documents (schemas.sales_document_store) on SQLite and PostgreSQL: number series
under concurrency, header/lines/notes inserted and replaced, the coupling to the Sales row, archive
versions, and the outstanding quantities that feed Qty. on Sales Order — all in the caller's
transaction (docs/reference/bc-rules.md §4.4–§4.8, §5.2)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from schemas import master_data as md
from schemas import sales_document_store as store
from schemas import tables as t
from schemas.bc_sales_document import BcNote, BcSalesDocument, BcSalesHeader, BcSalesLine
from schemas.db import write_transaction

COMPANY = "CRONUS"
TODAY = dt.date(2024, 5, 30)


@pytest.fixture
async def company(engine: AsyncEngine) -> AsyncIterator[str]:
    """The company with two items and a customer, and an empty change feed."""
    async with write_transaction(engine) as conn:
        await md.ensure_company(conn, COMPANY)
        for code in ("PCS", "BOX"):
            await md.ensure_unit(conn, COMPANY, code)
        await md.upsert_customer(conn, COMPANY, "10000", name="Adatum Corporation")
        for no in ("1896-S", "1900-S"):
            await md.upsert_item(conn, COMPANY, no, base_unit_of_measure="PCS")
        await conn.execute(t.change_log.delete())
    yield COMPANY


def _line(line_no: int, item: str = "1896-S", quantity: str = "2", qty_per: str = "1", **values: Any) -> BcSalesLine:
    q, per = Decimal(quantity), Decimal(qty_per)
    return BcSalesLine(
        line_no=line_no,
        type="Item",
        no=item,
        description=item,
        quantity=q,
        unit_of_measure_code="PCS" if per == 1 else "BOX",
        qty_per_unit_of_measure=per,
        quantity_base=q * per,
        unit_price=Decimal(10),
        amount=q * 10,
        **values,
    )


def _document(
    document_type: Any = "Order", *lines: BcSalesLine, notes: tuple[BcNote, ...] = (), **header: Any
) -> BcSalesDocument:
    values = {"sell_to_customer_no": "10000", "your_reference": "ORD-01001", "sales_id": str(uuid.uuid4()), **header}
    return BcSalesDocument(header=BcSalesHeader(document_type=document_type, **values), lines=lines, notes=notes)


async def _on_sales_order(conn: AsyncConnection, item_no: str) -> Decimal:
    row = (
        await conn.execute(
            select(t.item_inventory.c.qty_on_sales_order).where(
                t.item_inventory.c.company == COMPANY, t.item_inventory.c.item_no == item_no
            )
        )
    ).scalar_one_or_none()
    return row if row is not None else Decimal(0)


async def _item_changes(conn: AsyncConnection) -> list[str]:
    stmt = select(t.change_log.c.key).where(t.change_log.c.topic == "item").order_by(t.change_log.c.seq)
    return list((await conn.execute(stmt)).scalars())


# --- number series -----------------------------------------------------------------------------


async def test_number_series_start_and_go_on_per_series(engine: AsyncEngine, company: str) -> None:
    async with write_transaction(engine) as conn:
        orders = [await store.next_number(conn, company, store.ORDER_SERIES) for _ in range(3)]
        quote = await store.next_number(conn, company, store.QUOTE_SERIES)
    assert orders == ["SO000001", "SO000002", "SO000003"] and quote == "SQ000001"


async def test_concurrent_transactions_never_get_the_same_number(engine: AsyncEngine, company: str) -> None:
    async def one() -> str:
        async with write_transaction(engine) as conn:
            number = await store.next_number(conn, company, store.ORDER_SERIES)
            await asyncio.sleep(0.01)  # hold the series a moment, as a document insert would
            return number

    numbers = await asyncio.gather(*(one() for _ in range(12)))
    assert sorted(numbers) == [f"SO{n:06d}" for n in range(1, 13)]


async def test_a_rolled_back_transaction_gives_its_number_back(engine: AsyncEngine, company: str) -> None:
    with pytest.raises(RuntimeError):
        async with write_transaction(engine) as conn:
            await store.next_number(conn, company, store.ORDER_SERIES)
            raise RuntimeError("the document could not be stored")
    async with write_transaction(engine) as conn:
        assert await store.next_number(conn, company, store.ORDER_SERIES) == "SO000001"


# --- documents, couplings and outstanding quantities -------------------------------------------


async def test_an_order_is_stored_with_lines_notes_and_outstanding_quantities(
    engine: AsyncEngine, company: str
) -> None:
    note = BcNote(description="Delivery", text="Back entrance", sales_note_id=str(uuid.uuid4()))
    doc = _document("Order", _line(10000, quantity="2"), _line(20000, "1900-S", "3", "6"), notes=(note,))
    async with write_transaction(engine) as conn:
        system_id = await store.insert_document(conn, company, doc, "SO000001", TODAY)
        await store.couple(conn, company, doc.header.sales_id, system_id)
        assert await store.coupled_document(conn, company, doc.header.sales_id.upper()) == ("Order", "SO000001")
        header = (await conn.execute(select(t.sales_header))).one()
        assert (header.no, header.status, header.system_id, header.order_date) == ("SO000001", "Open", system_id, TODAY)
        assert (header.sell_to_customer_no, header.your_reference) == ("10000", "ORD-01001")
        lines = (await conn.execute(select(t.sales_line).order_by(t.sales_line.c.line_no))).all()
        assert [(ln.no, ln.quantity_base, ln.outstanding_qty_base) for ln in lines] == [
            ("1896-S", Decimal(2), Decimal(2)),
            ("1900-S", Decimal(18), Decimal(18)),
        ]
        (stored_note,) = (await conn.execute(select(t.sales_note))).all()
        assert (stored_note.description, stored_note.note) == ("Delivery", "Back entrance")
        assert await _on_sales_order(conn, "1896-S") == 2 and await _on_sales_order(conn, "1900-S") == 18
        # The availability cache hears of both items in this same transaction.
        assert sorted(await _item_changes(conn)) == ["1896-S", "1900-S"]


async def test_a_quote_promises_nothing(engine: AsyncEngine, company: str) -> None:
    async with write_transaction(engine) as conn:
        await store.insert_document(conn, company, _document("Quote", _line(10000, quantity="5")), "SQ000001", TODAY)
        (line,) = (await conn.execute(select(t.sales_line))).all()
        assert (line.document_type, line.quantity_base, line.outstanding_qty_base) == ("Quote", 5, 0)
        assert await _on_sales_order(conn, "1896-S") == 0
        assert await _item_changes(conn) == []


async def test_a_failed_transaction_leaves_no_document_totals_or_changes(engine: AsyncEngine, company: str) -> None:
    doc = _document("Order", _line(10000))
    with pytest.raises(RuntimeError):
        async with write_transaction(engine) as conn:
            await store.insert_document(conn, company, doc, "SO000001", TODAY)
            raise RuntimeError("the inbox row was taken over meanwhile")
    async with engine.connect() as conn:
        assert (await conn.execute(select(t.sales_header))).all() == []
        assert (await conn.execute(select(t.sales_line))).all() == []
        assert await _on_sales_order(conn, "1896-S") == 0
        assert await _item_changes(conn) == []


async def test_a_sales_row_is_coupled_to_one_document_only(engine: AsyncEngine, company: str) -> None:
    sales_id = str(uuid.uuid4())
    async with write_transaction(engine) as conn:
        first = await store.insert_document(conn, company, _document(sales_id=sales_id), "SO000001", TODAY)
        second = await store.insert_document(conn, company, _document(sales_id=sales_id), "SO000002", TODAY)
        await store.couple(conn, company, sales_id, first)
        with pytest.raises(store.AlreadyCoupled) as caught:
            await store.couple(conn, company, sales_id, second)
        assert (caught.value.document_type, caught.value.document_no) == ("Order", "SO000001")
        assert await store.coupled_document(conn, company, str(uuid.uuid4())) is None


async def test_move_coupling_to_another_sales_row(engine: AsyncEngine, company: str) -> None:
    old, new = str(uuid.uuid4()), str(uuid.uuid4())
    async with write_transaction(engine) as conn:
        system_id = await store.insert_document(conn, company, _document("Quote", sales_id=old), "SQ000001", TODAY)
        await store.couple(conn, company, old, system_id)
        assert await store.move_coupling(conn, company, old, new.upper()) is True
        assert await store.coupled_document(conn, company, new) == ("Quote", "SQ000001")
        assert await store.coupled_document(conn, company, old) is None
        assert await store.move_coupling(conn, company, old, new) is False  # nothing coupled to it now


async def test_replacing_an_orders_lines_moves_its_outstanding_quantities(engine: AsyncEngine, company: str) -> None:
    async with write_transaction(engine) as conn:
        await store.insert_document(conn, company, _document("Order", _line(10000, quantity="4")), "SO000001", TODAY)
        await conn.execute(t.change_log.delete())
        revised = _document(
            "Order",
            _line(10000, "1900-S", "1", "6"),
            notes=(BcNote(description="New", text="x", sales_note_id=str(uuid.uuid4())),),
            your_reference="ORD-01001-R1",
        )
        await store.replace_lines_and_notes(conn, company, revised, "SO000001")
        (line,) = (await conn.execute(select(t.sales_line))).all()
        assert (line.no, line.outstanding_qty_base) == ("1900-S", 6)
        assert [n.description for n in (await conn.execute(select(t.sales_note))).all()] == ["New"]
        assert (await conn.execute(select(t.sales_header.c.your_reference))).scalar_one() == "ORD-01001-R1"
        assert await _on_sales_order(conn, "1896-S") == 0 and await _on_sales_order(conn, "1900-S") == 6
        assert sorted(await _item_changes(conn)) == ["1896-S", "1900-S"]


async def test_archive_versions_copy_header_lines_and_notes(engine: AsyncEngine, company: str) -> None:
    note = BcNote(description="Terms", text="30 days", sales_note_id=str(uuid.uuid4()))
    quote = _document("Quote", _line(10000), _line(20000, "1900-S"), notes=(note,), your_reference="QUO-01007")
    async with write_transaction(engine) as conn:
        await store.insert_document(conn, company, quote, "SQ000001", TODAY)
        assert await store.archive_document(conn, company, "Quote", "SQ000001", "Revised", "worker-1") == 1
        await store.replace_lines_and_notes(conn, company, _document("Quote", _line(10000, quantity="9")), "SQ000001")
        assert await store.archive_document(conn, company, "Quote", "SQ000001", "Won") == 2
        archives = (
            await conn.execute(select(t.sales_header_archive).order_by(t.sales_header_archive.c.version_no))
        ).all()
        assert [(a.version_no, a.reason, a.archived_by) for a in archives] == [
            (1, "Revised", "worker-1"),
            (2, "Won", ""),
        ]
        lines = (
            await conn.execute(
                select(
                    t.sales_line_archive.c.version_no, t.sales_line_archive.c.no, t.sales_line_archive.c.quantity
                ).order_by(t.sales_line_archive.c.version_no, t.sales_line_archive.c.line_no)
            )
        ).all()
        assert [tuple(r) for r in lines] == [(1, "1896-S", 2), (1, "1900-S", 2), (2, "1896-S", 9)]
        notes = (await conn.execute(select(t.sales_note_archive.c.version_no, t.sales_note_archive.c.note))).all()
        assert [tuple(n) for n in notes] == [(1, "30 days")]  # the rebuilt quote has no notes
        # The quote itself is still there, as BC keeps it after archiving.
        assert (await conn.execute(select(t.sales_header.c.no))).scalars().all() == ["SQ000001"]
        with pytest.raises(ValueError, match=r"^There is no order SO000009 to archive\.$"):
            await store.archive_document(conn, company, "Order", "SO000009", "x")


async def test_quote_by_your_reference_and_set_header(engine: AsyncEngine, company: str) -> None:
    async with write_transaction(engine) as conn:
        for no in ("SQ000001", "SQ000002"):
            await store.insert_document(conn, company, _document("Quote", your_reference="QUO-01007"), no, TODAY)
        await store.insert_document(conn, company, _document("Order", your_reference="QUO-01007"), "SO000001", TODAY)
        assert await store.quote_by_your_reference(conn, company, "QUO-01007") == "SQ000002"  # the last one
        assert await store.quote_by_your_reference(conn, company, "QUO-99999") is None
        await store.set_header(conn, company, "Quote", "SQ000002", status="Released")
        statuses = dict((await conn.execute(select(t.sales_header.c.no, t.sales_header.c.status))).all())
        assert statuses == {"SQ000001": "Open", "SQ000002": "Released", "SO000001": "Open"}
