"""Query options and server-driven paging of the simulator, and the published OData V4 pages."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.bc_simulator.client import BcClient, Factory

pytest_plugins = ["tests.support.bc_simulator.fixtures"]


async def _numbers(client: BcClient, set_name: str, **params: str) -> list[Any]:
    reply = await client.get(client.company(set_name), params=params)
    assert reply.status == 200, reply.body
    return [row.get("number", row.get("code")) for row in reply.value]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("number eq '1896-S'", ["1896-S"]),
        ("number eq '1896-s'", ["1896-S"]),  # Code fields compare upper-cased
        ("number ne '1896-S' and number lt '1906-S'", ["1900-S"]),
        ("number gt '1988-S'", ["1996-S", "2000-S"]),
        ("number ge '1996-S'", ["1996-S", "2000-S"]),
        ("number le '1900-S'", ["1896-S", "1900-S"]),
        ("number eq '1896-S' or number eq '2000-S'", ["1896-S", "2000-S"]),
        ("(number eq '1896-S' or number eq '2000-S') and unitPrice gt 500", ["1896-S"]),
        ("startswith(displayName,'ATHENS')", ["1896-S", "1906-S"]),
        ("endswith(displayName,'green')", ["1960-S", "2000-S"]),
        ("contains(displayName,'Swivel') and unitPrice lt 190.2", ["1908-S", "1968-S", "1972-S", "1980-S", "2000-S"]),
        ("tolower(displayName) eq 'athens desk'", ["1896-S"]),
        ("toupper(displayName) eq 'AMSTERDAM LAMP'", ["1928-S"]),
        ("unitPrice eq 1000.8", ["1896-S"]),
        ("inventory gt 80", ["1936-S", "1968-S", "1980-S", "1996-S"]),
        ("blocked eq false and type eq 'Inventory' and number eq '1925-W'", ["1925-W"]),
        ("lines/any(l: l/quantity gt 1) and number eq '1896-S'", ["1896-S"]),
    ],
)
async def test_filters(bc_client: BcClient, expression: str, expected: list[str]) -> None:
    assert await _numbers(bc_client, "items", **{"$filter": expression}) == expected


async def test_filter_literals_guid_date_datetime_and_escapes(bc_client: BcClient) -> None:
    item = bc_client.sim.get("items", "1928-S")
    assert item is not None
    assert await _numbers(bc_client, "items", **{"$filter": f"id eq {item['id']}"}) == ["1928-S"]
    await bc_client.post(bc_client.company("customers"), {"displayName": "O'Brien & Sons"})
    quoted = await bc_client.get(bc_client.company("customers"), params={"$filter": "displayName eq 'O''Brien & Sons'"})
    assert [c["displayName"] for c in quoted.value] == ["O'Brien & Sons"]
    today = bc_client.sim.clock.today().isoformat()
    recent = await bc_client.get(bc_client.company("itemLedgerEntries"), params={"$filter": f"postingDate lt {today}"})
    assert len(recent.value) == 57
    stamp = quoted.value[0]["lastModifiedDateTime"]
    after = await bc_client.get(bc_client.company("customers"), params={"$filter": f"lastModifiedDateTime gt {stamp}"})
    assert after.value == []
    since = await bc_client.get(bc_client.company("customers"), params={"$filter": f"lastModifiedDateTime ge {stamp}"})
    assert [c["displayName"] for c in since.value] == ["O'Brien & Sons"]
    entries = await bc_client.get(bc_client.company("itemLedgerEntries"), params={"$filter": "entryNumber gt 55"})
    assert [e["entryNumber"] for e in entries.value] == [56, 57]


@pytest.mark.parametrize(
    ("expression", "code", "start"),
    [
        ("number eq '1896-S' or unitPrice gt 5", "BadRequest", "The 'OR' operator is not supported on distinct fields"),
        ("number eq", "BadRequest_NotFound", "Bad Request - Error in query syntax."),
        (
            "nosuch eq 1",
            "BadRequest_NotFound",
            "Could not find a property named 'nosuch' on type 'Microsoft.NAV.item'.",
        ),
        ("number in ('1896-S','1900-S')", "BadRequest_NotFound", "Bad Request - Error in query syntax."),
        ("id eq '1896-S'", "BadRequest", "A binary operator with incompatible types was detected."),
        ("unitPrice eq 'x'", "BadRequest", "A binary operator with incompatible types was detected."),
        ("startswith(tolower(displayName),'a')", "BadRequest_NotFound", "Bad Request - Error in query syntax."),
        ("type eq 'Gadget'", "Unknown", "'Gadget' is not an option."),
    ],
)
async def test_filter_errors(bc_client: BcClient, expression: str, code: str, start: str) -> None:
    reply = await bc_client.get(bc_client.company("items"), params={"$filter": expression})
    assert reply.status == 400
    assert reply.error_code == code
    assert reply.error_message.startswith(start)


async def test_schema_version_2_1(bc_client: BcClient) -> None:
    params = {"$filter": "number in ('1896-S','2000-S')", "$schemaversion": "2.1"}
    assert await _numbers(bc_client, "items", **params) == ["1896-S", "2000-S"]
    nested = {"$filter": "startswith(tolower(displayName),'athens')", "$schemaversion": "2.1"}
    assert await _numbers(bc_client, "items", **nested) == ["1896-S", "1906-S"]


async def test_select_orderby_top_skip(bc_client: BcClient) -> None:
    reply = await bc_client.get(
        bc_client.company("items"),
        params={"$select": "number,unitPrice", "$orderby": "unitPrice desc,number", "$top": "4"},
    )
    assert [list(r) for r in reply.value] == [["@odata.etag", "number", "unitPrice"]] * 4
    assert [r["number"] for r in reply.value] == ["1996-S", "1953-W", "1896-S", "1920-S"]
    assert reply.body["@odata.context"].endswith("/items(number,unitPrice)")
    skipped = await _numbers(bc_client, "items", **{"$orderby": "number", "$skip": "15"})
    assert skipped == ["1996-S", "2000-S"]
    ties = await _numbers(bc_client, "items", **{"$orderby": "unitPrice", "$filter": "unitPrice eq 192.8"})
    assert ties == ["1900-S", "1936-S", "1960-S", "1964-S", "1988-S"]
    bad = await bc_client.get(bc_client.company("items"), params={"$select": "nosuch"})
    assert bad.status == 400
    unknown_option = await bc_client.get(bc_client.company("items"), params={"$search": "desk"})
    assert unknown_option.status == 400


async def test_paging_with_maxpagesize(bc_client: BcClient) -> None:
    prefer = {"Prefer": "odata.maxpagesize=5"}
    first = await bc_client.get(bc_client.company("items"), headers=prefer)
    assert first.headers["Preference-Applied"] == "odata.maxpagesize=5"
    assert len(first.value) == 5
    link = first.body["@odata.nextLink"]
    assert "$skiptoken=" in link or "%24skiptoken=" in link
    rows = await bc_client.all_pages(bc_client.company("items"), headers=prefer)
    assert [r["number"] for r in rows] == sorted(r["number"] for r in rows)
    assert len(rows) == 17
    ordered = await bc_client.all_pages(
        bc_client.company("items"), headers=prefer, params={"$orderby": "unitPrice desc"}
    )
    prices = [r["unitPrice"] for r in ordered]
    assert prices == sorted(prices, reverse=True) and len(ordered) == 17
    topped = await bc_client.all_pages(bc_client.company("items"), headers=prefer, params={"$top": "7"})
    assert len(topped) == 7


async def test_next_link_is_stable_under_writes(bc_client: BcClient) -> None:
    prefer = {"Prefer": "odata.maxpagesize=6"}
    doomed = await bc_client.post(bc_client.company("items"), {"number": "1990-X", "displayName": "Doomed"})
    first = await bc_client.get(bc_client.company("items"), headers=prefer)
    seen = [r["number"] for r in first.value]
    # Inserted before the cursor (not returned), deleted after it (gone), inserted after it (returned).
    await bc_client.post(bc_client.company("items"), {"number": "1000-A", "displayName": "Early"})
    assert (await bc_client.delete(bc_client.company(f"items({doomed.body['id']})"))).status == 204
    await bc_client.post(bc_client.company("items"), {"number": "9999-Z", "displayName": "Late"})
    link = first.body["@odata.nextLink"]
    while link:
        page = await bc_client.get(link, headers=prefer)
        seen.extend(r["number"] for r in page.value)
        link = page.body.get("@odata.nextLink")
    assert len(seen) == len(set(seen))
    assert "1000-A" not in seen and "1990-X" not in seen and "9999-Z" in seen
    assert len(seen) == 18


async def test_server_page_cap(bc_simulator_factory: Factory, bc_session: Any) -> None:
    sim = await bc_simulator_factory(max_page_size=4)
    client = BcClient(sim, bc_session)
    reply = await client.get(client.company("items"))
    assert len(reply.value) == 4 and "@odata.nextLink" in reply.body
    asked = await client.get(client.company("items"), headers={"Prefer": "odata.maxpagesize=10"})
    assert len(asked.value) == 4
    sim.configure(max_page_size=100)
    assert len((await client.get(client.company("items"))).value) == 17


async def test_web_services_unpublished_then_published(bc_client: BcClient) -> None:
    sim = bc_client.sim
    url = f"{sim.odata_url}/Company('CRONUS')/ItemLedgerEntries"
    hidden = await bc_client.get(url)
    assert hidden.status == 404 and hidden.error_code == "BadRequest_NotFound"
    sim.publish("ItemLedgerEntries")
    sim.post_stock("1896-S", 4, location="RED")
    reply = await bc_client.get(url, params={"$filter": "Item_No eq '1896-S' and Location_Code eq 'RED'"})
    assert reply.status == 200
    assert reply.body["@odata.context"].endswith("/ODataV4/$metadata#Company('CRONUS')/ItemLedgerEntries")
    assert [(e["Quantity"], e["Remaining_Quantity"], e["Open"]) for e in reply.value] == [(18, 18, True), (4, 4, True)]
    last = reply.value[-1]["Entry_No"]
    newer = await bc_client.get(url, params={"$filter": f"Entry_No gt {last - 1}"})
    assert [e["Entry_No"] for e in newer.value] == [last]
    assert set(newer.value[0]) >= {
        "Entry_No",
        "Item_No",
        "Posting_Date",
        "Entry_Type",
        "Document_No",
        "Location_Code",
        "Variant_Code",
        "Quantity",
        "Remaining_Quantity",
    }
    single = await bc_client.get(f"{sim.odata_url}/Company('CRONUS')/ItemLedgerEntries({last})")
    assert single.body["Entry_No"] == last
    bad_or = await bc_client.get(url, params={"$filter": "Item_No eq '1896-S' or Location_Code eq 'RED'"})
    assert bad_or.status == 400


async def test_ledger_application_fifo(bc_client: BcClient) -> None:
    sim = bc_client.sim
    sim.publish("ItemLedgerEntries")
    blue = [e for e in sim.records("itemLedgerEntries") if e["itemNumber"] == "1896-S" and e["_location"] == "BLUE"]
    assert [(e["quantity"], e["_remaining"]) for e in blue] == [(5, 2), (-3, 0)]
    sale = sim.post_stock("1896-S", -4, location="BLUE")
    assert sale["_remaining"] == -2 and sale["_open"]
    purchase = sim.post_stock("1896-S", 10, location="BLUE")
    assert purchase["_remaining"] == 8
    assert sim.get("itemLedgerEntries", sale["id"])["_remaining"] == 0  # type: ignore[index]


async def test_web_service_pages_units_and_resources(bc_client: BcClient) -> None:
    sim = bc_client.sim
    sim.publish("ItemUnitsOfMeasure")
    sim.publish("Resources")
    units = await bc_client.get(
        f"{sim.odata_url}/Company('CRONUS')/ItemUnitsOfMeasure", params={"$filter": "Item_No eq '1928-S'"}
    )
    assert [(u["Code"], u["Qty_per_Unit_of_Measure"]) for u in units.value] == [("BOX", 12), ("PCS", 1)]
    one = await bc_client.get(f"{sim.odata_url}/Company('CRONUS')/ItemUnitsOfMeasure(Item_No='1900-S',Code='BOX')")
    assert one.body["Qty_per_Unit_of_Measure"] == 6
    resources = await bc_client.get(f"{sim.odata_url}/ItemUnitsOfMeasure", params={"company": "CRONUS", "$top": "1"})
    assert resources.status == 200
    lina = await bc_client.get(f"{sim.odata_url}/Company('CRONUS')/Resources('LINA')")
    assert (
        lina.body["Name"] == "Lina Townsend"
        and lina.body["Base_Unit_of_Measure"] == "HOUR"
        and lina.body["Unit_Price"] == 95
    )
    companies = await bc_client.get(f"{sim.odata_url}/Company")
    assert companies.value[0]["Name"] == "CRONUS"
    sim.publish("Resources", False)
    assert (await bc_client.get(f"{sim.odata_url}/Company('CRONUS')/Resources")).status == 404


async def test_web_services_need_authentication(bc_client: BcClient) -> None:
    bc_client.sim.publish("Resources")
    reply = await bc_client.get(f"{bc_client.sim.odata_url}/Company('CRONUS')/Resources", auth=False)
    assert reply.status == 401
