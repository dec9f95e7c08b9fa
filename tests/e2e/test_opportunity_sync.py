"""OPPORTUNITY both ways against the Sales simulator over real HTTP, on SQLite and PostgreSQL: an
opportunity made in BC is an opportunity in Sales owned by its salesperson's user, for the account
and contact coupled to its contact; Sales' name comes back to BC and BC's changes go out again,
each once; a change on both sides is settled by the mapping's Update-Conflict Resolution
(bc-sync.md §12, §1.5)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.config import Settings
from orders.change_setup import SetupService
from orders.dataverse.client import DataverseClient
from orders.setup import SetupChange
from orders.sync import api
from orders.sync.couple_by_match import couple_by_match
from orders.sync.defaults import CONTACT, CURRENCY, CUSTOMER, OPPORTUNITY
from orders.sync.ports import SalesPort
from schemas import master_data, salespeople
from schemas import tables as t
from schemas.db import write_transaction
from schemas.opportunities import OpportunityChange, create_opportunity, edit_opportunity
from tests.conftest import COMPANY
from tests.support.order_harness import ORG_HOST, WEBHOOK_HEADER, Harness
from tests.support.sales_simulator import SalesSimulator

WAIT = 20.0  # a bound for a busy machine, not a speed requirement
TODAY = dt.date(2026, 12, 1)


@dataclasses.dataclass
class Linked:
    sales: SalesPort
    user_id: str  # Alicia's systemuserid (salesperson AO)
    account_id: str  # customer 10000
    contact_id: str  # person KT101 of company KT100


@pytest.fixture
async def sales_client(sim: SalesSimulator) -> AsyncIterator[DataverseClient]:
    async with aiohttp.ClientSession() as session:
        yield DataverseClient(session, sim.org_url, sim.token_url, sim.client_id, sim.client_secret)


async def _connect(engine: AsyncEngine, settings: Settings, sim: SalesSimulator) -> str:
    result = await SetupService(engine, settings).change(
        SetupChange.parse(
            {
                "sales_url": f"https://{ORG_HOST}",
                "sales_order_integration_enabled": True,
                "webhook_auth_mode": "header",
                "webhook_header_name": WEBHOOK_HEADER,
                "rotate_webhook_secret": True,
                "dataverse_url": sim.org_url,
                "dataverse_token_url": sim.token_url,
                "dataverse_client_id": sim.client_id,
                "dataverse_client_secret": sim.client_secret,
                "local_currency_code": "EUR",
            }
        ),
        "test",
    )
    assert result.webhook_secret
    return result.webhook_secret


async def _coupled(engine: AsyncEngine, table: Any, table_id: int, key: str, value: str) -> str | None:
    cir = t.crm_integration_record
    async with engine.connect() as conn:
        return (
            await conn.execute(
                select(cir.c.crm_id)
                .select_from(cir.join(table, table.c.system_id == cir.c.integration_id))
                .where(cir.c.table_id == table_id, table.c[key] == value)
            )
        ).scalar_one_or_none()


@pytest.fixture
async def linked(
    settings: Settings, engine: AsyncEngine, demo: dict[str, Any], sim: SalesSimulator, sales_client: DataverseClient
) -> Linked:
    """Customers and their contacts in Sales, salesperson AO coupled to Alicia's user by e-mail."""
    await _connect(engine, settings, sim)
    sales = api.dataverse_sales(sales_client)
    await api.full_sync(engine, COMPANY, sales, mappings=[CURRENCY, CUSTOMER])
    user_id = sim.add_user("Alicia Ortiz", "alicia@contoso.example")
    sim.add_user("Old Colleague", "old@contoso.example", isdisabled=True)
    async with write_transaction(engine) as conn:
        await salespeople.save_salesperson(conn, COMPANY, "AO", name="Alicia", e_mail="alicia@contoso.example")
        for values in (
            {"no": "KT100", "type": "Company", "name": "Adatum Corporation", "customer_no": "10000"},
            {
                "no": "KT101",
                "type": "Person",
                "company_no": "KT100",
                "first_name": "Robin",
                "surname": "Counts",
                "e_mail": "robin@adatum.example",
                "customer_no": "10000",
            },
        ):
            await conn.execute(t.contact.insert().values(company=COMPANY, system_id=master_data.new_id(), **values))
    matched = await couple_by_match(engine, COMPANY, sales, "salesperson")
    assert [m.row_id for m in matched.coupled] == [user_id]
    await api.run_mapping(engine, COMPANY, CONTACT, sales)
    account_id = await _coupled(engine, t.customer, t.TABLE_CUSTOMER, "no", "10000")
    contact_id = await _coupled(engine, t.contact, t.TABLE_CONTACT, "no", "KT101")
    assert account_id and contact_id
    return Linked(sales, user_id, account_id, contact_id)


async def _new_opportunity(engine: AsyncEngine, **fields: Any) -> str:
    change = OpportunityChange(
        **{
            "description": "Furniture for the new offices",
            "contact_no": "KT101",
            "salesperson_code": "AO",
            "estimated_value_lcy": Decimal("12500"),
            "estimated_closing_date": dt.date(2027, 2, 15),
            **fields,
        }
    )
    async with write_transaction(engine) as conn:
        return await create_opportunity(conn, COMPANY, change, TODAY)


async def _edit(engine: AsyncEngine, no: str, **fields: Any) -> None:
    async with write_transaction(engine) as conn:
        await edit_opportunity(conn, COMPANY, no, OpportunityChange(**fields), TODAY)


async def _description(engine: AsyncEngine, no: str) -> str:
    o = t.opportunity
    async with engine.connect() as conn:
        return str((await conn.execute(select(o.c.description).where(o.c.no == no))).scalar_one())


async def _opportunity_id(engine: AsyncEngine, no: str) -> str | None:
    return await _coupled(engine, t.opportunity, t.TABLE_OPPORTUNITY, "no", no)


async def _past_bc_time(engine: AsyncEngine, no: str) -> None:
    """Wait until BC's clock is past the record's last change by more than 10 ms: BC takes
    changes within 10 ms of the stored time as the same time (bc-sync.md §1.3), and a test is
    quicker than a person."""
    o = t.opportunity
    async with engine.connect() as conn:
        stamp = (await conn.execute(select(o.c.system_modified_at).where(o.c.no == no))).scalar_one()
    deadline = asyncio.get_running_loop().time() + WAIT
    while dt.datetime.now(dt.UTC) <= stamp + dt.timedelta(milliseconds=20):
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.005)


def _ref(row: dict[str, Any], column: str) -> str | None:
    value = row.get(column)
    return getattr(value, "id", value)


async def test_an_opportunity_goes_both_ways_with_its_owner_and_settles(
    linked: Linked, engine: AsyncEngine, sim: SalesSimulator
) -> None:
    no = await _new_opportunity(engine)
    assert no == "OP000001"
    first = await api.run_mapping(engine, COMPANY, OPPORTUNITY, linked.sales)
    assert [(j.direction, j.inserted, j.failed) for j in first.jobs] == [
        ("ToIntegrationTable", 1, 0),
        ("FromIntegrationTable", 0, 0),
    ]
    crm_id = await _opportunity_id(engine, no)
    assert crm_id is not None
    row = sim.row("opportunities", crm_id)
    assert row["name"] == "Furniture for the new offices"
    assert _ref(row, "ownerid") == linked.user_id
    assert row["ownerid"].logical_name == "systemuser"
    assert _ref(row, "parentaccountid") == linked.account_id
    assert _ref(row, "parentcontactid") == linked.contact_id
    assert _ref(row, "transactioncurrencyid") == sim.base_currency_id
    assert (row["estimatedvalue"], row["estimatedclosedate"]) == (Decimal(12500), dt.date(2027, 2, 15))
    assert (row["statecode"], row["statuscode"]) == (0, 1)

    # The salesperson renames it in Sales: the description in BC follows; nothing else changes.
    await sim.update("opportunities", crm_id, name="Furniture for the Atlanta offices")
    back = await api.run_mapping(engine, COMPANY, OPPORTUNITY, linked.sales)
    assert [(j.modified, j.failed) for j in back.jobs] == [(0, 0), (1, 0)]
    assert await _description(engine, no) == "Furniture for the Atlanta offices"

    # BC changes the value and the description: both go out.
    await _past_bc_time(engine, no)
    await _edit(engine, no, description="Furniture and lighting", estimated_value_lcy=Decimal("14000"))
    out = await api.run_mapping(engine, COMPANY, OPPORTUNITY, linked.sales)
    assert [(j.modified, j.failed) for j in out.jobs] == [(1, 0), (0, 0)], [j.counters for j in out.jobs]
    row = sim.row("opportunities", crm_id)
    assert (row["name"], row["estimatedvalue"]) == ("Furniture and lighting", Decimal(14000))

    # No ping-pong: further runs find nothing on either side, and Sales' row is not written again.
    version = row["versionnumber"]
    for _ in range(3):
        again = await api.run_mapping(engine, COMPANY, OPPORTUNITY, linked.sales)
        assert [j.counters.activity() for j in again.jobs] == [0, 0]
    assert sim.row("opportunities", crm_id)["versionnumber"] == version
    assert await _description(engine, no) == "Furniture and lighting"


async def test_a_won_opportunity_stays_as_it_was_in_sales_and_a_closed_one_is_not_edited(
    linked: Linked, engine: AsyncEngine, sim: SalesSimulator
) -> None:
    no = await _new_opportunity(engine)
    await api.run_mapping(engine, COMPANY, OPPORTUNITY, linked.sales)
    crm_id = await _opportunity_id(engine, no)
    assert crm_id is not None
    await _edit(engine, no, description="Won: furniture", status="Won")
    result = await api.run_mapping(engine, COMPANY, OPPORTUNITY, linked.sales)
    assert [j.counters.activity() for j in result.jobs] == [0, 0]  # outside BC's filter
    assert sim.row("opportunities", crm_id)["name"] == "Furniture for the new offices"
    with pytest.raises(master_data.MasterDataError) as refused:
        await _edit(engine, no, description="again")
    assert str(refused.value) == "Closed must be equal to 'No'  in Opportunity: No.=OP000001. Current value is 'Yes'."


async def test_an_owner_whose_salesperson_is_not_coupled_fails_with_bcs_message(
    linked: Linked, engine: AsyncEngine, sim: SalesSimulator
) -> None:
    async with write_transaction(engine) as conn:
        await salespeople.save_salesperson(conn, COMPANY, "PS", name="Peter Saddow")
    no = await _new_opportunity(engine, salesperson_code="PS")
    result = await api.run_mapping(engine, COMPANY, OPPORTUNITY, linked.sales)
    assert result.jobs[0].failed == 1
    err = t.integration_synch_job_errors
    async with engine.connect() as conn:
        rows = (await conn.execute(select(err).where(err.c.integration_synch_job_id == result.jobs[0].id))).all()
    assert [(r.source_record_id, r.message) for r in rows] == [
        (f"Opportunity: {no}", "Salesperson Code PS must be coupled to a record in Dataverse.")
    ]
    assert sim.rows("opportunities") == []


async def test_a_change_on_both_sides_follows_the_mappings_conflict_rule(
    linked: Linked, engine: AsyncEngine, sim: SalesSimulator
) -> None:
    no = await _new_opportunity(engine)
    await api.run_mapping(engine, COMPANY, OPPORTUNITY, linked.sales)
    crm_id = await _opportunity_id(engine, no)
    assert crm_id is not None

    # BC's default (None): the BC -> Sales pass fails with BC's message and leaves both as they are.
    await sim.update("opportunities", crm_id, name="Sales' name")
    await _edit(engine, no, description="BC's name")
    result = await api.run_mapping(engine, COMPANY, OPPORTUNITY, linked.sales, direction=api.Direction.TO)
    assert result.jobs[0].failed == 1
    err = t.integration_synch_job_errors
    async with engine.connect() as conn:
        message = (
            await conn.execute(select(err.c.error_message).where(err.c.integration_synch_job_id == result.jobs[0].id))
        ).scalar_one()
    assert message == (
        "Cannot update a record in the Dataverse Opportunity table. The mapping between Description field on the "
        "Opportunity table and the name field on the Dataverse Opportunity table is bi-directional, and one or both "
        "values have changed since the last synchronization."
    )
    assert sim.row("opportunities", crm_id)["name"] == "Sales' name"

    # Get Update from Integration: Sales' change wins, and stays the same on both sides afterwards.
    itm = t.integration_table_mapping
    async with write_transaction(engine) as conn:
        await conn.execute(
            update(itm)
            .where(itm.c.company == COMPANY, itm.c.name == OPPORTUNITY)
            .values(update_conflict_resolution="Get Update from Integration")
        )
    settled = await api.run_mapping(engine, COMPANY, OPPORTUNITY, linked.sales)
    assert [(j.skipped, j.failed) for j in settled.jobs][1] == (0, 0)
    assert await _description(engine, no) == "Sales' name"
    assert sim.row("opportunities", crm_id)["name"] == "Sales' name"
    for _ in range(2):
        again = await api.run_mapping(engine, COMPANY, OPPORTUNITY, linked.sales)
        assert [j.counters.activity() for j in again.jobs] == [0, 0]
    assert await _description(engine, no) == "Sales' name"


async def test_the_worker_sends_a_new_opportunity_within_seconds(
    linked: Linked, settings: Settings, engine: AsyncEngine, sim: SalesSimulator, aiohttp_server: Any
) -> None:
    from gateway.app import create_app

    live = dataclasses.replace(settings, sync_jobs=True, sync_poll_interval=0.05, sync_wake_seconds=0.0)
    server = await aiohttp_server(create_app(live, engine=engine, worker=True))
    harness = Harness(sim, server, engine, live, "", {}, {}, {})
    await harness.gateway.reload_setup()
    no = await _new_opportunity(engine, description="Chairs for the canteen")

    crm_id = await harness.wait_for(lambda: _opportunity_id(engine, no), within=WAIT)
    assert crm_id is not None
    row = sim.row("opportunities", crm_id)
    assert (row["name"], _ref(row, "ownerid")) == ("Chairs for the canteen", linked.user_id)

    # A change in BC wakes the job again: Sales has it within seconds.
    await _past_bc_time(engine, no)
    await _edit(engine, no, description="Chairs and tables for the canteen", estimated_value_lcy=Decimal(900))

    async def changed() -> bool:
        now = sim.row("opportunities", crm_id)
        return (now["name"], now["estimatedvalue"]) == ("Chairs and tables for the canteen", Decimal(900))

    assert await harness.wait_for(changed, within=WAIT)
