"""The Dataverse Web API client against the Sales simulator over real HTTP: every call, the errors
Dataverse answers, paging and the BC write-back. Token and retries: test_dataverse_client_retries."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from orders.dataverse.client import DataverseClient, DataverseError, DataverseNotFound, DataverseUnavailable
from tests.support.builders import order_with_everything
from tests.support.client_fixtures import FakeSleep
from tests.support.sales_simulator import SalesSimulator

# ---------------------------------------------------------------------------------------------
# Every call


async def test_order_reads(sim: SalesSimulator, client: DataverseClient) -> None:
    ids = await order_with_everything(sim)
    order = await client.get_sales_order(ids["order"])
    assert order["salesorderid"] == ids["order"]
    assert order["ordernumber"].startswith("ORD-01001-")
    assert order["_customerid_value"] == ids["contact"]
    assert order["_customerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "contact"
    assert order["freightamount"] == Decimal("25.5") and isinstance(order["freightamount"], Decimal)
    assert order["requestdeliveryby"] == "2024-06-14"
    assert order["statecode"] == 0
    lines = await client.get_sales_order_lines(ids["order"])
    assert [line["sequencenumber"] for line in lines] == [1, 2]
    assert lines[0]["_productid_value"] == ids["product"] and lines[0]["baseamount"] == Decimal("1298.8")
    assert lines[1]["isproductoverridden"] is True and lines[1]["productdescription"] == "Assembly on site"
    notes = await client.get_notes(ids["order"])
    assert [n["subject"] for n in notes] == ["Delivery"]  # the attachment is left out
    contact = await client.get_contact(ids["contact"])
    assert contact["_parentcustomerid_value"] == ids["account"]
    assert (await client.get_account(ids["account"]))["customertypecode"] == 3
    product = await client.get_product(ids["product"])
    assert product["producttypecode"] == 1 and product["_defaultuomid_value"] == sim.default_uom_id
    assert (await client.get_uom(sim.default_uom_id))["name"] == "Primary Unit"
    assert (await client.get_currency(sim.base_currency_id))["isocurrencycode"] == "EUR"

    reads = sim.api_requests("GET")
    assert len(reads) == 8
    for request in reads:
        assert request.headers["OData-Version"] == "4.0"
        assert request.headers["OData-MaxVersion"] == "4.0"
        assert request.headers["Accept"] == "application/json"
        assert 'odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"' in request.headers["Prefer"]
    assert reads[1].query == {"$filter": f"_salesorderid_value eq {ids['order']}"}
    assert reads[2].query == {"$filter": f"_objectid_value eq {ids['order']} and isdocument eq false"}


async def test_quote_reads(sim: SalesSimulator, client: DataverseClient) -> None:
    account = sim.add_account()
    product = sim.add_product("1900-S")
    quote = await sim.create_quote(
        ("account", account), lines=[{"product": product, "quantity": 3, "priceperunit": 10}]
    )
    await sim.activate_quote(quote)
    revision = await sim.revise_quote(quote)
    await sim.activate_quote(revision)
    order = await sim.win_quote(revision)
    got = await client.get_quote(revision)
    assert got["revisionnumber"] == 1 and got["statecode"] == 2
    lines = await client.get_quote_lines(revision)
    assert len(lines) == 1 and lines[0]["_quoteid_value"] == revision and lines[0]["quantity"] == 3
    both = await client.find_quotes_by_number(got["quotenumber"])
    assert sorted((q["revisionnumber"], q["quoteid"]) for q in both) == [(0, quote), (1, revision)]
    orders = await client.find_orders_for_quote(revision)
    assert [o["salesorderid"] for o in orders] == [order]
    assert await client.find_orders_for_quote(quote) == []


async def test_quote_number_with_an_apostrophe_is_escaped(sim: SalesSimulator, client: DataverseClient) -> None:
    odd = sim.insert("quotes", quotenumber="QUO-O'NEIL", revisionnumber=0)
    sim.insert("quotes", quotenumber="QUO-O", revisionnumber=0)
    assert [q["quoteid"] for q in await client.find_quotes_by_number("QUO-O'NEIL")] == [odd]
    assert sim.api_requests()[-1].query["$filter"] == "quotenumber eq 'QUO-O''NEIL'"


async def test_ids_must_be_guids(client: DataverseClient, sim: SalesSimulator) -> None:
    with pytest.raises(ValueError, match="not a GUID"):
        await client.get_sales_order("x) or (1 eq 1")
    with pytest.raises(ValueError):
        await client.get_notes("' or ''='")
    assert sim.requests == []


async def test_create_note(sim: SalesSimulator, client: DataverseClient) -> None:
    ids = await order_with_everything(sim)
    note_id = await client.create_note("salesorders", ids["order"], "BC", "The order status has changed to Released.")
    assert note_id is not None
    note = sim.row("annotations", note_id)
    assert note["objectid"].id == ids["order"] and note["subject"] == "BC"
    post = sim.api_requests("POST")[-1]
    assert post.body["objectid_salesorder@odata.bind"] == f"/salesorders({ids['order']})"
    with pytest.raises(ValueError, match="not supported"):
        await client.create_note("opportunities", ids["order"], "x", "y")


async def test_a_note_with_a_chosen_id_is_created_once(sim: SalesSimulator, client: DataverseClient) -> None:
    ids = await order_with_everything(sim)
    chosen = "0b0c0d0e-0000-4000-8000-000000000001"
    assert await client.create_note("salesorders", ids["order"], "BC", "first", annotation_id=chosen) == chosen
    with pytest.raises(DataverseError) as caught:
        await client.create_note("salesorders", ids["order"], "BC", "again", annotation_id=chosen)
    assert (caught.value.status, caught.value.code) == (412, "0x80040237")
    assert sim.row("annotations", chosen)["notetext"] == "first"
    assert sim.api_requests("POST")[-1].body["annotationid"] == chosen


# ---------------------------------------------------------------------------------------------
# Errors


async def test_400_is_not_retried_and_carries_dataverse_message(
    sim: SalesSimulator, client: DataverseClient, sleep: FakeSleep
) -> None:
    with pytest.raises(DataverseError) as caught:
        await client.list_rows("salesorders", "totalamount gt")
    error = caught.value
    assert error.status == 400 and error.code == "0x80060888" and "Syntax error" in error.message
    assert not isinstance(error, DataverseUnavailable)
    assert len(sim.api_requests()) == 1 and sleep.delays == []


async def test_refused_edit_of_submitted_order(sim: SalesSimulator, client: DataverseClient) -> None:
    ids = await order_with_everything(sim)
    await sim.submit_order(ids["order"])
    with pytest.raises(DataverseError) as caught:
        await client.patch("salesorders", ids["order"], {"description": "late change"})
    assert caught.value.status == 400 and "cannot be edited" in caught.value.message
    assert sim.row("salesorders", ids["order"])["description"] is None


async def test_patch_sends_decimals_and_dates_as_dataverse_expects(
    sim: SalesSimulator, client: DataverseClient
) -> None:
    ids = await order_with_everything(sim)
    await client.patch(
        "salesorders", ids["order"], {"freightamount": Decimal("12.3400"), "requestdeliveryby": date(2024, 7, 1)}
    )
    assert sim.api_requests("PATCH")[-1].body == {"freightamount": 12.34, "requestdeliveryby": "2024-07-01"}
    row = sim.row("salesorders", ids["order"])
    assert (row["freightamount"], row["requestdeliveryby"]) == (Decimal("12.34"), date(2024, 7, 1))


async def test_404_is_not_found(sim: SalesSimulator, client: DataverseClient, sleep: FakeSleep) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(DataverseNotFound) as caught:
        await client.get_sales_order(missing)
    assert caught.value.code == "0x80040217" and missing in caught.value.message
    # PATCH of a missing row must not create it (Dataverse's PATCH is an upsert without If-Match).
    with pytest.raises(DataverseNotFound):
        await client.patch("salesorders", missing, {"description": "x"})
    assert sim.rows("salesorders") == [] and sleep.delays == []


async def test_post_is_not_repeated_when_it_may_have_happened(
    sim: SalesSimulator, client: DataverseClient, sleep: FakeSleep
) -> None:
    ids = await order_with_everything(sim)
    sim.fail_next("POST", "annotations", status=502)
    with pytest.raises(DataverseUnavailable):
        await client.create_note("salesorders", ids["order"], "BC", "text")
    assert len(sim.api_requests("POST")) == 1 and sleep.delays == []
    # A 429 was not carried out: that one is retried.
    sim.fail_next("POST", "annotations", status=429, retry_after=1)
    assert await client.create_note("salesorders", ids["order"], "BC", "text")
    assert sleep.delays == [1.0]


async def test_next_link_to_another_host_is_refused(client: DataverseClient) -> None:
    with pytest.raises(DataverseError, match="refusing"):
        await client.request("GET", "https://attacker.example/api/data/v9.2/salesorders")


# ---------------------------------------------------------------------------------------------
# Paging and reconciliation


async def test_paging_follows_next_link_to_the_end(
    sim: SalesSimulator, make_client: Callable[..., DataverseClient]
) -> None:
    account = sim.add_account()
    submitted = []
    for i in range(8):
        order = await sim.create_order(("account", account))
        if i != 3:
            await sim.submit_order(order)
            submitted.append(order)
    client = make_client(page_size=2)
    await client.write_back_submitted_order(submitted[0], date(2024, 5, 1))  # taken by BC already
    sim.requests.clear()

    found = [o["salesorderid"] async for o in client.submitted_orders_without_backoffice()]
    assert found == submitted[1:]  # 6 orders in pages of 2
    reads = sim.api_requests("GET")
    assert len(reads) == 3
    assert reads[0].query == {"$filter": "statecode eq 1 and lastbackofficesubmit eq null"}
    for later in reads[1:]:
        assert "$skiptoken" in later.query and later.query["$filter"] == reads[0].query["$filter"]
    assert all("odata.maxpagesize=2" in r.headers["Prefer"] for r in reads)


async def test_paging_three_pages_with_server_page_size(sim: SalesSimulator, client: DataverseClient) -> None:
    sim.default_page_size = 2
    account = sim.add_account()
    orders = []
    for _ in range(5):
        orders.append(await sim.create_order(("account", account)))
        await sim.submit_order(orders[-1])
    found = await client.list_rows("salesorders", "statecode eq 1 and lastbackofficesubmit eq null")
    assert [o["salesorderid"] for o in found] == orders
    assert len(sim.api_requests("GET")) == 3


# ---------------------------------------------------------------------------------------------
# Write-back


def patches(sim: SalesSimulator) -> list[dict[str, Any]]:
    return [r.body for r in sim.api_requests("PATCH")]


async def test_write_back_sequence_and_repeat(sim: SalesSimulator, client: DataverseClient) -> None:
    ids = await order_with_everything(sim)
    await sim.submit_order(ids["order"])
    assert await client.write_back_submitted_order(ids["order"], date(2024, 5, 30)) is True
    assert patches(sim) == [
        {"statecode": 0, "statuscode": 2},
        {"lastbackofficesubmit": "2024-05-30"},
        {"statecode": 1, "statuscode": 3},
    ]
    assert all(r.headers.get("If-Match") == "*" for r in sim.api_requests("PATCH"))
    row = sim.row("salesorders", ids["order"])
    assert (row["statecode"], row["statuscode"], row["lastbackofficesubmit"]) == (1, 3, date(2024, 5, 30))
    # Repeating it changes nothing.
    assert await client.write_back_submitted_order(ids["order"], date(2024, 5, 30)) is False
    assert len(patches(sim)) == 3
    assert sim.api_requests("GET")[-1].query == {"$select": "statecode,statuscode,lastbackofficesubmit"}


async def test_write_back_resumes_after_a_crash(sim: SalesSimulator, client: DataverseClient) -> None:
    ids = await order_with_everything(sim)
    await sim.submit_order(ids["order"])
    # The process died after the first PATCH: the order is Active, no date yet.
    await client.patch("salesorders", ids["order"], {"statecode": 0, "statuscode": 2})
    sim.requests.clear()
    assert await client.write_back_submitted_order(ids["order"], date(2024, 5, 30)) is True
    assert patches(sim) == [{"lastbackofficesubmit": "2024-05-30"}, {"statecode": 1, "statuscode": 3}]
    # Dies after writing the date, before Submitted again: only the last step is left.
    await client.patch("salesorders", ids["order"], {"statecode": 0, "statuscode": 2})
    sim.requests.clear()
    assert await client.write_back_submitted_order(ids["order"], date(2024, 5, 30)) is True
    assert patches(sim) == [{"statecode": 1, "statuscode": 3}]


async def test_write_back_of_a_new_date_reopens_first(sim: SalesSimulator, client: DataverseClient) -> None:
    ids = await order_with_everything(sim)
    await sim.submit_order(ids["order"])
    await client.write_back_submitted_order(ids["order"], date(2024, 5, 30))
    sim.requests.clear()
    assert await client.write_back_submitted_order(ids["order"], date(2024, 5, 31)) is True
    assert patches(sim) == [
        {"statecode": 0, "statuscode": 2},
        {"lastbackofficesubmit": "2024-05-31"},
        {"statecode": 1, "statuscode": 3},
    ]


async def test_write_back_refuses_a_canceled_order(sim: SalesSimulator, client: DataverseClient) -> None:
    ids = await order_with_everything(sim)
    await sim.set_state("salesorders", ids["order"], 2, 4)
    with pytest.raises(DataverseError) as caught:
        await client.write_back_submitted_order(ids["order"], date(2024, 5, 30))
    assert caught.value.status == 409 and "statecode 2" in caught.value.message
    assert patches(sim) == []
