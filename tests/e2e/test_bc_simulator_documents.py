"""Sales orders, quotes and their lines in the simulator: BC's create rules, deep insert, totals,
header ETags moving with lines, and the bound actions makeOrder and shipAndInvoice."""

from __future__ import annotations

from typing import Any

from tests.support.bc_simulator.client import BcClient

pytest_plugins = ["tests.support.bc_simulator.fixtures"]


async def _order(client: BcClient, **body: Any) -> dict[str, Any]:
    reply = await client.post(client.company("salesOrders"), {"customerNumber": "10000", **body})
    assert reply.status == 201, reply.body
    return dict(reply.body)


async def test_create_order_defaults_from_customer(bc_client: BcClient) -> None:
    order = await _order(bc_client, externalDocumentNumber="gw-000123")
    assert order["number"] == "S-ORD101001"
    assert order["externalDocumentNumber"] == "GW-000123"
    assert order["customerName"] == "Adatum Corporation"
    assert order["billToCustomerNumber"] == "10000"
    assert order["sellToCity"] == "Atlanta" and order["shipToName"] == "Adatum Corporation"
    assert order["currencyCode"] == "USD"
    assert order["status"] == "Draft"
    assert order["orderDate"] == bc_client.sim.clock.today().isoformat()
    assert order["totalAmountIncludingTax"] == 0
    second = await _order(bc_client, externalDocumentNumber="GW-000123")
    assert second["number"] == "S-ORD101002"  # externalDocumentNumber is not unique


async def test_create_order_refusals(bc_client: BcClient) -> None:
    path = bc_client.company("salesOrders")
    none = await bc_client.post(path, {"externalDocumentNumber": "X"})
    assert none.status == 400 and none.error_code == "Application_DialogException"
    assert none.error_message.startswith('A "customerNumber" or a "customerId" must be provided.')
    unknown = await bc_client.post(path, {"customerNumber": "99999"})
    assert unknown.error_message.startswith("The sell-to customer cannot be found.")
    numbered = await bc_client.post(path, {"customerNumber": "10000", "number": "SO-1"})
    assert numbered.status == 400
    assert numbered.error_message.startswith(
        "You may not enter numbers manually. If you want to enter numbers manually, "
        "please activate Manual Nos. in No. Series S-ORD."
    )
    mismatch = await bc_client.post(
        path,
        {"customerNumber": "20000", "customerId": bc_client.sim.get("customers", "10000")["id"]},  # type: ignore[index]
    )
    assert mismatch.error_message.startswith("The sell-to customer values do not match to a specific Customer.")
    currency = await bc_client.post(path, {"customerNumber": "10000", "currencyCode": "XXX"})
    assert currency.error_message.startswith('The "currencyCode" does not match to a Currency.')
    too_long = await bc_client.post(path, {"customerNumber": "10000", "externalDocumentNumber": "X" * 36})
    assert too_long.error_code == "Application_StringExceededLength"
    yours = await bc_client.post(path, {"customerNumber": "10000", "yourReference": "R"})
    assert yours.status == 400 and "yourReference" in yours.error_message
    for ro in ("status", "customerName", "totalAmountExcludingTax", "id"):
        reply = await bc_client.post(
            path, {"customerNumber": "10000", ro: "x" if ro != "totalAmountExcludingTax" else 1}
        )
        assert reply.error_code == "BadRequest_InvalidOperation", ro


async def test_blocked_customer_any_type(bc_client: BcClient) -> None:
    for blocked in ("Ship", "Invoice", "All"):
        bc_client.sim.block_customer("20000", blocked)
        for set_name in ("salesOrders", "salesQuotes"):
            reply = await bc_client.post(bc_client.company(set_name), {"customerNumber": "20000"})
            assert reply.status == 400 and reply.error_code == "Application_DialogException"
            assert reply.error_message.startswith(
                f"You cannot create this type of document when Customer 20000 is blocked with type {blocked}"
            )


async def test_lines_numbering_amounts_and_header_etag(bc_client: BcClient) -> None:
    order = await _order(bc_client)
    lines_path = bc_client.company(f"salesOrders({order['id']})/salesOrderLines")
    first = await bc_client.post(lines_path, {"lineType": "Item", "lineObjectNumber": "1896-S", "quantity": 2})
    assert first.status == 201, first.body
    line = first.body
    assert line["sequence"] == 10000
    assert line["description"] == "ATHENS Desk" and line["unitPrice"] == 1000.8
    assert line["unitOfMeasureCode"] == "PCS"
    assert line["amountExcludingTax"] == 2001.6 and line["totalTaxAmount"] == 0
    assert line["shipQuantity"] == 2 and line["shippedQuantity"] == 0
    second = await bc_client.post(
        lines_path,
        {
            "lineType": "Item",
            "lineObjectNumber": "1900-S",
            "quantity": 1,
            "unitOfMeasureCode": "BOX",
            "unitPrice": 1000,
            "discountPercent": 10,
        },
    )
    assert second.body["sequence"] == 20000 and second.body["discountAmount"] == 100
    assert second.body["amountExcludingTax"] == 900
    box = await bc_client.post(
        lines_path, {"lineType": "Item", "lineObjectNumber": "1900-S", "quantity": 1, "unitOfMeasureCode": "BOX"}
    )
    assert box.body["unitPrice"] == 1156.8  # priced per box: 6 × 192.8
    await bc_client.delete(f"{lines_path}({box.body['id']})")
    freight = await bc_client.post(
        lines_path, {"lineType": "Account", "lineObjectNumber": "6710", "quantity": 1, "unitPrice": 25}
    )
    assert (
        freight.body["description"] == "Freight" and freight.body["accountId"] != "00000000-0000-0000-0000-000000000000"
    )
    lina = await bc_client.post(lines_path, {"lineType": "Resource", "lineObjectNumber": "LINA", "quantity": 3})
    assert lina.body["unitPrice"] == 95 and lina.body["unitOfMeasureCode"] == "HOUR"
    note = await bc_client.post(lines_path, {"lineType": "Comment", "description": "Deliver to the back door"})
    assert note.status == 201 and note.body["amountExcludingTax"] == 0
    header = await bc_client.get(bc_client.company(f"salesOrders({order['id']})"))
    assert header.body["totalAmountExcludingTax"] == 2001.6 + 900 + 25 + 285
    assert header.body["@odata.etag"] != order["@odata.etag"]
    before = header.body["@odata.etag"]
    line_path = f"{lines_path}({line['id']})"
    changed = await bc_client.patch(line_path, {"quantity": 3}, etag=line["@odata.etag"])
    assert changed.status == 200 and changed.body["amountExcludingTax"] == 3002.4
    after = await bc_client.get(bc_client.company(f"salesOrders({order['id']})"))
    assert after.body["@odata.etag"] != before
    assert after.body["lastModifiedDateTime"] >= header.body["lastModifiedDateTime"]
    listed = await bc_client.get(lines_path)
    assert [ln["sequence"] for ln in listed.value] == [10000, 20000, 30000, 40000, 50000]
    assert (await bc_client.delete(line_path)).status == 204
    assert len((await bc_client.get(lines_path)).value) == 4


async def test_line_rules(bc_client: BcClient) -> None:
    order = await _order(bc_client)
    lines_path = bc_client.company(f"salesOrders({order['id']})/salesOrderLines")
    unknown = await bc_client.post(lines_path, {"lineType": "Item", "lineObjectNumber": "NOPE", "quantity": 1})
    assert unknown.error_message.startswith("Item does not exist.")
    account = await bc_client.post(lines_path, {"lineType": "Account", "lineObjectNumber": "9999"})
    assert account.error_message.startswith("Account does not exist.")
    both = await bc_client.post(
        lines_path,
        {
            "itemId": bc_client.sim.get("items", "1896-S")["id"],
            "accountId": bc_client.sim.get("accounts", "6710")["id"],
        },  # type: ignore[index]
    )
    assert both.error_message.startswith('Both "itemId" and "accountId" are specified. Specify only one of them.')
    resource = await bc_client.post(lines_path, {"lineType": "Resource", "lineObjectNumber": "NOBODY"})
    assert resource.error_code == "Internal_InvalidTableRelation"
    uom = await bc_client.post(
        lines_path, {"lineType": "Item", "lineObjectNumber": "1896-S", "quantity": 1, "unitOfMeasureCode": "BOX"}
    )
    assert uom.error_code == "Internal_InvalidTableRelation"
    assert "(Item Unit of Measure)" in uom.error_message
    bc_client.sim.block_item("1906-S")
    blocked = await bc_client.post(lines_path, {"lineType": "Item", "lineObjectNumber": "1906-S", "quantity": 1})
    assert blocked.error_code == "Application_FieldValidationException"
    assert blocked.error_message.startswith(
        "Blocked must be equal to 'No' in Item: No.=1906-S. Current value is 'Yes'."
    )
    bc_client.sim.change("items", "1908-S", salesBlocked=True)
    sales_blocked = await bc_client.post(lines_path, {"lineType": "Item", "lineObjectNumber": "1908-S", "quantity": 1})
    assert sales_blocked.error_message.startswith("You cannot sell Item 1908-S because the Sales Blocked check box")
    ok = await bc_client.post(lines_path, {"itemId": bc_client.sim.get("items", "1896-S")["id"], "quantity": 1})  # type: ignore[index]
    assert ok.status == 201 and ok.body["lineType"] == "Item"
    path = f"{lines_path}({ok.body['id']})"
    seq = await bc_client.patch(path, {"sequence": 90000})
    assert seq.error_message.startswith(
        'The value for "sequence" cannot be modified. Delete and insert the line again.'
    )
    obj = await bc_client.patch(path, {"lineObjectNumber": "1900-S"})
    assert obj.error_message.startswith('The value for "lineObjectNumber" cannot be modified.')


async def test_top_level_lines_need_a_document_filter(bc_client: BcClient) -> None:
    order = await _order(bc_client, salesOrderLines=[{"lineType": "Item", "lineObjectNumber": "1896-S", "quantity": 1}])
    bare = await bc_client.get(bc_client.company("salesOrderLines"))
    assert bare.status == 400
    assert bare.error_message.startswith("You must specify an Id or a Document Id to get the lines.")
    filtered = await bc_client.get(
        bc_client.company("salesOrderLines"), params={"$filter": f"documentId eq {order['id']}"}
    )
    assert len(filtered.value) == 1 and filtered.value[0]["documentId"] == order["id"]
    posted = await bc_client.post(
        bc_client.company("salesOrderLines"),
        {"documentId": order["id"], "lineType": "Item", "lineObjectNumber": "1928-S", "quantity": 4},
    )
    assert posted.status == 201 and posted.body["sequence"] == 20000


async def test_deep_insert_is_atomic(bc_client: BcClient) -> None:
    path = bc_client.company("salesOrders")
    good = await bc_client.post(
        path,
        {
            "customerNumber": "10000",
            "externalDocumentNumber": "GW-1",
            "salesOrderLines": [
                {"lineType": "Item", "lineObjectNumber": "1896-S", "quantity": 2},
                {"itemId": bc_client.sim.get("items", "1928-S")["id"], "quantity": 1, "unitPrice": 99.5},  # type: ignore[index]
            ],
        },
        params={"$expand": "salesOrderLines($select=sequence,quantity)"},
    )
    assert good.status == 201
    assert good.body["totalAmountExcludingTax"] == 2001.6 + 99.5
    assert good.body["salesOrderLines"] == [
        {"@odata.etag": good.body["salesOrderLines"][0]["@odata.etag"], "sequence": 10000, "quantity": 2},
        {"@odata.etag": good.body["salesOrderLines"][1]["@odata.etag"], "sequence": 20000, "quantity": 1},
    ]
    before = len(bc_client.sim.company().table("salesOrders"))
    bad = await bc_client.post(
        path,
        {
            "customerNumber": "10000",
            "externalDocumentNumber": "GW-2",
            "salesOrderLines": [
                {"lineType": "Item", "lineObjectNumber": "1896-S", "quantity": 1},
                {"lineType": "Item", "lineObjectNumber": "NOPE", "quantity": 1},
            ],
        },
    )
    assert bad.status == 400
    assert len(bc_client.sim.company().table("salesOrders")) == before
    found = await bc_client.get(path, params={"$filter": "externalDocumentNumber eq 'GW-2'"})
    assert found.value == []
    # The failed attempt did not use up a number.
    again = await _order(bc_client)
    assert again["number"] == "S-ORD101002"
    deep_patch = await bc_client.patch(bc_client.company(f"salesOrders({good.body['id']})"), {"salesOrderLines": []})
    assert deep_patch.status == 400


async def test_expand_on_collections(bc_client: BcClient) -> None:
    await _order(bc_client, salesOrderLines=[{"lineType": "Item", "lineObjectNumber": "1896-S", "quantity": 1}])
    reply = await bc_client.get(
        bc_client.company("salesOrders"),
        params={"$expand": "salesOrderLines($select=lineObjectNumber)", "$select": "number"},
    )
    assert reply.value[0]["number"] == "S-ORD101001"
    assert [ln["lineObjectNumber"] for ln in reply.value[0]["salesOrderLines"]] == ["1896-S"]
    wrong = await bc_client.get(bc_client.company("salesOrders"), params={"$expand": "lines"})
    assert wrong.status == 400


async def test_quote_make_order(bc_client: BcClient) -> None:
    quote = await bc_client.post(
        bc_client.company("salesQuotes"),
        {
            "customerNumber": "30000",
            "externalDocumentNumber": "Q-1",
            "salesQuoteLines": [{"lineType": "Item", "lineObjectNumber": "1920-S", "quantity": 2}],
        },
    )
    assert quote.status == 201 and quote.body["number"] == "S-QUO1001" and quote.body["status"] == "Draft"
    assert quote.body["documentDate"] == quote.body["dueDate"]
    action = await bc_client.post(bc_client.company(f"salesQuotes({quote.body['id']})/Microsoft.NAV.makeOrder"))
    assert action.status == 204 and action.body == ""
    assert (await bc_client.get(bc_client.company(f"salesQuotes({quote.body['id']})"))).status == 404
    orders = await bc_client.get(
        bc_client.company("salesOrders"),
        params={"$filter": "externalDocumentNumber eq 'Q-1'", "$expand": "salesOrderLines"},
    )
    [order] = orders.value
    assert order["customerNumber"] == "30000"
    assert [(ln["lineObjectNumber"], ln["quantity"]) for ln in order["salesOrderLines"]] == [("1920-S", 2)]
    assert order["totalAmountExcludingTax"] == 1298.8


async def test_ship_and_invoice_posts(bc_client: BcClient) -> None:
    blue = bc_client.sim.get("locations", "BLUE")
    assert blue is not None
    order = await _order(
        bc_client,
        externalDocumentNumber="GW-POST",
        salesOrderLines=[
            {
                "lineType": "Item",
                "lineObjectNumber": "1900-S",
                "quantity": 2,
                "unitOfMeasureCode": "BOX",
                "locationId": blue["id"],
            },
            {"lineType": "Account", "lineObjectNumber": "6710", "quantity": 1, "unitPrice": 10},
        ],
    )
    before = bc_client.sim.company().inventory["1900-S"]
    reply = await bc_client.post(bc_client.company(f"salesOrders({order['id']})/Microsoft.NAV.shipAndInvoice"))
    assert reply.status == 204
    assert (await bc_client.get(bc_client.company(f"salesOrders({order['id']})"))).status == 404
    invoices = await bc_client.get(
        bc_client.company("salesInvoices"), params={"$filter": "externalDocumentNumber eq 'GW-POST'"}
    )
    [invoice] = invoices.value
    assert invoice["orderNumber"] == order["number"] and invoice["status"] == "Open"
    assert (
        invoice["totalAmountIncludingTax"] == order["totalAmountIncludingTax"] or invoice["totalAmountIncludingTax"] > 0
    )
    lines = await bc_client.get(bc_client.company(f"salesInvoices({invoice['id']})/salesInvoiceLines"))
    assert len(lines.value) == 2
    sales = await bc_client.get(
        bc_client.company("itemLedgerEntries"),
        params={
            "$filter": "entryType eq 'Sale' and itemNumber eq '1900-S'",
            "$orderby": "entryNumber desc",
            "$top": "1",
        },
    )
    [entry] = sales.value
    assert entry["quantity"] == -12 and entry["documentType"] == "Sales_x0020_Shipment"
    assert entry["sourceNumber"] == "10000"
    assert bc_client.sim.company().inventory["1900-S"] == before - 12
    customer = await bc_client.get(bc_client.company(f"customers({order['customerId']})"))
    assert customer.body["balanceDue"] == invoice["totalAmountIncludingTax"]
    readonly = await bc_client.post(bc_client.company("salesInvoices"), {"customerNumber": "10000"})
    assert readonly.status == 405


async def test_posting_refusals_and_missing_actions(bc_client: BcClient) -> None:
    empty = await _order(bc_client)
    nothing = await bc_client.post(bc_client.company(f"salesOrders({empty['id']})/Microsoft.NAV.shipAndInvoice"))
    assert nothing.status == 400 and nothing.error_message.startswith("There is nothing to post.")
    no_qty = await _order(bc_client, salesOrderLines=[{"lineType": "Item", "lineObjectNumber": "1896-S"}])
    zero = await bc_client.post(bc_client.company(f"salesOrders({no_qty['id']})/Microsoft.NAV.shipAndInvoice"))
    assert zero.error_message.startswith(
        "One or more document lines with a value in the No. field do not have a quantity"
    )
    release = await bc_client.post(bc_client.company(f"salesOrders({empty['id']})/Microsoft.NAV.release"))
    assert release.status == 404 and release.error_code == "BadRequest_ResourceNotFound"
    stale = await bc_client.post(
        bc_client.company(f"salesOrders({empty['id']})/Microsoft.NAV.shipAndInvoice"),
        headers={"If-Match": 'W/"JzE7MTswMDsn"'},
    )
    assert stale.status == 409


async def test_header_patch_and_delete(bc_client: BcClient) -> None:
    order = await _order(bc_client, salesOrderLines=[{"lineType": "Item", "lineObjectNumber": "1896-S", "quantity": 1}])
    path = bc_client.company(f"salesOrders({order['id']})")
    current = await bc_client.get(path)
    number = await bc_client.patch(path, {"number": "X"}, etag=current.body["@odata.etag"])
    assert number.error_code == "BadRequest_InvalidOperation"
    patched = await bc_client.patch(
        path, {"externalDocumentNumber": "new-ref", "discountAmount": 100}, etag=current.body["@odata.etag"]
    )
    assert patched.status == 200
    assert patched.body["externalDocumentNumber"] == "NEW-REF"
    assert patched.body["totalAmountExcludingTax"] == 900.8
    lines = await bc_client.get(f"{path}/salesOrderLines")
    assert lines.value[0]["invoiceDiscountAllocation"] == 100 and lines.value[0]["netAmount"] == 900.8
    assert (await bc_client.delete(path)).status == 204
    assert bc_client.sim.company().table("salesOrderLines").rows == {}


async def test_quote_header_and_lines_patch(bc_client: BcClient) -> None:
    quote = await bc_client.post(
        bc_client.company("salesQuotes"),
        {
            "customerNumber": "40000",
            "salesQuoteLines": [{"lineType": "Item", "lineObjectNumber": "1928-S", "quantity": 1}],
        },
    )
    assert quote.body["currencyCode"] == "CAD"  # from the customer
    path = bc_client.company(f"salesQuotes({quote.body['id']})")
    patched = await bc_client.patch(path, {"validUntilDate": "2031-12-31"})
    assert patched.status == 200 and patched.body["validUntilDate"] == "2031-12-31"
    lines = await bc_client.get(f"{path}/salesQuoteLines")
    line = lines.value[0]
    assert "shipQuantity" not in line and "invoiceDiscountAllocation" not in line
    changed = await bc_client.patch(f"{path}/salesQuoteLines({line['id']})", {"quantity": 5}, etag=line["@odata.etag"])
    assert changed.body["amountExcludingTax"] == 274.5
    header = await bc_client.get(path)
    assert header.body["totalAmountExcludingTax"] == 274.5
    sent = await bc_client.patch(path, {"status": "Sent"})
    assert sent.error_code == "BadRequest_InvalidOperation"


async def test_fully_shipped_write_is_ignored_and_return_no_content(bc_client: BcClient) -> None:
    order = await _order(bc_client)
    path = bc_client.company(f"salesOrders({order['id']})")
    ignored = await bc_client.patch(path, {"fullyShipped": True})
    assert ignored.status == 200 and ignored.body["fullyShipped"] is False
    quiet = await bc_client.patch(path, {"externalDocumentNumber": "QUIET"}, headers={"Prefer": "return-no-content"})
    assert quiet.status == 204 and quiet.body == "" and quiet.headers["ETag"].startswith('W/"')


async def test_contacts_and_accounts(bc_client: BcClient) -> None:
    contact = await bc_client.post(bc_client.company("contacts"), {"displayName": "Jane Doe", "type": "Person"})
    assert contact.status == 201 and contact.body["number"] == "CT000001" and contact.body["searchName"] == "JANE DOE"
    accounts = await bc_client.get(bc_client.company("accounts"), params={"$filter": "number eq '6710'"})
    assert accounts.value[0]["displayName"] == "Freight"
    assert (await bc_client.post(bc_client.company("accounts"), {"number": "1"})).status == 405
