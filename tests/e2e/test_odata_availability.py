"""The availability web services over real HTTP: every query option, paging, keys, V3, errors."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from schemas import tables as t
from schemas.demo_company import ITEMS, UNCOUPLED, product_id
from tests.support.helpers import q

PIA = "/ODataV4/Company('CRONUS')/ProductItemAvailability"
ATHENS = product_id("1896-S")


async def ledger_sum(engine: Any, item_no: str) -> Decimal:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(select(t.item_ledger_entry.c.quantity).where(t.item_ledger_entry.c.item_no == item_no))
        ).scalars()
        return sum(rows, Decimal(0))


async def test_documented_row_by_crm_id(api: Any, engine: Any) -> None:
    status, headers, body = await api.get(f"{PIA}?$filter={q(f'CRM_ID eq {ATHENS}')}")
    assert status == 200
    assert headers["OData-Version"] == "4.0"
    assert body["@odata.context"] == api.base + "/ODataV4/$metadata#Company('CRONUS')/ProductItemAvailability"
    (row,) = body["value"]
    assert row["CRM_ID"] == ATHENS
    assert row["Table_ID"] == 27
    assert row["ItemNo"] == "1896-S"
    assert row["UOM"] == "PCS"
    assert Decimal(str(row["Inventory"])) == await ledger_sum(engine, "1896-S")
    assert row["Inventory"] == 51  # the figure the README shows
    assert set(row) == {"CRM_ID", "Integration_ID", "Table_ID", "ItemNo", "UOM", "Inventory"}


async def test_one_row_per_coupled_item_only(api: Any) -> None:
    status, _h, body = await api.get(PIA)
    assert status == 200
    numbers = {r["ItemNo"] for r in body["value"]}
    assert numbers == {no for no, *_ in ITEMS} - UNCOUPLED
    status, _h, body = await api.get("/ODataV4/ItemAvailability")
    assert {r["No"] for r in body["value"]} == {no for no, *_ in ITEMS}
    uncoupled = [r for r in body["value"] if r["No"] in UNCOUPLED]
    assert all(r["CRM_ID"] is None for r in uncoupled)


async def test_default_company_and_company_parameter(api: Any) -> None:
    _s, _h, with_path = await api.get(PIA + "?$orderby=ItemNo")
    _s, _h, default = await api.get("/ODataV4/ProductItemAvailability?$orderby=ItemNo")
    _s, _h, param = await api.get("/ODataV4/ProductItemAvailability?company=CRONUS&$orderby=ItemNo")
    assert with_path["value"] == default["value"] == param["value"]
    assert default["@odata.context"].endswith("$metadata#ProductItemAvailability")
    status, _h, body = await api.get("/ODataV4/Company('NOPE')/ProductItemAvailability")
    assert status == 404 and body["error"]["code"] == "BadRequest_NotFound"
    assert "NOPE" in body["error"]["message"]


async def test_companies_listed(api: Any) -> None:
    status, _h, body = await api.get("/ODataV4/Company")
    assert status == 200
    assert [c["Name"] for c in body["value"]] == ["CRONUS"]
    status, _h, body = await api.get("/ODataV4/Company('CRONUS')")
    assert status == 200 and body["Name"] == "CRONUS"


async def test_key_lookup_composite_and_single(api: Any) -> None:
    _s, _h, body = await api.get(f"{PIA}?$filter={q(f'CRM_ID eq {ATHENS}')}")
    integration_id = body["value"][0]["Integration_ID"]
    status, _h, entity = await api.get(f"{PIA}(CRM_ID={ATHENS},Integration_ID={integration_id})")
    assert status == 200
    assert entity["ItemNo"] == "1896-S"
    assert entity["@odata.context"].endswith("ProductItemAvailability/$entity")
    status, _h, item = await api.get("/ODataV4/ItemAvailability('1896-S')")
    assert status == 200 and item["No"] == "1896-S" and item["Description"] == "ATHENS Desk"
    status, _h, prop = await api.get("/ODataV4/ItemAvailability('1896-S')/Description")
    assert status == 200 and prop["value"] == "ATHENS Desk"
    status, _h, raw = await api.get("/ODataV4/ItemAvailability('1896-S')/Description/$value")
    assert status == 200 and raw == "ATHENS Desk"
    status, _h, body = await api.get("/ODataV4/ItemAvailability('NOPE')")
    assert status == 404 and "NOPE" in body["error"]["message"]
    status, _h, body = await api.get(f"{PIA}(CRM_ID={ATHENS})")
    assert status == 400 and body["error"]["code"] == "BadRequest_InvalidKey"


async def test_select_orderby_top_skip_count(api: Any) -> None:
    status, _h, body = await api.get(
        "/ODataV4/ItemAvailability?$select=No,Inventory&$orderby=Inventory desc,No asc&$top=4&$skip=1&$count=true"
    )
    assert status == 200
    assert body["@odata.count"] == len(ITEMS)
    assert body["@odata.context"].endswith("#ItemAvailability(No,Inventory)")
    assert all(set(r) == {"No", "Inventory"} for r in body["value"])
    _s, _h, everything = await api.get("/ODataV4/ItemAvailability?$select=No,Inventory")
    expected = sorted(everything["value"], key=lambda r: (-r["Inventory"], r["No"]))[1:5]
    assert body["value"] == expected


async def test_count_segment_and_filter(api: Any) -> None:
    status, headers, text = await api.get("/ODataV4/ItemAvailability/$count")
    assert status == 200 and headers["Content-Type"].startswith("text/plain") and text == str(len(ITEMS))
    status, _h, text = await api.get("/ODataV4/ItemAvailability/$count?$filter=" + q("startswith(No,'19')"))
    assert status == 200 and int(text) == sum(1 for no, *_ in ITEMS if no.startswith("19"))


async def test_paging_through_three_pages_by_next_link(api: Any) -> None:
    headers = {"Prefer": "odata.maxpagesize=6"}
    url = "/ODataV4/ItemAvailability?$select=No&$orderby=No desc&$count=true"
    pages, seen = 0, []
    while url:
        status, h, body = await api.get(url, headers=headers)
        assert status == 200
        assert h["Preference-Applied"] == "odata.maxpagesize=6"
        assert body["@odata.count"] == len(ITEMS)
        seen += [r["No"] for r in body["value"]]
        url = body.get("@odata.nextLink")
        if url:
            assert url.startswith(api.base) and "$skiptoken=" in url and "$skip=" not in url
        pages += 1
    assert pages == 3
    assert seen == sorted((no for no, *_ in ITEMS), reverse=True)


async def test_top_is_kept_across_pages(api: Any) -> None:
    url = "/ODataV4/ItemAvailability?$select=No&$top=8"
    seen = []
    while url:
        _s, _h, body = await api.get(url, headers={"Prefer": "odata.maxpagesize=3"})
        seen += [r["No"] for r in body["value"]]
        url = body.get("@odata.nextLink")
    assert seen == sorted(no for no, *_ in ITEMS)[:8]


async def test_skiptoken_is_keyset_not_offset(api: Any, engine: Any) -> None:
    """A row added before the cursor between two pages does not shift the next page."""
    _s, _h, first = await api.get("/ODataV4/ItemAvailability?$select=No", headers={"Prefer": "odata.maxpagesize=3"})
    from schemas import master_data as masterdata
    from schemas.db import write_transaction

    async with write_transaction(engine) as conn:
        await masterdata.upsert_item(conn, "CRONUS", "0001", description="early", base_unit_of_measure="PCS")
    _s, _h, second = await api.get(first["@odata.nextLink"], headers={"Prefer": "odata.maxpagesize=3"})
    everything = sorted(no for no, *_ in ITEMS)
    assert [r["No"] for r in first["value"]] == everything[:3]
    assert [r["No"] for r in second["value"]] == everything[3:6]


async def test_tampered_or_foreign_skiptoken(api: Any) -> None:
    _s, _h, body = await api.get("/ODataV4/ItemAvailability?$select=No", headers={"Prefer": "odata.maxpagesize=2"})
    token = body["@odata.nextLink"].split("$skiptoken=")[1]
    status, _h, err = await api.get("/ODataV4/ItemAvailability?$filter=" + q("No ne 'x'") + "&$skiptoken=" + token)
    assert status == 400 and err["error"]["code"] == "BadRequest_InvalidToken"
    status, _h, err = await api.get("/ODataV4/ItemAvailability?$skiptoken=garbage!")
    assert status == 400 and err["error"]["code"] == "BadRequest_InvalidToken"


async def test_max_page_size_caps_preference(api: Any, gateway_server: Any) -> None:
    from gateway.app import GATEWAY

    gw = gateway_server.app[GATEWAY]
    gw.settings = gw.settings.__class__(
        **{**{f: getattr(gw.settings, f) for f in gw.settings.__slots__}, "max_page_size": 5}
    )
    status, headers, body = await api.get(
        "/ODataV4/ItemAvailability?$select=No", headers={"Prefer": "odata.maxpagesize=100"}
    )
    assert status == 200 and len(body["value"]) == 5
    assert headers["Preference-Applied"] == "odata.maxpagesize=5"
    _s, _h, body = await api.get("/ODataV4/ItemAvailability?$select=No")
    assert len(body["value"]) == 5 and "@odata.nextLink" in body


@pytest.mark.parametrize(
    ("accept", "fmt", "expect_context", "expect_type"),
    [
        ("application/json;odata.metadata=minimal", None, True, False),
        ("application/json;odata.metadata=none", None, False, False),
        ("application/json;odata.metadata=full", None, True, True),
        (None, "json", True, False),
        ("*/*", None, True, False),
        (None, "application/json;odata.metadata=none", False, False),
    ],
)
async def test_metadata_levels(
    api: Any, accept: str | None, fmt: str | None, expect_context: bool, expect_type: bool
) -> None:
    headers = {"Accept": accept} if accept else {}
    url = "/ODataV4/ItemAvailability?$top=2" + (f"&$format={q(fmt)}" if fmt else "")
    status, _h, body = await api.get(url, headers=headers)
    assert status == 200, body
    assert ("@odata.context" in body) is expect_context
    assert ("@odata.type" in body["value"][0]) is expect_type
    if expect_type:
        assert body["value"][0]["@odata.type"] == "#NAV.ItemAvailability"
        assert body["value"][0]["@odata.id"].startswith(api.base + "/ODataV4/ItemAvailability(")


async def test_ieee754_compatible_decimals_as_strings(api: Any) -> None:
    _s, _h, body = await api.get(
        "/ODataV4/ItemAvailability('1896-S')",
        headers={"Accept": "application/json;IEEE754Compatible=true"},
    )
    assert isinstance(body["Inventory"], str)


async def test_v3_path_json_and_literals(api: Any) -> None:
    flt = q(f"CRM_ID eq guid'{ATHENS}'")
    url = f"/OData/Company('CRONUS')/ProductItemAvailability?$filter={flt}&$format=json"
    status, headers, body = await api.get(url)
    assert status == 200, body
    assert headers["DataServiceVersion"].startswith("3.0")
    assert body["odata.metadata"] == api.base + "/OData/$metadata#ProductItemAvailability"
    (row,) = body["value"]
    assert row["ItemNo"] == "1896-S"
    assert isinstance(row["Inventory"], str)  # V3 JSON writes Edm.Decimal as a string
    integration_id = row["Integration_ID"]
    status, _h, entity = await api.get(
        f"/OData/Company('CRONUS')/ProductItemAvailability(CRM_ID=guid'{ATHENS}',Integration_ID=guid'{integration_id}')"
    )
    assert status == 200 and entity["ItemNo"] == "1896-S"
    status, _h, body = await api.get(
        "/OData/Company('CRONUS')/ProductItemAvailability?$filter="
        + q("Inventory gt 10M and substringof('1896', ItemNo)")
        + "&$inlinecount=allpages"
    )
    assert status == 200 and body["odata.count"] == "1"
    status, _h, verbose = await api.get(
        "/OData/Company('CRONUS')/ProductItemAvailability?$top=1",
        headers={"Accept": "application/json;odata=verbose"},
    )
    assert status == 200 and "__metadata" in verbose["d"]["results"][0]
    status, _h, xml = await api.get("/OData/$metadata")
    assert status == 200 and 'm:IsDefaultEntityContainer="true"' in xml


async def test_literal_percent_and_underscore(api: Any, engine: Any) -> None:
    from schemas import master_data as masterdata
    from schemas.db import write_transaction

    async with write_transaction(engine) as conn:
        await masterdata.upsert_item(conn, "CRONUS", "P-1", description="50% off_sale")
        await masterdata.upsert_item(conn, "CRONUS", "P-2", description="50X offXsale")
        await masterdata.upsert_item(conn, "CRONUS", "P_3", description="plain")
    for flt, expected in [
        ("contains(Description,'50%')", {"P-1"}),
        ("contains(Description,'off_sale')", {"P-1"}),
        ("startswith(No,'P_')", {"P_3"}),
        ("endswith(Description,'%')", set()),
        ("startswith(Description,'50')", {"P-1", "P-2"}),
    ]:
        status, _h, body = await api.get("/ODataV4/ItemAvailability?$filter=" + q(flt))
        assert status == 200, (flt, body)
        assert {r["No"] for r in body["value"]} == expected, flt


async def test_quotes_and_non_ascii(api: Any, engine: Any) -> None:
    from schemas import master_data as masterdata
    from schemas.db import write_transaction

    async with write_transaction(engine) as conn:
        await masterdata.upsert_item(conn, "CRONUS", "OB-1", description="O'Brien's Stool")
        await masterdata.upsert_item(conn, "CRONUS", "ÄP-1", description="Äpfel – Größe XL 日本")
    status, _h, body = await api.get("/ODataV4/ItemAvailability?$filter=" + q("Description eq 'O''Brien''s Stool'"))
    assert status == 200 and [r["No"] for r in body["value"]] == ["OB-1"]
    status, _h, body = await api.get(
        "/ODataV4/ItemAvailability?$filter="
        + q("contains(Description,'Größe') and tolower(Description) eq 'äpfel – größe xl 日本'")
    )
    assert status == 200 and [r["No"] for r in body["value"]] == ["ÄP-1"]
    assert body["value"][0]["Description"] == "Äpfel – Größe XL 日本"
    status, _h, body = await api.get("/ODataV4/ItemAvailability('" + q("O''Brien") + "')")
    assert status == 404 and "No='O''Brien'" in body["error"]["message"]
    status, _h, body = await api.get("/ODataV4/ItemAvailability('" + q("ÄP-1") + "')")
    assert status == 200 and body["No"] == "ÄP-1"


async def test_in_with_one_value_and_aliases(api: Any) -> None:
    status, _h, body = await api.get("/ODataV4/ItemAvailability?$filter=" + q("No in ('1896-S')"))
    assert status == 200 and [r["No"] for r in body["value"]] == ["1896-S"]
    status, _h, body = await api.get(
        "/ODataV4/ItemAvailability?$filter=" + q("No in @list") + "&@list=" + q("('1896-S','1900-S')")
    )
    assert status == 200 and sorted(r["No"] for r in body["value"]) == ["1896-S", "1900-S"]
    status, _h, body = await api.get("/ODataV4/ItemAvailability?$filter=" + q("No eq @p") + "&@p=" + q("'1900-S'"))
    assert status == 200 and [r["No"] for r in body["value"]] == ["1900-S"]


async def test_filters_on_numbers_booleans_and_functions(api: Any, engine: Any) -> None:
    _s, _h, every = await api.get("/ODataV4/ItemAvailability")
    inventory = {r["No"]: Decimal(str(r["Inventory"])) for r in every["value"]}
    cases = [
        ("Inventory gt 50", {n for n, v in inventory.items() if v > 50}),
        ("Inventory add 10 le 60", {n for n, v in inventory.items() if v + 10 <= 60}),
        ("Blocked eq false and Inventory ge 80", {n for n, v in inventory.items() if v >= 80}),
        (
            "not Blocked and length(No) eq 6 and No ne '1896-S'",
            {n for n in inventory if len(n) == 6 and n != "1896-S"},
        ),
        ("CRM_ID eq null", set(UNCOUPLED)),
        ("round(Inventory div 10) eq 5", {n for n, v in inventory.items() if round(v / 10) == 5}),
        (
            "ceiling(Inventory div 7) ge 10",
            {n for n, v in inventory.items() if math.ceil(v / 7) >= 10},
        ),
        (
            "floor(Inventory div 7) lt 10",
            {n for n, v in inventory.items() if math.floor(v / 7) < 10},
        ),
        ("indexof(No,'-W') eq 4", {n for n in inventory if n.find("-W") == 4}),
        ("substring(No,5) eq 'S'", {n for n in inventory if n[5:] == "S"}),
        ("toupper(concat(No,'x')) eq '1896-SX'", {"1896-S"}),
    ]
    for flt, expected in cases:
        status, _h, body = await api.get("/ODataV4/ItemAvailability?$filter=" + q(flt))
        assert status == 200, (flt, body)
        assert {r["No"] for r in body["value"]} == expected, flt


async def test_by_location_and_units(api: Any) -> None:
    status, _h, body = await api.get("/ODataV4/ItemAvailabilityByLocation?$filter=" + q("No eq '1896-S'"))
    assert status == 200
    assert {r["Location_Code"] for r in body["value"]} == {"BLUE", "RED", "YELLOW"}
    _s, _h, item = await api.get("/ODataV4/ItemAvailability('1896-S')")
    assert sum(Decimal(str(r["Inventory"])) for r in body["value"]) == Decimal(str(item["Inventory"]))
    status, _h, units = await api.get(
        "/ODataV4/ItemUnitsOfMeasure?$filter=" + q("Item_No eq '1900-S'") + "&$orderby=Code"
    )
    assert [(u["Code"], u["Qty_per_Unit_of_Measure"]) for u in units["value"]] == [
        ("BOX", 6),
        ("PCS", 1),
    ]


async def test_customers_and_resources(api: Any) -> None:
    status, _h, body = await api.get("/ODataV4/Customers?$orderby=No")
    assert status == 200 and len(body["value"]) == 5
    assert body["value"][0] == {
        "No": "10000",
        "Name": "Adatum Corporation",
        "CRM_ID": "ac000000-0000-4000-8000-000000010000",
    }
    status, _h, body = await api.get("/ODataV4/Resources('LINA')")
    assert status == 200 and body["Base_Unit_of_Measure"] == "HOUR" and body["CRM_ID"]


async def test_service_document_and_head(api: Any) -> None:
    status, _h, body = await api.get("/ODataV4/")
    assert status == 200
    names = {s["name"] for s in body["value"]}
    assert {"ProductItemAvailability", "ItemAvailability", "Company"} <= names
    status, headers, body = await api.request("HEAD", "/ODataV4/ItemAvailability")
    assert status == 200 and body is None and headers["OData-Version"] == "4.0"


async def test_a_long_in_list_of_product_ids(api: Any) -> None:
    """Sales may ask for many products at once: a request line far beyond 8 KiB."""
    ids = [product_id(no) for no, *_ in ITEMS if no not in UNCOUPLED]
    ids += [f"00000000-0000-4000-8000-{i:012d}" for i in range(400)]
    flt = "CRM_ID in (" + ",".join(ids) + ")"
    assert len(flt) > 15000
    status, _h, body = await api.get(f"{PIA}?$filter={q(flt)}")
    assert status == 200, body
    assert len(body["value"]) == len(ITEMS) - len(UNCOUPLED)
