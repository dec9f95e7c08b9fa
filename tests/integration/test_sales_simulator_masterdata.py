"""The Sales simulator's master data tables and $batch, spoken to in raw HTTP (no client of ours):
what Sales adds by itself, who and when it records, DELETE, the $batch wire format and its
refusals, and a change set's rollback of webhook jobs."""

from __future__ import annotations

import json
import uuid

import aiohttp
import pytest

from tests.support.sales_simulator import SalesSimulator
from tests.support.sales_simulator.webhooks import Step
from tests.support.sim_peers import Receiver
from tests.support.sim_peers import WebApiCaller as Api


@pytest.fixture
def api(sim: SalesSimulator, http: aiohttp.ClientSession) -> Api:
    return Api(sim, http)


async def test_a_unit_group_makes_its_base_unit(api: Api, sim: SalesSimulator) -> None:
    status, headers, body = await api(
        "POST", "uomschedules", {"name": "NAV PCS", "baseuomname": "PCS"}, {"Prefer": "return=representation"}
    )
    assert status == 201 and headers["Preference-Applied"] == "return=representation"
    group = body["uomscheduleid"]
    assert headers["OData-EntityId"] == f"{sim.api_url}uomschedules({group})"
    [unit] = [u for u in sim.rows("uoms") if u["uomscheduleid"] and u["uomscheduleid"].id == group]
    assert (unit["name"], unit["quantity"], unit["isschedulebaseuom"]) == ("PCS", 1, True)
    assert body["_baseuom_value"] == unit["uomid"]
    # A second unit is a multiple of the base; it cannot claim to be the base.
    status, _h, body = await api(
        "POST",
        "uoms",
        {
            "name": "BOX",
            "quantity": 12,
            "uomscheduleid@odata.bind": f"/uomschedules({group})",
            "baseuom@odata.bind": f"/uoms({unit['uomid']})",
        },
    )
    assert status == 204
    status, _h, body = await api("POST", "uomschedules", {"name": "nav pcs", "baseuomname": "X"})
    assert status == 412 and body["error"]["code"] == "0x80040237"  # names compare case-insensitively


async def test_who_and_when(api: Api, sim: SalesSimulator) -> None:
    by_hand = sim.add_account("Typed in Sales")
    status, headers, _b = await api("POST", "accounts", {"name": "Written by BC"})
    assert status == 204
    by_us = headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")
    _s, _h, hand = await api("GET", f"accounts({by_hand})?$select=name,_modifiedby_value,modifiedon")
    _s, _h, ours = await api("GET", f"accounts({by_us})?$select=_modifiedby_value,_createdby_value")
    assert hand["_modifiedby_value"] == sim.user_id
    assert ours["_modifiedby_value"] == ours["_createdby_value"] == sim.integration_user_id
    # The integration user's edit of the salesperson's row makes it theirs; modifiedby cannot be sent.
    status, _h, _b = await api(
        "PATCH",
        f"accounts({by_hand})",
        {"name": "x", "modifiedby@odata.bind": f"/systemusers({sim.user_id})"},
        {"If-Match": "*"},
    )
    assert status == 204 and sim.row("accounts", by_hand)["modifiedby"].id == sim.integration_user_id
    _s, _h, mine = await api("GET", f"accounts?$filter=_modifiedby_value ne {sim.integration_user_id}")
    assert mine["value"] == []


async def test_delete_checks_the_etag(api: Api, sim: SalesSimulator) -> None:
    account = sim.add_account()
    status, _h, body = await api("DELETE", f"accounts({account})", headers={"If-Match": 'W/"7"'})
    assert status == 412 and body["error"]["code"] == "0x80060882"
    assert (await api("DELETE", f"accounts({account})", headers={"If-Match": 'W/"1"'}))[0] == 204
    status, _h, body = await api("DELETE", f"accounts({account})")
    assert status == 404 and body["error"]["code"] == "0x80040217"


async def _batch(http: aiohttp.ClientSession, api: Api, body: str, prefer: str | None = None) -> tuple[int, str, str]:
    await api("GET", "WhoAmI")  # a token
    headers = {"Authorization": f"Bearer {api.token}", "Content-Type": "multipart/mixed; boundary=batch_1"}
    if prefer:
        headers["Prefer"] = prefer
    async with http.post(api.sim.api_url + "$batch", data=body.encode(), headers=headers) as resp:
        return resp.status, resp.headers["Content-Type"], await resp.text()


def _request(line: str, body: str = "", content_id: str | None = None) -> str:
    head = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
    if content_id:
        head += f"Content-ID: {content_id}\r\n"
    return f"{head}\r\n{line} HTTP/1.1\r\nContent-Type: application/json; type=entry\r\n\r\n{body}"


async def test_batch_wire_format(api: Api, sim: SalesSimulator, http: aiohttp.ClientSession) -> None:
    changeset = (
        "Content-Type: multipart/mixed; boundary=changeset_1\r\n\r\n"
        "--changeset_1\r\n" + _request(f"POST {sim.api_url}accounts", '{"name": "Adatum"}', "1") + "\r\n"
        "--changeset_1\r\n"
        + _request(
            "POST /api/data/v9.2/contacts", '{"lastname": "Townes", "parentcustomerid_account@odata.bind": "$1"}', "2"
        )
        + "\r\n--changeset_1--"
    )
    body = f"--batch_1\r\n{changeset}\r\n--batch_1\r\n" + _request("GET accounts?$select=name") + "\r\n--batch_1--\r\n"
    status, content_type, text = await _batch(http, api, body)
    assert status == 200 and content_type.startswith("multipart/mixed; boundary=batchresponse_")
    assert text.count("HTTP/1.1 204 No Content") == 2 and "Content-ID: 2" in text
    assert "HTTP/1.1 200 OK" in text and '"name": "Adatum"' in text
    [contact] = sim.rows("contacts")
    [account] = sim.rows("accounts")
    assert contact["parentcustomerid"].id == account["accountid"]

    # A GET inside a change set, a missing request line, more than 1000 requests: refused.
    bad = "--batch_1\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n--cs\r\n" + _request("GET accounts")
    status, _ct, text = await _batch(http, api, bad + "\r\n--cs--\r\n--batch_1--\r\n")
    assert status == 400 and "may not contain a GET" in text
    status, _ct, text = await _batch(
        http, api, "--batch_1\r\nContent-Type: application/http\r\n\r\nnonsense\r\n--batch_1--"
    )
    assert status == 400 and "no HTTP request line" in text
    many = "".join(f"--batch_1\r\n{_request('GET accounts')}\r\n" for _ in range(1001)) + "--batch_1--\r\n"
    status, _ct, text = await _batch(http, api, many)
    assert status == 400 and "at most 1000" in text


async def test_a_rolled_back_change_set_sends_no_webhook(
    api: Api, sim: SalesSimulator, http: aiohttp.ClientSession, receiver: Receiver
) -> None:
    sim.register_webhook(receiver.url, steps=[Step("account", "Create")])
    good = f"POST {sim.api_url}accounts"
    first, second = _request(good, '{"name": "A"}', "1"), _request(good, '{"nope": 1}', "2")
    changeset = f"Content-Type: multipart/mixed; boundary=cs\r\n\r\n--cs\r\n{first}\r\n--cs\r\n{second}\r\n--cs--"
    after = _request(good, '{"name": "B"}')
    status, _ct, text = await _batch(http, api, f"--batch_1\r\n{changeset}\r\n--batch_1\r\n{after}\r\n--batch_1--\r\n")
    assert status == 400 and "Content-ID: 2" in text and "'nope' does not exist" in text
    assert sim.rows("accounts") == [] and sim.deliveries == []  # stopped: B was not created either

    status, _ct, _t = await _batch(
        http, api, f"--batch_1\r\n{changeset}\r\n--batch_1\r\n{after}\r\n--batch_1--\r\n", "odata.continue-on-error"
    )
    assert status == 200
    await sim.flush()
    assert [a["name"] for a in sim.rows("accounts")] == ["B"] and len(sim.deliveries) == 1
    assert uuid.UUID(sim.deliveries[0].row_id)


async def test_price_list_items_as_sales_checks_them(api: Api, sim: SalesSimulator) -> None:
    """A price list item (productpricelevel) needs an existing list, product and unit of the
    product's unit group, one per list, product and unit, in the list's currency."""
    group, pcs = sim.add_unit_group("NAV PCS", "PCS")
    _other, box = sim.add_unit_group("NAV BOX", "BOX")
    product = sim.add_product("1896-S", uom=pcs)
    retail = sim.add_price_list("RETAIL")
    cad = sim.add_currency("CAD")
    line = {
        "pricelevelid@odata.bind": f"/pricelevels({retail})",
        "productid@odata.bind": f"/products({product})",
        "uomid@odata.bind": f"/uoms({pcs})",
        "pricingmethodcode": 1,
        "amount": 950,
    }
    refusals = [
        ({k: v for k, v in line.items() if k != "uomid@odata.bind"}, 400, "0x80040203"),  # no unit
        ({**line, "pricelevelid@odata.bind": f"/pricelevels({uuid.uuid4()})"}, 404, "0x80040217"),
        ({**line, "uomid@odata.bind": f"/uoms({box})"}, 400, "0x80040203"),  # not the product's unit group
        ({**line, "transactioncurrencyid@odata.bind": f"/transactioncurrencies({cad})"}, 400, "0x80040203"),
        ({**line, "pricingmethodcode": 9}, 400, "0x80040203"),
        ({**line, "amount": -1}, 400, "0x80044331"),
        ({**line, "productnumber": "x"}, 400, "0x80040203"),  # Sales computes it
    ]
    for body, status_wanted, code in refusals:
        status, _h, answer = await api("POST", "productpricelevels", body)
        assert (status, answer["error"]["code"]) == (status_wanted, code), (body, answer)
    assert sim.rows("productpricelevels") == []

    status, headers, _b = await api("POST", "productpricelevels", line)
    assert status == 204
    created = sim.row("productpricelevels", headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")"))
    assert created["productnumber"] == "1896-S" and created["uomscheduleid"].id == group
    assert created["transactioncurrencyid"].id == sim.base_currency_id  # the list's
    status, _h, answer = await api("POST", "productpricelevels", {**line, "amount": 900})
    assert status == 412 and answer["error"]["code"] == "0x80040237"  # one per list, product and unit

    # A price list keeps its currency; its items keep their list and product.
    status, _h, answer = await api(
        "PATCH", f"pricelevels({retail})", {"transactioncurrencyid@odata.bind": f"/transactioncurrencies({cad})"}
    )
    assert status == 400 and "cannot be changed" in answer["error"]["message"]
    other = sim.add_price_list("WHOLESALE")
    status, _h, answer = await api(
        "PATCH",
        f"productpricelevels({created['productpricelevelid']})",
        {"pricelevelid@odata.bind": f"/pricelevels({other})"},
    )
    assert status == 400 and "cannot be changed" in answer["error"]["message"]
    status, _h, _a = await api("PATCH", f"productpricelevels({created['productpricelevelid']})", {"amount": 925})
    assert status == 204 and sim.row("productpricelevels", created["productpricelevelid"])["amount"] == 925
    status, _h, answer = await api("POST", "pricelevels", {"name": "retail"})
    assert status == 400 and "transactioncurrencyid" in answer["error"]["message"]  # a list needs a currency
    status, _h, answer = await api(
        "POST", "pricelevels", {"name": "retail", "transactioncurrencyid@odata.bind": f"/transactioncurrencies({cad})"}
    )
    assert status == 412 and answer["error"]["code"] == "0x80040237"  # names are unique, whatever the case


def _change_set(boundary: str, *requests: str) -> str:
    inner = "".join(f"--{boundary}\r\n{r}\r\n" for r in requests)
    return f"Content-Type: multipart/mixed; boundary={boundary}\r\n\r\n{inner}--{boundary}--"


async def test_change_set_references_and_rollback(api: Api, sim: SalesSimulator, http: aiohttp.ClientSession) -> None:
    """A new product, its price list line (``$1`` as a bind value) and its state (``PATCH $1``) in
    one change set; a change set that fails at its third request keeps nothing of the first two —
    an update of an existing row is undone too — and answers that request's error with its
    Content-ID; a ``$n`` nothing declared is Dataverse's 400."""
    _group, pcs = sim.add_unit_group("NAV PCS", "PCS")
    price_list = sim.add_price_list("Business Central Default Price List")
    existing = sim.add_product("1000", uom=pcs)
    api_url = sim.api_url

    def product(number: str, content_id: str) -> str:
        values = {
            "name": f"Bicycle {number}",
            "productnumber": number,
            "defaultuomscheduleid@odata.bind": f"/uomschedules({_group})",
            "defaultuomid@odata.bind": f"/uoms({pcs})",
            "quantitydecimal": 2,
        }
        return _request(f"POST {api_url}products", json.dumps(values), content_id)

    def line(content_id: str, reference: str = "$1") -> str:
        values = {
            "pricelevelid@odata.bind": f"/pricelevels({price_list})",
            "productid@odata.bind": reference,
            "uomid@odata.bind": f"/uoms({pcs})",
            "pricingmethodcode": 1,
            "amount": 950,
        }
        return _request(f"POST {api_url}productpricelevels", json.dumps(values), content_id)

    activate = _request("PATCH $1", '{"statecode": 0, "statuscode": 1}', "3")
    good = _change_set("cs_a", product("2000", "1"), line("2"), activate)
    rename = _request(f"PATCH {api_url}products({existing})", '{"name": "Renamed"}', "4")
    duplicate = product("1000", "6")  # the number is unique
    bad = _change_set("cs_b", rename, product("3000", "5"), duplicate)
    body = f"--batch_1\r\n{good}\r\n--batch_1\r\n{bad}\r\n--batch_1--\r\n"
    status, _ct, text = await _batch(http, api, body, "odata.continue-on-error")
    assert status == 200
    created = [p for p in sim.rows("products") if p["productnumber"] == "2000"]
    assert len(created) == 1 and (created[0]["statecode"], created[0]["statuscode"]) == (0, 1)
    [made_line] = sim.rows("productpricelevels")
    assert made_line["productid"].id == created[0]["productid"] and made_line["amount"] == 950
    # The failed change set: its error alone, with the failing request's Content-ID; nothing kept.
    failed_part = text.split("cs_a", 1)[-1].split("changesetresponse")[-1]
    assert "Content-ID: 6" in failed_part and "0x80040237" in failed_part
    assert sorted(p["productnumber"] for p in sim.rows("products")) == ["1000", "2000"]
    assert sim.row("products", existing)["name"] != "Renamed"
    # The number the rolled-back change set took is free again; the one it kept is still taken.
    again = _change_set("cs_c", product("3000", "1"))
    status, _ct, text = await _batch(http, api, f"--batch_1\r\n{again}\r\n--batch_1--\r\n")
    assert status == 200 and "HTTP/1.1 204" in text
    taken = _change_set("cs_d", product("2000", "1"))
    status, _ct, text = await _batch(http, api, f"--batch_1\r\n{taken}\r\n--batch_1--\r\n")
    assert status == 400 and "0x80040237" in text

    # A reference to a Content-ID no earlier request declared, in a bind value or as the path.
    for request in (line("1", "$7"), _request("PATCH $7", '{"name": "y"}', "1")):
        status, _ct, text = await _batch(http, api, f"--batch_1\r\n{_change_set('cs_e', request)}\r\n--batch_1--\r\n")
        assert status == 400 and "Content-ID Reference: '$7' does not exist in the batch context." in text
