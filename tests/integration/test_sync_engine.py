"""The synchronisation engine against a real database (the demo company) and the in-memory Sales
of tests/support/sync_fakes.py: full sync, marks, conflicts, skipping, item availability, the job
queue's lock."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from orders.sync import api
from orders.sync.defaults import INTEGRATION_SYNCH_JOB_RUNNER, ITEM_PRODUCT
from orders.sync.item_availability import run_item_availability
from orders.sync.jobs import JobQueue
from orders.sync.scheduler import SyncScheduler
from orders.sync.store import now as store_now
from schemas import master_data
from schemas import tables as t
from schemas.db import write_transaction
from schemas.inventory import JournalLine, post_journal_line
from tests.conftest import COMPANY
from tests.support.sync_fakes import INTEGRATION_USER, FakeSales


async def _coupled(engine: AsyncEngine, table_id: int, no: str) -> Any:
    table = {t.TABLE_ITEM: t.item, t.TABLE_CUSTOMER: t.customer, t.TABLE_RESOURCE: t.resource}[table_id]
    cir = t.crm_integration_record
    async with engine.connect() as conn:
        return (
            await conn.execute(
                select(cir)
                .select_from(cir.join(table, table.c.system_id == cir.c.integration_id))
                .where(cir.c.table_id == table_id, table.c.no == no)
            )
        ).first()


async def _errors(engine: AsyncEngine) -> list[str]:
    err = t.integration_synch_job_errors
    async with engine.connect() as conn:
        return list((await conn.execute(select(err.c.message).order_by(err.c.no))).scalars())


async def _full(engine: AsyncEngine, sales: FakeSales) -> list[api.RunResult]:
    return await api.full_sync(engine, COMPANY, sales)


async def _items(engine: AsyncEngine, sales: FakeSales) -> list[api.RunResult]:
    """Units and items only: what the item tests need (CI time)."""
    return await api.full_sync(engine, COMPANY, sales, mappings=["UNIT OF MEASURE", ITEM_PRODUCT])


async def test_a_full_sync_of_the_demo_company_creates_and_couples_groups_products_and_accounts(
    engine: AsyncEngine, demo: dict[str, Any]
) -> None:
    sales = FakeSales()
    results = {r.mapping_name: r for r in await _full(engine, sales)}
    assert list(results) == [
        "SALESPEOPLE",
        "CURRENCY",
        "UNIT OF MEASURE",
        "RESOURCE-PRODUCT",
        "ITEM-PRODUCT",
        "CUSTOMER",
        "CONTACT",
        "CUSTPRCGRP-PRICE",
        "SALESPRC-PRODPRICE",
        "OPPORTUNITY",
        "POSTEDSALESINV-INV",
    ]
    assert await _errors(engine) == []

    groups = {r["name"]: r for r in sales.table("uomschedules").values()}
    assert set(groups) == {"NAV PCS", "NAV BOX", "NAV HOUR"}
    products = sales.table("products")
    items = [p for p in products.values() if p["producttypecode"] == 1]
    services = [p for p in products.values() if p["producttypecode"] == 3]
    assert len(items) == 17 and len(services) == 2
    desk = next(p for p in items if p["productnumber"] == "1896-S")
    assert desk["name"] == "ATHENS Desk" and desk["price"] == Decimal("1000.8")
    assert (desk["statecode"], desk["statuscode"]) == (0, 1)  # activated after the insert
    assert desk["_defaultuomscheduleid_value"] == groups["NAV PCS"]["uomscheduleid"]
    pcs_unit = next(
        u for u in sales.table("uoms").values() if u["_uomscheduleid_value"] == desk["_defaultuomscheduleid_value"]
    )
    assert desk["_defaultuomid_value"] == pcs_unit["uomid"]
    # The default price list and its line, in the LCY.
    (price_list,) = sales.table("pricelevels").values()
    assert price_list["name"] == "Business Central Default Price List"
    lines = [pl for pl in sales.table("productpricelevels").values() if pl["_productid_value"] == desk["productid"]]
    assert len(lines) == 1 and lines[0]["amount"] == Decimal("1000.8")
    accounts = {a["name"]: a for a in sales.table("accounts").values()}
    assert len(accounts) == 5 and accounts["Relecloud"]["address1_city"] == "Munich"
    euro = next(c for c in sales.table("transactioncurrencies").values() if c["isocurrencycode"] == "EUR")
    assert accounts["Relecloud"]["_transactioncurrencyid_value"] == euro["transactioncurrencyid"]

    # The demo's couplings to rows Sales did not have were restored onto the new rows.
    coupling = await _coupled(engine, t.TABLE_ITEM, "1896-S")
    assert coupling.crm_id == desk["productid"] and coupling.last_synch_crm_result == "Success"
    counters = results["ITEM-PRODUCT"].jobs[0].counters
    assert counters.inserted == 17 and counters.failed == 0

    # Scheduled runs afterwards: nothing changed, nothing written, and the log says unchanged.
    writes = len(sales.writes)
    for name in results:
        await api.run_mapping(engine, COMPANY, name, sales)
    second = await api.run_mapping(engine, COMPANY, ITEM_PRODUCT, sales)
    assert len(sales.writes) == writes
    assert all(job.counters.activity() == 0 for job in second.jobs)


async def test_a_price_change_goes_out_once_and_the_integration_users_write_does_not_come_back(
    engine: AsyncEngine, demo: dict[str, Any]
) -> None:
    sales = FakeSales()
    await _items(engine, sales)
    for _ in range(2):  # the marks settle
        await api.run_mapping(engine, COMPANY, ITEM_PRODUCT, sales)
    async with write_transaction(engine) as conn:
        await master_data.upsert_item(conn, COMPANY, "1896-S", unit_price=Decimal("1100"))
    first = await api.run_mapping(engine, COMPANY, ITEM_PRODUCT, sales)
    again = await api.run_mapping(engine, COMPANY, ITEM_PRODUCT, sales)

    to, back = first.jobs
    assert (to.direction, to.counters.modified) == ("ToIntegrationTable", 1)
    # The product now last modified by the integration user is not read back.
    assert (back.direction, back.counters.modified, back.counters.unchanged) == ("FromIntegrationTable", 0, 0)
    assert again.counters.activity() == 0
    price_writes = [w for w in sales.writes_to("products") if "price" in w]
    assert price_writes == [{"price": Decimal("1100")}]
    coupling = await _coupled(engine, t.TABLE_ITEM, "1896-S")
    product = sales.table("products")[coupling.crm_id]
    assert product["price"] == Decimal("1100") and product["_modifiedby_value"] == INTEGRATION_USER
    line = next(pl for pl in sales.table("productpricelevels").values() if pl["_productid_value"] == coupling.crm_id)
    assert line["amount"] == Decimal("1100")


async def test_a_name_changed_in_sales_comes_to_bc_and_only_bidirectional_fields_do(
    engine: AsyncEngine, demo: dict[str, Any]
) -> None:
    sales = FakeSales()
    await _items(engine, sales)
    coupling = await _coupled(engine, t.TABLE_ITEM, "1900-S")
    sales.edit("products", coupling.crm_id, {"name": "PARIS Guest Chair, black leather", "price": Decimal(1)})
    result = await api.run_mapping(engine, COMPANY, ITEM_PRODUCT, sales)
    assert result.jobs[1].counters.modified == 1
    async with engine.connect() as conn:
        item = (await conn.execute(select(t.item).where(t.item.c.no == "1900-S"))).one()
    assert item.description == "PARIS Guest Chair, black leather"
    assert item.unit_price == Decimal("192.8")  # price is BC -> Sales only
    # The next pass BC -> Sales does not send the description back as a change of its own.
    await api.run_mapping(engine, COMPANY, ITEM_PRODUCT, sales)
    assert [w for w in sales.writes_to("products") if "name" in w] == []


async def test_a_product_edited_in_sales_and_bc_at_once_fails_with_bcs_conflict_message_then_is_skipped(
    engine: AsyncEngine, demo: dict[str, Any]
) -> None:
    sales = FakeSales()
    await _items(engine, sales)
    coupling = await _coupled(engine, t.TABLE_ITEM, "1906-S")
    sales.edit("products", coupling.crm_id, {"name": "Pedestal (Sales)"})
    async with write_transaction(engine) as conn:
        await master_data.upsert_item(conn, COMPANY, "1906-S", description="Pedestal (BC)")
    result = await api.run_mapping(engine, COMPANY, ITEM_PRODUCT, sales)
    assert [j.counters.failed for j in result.jobs] == [1, 1]
    assert (await _errors(engine))[0] == (
        "Cannot update a record in the Dataverse Product table. The mapping between Description field on the Item "
        "table and the name field on the Dataverse Product table is bi-directional, and one or both values have "
        "changed since the last synchronization."
    )
    assert sales.table("products")[coupling.crm_id]["name"] == "Pedestal (Sales)"
    # The same failure a second time skips the coupling; then it is left out.
    await api.run_mapping(engine, COMPANY, ITEM_PRODUCT, sales)
    assert (await _coupled(engine, t.TABLE_ITEM, "1906-S")).skipped
    third = await api.run_mapping(engine, COMPANY, ITEM_PRODUCT, sales)
    assert third.jobs[0].counters.failed == 0
    assert await api.restore_skipped(engine, COMPANY, ITEM_PRODUCT) == 1
    assert not (await _coupled(engine, t.TABLE_ITEM, "1906-S")).skipped


async def test_an_item_whose_unit_is_not_coupled_fails_with_bcs_message(
    engine: AsyncEngine, demo: dict[str, Any]
) -> None:
    sales = FakeSales()
    async with write_transaction(engine) as conn:
        await master_data.upsert_unit_of_measure(conn, COMPANY, "SET", "Set")
        await master_data.upsert_item(conn, COMPANY, "7000", description="Tool set", base_unit_of_measure="SET")
    await api.full_sync(engine, COMPANY, sales, mappings=["ITEM-PRODUCT"])
    assert "Base Unit of Measure SET must be coupled to a record in Dataverse." in await _errors(engine)


async def test_a_ledger_entry_updates_quantityonhand(engine: AsyncEngine, demo: dict[str, Any]) -> None:
    sales = FakeSales()
    await _items(engine, sales)
    coupling = await _coupled(engine, t.TABLE_ITEM, "1928-S")
    before = sales.table("products")[coupling.crm_id]["quantityonhand"]
    await run_item_availability(engine, COMPANY, sales, await api.bc_records(engine, COMPANY))  # sets its time
    async with write_transaction(engine) as conn:
        await post_journal_line(conn, COMPANY, JournalLine("1928-S", Decimal(7), "BLUE", entry_type="Positive Adjmt."))
    result = await run_item_availability(engine, COMPANY, sales, await api.bc_records(engine, COMPANY))
    assert result is not None and result.jobs[0].counters.modified == 1
    assert sales.table("products")[coupling.crm_id]["quantityonhand"] == Decimal(before) + 7
    # Only the item that moved was written.
    assert sales.writes_to("products")[-1] == {"quantityonhand": Decimal(before) + 7}

    # Many items moving at once go to Sales in one batch.
    moved = ["1896-S", "1900-S", "1906-S", "1908-S", "1920-S", "1936-S"]
    sales.batches.clear()
    async with write_transaction(engine) as conn:
        for no in moved:
            await post_journal_line(conn, COMPANY, JournalLine(no, Decimal(3), "RED", entry_type="Purchase"))
    result = await run_item_availability(engine, COMPANY, sales, await api.bc_records(engine, COMPANY))
    assert result is not None and result.jobs[0].counters.modified == len(moved)
    assert sales.batches == [len(moved)]


async def test_a_new_item_wakes_its_job_which_creates_and_couples_its_product(
    engine: AsyncEngine, demo: dict[str, Any]
) -> None:
    sales = FakeSales()

    async def factory() -> FakeSales:
        return sales

    await _items(engine, sales)
    scheduler = SyncScheduler(engine, COMPANY, factory, wake_delay=0.0)
    await scheduler.run_once()  # every job's first run
    queue = JobQueue(engine)
    entry = await queue.entry(COMPANY, INTEGRATION_SYNCH_JOB_RUNNER, ITEM_PRODUCT)
    assert entry is not None and entry.next_run is not None and entry.status != "In Process"
    async with write_transaction(engine) as conn:
        await master_data.upsert_item(conn, COMPANY, "8000", description="Desk lamp", base_unit_of_measure="PCS")
    assert await scheduler.notice_bc_changes() >= 1
    woken = await queue.entry(COMPANY, INTEGRATION_SYNCH_JOB_RUNNER, ITEM_PRODUCT)
    assert woken is not None and woken.next_run is not None and woken.next_run < entry.next_run
    await scheduler.run_once()
    (product,) = [p for p in sales.table("products").values() if p["productnumber"] == "8000"]
    assert (
        product["name"] == "Desk lamp" and (await _coupled(engine, t.TABLE_ITEM, "8000")).crm_id == product["productid"]
    )


async def test_two_workers_never_run_the_same_job_at_once(engine: AsyncEngine, demo: dict[str, Any]) -> None:
    await api.ensure_defaults(engine, COMPANY)
    queue = JobQueue(engine)
    due = await queue.due(COMPANY)
    assert due
    claims = await asyncio.gather(*(queue.claim(e.id, owner, 60) for e in due for owner in ("a", "b", "c")))
    assert sum(claims) == len(due)  # each entry went to exactly one owner
    assert await queue.due(COMPANY) == []
    job = t.integration_synch_job
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(job))).scalar_one() == 0


async def test_two_schedulers_at_once_run_each_job_once(engine: AsyncEngine, demo: dict[str, Any]) -> None:
    sales = FakeSales()

    async def factory() -> FakeSales:
        await asyncio.sleep(0)  # let the other scheduler interleave
        return sales

    a, b = (SyncScheduler(engine, COMPANY, factory, owner=name) for name in ("worker-a", "worker-b"))
    ran = await asyncio.gather(a.run_once(), b.run_once())
    job = t.integration_synch_job
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(job.c.job_queue_entry_id, job.c.synch_direction, func.count()).group_by(
                    job.c.job_queue_entry_id, job.c.synch_direction
                )
            )
        ).all()
    # eleven mappings, item availability, sales order status, customer statistics and notes, each in one of the two
    assert sum(ran) == 15
    # One pass per direction per entry: no entry ran in both workers.
    assert rows and all(count == 1 for _entry, _direction, count in rows)
    entries = await JobQueue(engine).entries(COMPANY)
    assert all(e.lease_owner is None and e.status != "In Process" for e in entries)


async def test_a_contact_person_goes_to_sales_under_its_customers_account(
    engine: AsyncEngine, demo: dict[str, Any]
) -> None:
    sales = FakeSales()
    async with write_transaction(engine) as conn:
        for values in (
            {"no": "CT100", "type": "Company", "name": "Adatum Corporation", "customer_no": "10000"},
            {
                "no": "CT101",
                "type": "Person",
                "company_no": "CT100",
                "first_name": "Robert",
                "surname": "Townes",
                "e_mail": "robert@adatum.example",
                "customer_no": "10000",
            },
            {"no": "CT102", "type": "Person", "company_no": "", "first_name": "Lone", "surname": "Wolf"},
        ):
            await conn.execute(t.contact.insert().values(company=COMPANY, system_id=master_data.new_id(), **values))
    await _full(engine, sales)
    (contact,) = sales.table("contacts").values()  # the company and the person without one stay out
    account = (await _coupled(engine, t.TABLE_CUSTOMER, "10000")).crm_id
    assert (contact["firstname"], contact["lastname"], contact["emailaddress1"]) == (
        "Robert",
        "Townes",
        "robert@adatum.example",
    )
    assert contact["_parentcustomerid_value"] == account
    # A change of the e-mail in Sales comes back to the BC contact.
    sales.edit("contacts", contact["contactid"], {"emailaddress1": "r.townes@adatum.example"})
    await api.run_mapping(engine, COMPANY, "CONTACT", sales)
    async with engine.connect() as conn:
        e_mail = (await conn.execute(select(t.contact.c.e_mail).where(t.contact.c.no == "CT101"))).scalar_one()
    assert e_mail == "r.townes@adatum.example"


async def test_a_sleeping_job_asks_sales_each_interval_and_wakes_on_a_change_there(
    engine: AsyncEngine, demo: dict[str, Any]
) -> None:
    sales = FakeSales()

    async def factory() -> FakeSales:
        return sales

    await _items(engine, sales)
    scheduler = SyncScheduler(engine, COMPANY, factory, wake_delay=0.0)
    await scheduler.run_once()  # the first runs; ITEM-PRODUCT finds nothing to do and sleeps
    queue = JobQueue(engine)
    entry = await queue.entry(COMPANY, INTEGRATION_SYNCH_JOB_RUNNER, ITEM_PRODUCT)
    assert entry is not None and entry.sleeping and entry.last_sales_poll_at is not None
    assert entry.next_run is not None and entry.next_run > store_now() + dt.timedelta(hours=23)  # 1440 min
    probes = sales.probes
    assert await scheduler.poll_sales(sales) == 0
    assert sales.probes == probes  # asked already in this interval: not again

    # A person changes a product in Sales; the next interval's $top=1 finds it and wakes the job.
    coupling = await _coupled(engine, t.TABLE_ITEM, "1896-S")
    sales.edit("products", coupling.crm_id, {"name": "ATHENS Desk, oak"})
    async with write_transaction(engine) as conn:
        await conn.execute(
            t.job_queue_entry.update().where(t.job_queue_entry.c.id == entry.id).values(last_sales_poll_at=None)
        )
    assert await scheduler.poll_sales(sales) >= 1
    woken = await queue.entry(COMPANY, INTEGRATION_SYNCH_JOB_RUNNER, ITEM_PRODUCT)
    assert woken is not None and woken.next_run is not None and woken.next_run <= store_now()
    await scheduler.run_once()
    async with engine.connect() as conn:
        description = (await conn.execute(select(t.item.c.description).where(t.item.c.no == "1896-S"))).scalar_one()
    assert description == "ATHENS Desk, oak"


async def test_a_full_sync_restores_couplings_to_missing_rows_even_when_they_were_skipped(
    engine: AsyncEngine, demo: dict[str, Any]
) -> None:
    sales = FakeSales()
    # Scheduled runs before any full sync: the demo's item couplings point at products this Sales
    # lacks, fail twice with BC's message and are skipped.
    await api.full_sync(engine, COMPANY, sales, mappings=["UNIT OF MEASURE"])
    for _ in range(2):
        await api.run_mapping(engine, COMPANY, ITEM_PRODUCT, sales)
    before = await _coupled(engine, t.TABLE_ITEM, "1896-S")
    assert before.skipped
    assert "The Item record cannot be updated because it is coupled to a deleted record." in await _errors(engine)
    await api.full_sync(engine, COMPANY, sales, mappings=[ITEM_PRODUCT])
    after = await _coupled(engine, t.TABLE_ITEM, "1896-S")
    assert not after.skipped and after.crm_id in sales.table("products")
