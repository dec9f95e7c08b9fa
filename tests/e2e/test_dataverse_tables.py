"""DataverseTables (orders/dataverse/writes.py) against the Sales simulator over real HTTP on
loopback: the writes the synchronisation jobs make, their refusals, $batch with change sets,
paging and the $top=1 probe, and service protection (429 with Retry-After, 52 at once)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import aiohttp
import pytest

from orders.dataverse.client import DataverseClient
from orders.dataverse.writes import (
    ChangeSet,
    DataverseError,
    DataverseNotFound,
    DataversePreconditionFailed,
    DataverseTables,
    DataverseUnavailable,
    Operation,
    Query,
    bind,
    changes_query,
)
from tests.support.client_fixtures import FakeSleep
from tests.support.sales_simulator import SalesSimulator


@pytest.fixture
def tables(client: DataverseClient) -> DataverseTables:
    return DataverseTables(client)


async def _unit_group(tables: DataverseTables, code: str) -> tuple[str, str]:
    """BC's way: POST the group "NAV <code>"; Sales makes its base unit. (group id, unit id)."""
    group = await tables.create("uomschedules", {"name": f"NAV {code}", "baseuomname": code})
    [unit] = await tables.all_rows(Query("uoms", ("uomid", "name"), f"_uomscheduleid_value eq {group.id}"))
    return group.id, unit["uomid"]


def _product(number: str, group: str, unit: str, **values: object) -> dict[str, object]:
    return {
        "productnumber": number,
        "name": f"Item {number}",
        "producttypecode": 1,
        "price": Decimal("4000"),
        **bind("defaultuomscheduleid", "uomschedules", group),
        **bind("defaultuomid", "uoms", unit),
        **values,
    }


async def test_create_returns_the_id_and_keeps_who_and_when(sim: SalesSimulator, tables: DataverseTables) -> None:
    group, unit = await _unit_group(tables, "PCS")
    written = await tables.create("products", _product("1000", group, unit, quantityonhand=Decimal("12.5")))
    row = sim.row("products", written.id)
    assert row["productnumber"] == "1000" and row["price"] == Decimal("4000")
    assert row["defaultuomid"].id == unit and row["defaultuomscheduleid"].id == group
    assert row["statecode"] == 2 and row["statuscode"] == 0  # Draft until activated, as in Sales
    assert row["modifiedby"].id == sim.integration_user_id == await tables.integration_user_id()
    assert row["modifiedon"] == row["createdon"]
    post = sim.api_requests("POST")[-1]
    assert "Prefer" not in post.headers and post.body["defaultuomid@odata.bind"] == f"/uoms({unit})"

    shown = await tables.create(
        "products", _product("1001", group, unit), return_row=True, select=["productid", "name", "modifiedon"]
    )
    assert shown.row is not None and shown.row["name"] == "Item 1001" and shown.etag == 'W/"1"'
    assert shown.id == shown.row["productid"]
    await tables.set_state("products", written.id, 0, 1)
    assert sim.row("products", written.id)["statecode"] == 0


async def test_update_with_if_match(sim: SalesSimulator, tables: DataverseTables) -> None:
    group, unit = await _unit_group(tables, "PCS")
    product = await tables.create("products", _product("1000", group, unit), return_row=True)
    etag = product.etag
    assert etag is not None
    sim.now = lambda: sim.store.rows["products"][product.id]["modifiedon"] + timedelta(seconds=5)
    await tables.update("products", product.id, {"price": Decimal("3900")}, if_match=etag)
    row = sim.row("products", product.id)
    assert row["price"] == Decimal("3900") and row["modifiedon"] > row["createdon"]
    assert sim.api_requests("PATCH")[-1].headers["If-Match"] == etag

    # The ETag read before that change is stale now: Sales refuses, and nothing is written.
    with pytest.raises(DataversePreconditionFailed) as stale:
        await tables.update("products", product.id, {"price": Decimal("1")}, if_match=etag)
    assert stale.value.status == 412 and stale.value.code == "0x80060882"
    assert sim.row("products", product.id)["price"] == Decimal("3900")

    # "*" forbids the upsert: a missing row is a 404, not a new row.
    missing = str(uuid.uuid4())
    with pytest.raises(DataverseNotFound):
        await tables.update("products", missing, {"name": "x"})
    assert missing not in sim.store.rows["products"]

    fresh = await tables.update("products", product.id, {"name": "Bicycle"}, return_row=True)
    assert fresh.row is not None and fresh.row["name"] == "Bicycle" and fresh.etag not in (None, etag)


async def test_bind_lookups_and_delete(sim: SalesSimulator, tables: DataverseTables) -> None:
    account = await tables.create("accounts", {"name": "Adatum", "accountnumber": "10000"})
    contact = await tables.create(
        "contacts",
        {"firstname": "Robert", "lastname": "Townes", **bind("parentcustomerid_account", "accounts", account.id)},
    )
    stored = sim.row("contacts", contact.id)
    assert stored["parentcustomerid"].logical_name == "account" and stored["parentcustomerid"].id == account.id
    assert stored["fullname"] == "Robert Townes"  # Sales composes it
    await tables.update("accounts", account.id, bind("primarycontactid", "contacts", contact.id))
    assert sim.row("accounts", account.id)["primarycontactid"].id == contact.id
    assert (await tables.find("accounts", account.id, ["_primarycontactid_value"]))["_primarycontactid_value"] == (
        contact.id
    )
    note = await tables.create_note("accounts", account.id, "Synchronised", "Coupled to customer 10000")
    assert sim.row("annotations", note)["objectid"].id == account.id

    await tables.delete("contacts", contact.id)
    assert await tables.find("contacts", contact.id) is None
    with pytest.raises(DataverseNotFound):
        await tables.delete("contacts", contact.id)


async def test_sales_refuses_bad_rows(sim: SalesSimulator, tables: DataverseTables) -> None:
    group, unit = await _unit_group(tables, "PCS")
    _box_group, other_unit = await _unit_group(tables, "BOX")
    await tables.create("products", _product("1000", group, unit))

    cases: list[tuple[str, dict[str, object], int, str, str]] = [
        (
            "products",
            {"name": "No number", **bind("defaultuomscheduleid", "uomschedules", group)},
            400,
            "0x80040203",
            "Required field 'defaultuomid'",
        ),
        ("products", _product("1000", group, unit), 412, "0x80040237", "productnumber = '1000'"),
        ("products", _product("1002", group, other_unit), 400, "0x80040203", "is not in the unit group"),
        ("products", _product("1003", group, str(uuid.uuid4())), 404, "0x80040217", "Does Not Exist"),
        ("products", _product("1004", group, unit, price=-5), 400, "0x80044331", "outside the valid range"),
        (
            "products",
            {**_product("1005", group, unit), "DefaultUoMId@odata.bind": f"/uoms({unit})"},
            400,
            "0x80060888",
            "undeclared property 'DefaultUoMId'",  # navigation names are case-sensitive
        ),
        ("uoms", {"name": "BOX", "quantity": 12, "isschedulebaseuom": True}, 400, "0x80040203", "set by Dataverse"),
        (
            "transactioncurrencies",
            {"isocurrencycode": "EUR", "currencyname": "Euro", "currencysymbol": "€", "exchangerate": 1},
            412,
            "0x80040237",
            "isocurrencycode",
        ),
    ]
    for entity_set, values, status, code, text in cases:
        with pytest.raises(DataverseError) as refused:
            await tables.create(entity_set, values)
        error = refused.value
        assert (error.status, error.code) == (status, code), (entity_set, values, error)
        assert text in error.message, error.message
    assert [r["productnumber"] for r in sim.rows("products")] == ["1000"]

    # A product's structure is set once; a computed column cannot be written.
    [product] = sim.rows("products")
    with pytest.raises(DataverseError, match="cannot be changed"):
        await tables.update("products", product["productid"], {"productstructure": 2})
    contact = await tables.create("contacts", {"lastname": "Townes"})
    with pytest.raises(DataverseError, match="set by Dataverse"):
        await tables.update("contacts", contact.id, {"fullname": "x"})


async def test_batch_change_sets_commit_or_roll_back(sim: SalesSimulator, tables: DataverseTables) -> None:
    group, unit = await _unit_group(tables, "PCS")
    price_list = sim.add_price_list("Business Central Default Price List")
    # One change set: a product and its price list line bound to it by Content-ID.
    committed = ChangeSet(
        [
            Operation.create("products", _product("1000", group, unit), content_id="p"),
            Operation.create(
                "productpricelevels",
                {
                    "amount": 4000,
                    "pricingmethodcode": 1,
                    "productid@odata.bind": "$p",
                    **bind("pricelevelid", "pricelevels", price_list),
                    **bind("uomid", "uoms", unit),
                },
            ),
        ]
    )
    # A second one fails at its last operation: Sales keeps none of it.
    failing = ChangeSet(
        [
            Operation.create("products", _product("2000", group, unit)),
            Operation.create("products", _product("1000", group, unit)),  # duplicate product number
        ]
    )
    read = Operation.get(Query("products", ("productnumber",)))
    results = await tables.batch([committed, failing, read], continue_on_error=True)
    assert [r.ok for r in results] == [True, True, False, False, True]
    product_id = results[0].id
    assert product_id is not None and results[1].id is not None
    line = sim.row("productpricelevels", results[1].id)
    assert line["productid"].id == product_id and line["uomscheduleid"].id == group
    assert line["transactioncurrencyid"].id == sim.base_currency_id  # from the price list
    assert line["productnumber"] == "1000"  # from the product
    assert [r.rolled_back for r in results[2:4]] == [True, True] and results[3].failed
    assert isinstance(results[3].error, DataversePreconditionFailed) and results[3].error.code == "0x80040237"
    assert results[4].body["value"] == [{"@odata.etag": 'W/"1"', "productid": product_id, "productnumber": "1000"}]
    assert [r["productnumber"] for r in sim.rows("products")] == ["1000"]
    [batch] = sim.api_requests("POST")[-1:]
    assert batch.resource == "$batch" and batch.headers["Content-Type"].startswith("multipart/mixed; boundary=")

    # Without continue-on-error the batch stops at the failure: what follows is not run.
    stop = await tables.batch([failing, Operation.update("products", product_id, {"name": "Not run"})])
    assert stop[2].status is None and not stop[2].ok
    assert sim.row("products", product_id)["name"] == "Item 1000"


async def test_batches_are_split_at_1000_operations(sim: SalesSimulator, tables: DataverseTables) -> None:
    ids = [sim.add_account(f"A{i}") for i in range(1001)]
    results = await tables.batch([Operation.update("accounts", i, {"telephone1": "555"}) for i in ids])
    assert len(results) == 1001 and all(r.ok for r in results)
    assert [r.resource for r in sim.api_requests("POST")] == ["$batch", "$batch"]
    assert {r["telephone1"] for r in sim.rows("accounts")} == {"555"}


async def test_paging_and_the_changes_since_a_mark(sim: SalesSimulator, tables: DataverseTables) -> None:
    base = sim.now()
    for i in range(7):
        sim.now = lambda i=i: base + timedelta(seconds=i)
        sim.add_account(f"Account {i}", accountnumber=f"{i:05}")
    pages = [
        [r["name"] for r in page]
        async for page in tables.pages(Query("accounts", ("name",), orderby=("name desc",)), page_size=3)
    ]
    assert pages == [["Account 6", "Account 5", "Account 4"], ["Account 3", "Account 2", "Account 1"], ["Account 0"]]
    assert all(r.headers["Prefer"].endswith("odata.maxpagesize=3") for r in sim.api_requests("GET"))

    # The job's read: changed after the mark, not by the integration user, oldest first.
    me = await tables.integration_user_id()
    await tables.update("accounts", sim.rows("accounts")[5]["accountid"], {"name": "Changed by the sync"})
    since = changes_query("accounts", base + timedelta(seconds=3), not_modified_by=me, select=["name"])
    assert [r["name"] for r in await tables.all_rows(since, page_size=2)] == ["Account 4", "Account 6"]
    assert await tables.has_rows(since)
    probe = sim.api_requests("GET")[-1]
    assert probe.query["$top"] == "1" and probe.query["$select"] == "accountid"
    later = changes_query("accounts", base + timedelta(seconds=30), not_modified_by=me)
    assert not await tables.has_rows(later) and await tables.first(later) is None


async def test_429_waits_for_retry_after(sim: SalesSimulator, tables: DataverseTables, sleep: FakeSleep) -> None:
    group, unit = await _unit_group(tables, "PCS")
    sim.fail_next("POST", r"/products$", count=2, status=429, retry_after=7)
    written = await tables.create("products", _product("1000", group, unit))
    assert sleep.delays == [7.0, 7.0]  # never sooner than Sales asked, even for a POST
    assert [r["productnumber"] for r in sim.rows("products")] == ["1000"] and written.id

    sim.fail_next("POST", r"/\$batch$", status=429, retry_after=3)
    [result] = await tables.batch([Operation.update("products", written.id, {"name": "B"})])
    assert result.ok and sleep.delays[-1] == 3.0

    sim.limit_requests(1, window=300, retry_after=120)  # beyond the client's cap: handed back
    await tables.find("products", written.id)
    with pytest.raises(DataverseUnavailable) as throttled:
        await tables.find("products", written.id)
    assert throttled.value.status == 429 and throttled.value.code == "0x80072322"
    assert throttled.value.retry_after == 120.0


async def _until(sim: SalesSimulator, condition: Callable[[], bool]) -> None:
    """Wait until the simulator's request counters satisfy ``condition`` (no timing involved)."""
    while True:
        sim.protection.changed.clear()  # before the check: a change after it sets the event again
        if condition():
            return
        await sim.protection.changed.wait()


async def test_52_concurrent_requests(
    sim: SalesSimulator, make_client: Callable[..., DataverseClient], session: aiohttp.ClientSession
) -> None:
    protection = sim.protection
    sim.fail_next("GET", r"/accounts$", count=52, status="hold")
    # Sales refuses the 53rd request in flight ...
    form = {
        "grant_type": "client_credentials",
        "client_id": sim.client_id,
        "client_secret": sim.client_secret,
        "scope": sim.org_url + "/.default",
    }
    async with session.post(sim.token_url, data=form) as resp:
        token = (await resp.json())["access_token"]

    async def raw() -> int:
        async with session.get(sim.api_url + "accounts", headers={"Authorization": f"Bearer {token}"}) as resp:
            return resp.status

    calls = [asyncio.create_task(raw()) for _ in range(60)]
    await _until(sim, lambda: protection.in_flight + protection.refused == 60)
    sim.release_held_requests()
    statuses = await asyncio.gather(*calls)
    assert statuses.count(429) == 8 and statuses.count(200) == 52
    assert protection.peak == 52 and protection.refused == 8

    # ... and the client never sends more than 52 at once: the others wait their turn.
    protection.peak = protection.refused = 0
    sim.faults.gate.clear()
    sim.fail_next("GET", r"/accounts$", count=60, status="hold")
    tables = DataverseTables(make_client())
    reads = [asyncio.create_task(tables.all_rows(Query("accounts"))) for _ in range(60)]
    await _until(sim, lambda: protection.in_flight == 52)
    sim.release_held_requests()
    answers = await asyncio.gather(*reads)
    assert answers == [[]] * 60
    assert protection.peak == 52 and protection.refused == 0
