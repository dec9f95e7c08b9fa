"""The simulated BC API v2.0 over real HTTP: URL grammar, answer shapes, master-data rules, ETags."""

from __future__ import annotations

import re

import aiohttp

from tests.support.bc_simulator.client import BcClient, Factory

pytest_plugins = ["tests.support.bc_simulator.fixtures"]

ETAG = re.compile(r'^W/"[A-Za-z0-9+/=]+"$')


async def test_companies_list_shape_and_headers(bc_client: BcClient) -> None:
    reply = await bc_client.get("companies")
    assert reply.status == 200
    assert reply.headers["OData-Version"] == "4.0"
    assert reply.headers["Content-Type"].startswith("application/json; odata.metadata=minimal")
    assert reply.body["@odata.context"].endswith("/api/v2.0/$metadata#companies")
    [company] = reply.value
    assert company["name"] == "CRONUS"
    assert ETAG.match(company["@odata.etag"])
    assert company["systemCreatedAt"].endswith("Z")


async def test_companies_is_read_only(bc_client: BcClient) -> None:
    reply = await bc_client.post("companies", {"name": "X"})
    assert reply.status == 405
    assert reply.error_code == "BadRequest_MethodNotAllowed"


async def test_entity_without_company_fails(bc_client: BcClient) -> None:
    reply = await bc_client.get("items")
    assert reply.status == 400
    assert reply.error_code == "Internal_CompanyNotFound"
    ok = await bc_client.get("items", params={"company": bc_client.sim.company_id, "$top": "1"})
    assert ok.status == 200 and len(ok.value) == 1


async def test_unknown_set_and_segment(bc_client: BcClient) -> None:
    reply = await bc_client.get(bc_client.company("resources"))
    assert reply.status == 404
    assert reply.error_code == "BadRequest_ResourceNotFound"
    for gap in ("itemUnitsOfMeasure", "itemsAvailabilitiesByLocation"):
        assert (await bc_client.get(bc_client.company(gap))).status == 404


async def test_on_premises_url_form_with_basic_auth(bc_simulator_factory: Factory) -> None:
    sim = await bc_simulator_factory(deployment="onprem")
    assert sim.base_url.endswith("/BC/api/v2.0")
    async with aiohttp.ClientSession() as session:
        client = BcClient(sim, session)
        assert client.auth()["Authorization"].startswith("Basic ")
        reply = await client.get(client.company("items"), params={"$top": "1"})
        assert reply.status == 200
        bearer = await client.get(client.company("items"), headers={"Authorization": f"Bearer {sim.token()}"})
        assert bearer.status == 401 and bearer.error_code == "Authentication_InvalidCredentials"


async def test_single_entity_context_and_etag_header(bc_client: BcClient) -> None:
    item = bc_client.sim.get("items", "1896-S")
    assert item is not None
    reply = await bc_client.get(bc_client.company(f"items({item['id']})"))
    assert reply.status == 200
    assert reply.body["@odata.context"].endswith(f"companies({bc_client.sim.company_id})/items/$entity")
    assert reply.headers["ETag"] == reply.body["@odata.etag"]
    assert reply.body["number"] == "1896-S"
    assert reply.body["type"] == "Inventory"
    assert reply.body["inventory"] == 51
    assert reply.body["lastModifiedDateTime"].endswith("Z")


async def test_enum_and_empty_date_encoding(bc_client: BcClient) -> None:
    customers = await bc_client.get(bc_client.company("customers"), params={"$filter": "number eq '10000'"})
    assert customers.value[0]["blocked"] == "_x0020_"
    entries = await bc_client.get(
        bc_client.company("itemLedgerEntries"), params={"$filter": "entryType eq 'Sale'", "$top": "1"}
    )
    assert entries.value[0]["entryType"] == "Sale"
    adjust = await bc_client.patch(
        bc_client.company(f"items({bc_client.sim.get('items', '1906-S')['id']})"),  # type: ignore[index]
        {"inventory": 100},
    )
    assert adjust.status == 200 and adjust.body["inventory"] == 100
    adj = await bc_client.get(
        bc_client.company("itemLedgerEntries"),
        params={"$filter": "itemNumber eq '1906-S'", "$orderby": "entryNumber desc", "$top": "1"},
    )
    assert adj.value[0]["entryType"] == "Positive_x0020_Adjmt_x002E_"
    assert adj.value[0]["documentType"] == "_x0020_"
    order = await bc_client.post(bc_client.company("salesOrders"), {"customerNumber": "10000"})
    assert order.body["requestedDeliveryDate"] == "0001-01-01"


async def test_item_inventory_rules(bc_client: BcClient) -> None:
    refused = await bc_client.post(bc_client.company("items"), {"number": "NEW-1", "inventory": 5})
    assert refused.status == 400
    assert refused.error_code == "Application_DialogException"
    assert refused.error_message.startswith("Inventory cannot be changed during on insert.")
    created = await bc_client.post(
        bc_client.company("items"), {"number": "new-1", "displayName": "New", "baseUnitOfMeasureCode": "pcs"}
    )
    assert created.status == 201
    assert created.body["number"] == "NEW-1" and created.body["baseUnitOfMeasureCode"] == "PCS"
    assert created.body["inventory"] == 0
    assert created.headers["Location"].endswith(f"items({created.body['id']})")
    path = bc_client.company(f"items({created.body['id']})")
    patched = await bc_client.patch(path, {"inventory": 12}, etag=created.body["@odata.etag"])
    assert patched.status == 200 and patched.body["inventory"] == 12
    # Posting stock does not modify the item: same ETag and timestamp.
    assert patched.body["@odata.etag"] == created.body["@odata.etag"]
    assert patched.body["lastModifiedDateTime"] == created.body["lastModifiedDateTime"]
    lower = await bc_client.patch(path, {"inventory": 2})
    assert lower.body["inventory"] == 2
    entries = await bc_client.get(bc_client.company("itemLedgerEntries"), params={"$filter": "itemNumber eq 'NEW-1'"})
    assert [(e["entryType"], e["quantity"], e["documentNumber"]) for e in entries.value] == [
        ("Positive_x0020_Adjmt_x002E_", 12, "NEW-1"),
        ("Negative_x0020_Adjmt_x002E_", -10, "NEW-1"),
    ]
    numbers = [e["entryNumber"] for e in entries.value]
    assert numbers == sorted(numbers) and numbers[0] < numbers[1]
    assert "locationCode" not in entries.value[0]


async def test_item_number_series_and_manual_numbers(bc_client: BcClient) -> None:
    first = await bc_client.post(bc_client.company("items"), {"displayName": "Series"})
    second = await bc_client.post(bc_client.company("items"), {"displayName": "Series 2"})
    assert (first.body["number"], second.body["number"]) == ("70000", "70001")
    duplicate = await bc_client.post(bc_client.company("items"), {"number": "1896-S"})
    assert duplicate.status == 409
    assert duplicate.error_code == "Internal_EntityWithSameKeyExists"


async def test_read_only_fields_are_refused(bc_client: BcClient) -> None:
    customer = bc_client.sim.get("customers", "10000")
    assert customer is not None
    path = bc_client.company(f"customers({customer['id']})")
    for field, value in (
        ("balanceDue", 1),
        ("taxAreaDisplayName", "x"),
        ("id", customer["id"]),
        ("lastModifiedDateTime", "2024-01-01T00:00:00Z"),
    ):
        reply = await bc_client.patch(path, {field: value})
        assert reply.status == 400, field
        assert reply.error_code == "BadRequest_InvalidOperation"
        assert reply.error_message.startswith(f"Control '{field}' is read-only.")
    unknown = await bc_client.patch(path, {"yourReference": "X"})
    assert unknown.status == 400 and "does not exist on type 'Microsoft.NAV.customer'" in unknown.error_message


async def test_codes_upper_cased_and_length_checked(bc_client: BcClient) -> None:
    ok = await bc_client.post(bc_client.company("locations"), {"code": "green", "displayName": "Green"})
    assert ok.status == 201 and ok.body["code"] == "GREEN"
    too_long = await bc_client.post(bc_client.company("locations"), {"code": "ABCDEFGHIJK"})
    assert too_long.status == 400
    assert too_long.error_code == "Application_StringExceededLength"
    assert too_long.error_message.startswith(
        "The length of the string is 11, but it must be less than or equal to 10 characters. Value: ABCDEFGHIJK"
    )
    text = await bc_client.post(bc_client.company("locations"), {"code": "T1", "displayName": "x" * 101})
    assert text.error_code == "Application_StringExceededLength"


async def test_etag_rules(bc_client: BcClient) -> None:
    item = bc_client.sim.get("items", "1900-S")
    assert item is not None
    path = bc_client.company(f"items({item['id']})")
    current = await bc_client.get(path)
    missing = await bc_client.patch(path, {"unitPrice": 1}, etag=None)
    assert missing.status == 400 and missing.error_code == "BadRequest_InvalidToken"
    malformed = await bc_client.patch(path, {"unitPrice": 1}, etag="nonsense")
    assert malformed.status == 400 and malformed.error_code == "BadRequest_InvalidToken"
    first = await bc_client.patch(path, {"unitPrice": 200}, etag=current.body["@odata.etag"])
    assert first.status == 200 and first.body["@odata.etag"] != current.body["@odata.etag"]
    stale = await bc_client.patch(path, {"unitPrice": 201}, etag=current.body["@odata.etag"])
    assert stale.status == 409
    assert stale.error_code == "Request_EntityChanged"
    assert stale.error_message.startswith("Another user has already changed the record.")
    star = await bc_client.patch(path, {"unitPrice": 202}, etag="*")
    assert star.status == 200 and star.body["unitPrice"] == 202
    unchanged = await bc_client.patch(path, {"unitPrice": 202}, etag="*")
    assert unchanged.body["@odata.etag"] == star.body["@odata.etag"]


async def test_delete_checks_if_match_only_when_given(bc_client: BcClient) -> None:
    first = await bc_client.post(bc_client.company("unitsOfMeasure"), {"code": "KG", "displayName": "Kilo"})
    stale_tag = first.body["@odata.etag"]
    path = bc_client.company(f"unitsOfMeasure({first.body['id']})")
    await bc_client.patch(path, {"displayName": "Kilogram"}, etag=stale_tag)
    assert (await bc_client.delete(path, etag=stale_tag)).status == 409
    assert (await bc_client.delete(path)).status == 204
    assert (await bc_client.get(path)).status == 404


async def test_item_delete_with_ledger_entries_refused(bc_client: BcClient) -> None:
    item = bc_client.sim.get("items", "1896-S")
    assert item is not None
    reply = await bc_client.delete(bc_client.company(f"items({item['id']})"))
    assert reply.status == 400
    assert "because it has ledger entries" in reply.error_message


async def test_item_ledger_entries_are_read_only(bc_client: BcClient) -> None:
    reply = await bc_client.post(bc_client.company("itemLedgerEntries"), {"itemNumber": "1896-S"})
    assert reply.status == 405 and reply.error_code == "BadRequest_MethodNotAllowed"


async def test_variants_and_navigation(bc_client: BcClient) -> None:
    item = bc_client.sim.get("items", "1900-S")
    assert item is not None
    nav = await bc_client.get(bc_client.company(f"items({item['id']})/itemVariants"))
    assert [v["code"] for v in nav.value] == ["BLACK", "WHITE"]
    created = await bc_client.post(
        bc_client.company(f"items({item['id']})/itemVariants"), {"code": "red", "description": "Red"}
    )
    assert created.status == 201 and created.body["itemNumber"] == "1900-S" and created.body["code"] == "RED"
    twin = await bc_client.post(bc_client.company("itemVariants"), {"itemNumber": "1900-S", "code": "RED"})
    assert twin.status == 409
    expanded = await bc_client.get(bc_client.company(f"items({item['id']})"), params={"$expand": "itemVariants"})
    assert len(expanded.body["itemVariants"]) == 3


async def test_currency_code_lcy_mapping(bc_client: BcClient) -> None:
    usd = await bc_client.post(bc_client.company("customers"), {"displayName": "Dollar Inc", "currencyCode": "USD"})
    assert usd.status == 201 and usd.body["currencyCode"] == "USD"
    stored = bc_client.sim.get("customers", usd.body["id"])
    assert stored is not None and stored["currencyCode"] == ""
    eur = await bc_client.post(bc_client.company("customers"), {"displayName": "Euro AG", "currencyCode": "eur"})
    assert eur.body["currencyCode"] == "EUR" and eur.body["currencyId"] != "00000000-0000-0000-0000-000000000000"
    bad = await bc_client.post(bc_client.company("customers"), {"displayName": "X", "currencyCode": "XYZ"})
    assert bad.status == 400 and bad.error_message.startswith('The "currencyCode" does not match to a Currency.')


async def test_metadata_and_service_document(bc_client: BcClient) -> None:
    meta = await bc_client.get("$metadata")
    assert meta.status == 200
    assert '<EntitySet Name="salesOrders"' in meta.body
    assert '<EntityType Name="item">' in meta.body
    root = await bc_client.get("")
    assert "itemLedgerEntries" in [s["name"] for s in root.value]


async def test_count_and_property_paths(bc_client: BcClient) -> None:
    count = await bc_client.get(bc_client.company("items/$count"))
    assert count.status == 200 and count.body == "17"
    item = bc_client.sim.get("items", "1928-S")
    assert item is not None
    prop = await bc_client.get(bc_client.company(f"items({item['id']})/displayName"))
    assert prop.body["value"] == "AMSTERDAM Lamp"
    counted = await bc_client.get(bc_client.company("items"), params={"$count": "true", "$top": "2"})
    assert counted.body["@odata.count"] == 17 and len(counted.value) == 2


async def test_bad_key_and_unknown_id(bc_client: BcClient) -> None:
    bad = await bc_client.get(bc_client.company("items(1896)"))
    assert bad.status == 400 and bad.error_code == "BadRequest_NotFound"
    missing = await bc_client.get(bc_client.company("items(00000000-0000-0000-0000-000000000001)"))
    assert missing.status == 404


async def test_error_messages_carry_correlation_id(bc_client: BcClient) -> None:
    reply = await bc_client.get(bc_client.company("nothing"))
    assert re.search(r"  CorrelationId:  [0-9a-f-]{36}\.$", reply.error_message)


async def test_data_access_intent_read_only_refuses_writes(bc_client: BcClient) -> None:
    reply = await bc_client.post(
        bc_client.company("locations"), {"code": "RO"}, headers={"Data-Access-Intent": "ReadOnly"}
    )
    assert reply.status == 405
    assert (
        await bc_client.get(bc_client.company("locations"), headers={"Data-Access-Intent": "ReadOnly"})
    ).status == 200
