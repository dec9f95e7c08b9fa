"""Prices to Sales (issue 12, item 6) against the Sales simulator over real HTTP: BC's customer
price groups become Sales price lists and their Customer Price Group sales prices the lists'
items (CUSTPRCGRP-PRICE, SALESPRC-PRODPRICE); a changed price changes its item; what BC or Sales
refuses is logged with their messages; a CSV import keeps its good rows and only those reach Sales."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.config import Settings
from orders.change_setup import SetupService
from orders.dataverse.client import DataverseClient
from orders.setup import SetupChange
from orders.sync import api
from orders.sync.defaults import CUSTPRCGRP_PRICE, ITEM_PRODUCT, SALESPRC_PRODPRICE
from orders.sync.ports import SalesPort
from schemas import master_data
from schemas import sales_prices as sp
from schemas import tables as t
from schemas.db import write_transaction
from tests.conftest import COMPANY
from tests.support.helpers import cli
from tests.support.sales_simulator import SalesSimulator


def _ref(row: dict[str, Any], column: str) -> str | None:
    value = row.get(column)
    return getattr(value, "id", value)


@pytest.fixture
async def sales(
    settings: Settings, engine: AsyncEngine, demo: dict[str, Any], sim: SalesSimulator
) -> AsyncIterator[SalesPort]:
    """The demo company connected to an empty Sales, its currencies, units and items synchronised."""
    await SetupService(engine, settings).change(
        SetupChange.parse(
            {
                "dataverse_url": sim.org_url,
                "dataverse_token_url": sim.token_url,
                "dataverse_client_id": sim.client_id,
                "dataverse_client_secret": sim.client_secret,
                "local_currency_code": "EUR",
            }
        ),
        "test",
    )
    async with aiohttp.ClientSession() as session:
        port = api.dataverse_sales(
            DataverseClient(session, sim.org_url, sim.token_url, sim.client_id, sim.client_secret)
        )
        await api.full_sync(engine, COMPANY, port, mappings=["CURRENCY", "UNIT OF MEASURE", ITEM_PRODUCT])
        yield port


async def _price(engine: AsyncEngine, item: str, price: str, **key: Any) -> None:
    values = {"unit_price": Decimal(price)}
    if "ending_date" in key:
        values["ending_date"] = key.pop("ending_date")
    async with write_transaction(engine) as conn:
        await sp.upsert_sales_price(conn, COMPANY, sp.PriceKey(item_no=item, **key), **values)


async def _group(engine: AsyncEngine, code: str, description: str) -> None:
    async with write_transaction(engine) as conn:
        await sp.upsert_customer_price_group(conn, COMPANY, code, description=description)


def _lists(sim: SalesSimulator) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in sim.store.rows["pricelevels"].values()}


def _items_of(sim: SalesSimulator, price_list: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """A list's items by (product number, unit name)."""
    units = sim.store.rows["uoms"]
    return {
        (row["productnumber"], units[_ref(row, "uomid")]["name"]): row
        for row in sim.store.rows["productpricelevels"].values()
        if _ref(row, "pricelevelid") == price_list["pricelevelid"]
    }


def _currency(sim: SalesSimulator, row: dict[str, Any]) -> str:
    return sim.store.rows["transactioncurrencies"][_ref(row, "transactioncurrencyid")]["isocurrencycode"]


async def _errors(engine: AsyncEngine) -> list[tuple[str, str]]:
    err = t.integration_synch_job_errors
    async with engine.connect() as conn:
        rows = await conn.execute(select(err.c.source_record_id, err.c.error_message).order_by(err.c.no))
        return [(r.source_record_id, r.error_message) for r in rows]


async def test_price_lists_in_sales_match_the_bc_prices_and_a_changed_price_changes_its_item(
    engine: AsyncEngine, sim: SalesSimulator, sales: SalesPort
) -> None:
    await _group(engine, "RETAIL", "Retail customers")
    await _group(engine, "EXPORT", "Export, in Canadian dollars")
    await _price(engine, "1896-S", "950", sales_code="RETAIL")
    # Dates and minimum quantity are neither filtered nor mapped (bc-sync.md §7): it goes too.
    await _price(
        engine,
        "1906-S",
        "250.5",
        sales_code="RETAIL",
        starting_date=dt.date(2027, 1, 1),
        minimum_quantity=Decimal(5),
        ending_date=dt.date(2027, 6, 30),
    )
    await _price(engine, "1896-S", "1200", sales_code="EXPORT", currency_code="CAD", unit_of_measure_code="PCS")
    # Not of a Customer Price Group: outside SALESPRC-PRODPRICE's filter, never in Sales.
    await _price(engine, "1896-S", "900", sales_type=sp.CUSTOMER, sales_code="10000")
    await _price(engine, "1928-S", "50", sales_type=sp.ALL_CUSTOMERS)

    result = await api.run_mapping(engine, COMPANY, CUSTPRCGRP_PRICE, sales)
    assert result.counters.inserted == 2 and result.counters.failed == 0
    lists = _lists(sim)
    assert {"RETAIL", "EXPORT", "Business Central Default Price List"} <= set(lists)
    assert lists["RETAIL"]["description"] == "Retail customers" and _currency(sim, lists["RETAIL"]) == "EUR"
    assert _currency(sim, lists["EXPORT"]) == "CAD"
    # The group's prices followed it at once (BC syncs them after the group).
    retail = _items_of(sim, lists["RETAIL"])
    assert set(retail) == {("1896-S", "PCS"), ("1906-S", "PCS")}
    assert retail[("1896-S", "PCS")]["amount"] == Decimal("950")
    assert retail[("1906-S", "PCS")]["amount"] == Decimal("250.5")
    assert retail[("1906-S", "PCS")]["pricingmethodcode"] == 1
    assert _currency(sim, retail[("1896-S", "PCS")]) == "EUR"
    export = _items_of(sim, lists["EXPORT"])
    assert set(export) == {("1896-S", "PCS")} and export[("1896-S", "PCS")]["amount"] == Decimal("1200")
    assert _currency(sim, export[("1896-S", "PCS")]) == "CAD"
    assert len(sim.store.rows["productpricelevels"]) == 17 + 3  # the default list's 17 items and these
    assert await _errors(engine) == []

    # The price job finds them coupled and unchanged: nothing new.
    again = await api.run_mapping(engine, COMPANY, SALESPRC_PRODPRICE, sales)
    assert (again.counters.inserted, again.counters.modified, again.counters.failed) == (0, 0, 0)

    # A changed price changes its price list item, the same row.
    line_id = retail[("1896-S", "PCS")]["productpricelevelid"]
    await _price(engine, "1896-S", "899.9", sales_code="RETAIL")
    changed = await api.run_mapping(engine, COMPANY, SALESPRC_PRODPRICE, sales)
    assert (changed.counters.modified, changed.counters.inserted) == (1, 0)
    assert sim.store.rows["productpricelevels"][line_id]["amount"] == Decimal("899.9")
    assert len(sim.store.rows["productpricelevels"]) == 20

    # An uncoupled price whose list already has an item for the same product and unit is
    # coupled to it (BC's matching), not inserted again.
    cir = t.crm_integration_record
    async with write_transaction(engine) as conn:
        await conn.execute(delete(cir).where(cir.c.table_id == t.TABLE_SALES_PRICE, cir.c.crm_id == line_id))
    await _price(engine, "1896-S", "875", sales_code="RETAIL")
    matched = await api.run_mapping(engine, COMPANY, SALESPRC_PRODPRICE, sales)
    assert (matched.counters.coupled, matched.counters.inserted, matched.counters.failed) == (1, 0, 0)
    assert sim.store.rows["productpricelevels"][line_id]["amount"] == Decimal("875")


# A wait, not a speed test: a busy machine may need longer than BC-style "seconds".
WAIT = 20.0


async def _until(check: Callable[[], Awaitable[Any]], within: float = WAIT) -> Any:
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.05)


async def test_the_jobs_in_the_worker_carry_a_new_group_and_a_changed_price_within_seconds(
    settings: Settings, engine: AsyncEngine, sim: SalesSimulator, sales: SalesPort, aiohttp_server: Any
) -> None:
    from gateway.app import create_app

    live = dataclasses.replace(settings, sync_jobs=True, sync_poll_interval=0.05, sync_wake_seconds=0.0)
    await aiohttp_server(create_app(live, engine=engine, worker=True))

    await _group(engine, "RETAIL", "Retail customers")
    await _price(engine, "1896-S", "950", sales_code="RETAIL")

    async def listed() -> dict[str, Any] | None:
        lists = _lists(sim)
        items = _items_of(sim, lists["RETAIL"]) if "RETAIL" in lists else {}
        return items.get(("1896-S", "PCS"))

    line = await _until(listed)
    assert line is not None and line["amount"] == Decimal("950")

    await _price(engine, "1896-S", "925.25", sales_code="RETAIL")

    async def repriced() -> bool:
        return sim.store.rows["productpricelevels"][line["productpricelevelid"]]["amount"] == Decimal("925.25")

    assert await _until(repriced)
    assert len(_items_of(sim, _lists(sim)["RETAIL"])) == 1
    # Woken together, the group's job ran before its prices' job: no price failed for want of its list.
    # (The other jobs meet the demo's couplings to rows this Sales lacks: not ours here.)
    prices = [e for e in await _errors(engine) if e[0].startswith(("Customer Price Group", "Sales Price"))]
    assert prices == []


async def test_what_bc_or_sales_refuses_is_logged_in_their_words(
    engine: AsyncEngine, sim: SalesSimulator, sales: SalesPort
) -> None:
    await _group(engine, "MIXED", "Two currencies")
    await _price(engine, "1896-S", "950", sales_code="MIXED")
    await _price(engine, "1906-S", "300", sales_code="MIXED", currency_code="CAD")
    await _group(engine, "BOXES", "By the box")
    # In BC's classic unit mode a product's unit group holds its base unit only: Sales refuses BOX.
    await _price(engine, "1900-S", "1100", sales_code="BOXES", unit_of_measure_code="BOX")
    await _price(engine, "1900-S", "190", sales_code="BOXES")
    # Differing only in Minimum Quantity (not mapped): the same product and unit as the one above.
    await _price(engine, "1900-S", "180", sales_code="BOXES", minimum_quantity=Decimal(10))

    result = await api.run_mapping(engine, COMPANY, CUSTPRCGRP_PRICE, sales)
    assert "MIXED" not in _lists(sim) and "BOXES" in _lists(sim)
    errors = await _errors(engine)
    mixed = [m for source, m in errors if source == "Customer Price Group: MIXED"]
    assert mixed == [
        "Currency Code must be equal to ''  in Sales Price: Item No.=1906-S, Sales Type=Customer Price Group, "
        "Sales Code=MIXED, Starting Date=, Currency Code=CAD, Variant Code=, Unit of Measure Code=, "
        "Minimum Quantity=0. Current value is 'CAD'."
    ]
    box = [m for source, m in errors if source == "Sales Price: 1900-S,Customer Price Group,BOXES,,,,BOX,0"]
    assert box == ["The unit 'BOX' is not in the unit group of product 1900-S."]
    twice = [m for source, m in errors if source == "Sales Price: 1900-S,Customer Price Group,BOXES,,,,,10"]
    assert len(twice) == 1 and twice[0].startswith("A record with matching key values already exists")
    boxes = _items_of(sim, _lists(sim)["BOXES"])
    assert set(boxes) == {("1900-S", "PCS")} and boxes[("1900-S", "PCS")]["amount"] == Decimal("190")
    assert result.counters.failed == 1  # the group's pass; the price's failure is in its own job row

    # A price of a group not (yet) coupled fails through the lookup, as BC's does.
    await _group(engine, "LATER", "Not synchronised yet")
    await _price(engine, "1896-S", "999", sales_code="LATER")
    prices = await api.run_mapping(engine, COMPANY, SALESPRC_PRODPRICE, sales)
    # LATER's price and MIXED's two (their groups are not coupled), and the BOX price and the
    # duplicate that Sales refuses again.
    assert prices.counters.failed == 5
    messages = [m for _s, m in await _errors(engine)]
    assert "Sales Code LATER must be coupled to a record in Dataverse." in messages
    assert messages.count("Sales Code MIXED must be coupled to a record in Dataverse.") == 2


async def test_a_csv_import_keeps_its_good_rows_and_only_those_reach_sales(
    settings: Settings, engine: AsyncEngine, sim: SalesSimulator, sales: SalesPort, tmp_path: Path
) -> None:
    groups = tmp_path / "groups.csv"
    groups.write_text("Code,Description,Price_Includes_VAT\nRETAIL,Retail,no\nWAYTOOLONGCODE,Too long,no\n")
    code, out, err = await cli(settings, "import", "customer-price-groups", str(groups))
    assert code == 1 and "Imported 1 of 2 rows" in out
    assert f"{groups}:3: The length of the string is 14, but it must be less than or equal to 10 characters." in err

    # Customers carry their Customer Price Group (BC's TableRelation: the group must exist).
    customers = tmp_path / "customers.csv"
    customers.write_text("No,Name,Customer_Price_Group\n10000,Adatum Corporation,retail\n20000,Trey Research,NOGROUP\n")
    code, out, err = await cli(settings, "import", "customers", str(customers))
    assert code == 1 and "Imported 1 of 2 rows" in out
    assert (
        f"{customers}:3: The Customer Price Group does not exist. Identification fields and values: Code='NOGROUP'"
        in err
    )
    assert (await cli(settings, "prices", "assign", "30000", "RETAIL"))[0] == 0
    code, _out, err = await cli(settings, "prices", "assign", "99999", "RETAIL")
    assert code == 1 and "The Customer does not exist. Identification fields and values: No.='99999'" in err
    async with engine.connect() as conn:
        groups = dict((await conn.execute(select(t.customer.c.no, t.customer.c.customer_price_group))).all())
    assert (groups["10000"], groups["20000"], groups["30000"], groups["40000"]) == ("RETAIL", "", "RETAIL", "")
    code, out, _err = await cli(settings, "prices", "groups")
    assert code == 0 and out.splitlines()[1].split() == ["RETAIL", "no", "Retail"]

    prices = tmp_path / "prices.csv"
    prices.write_text(
        "Item_No;Sales_Type;Sales_Code;Starting_Date;Ending_Date;Currency_Code;Unit_of_Measure_Code;"
        "Minimum_Quantity;Unit_Price\n"
        "1896-S;Customer Price Group;RETAIL;;;;PCS;0;940\n"
        "1906-S;Customer Price Group;RETAIL;2027-01-01;2027-12-31;;;10;260\n"
        "NOPE;Customer Price Group;RETAIL;;;;;0;1\n"
        "1896-S;Customer Price Group;NOGROUP;;;;;0;1\n"
        "1908-S;Customer Price Group;RETAIL;2027-06-01;2027-01-01;;;0;1\n"
        "1908-S;Customer Price Group;RETAIL;;;;;0;-5\n"
        "1908-S;Customer Price Group;RETAIL;;;;CRATE;0;5\n"
        "1908-S;Customer Price Group;RETAIL;;;XYZ;;0;5\n"
        "1908-S;Customer Price Group;;;;;;0;5\n"
        "1908-S;Nobody;RETAIL;;;;;0;5\n"
        "1908-S;Customer Price Group;RETAIL;someday;;;;0;5\n"
    )
    code, out, err = await cli(settings, "import", "sales-prices", str(prices))
    assert code == 1 and "Imported 2 of 11 rows into sales-prices (2 created, 0 updated, 9 refused)." in out
    for line, reason in [
        (4, "The Item does not exist. Identification fields and values: No.='NOPE'"),
        (5, "The Customer Price Group does not exist. Identification fields and values: Code='NOGROUP'"),
        (6, "Starting Date cannot be after Ending Date"),
        (7, "Unit Price must not be negative."),
        (
            8,
            "The Item Unit of Measure does not exist. Identification fields and values: Item No.='1908-S',Code='CRATE'",
        ),
        (9, "The Currency does not exist. Identification fields and values: Code='XYZ'"),
        (10, "Sales Code must have a value in Sales Price: Item No.=1908-S, Sales Type=Customer Price Group"),
        (11, "Sales Type must be one of Customer, Customer Price Group, All Customers, Campaign; 'Nobody' is not."),
        (12, "Starting_Date: 'someday' is not a date (YYYY-MM-DD)"),
    ]:
        assert f"{prices}:{line}: {reason}" in err, (line, err)
    assert "Import those first: bc-gateway import customer-price-groups" in err

    # Importing the same file again changes the good rows instead of doubling them.
    code, out, _err = await cli(settings, "import", "sales-prices", str(prices))
    assert "Imported 2 of 11 rows into sales-prices (0 created, 2 updated, 9 refused)." in out

    code, out, err = await cli(settings, "prices", "list", "--group", "retail")
    assert code == 0, err
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["1896-S", "1906-S"]

    await api.run_mapping(engine, COMPANY, CUSTPRCGRP_PRICE, sales)
    retail = _items_of(sim, _lists(sim)["RETAIL"])
    assert {key: row["amount"] for key, row in retail.items()} == {
        ("1896-S", "PCS"): Decimal("940"),
        ("1906-S", "PCS"): Decimal("260"),
    }
    assert await _errors(engine) == []


async def test_an_uncoupled_item_of_a_groups_prices_is_synchronised_there_and_then(
    engine: AsyncEngine, sim: SalesSimulator, sales: SalesPort
) -> None:
    async with write_transaction(engine) as conn:
        await master_data.upsert_item(
            conn, COMPANY, "1970-S", description="VIENNA Desk Lamp", base_unit_of_measure="PCS", unit_price=Decimal(45)
        )
        await master_data.upsert_item(conn, COMPANY, "1971-S", description="Old lamp", base_unit_of_measure="PCS")
        await master_data.upsert_item(conn, COMPANY, "1971-S", blocked=True)
    await _group(engine, "LAMPS", "Lamps")
    await _price(engine, "1970-S", "40", sales_code="LAMPS")
    await _group(engine, "OLD", "Old stock")
    await _price(engine, "1971-S", "10", sales_code="OLD")

    await api.run_mapping(engine, COMPANY, CUSTPRCGRP_PRICE, sales)
    products = {p["productnumber"]: p for p in sim.rows("products")}
    assert "1970-S" in products and "1971-S" not in products  # ITEM-PRODUCT ran for the lamp, coupled
    lamps = _items_of(sim, _lists(sim)["LAMPS"])
    assert set(lamps) == {("1970-S", "PCS")} and lamps[("1970-S", "PCS")]["amount"] == Decimal(40)
    assert _ref(lamps[("1970-S", "PCS")], "productid") == products["1970-S"]["productid"]
    # A blocked item is outside ITEM-PRODUCT's filter: its group cannot be synchronised.
    assert "OLD" not in _lists(sim)
    assert ("Customer Price Group: OLD", "Cannot find a synchronized product for 1971-S.") in await _errors(engine)
