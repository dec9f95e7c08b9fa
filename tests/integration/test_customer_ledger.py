"""The customer ledger of the embedded BC (schemas/customer_ledger.py) through its commands: an
invoice's entry, payments applied or left open, the statistics' figures, and BC's refusals."""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from schemas import tables as t
from schemas.db import write_transaction
from schemas.sales_document_store import next_number
from tests.conftest import COMPANY
from tests.support.helpers import cli

D = Decimal


async def _order(settings: Any, engine: Any) -> str:
    """SO for customer 10000: 2 ATHENS Desks at 1000, posted (shipped and invoiced): PSI000001."""
    h, ln = t.sales_header, t.sales_line
    async with write_transaction(engine) as conn:
        no = await next_number(conn, settings.company, ("S-ORD", "SO000001"))
        await conn.execute(
            h.insert().values(
                company=settings.company,
                document_type="Order",
                no=no,
                system_id=str(uuid.uuid4()),
                sell_to_customer_no="10000",
                order_date=dt.date.today(),
                your_reference="ORD-1",
                amount=D(2000),
                amount_including_vat=D(2000),
                created_at=dt.datetime.now(dt.UTC),
            )
        )
        await conn.execute(
            ln.insert().values(
                company=settings.company,
                document_type="Order",
                document_no=no,
                line_no=10000,
                type="Item",
                no="1896-S",
                quantity=D(2),
                quantity_base=D(2),
                outstanding_quantity=D(2),
                outstanding_qty_base=D(2),
                qty_to_ship=D(2),
                qty_to_invoice=D(2),
                unit_price=D(1000),
                amount=D(2000),
            )
        )
    return no


async def test_an_invoice_owes_its_amount_and_payments_settle_it(settings: Any, engine: Any, demo: Any) -> None:
    no = await _order(settings, engine)
    code, out, err = await cli(settings, "customers", "statistics", "10000", "--json")
    assert code == 0, err
    before = json.loads(out)
    assert D(before["outstanding_orders_lcy"]) == D(2000) and D(before["balance_lcy"]) == 0

    code, out, err = await cli(settings, "orders", "post", no, "--ship", "--invoice")
    assert code == 0, err
    cle = t.cust_ledger_entry
    async with engine.connect() as conn:
        (entry,) = (await conn.execute(select(cle).where(cle.c.document_no == "PSI000001"))).all()
    assert (entry.customer_no, entry.document_type, entry.amount, entry.sales_lcy, entry.open) == (
        "10000",
        "Invoice",
        D(2000),
        D(2000),
        True,
    )
    code, out, err = await cli(settings, "customers", "statistics", "10000", "--json")
    figures = json.loads(out)
    assert (D(figures["balance_lcy"]), D(figures["outstanding_orders_lcy"]), D(figures["total_sales_lcy"])) == (
        D(2000),
        0,
        D(2000),
    )

    code, out, err = await cli(settings, "customers", "pay", "10000", "300")
    assert code == 0, err
    assert "Posted payment G02001 of 300.00 from customer 10000." in out and "stays open" in out
    code, out, err = await cli(settings, "customers", "pay", "10000", "2500", "--applies-to", "psi000001")
    assert code == 0, err
    assert "Applied 2000.00 to invoice PSI000001: paid in full." in out
    async with engine.connect() as conn:
        entries = (await conn.execute(select(cle).order_by(cle.c.entry_no))).all()
    assert [(e.document_type, e.document_no, e.open) for e in entries] == [
        ("Invoice", "PSI000001", False),
        ("Payment", "G02001", True),
        ("Payment", "G02002", True),  # 500 of it is not applied
    ]
    assert entries[0].closed_by_entry_no == entries[2].entry_no
    code, out, err = await cli(settings, "customers", "statistics", "10000")
    assert code == 0, err
    assert "Balance (LCY)" in out and "-800.00" in out  # 2000 owed, 2800 paid

    # BC's refusals: nothing is posted.
    code, _out, err = await cli(settings, "customers", "pay", "10000", "10", "--applies-to", "PSI000001")
    assert code == 1 and "There is no open Cust. Ledger Entry of Customer 10000" in err
    code, _out, err = await cli(settings, "customers", "pay", "99999", "10")
    assert code == 1 and "The Customer does not exist. Identification fields and values: No.='99999'" in err
    code, _out, err = await cli(settings, "customers", "pay", "10000", "-5")
    assert code == 1 and "Amount must be positive" in err
    code, _out, err = await cli(settings, "customers", "pay", "10000", "lots")
    assert code == 2 and "'lots' is not a number" in err
    code, _out, err = await cli(settings, "customers", "credit-limit", "10000", "-1")
    assert code == 1 and "must not be negative" in err
    async with engine.connect() as conn:
        assert len((await conn.execute(select(cle))).all()) == 3


async def test_random_invoices_and_payments_keep_the_ledger_consistent(settings: Any, engine: Any, demo: Any) -> None:
    """A fixed random sequence of invoices and payments (applied or not): the balance is what was
    invoiced less what was paid; an invoice's remaining amount stays between 0 and its amount, it
    is open exactly while something remains, and its payment status follows."""
    from orders.sync.customer_figures import customer_figures
    from orders.sync.invoice_hooks import ledger_status
    from orders.sync.posted_invoice import payment_status
    from schemas.customer_ledger import LedgerError, post_invoice_entry, post_payment, remaining_amount

    rng = random.Random(1350)
    company, customer = settings.company, "10000"
    invoiced = paid = D(0)
    invoices: dict[str, tuple[int, Decimal]] = {}
    cle = t.cust_ledger_entry
    for step in range(40):
        async with write_transaction(engine) as conn:
            if rng.random() < 0.4 or not invoices:
                amount = D(rng.randint(1, 500_00)) / 100
                no = f"PSI9{step:05d}"
                entry = await post_invoice_entry(
                    conn,
                    company,
                    customer_no=customer,
                    invoice_no=no,
                    posting_date=dt.date(2026, 11, 1),
                    due_date=dt.date(2026, 11, 1) + dt.timedelta(days=rng.randint(0, 60)),
                    amount_including_vat=amount,
                    amount=amount,
                )
                invoices[no] = (entry, amount)
                invoiced += amount
            else:
                amount = D(rng.randint(1, 300_00)) / 100
                target = rng.choice([*invoices, ""])
                try:
                    await post_payment(
                        conn, company, customer, amount, posting_date=dt.date(2026, 11, 20), applies_to_invoice=target
                    )
                    paid += amount
                except LedgerError as exc:
                    assert "There is no open Cust. Ledger Entry" in str(exc)  # the invoice was paid already
        async with engine.connect() as conn:
            _name, figures = await customer_figures(conn, company, customer, dt.date(2026, 12, 1))
            assert figures.balance_lcy == invoiced - paid
            for no, (entry_no, amount) in invoices.items():
                left = await remaining_amount(conn, entry_no)
                assert 0 <= left <= amount
                is_open = (await conn.execute(select(cle.c.open).where(cle.c.entry_no == entry_no))).scalar_one()
                assert is_open == (left != 0)
                assert await ledger_status(conn, company, no) == payment_status(amount, left)


async def test_a_credit_limit_goes_to_the_account_with_customer(engine: Any, demo: Any) -> None:
    """BC's CUSTOMER field row Credit Limit (LCY) -> creditlimit (To): a changed limit is written once."""
    from orders.customer_payments import set_credit_limit
    from orders.sync import api
    from tests.support.sync_fakes import FakeSales

    sales = FakeSales()
    await api.full_sync(engine, COMPANY, sales, mappings=["CURRENCY", "CUSTOMER"])
    for _ in range(2):  # the marks settle
        await api.run_mapping(engine, COMPANY, "CUSTOMER", sales)
    await set_credit_limit(engine, COMPANY, "10000", D("50000"))
    first = await api.run_mapping(engine, COMPANY, "CUSTOMER", sales)
    again = await api.run_mapping(engine, COMPANY, "CUSTOMER", sales)
    assert first.jobs[0].counters.modified == 1 and again.counters.activity() == 0
    assert [w for w in sales.writes_to("accounts") if "creditlimit" in w][-1] == {"creditlimit": D("50000")}
