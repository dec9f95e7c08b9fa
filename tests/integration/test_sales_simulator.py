"""The Sales simulator itself, over real HTTP: token endpoint, Web API reads, filters, paging,
PATCH rules, faults and the request log. Its webhook deliveries: test_sales_simulator_webhooks."""

from __future__ import annotations

import re
import uuid
from datetime import date
from decimal import Decimal

import aiohttp
import pytest

from orders.dataverse.webhook_context import EntityReference
from tests.support.builders import an_order
from tests.support.sales_simulator import SalesSimulator, SimulatorError
from tests.support.sim_peers import WebApiCaller as Api

ANNOTATIONS = 'odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"'


@pytest.fixture
def api(sim: SalesSimulator, http: aiohttp.ClientSession) -> Api:
    return Api(sim, http)


# ---------------------------------------------------------------------------------------------
# Token endpoint and bearer validation


async def test_token_endpoint(api: Api, sim: SalesSimulator) -> None:
    status, answer = await api.get_token()
    assert status == 200
    assert answer["token_type"] == "Bearer" and answer["expires_in"] == sim.token_lifetime
    assert len(answer["access_token"]) > 30
    # The real host's scope is accepted too.
    assert (await api.get_token(scope=f"https://{sim.org_host}/.default"))[0] == 200
    status, answer = await api.get_token(client_secret="wrong")
    assert (status, answer["error"]) == (401, "invalid_client")
    status, answer = await api.get_token(client_id="someone-else")
    assert (status, answer["error"]) == (400, "unauthorized_client")
    status, answer = await api.get_token(scope="https://other.crm.dynamics.com/.default")
    assert (status, answer["error"]) == (400, "invalid_scope")
    status, answer = await api.get_token(grant_type="password")
    assert (status, answer["error"]) == (400, "unsupported_grant_type")
    assert sim.token_requests == 6


async def test_bearer_is_required_and_checked(api: Api, sim: SalesSimulator) -> None:
    account = sim.add_account()
    status, headers, body = await api("GET", f"accounts({account})", token="made-up")
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer authorization_uri=")
    assert "not authenticated" in body["error"]["message"]
    assert (await api("GET", f"accounts({account})"))[0] == 200
    sim.revoke_tokens()
    assert (await api("GET", f"accounts({account})"))[0] == 401


async def test_expired_token_is_refused(api: Api, sim: SalesSimulator) -> None:
    sim.token_lifetime = 0
    assert (await api("GET", f"accounts({sim.add_account()})"))[0] == 401


# ---------------------------------------------------------------------------------------------
# Reads


async def test_get_by_key_with_and_without_annotations(api: Api, sim: SalesSimulator) -> None:
    order = await an_order(sim, requestdeliveryby=date(2024, 6, 14))
    status, headers, plain = await api("GET", f"salesorders({order.upper()})")
    assert status == 200 and headers["OData-Version"] == "4.0"
    assert plain["@odata.context"] == f"{sim.api_url}$metadata#salesorders/$entity"
    assert plain["@odata.etag"] == 'W/"1"'
    assert plain["salesorderid"] == order
    assert re.fullmatch(r"ORD-01001-[A-Z0-9]{6}", plain["ordernumber"])
    assert plain["requestdeliveryby"] == "2024-06-14"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", plain["createdon"])
    assert plain["totalamount"] == 200.5 and plain["statecode"] == 0 and plain["statuscode"] == 1
    assert plain["_customerid_value"] == sim.rows("accounts")[0]["accountid"]
    assert "_customerid_value@Microsoft.Dynamics.CRM.lookuplogicalname" not in plain
    assert plain["lastbackofficesubmit"] is None and plain["billto_city"] is None  # empty columns are null
    _s, _h, annotated = await api("GET", f"salesorders({order})", headers={"Prefer": ANNOTATIONS})
    assert annotated["_customerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "account"
    assert annotated["_transactioncurrencyid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "transactioncurrency"
    assert "_quoteid_value@Microsoft.Dynamics.CRM.lookuplogicalname" not in annotated  # null lookups: none
    _s, _h, star = await api("GET", f"salesorders({order})", headers={"Prefer": 'odata.include-annotations="*"'})
    assert star["_customerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "account"


async def test_select(api: Api, sim: SalesSimulator) -> None:
    order = await an_order(sim)
    status, _h, row = await api("GET", f"salesorders({order})?$select=statecode,_customerid_value")
    assert status == 200
    assert set(row) == {"@odata.context", "@odata.etag", "salesorderid", "statecode", "_customerid_value"}
    assert row["@odata.context"].endswith("#salesorders(statecode,_customerid_value)/$entity")
    status, _h, body = await api("GET", f"salesorders({order})?$select=Name")
    assert status == 400
    assert (
        body["error"]["message"]
        == "Could not find a property named 'Name' on type 'Microsoft.Dynamics.CRM.salesorder'."
    )


async def test_missing_rows_sets_and_keys(api: Api, sim: SalesSimulator) -> None:
    missing = str(uuid.uuid4())
    status, _h, body = await api("GET", f"salesorders({missing})")
    assert status == 404
    assert body["error"] == {"code": "0x80040217", "message": f"Entity 'salesorder' With Id = {missing} Does Not Exist"}
    status, _h, body = await api("GET", "SalesOrders")
    assert status == 404 and body["error"]["code"] == "0x8006088a"
    status, _h, body = await api("GET", "salesorders(42)")
    assert status == 400


async def test_lines_notes_and_lookups(api: Api, sim: SalesSimulator) -> None:
    order = await an_order(sim)
    _s, _h, lines = await api("GET", f"salesorderdetails?$filter=_salesorderid_value eq {order}")
    (line,) = lines["value"]
    assert lines["@odata.context"] == f"{sim.api_url}$metadata#salesorderdetails"
    assert (line["quantity"], line["priceperunit"], line["baseamount"], line["extendedamount"]) == (
        2,
        100.25,
        200.5,
        200.5,
    )
    assert (line["sequencenumber"], line["lineitemnumber"], line["producttypecode"]) == (1, 1, 1)
    assert line["isproductoverridden"] is False and line["_uomid_value"] == sim.default_uom_id
    _s, _h, notes = await api("GET", f"annotations?$filter=_objectid_value eq {order} and isdocument eq false")
    assert [(n["subject"], n["notetext"], n["objecttypecode"]) for n in notes["value"]] == [
        ("Hi", "<p>Hello</p>", "salesorder")
    ]


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ("statecode eq 1", {"B", "C"}),
        ("statecode eq 1 and lastbackofficesubmit eq null", {"B"}),
        ("statecode ne 1", {"A"}),
        ("name eq 'b'", {"B"}),  # text compares case-insensitively, as in Dataverse
        ("name eq 'O''Neil'", set()),
        ("willcall eq true", {"C"}),
        ("discountpercentage eq 2.5", {"A"}),
        ("discountpercentage gt 2", {"A"}),
        ("statecode eq 0 or willcall eq true", {"A", "C"}),
        ("not (statecode eq 1) or (name eq 'C' and willcall eq true)", {"A", "C"}),
        ("lastbackofficesubmit ge 2024-05-01", {"C"}),
        ("lastbackofficesubmit lt 2024-05-01", set()),
        ("modifiedon gt 2000-01-01T00:00:00Z", {"A", "B", "C"}),
        ("modifiedon le 2000-01-01T00:00:00.500Z", set()),
    ],
)
async def test_filters(api: Api, sim: SalesSimulator, filter_: str, expected: set[str]) -> None:
    sim.insert("salesorders", name="A", statecode=0, statuscode=1, discountpercentage=Decimal("2.5"))
    sim.insert("salesorders", name="B", statecode=1, statuscode=3)
    sim.insert("salesorders", name="C", statecode=1, statuscode=3, willcall=True, lastbackofficesubmit=date(2024, 5, 1))
    status, _h, body = await api("GET", f"salesorders?$filter={filter_}")
    assert status == 200
    assert {row["name"] for row in body["value"]} == expected


@pytest.mark.parametrize(
    ("filter_", "message"),
    [
        ("totalamount gt", "Syntax error"),
        ("statecode eq", "Syntax error"),
        ("(statecode eq 1 or statecode eq 0", "Syntax error"),
        ("statecode eq 1 xor statecode eq 0", "Syntax error"),
        ("contains(name,'x')", "Syntax error"),
        ("nope eq 1", "Could not find a property named 'nope'"),
    ],
)
async def test_unsupported_filters_are_refused(api: Api, filter_: str, message: str) -> None:
    status, _h, body = await api("GET", f"salesorders?$filter={filter_}")
    assert status == 400 and message in body["error"]["message"]


async def test_unsupported_query_options_are_refused(api: Api) -> None:
    status, _h, body = await api("GET", "salesorders?$expand=customerid_account")
    assert status == 400 and "$expand" in body["error"]["message"]


async def test_paging_with_maxpagesize_and_default(api: Api, sim: SalesSimulator) -> None:
    ids = [sim.insert("accounts", name=f"A{i}") for i in range(5)]
    status, headers, page = await api("GET", "accounts?$select=name", headers={"Prefer": "odata.maxpagesize=2"})
    assert status == 200 and headers["Preference-Applied"] == "odata.maxpagesize=2"
    seen = [row["accountid"] for row in page["value"]]
    pages = 1
    while "@odata.nextLink" in page:
        assert page["@odata.nextLink"].startswith(sim.api_url + "accounts?")
        _s, _h, page = await api("GET", page["@odata.nextLink"], headers={"Prefer": "odata.maxpagesize=2"})
        assert set(page["value"][0]) == {"@odata.etag", "accountid", "name"}  # $select carried along
        seen += [row["accountid"] for row in page["value"]]
        pages += 1
    assert seen == ids and pages == 3
    sim.default_page_size = 4
    _s, _h, page = await api("GET", "accounts")
    assert len(page["value"]) == 4 and "@odata.nextLink" in page


async def test_paging_is_stable_when_rows_change_between_pages(api: Api, sim: SalesSimulator) -> None:
    ids = [sim.insert("salesorders", name=f"O{i}", statecode=1, statuscode=3) for i in range(6)]
    prefer = {"Prefer": "odata.maxpagesize=2"}
    _s, _h, page = await api(
        "GET", "salesorders?$filter=statecode eq 1 and lastbackofficesubmit eq null", headers=prefer
    )
    seen = [row["salesorderid"] for row in page["value"]]
    for row_id in seen:  # the reader takes each row of the first page: they leave the result set
        sim._rows["salesorders"][row_id]["lastbackofficesubmit"] = date(2024, 5, 1)
    while "@odata.nextLink" in page:
        _s, _h, page = await api("GET", page["@odata.nextLink"], headers=prefer)
        seen += [row["salesorderid"] for row in page["value"]]
    assert seen == ids  # nothing skipped, nothing twice


async def test_orderby_and_top(api: Api, sim: SalesSimulator) -> None:
    for name in ("b", "c", "a"):
        sim.insert("accounts", name=name)
    _s, _h, body = await api("GET", "accounts?$orderby=name desc&$top=2")
    assert [row["name"] for row in body["value"]] == ["c", "b"]


# ---------------------------------------------------------------------------------------------
# Writes


async def test_patch_rules_for_orders(api: Api, sim: SalesSimulator) -> None:
    order = await an_order(sim)
    status, headers, _b = await api("PATCH", f"salesorders({order})", {"description": "Back door"})
    assert status == 204 and headers["OData-EntityId"] == f"{sim.api_url}salesorders({order})"
    await sim.submit_order(order)
    row = sim.row("salesorders", order)
    assert (row["statecode"], row["statuscode"], row["submitdate"] is not None) == (1, 3, True)

    status, _h, body = await api("PATCH", f"salesorders({order})", {"description": "Too late"})
    assert status == 400 and "cannot be edited" in body["error"]["message"]
    # State and other columns together are refused too: the other columns are written first.
    status, _h, body = await api(
        "PATCH", f"salesorders({order})", {"statecode": 0, "statuscode": 2, "lastbackofficesubmit": "2024-05-30"}
    )
    assert status == 400 and "Submitted" in body["error"]["message"]
    assert sim.row("salesorders", order)["description"] == "Back door"
    # A state change alone is allowed; then the order can be edited; then submitted again.
    assert (await api("PATCH", f"salesorders({order})", {"statecode": 0, "statuscode": 2}))[0] == 204
    assert (await api("PATCH", f"salesorders({order})", {"lastbackofficesubmit": "2024-05-30"}))[0] == 204
    assert (await api("PATCH", f"salesorders({order})", {"statecode": 1, "statuscode": 3}))[0] == 204
    row = sim.row("salesorders", order)
    assert (row["statecode"], row["statuscode"], row["lastbackofficesubmit"]) == (1, 3, date(2024, 5, 30))


async def test_patch_validation(api: Api, sim: SalesSimulator) -> None:
    order = await an_order(sim)
    status, _h, body = await api("PATCH", f"salesorders({order})", {"statecode": 1, "statuscode": 2})
    assert status == 400 and "not a valid status code" in body["error"]["message"]
    status, _h, body = await api("PATCH", f"salesorders({order})", {"nonsense": 1})
    assert status == 400 and "does not exist on type 'Microsoft.Dynamics.CRM.salesorder'" in body["error"]["message"]
    status, _h, body = await api("PATCH", f"salesorders({order})", {"lastbackofficesubmit": "30.05.2024"})
    assert status == 400 and "Edm.Date" in body["error"]["message"]
    status, _h, body = await api("PATCH", f"salesorders({order})", {"freightamount": "12"})
    assert status == 400
    status, _h, body = await api("PATCH", f"salesorders({order})", {"ordernumber": "MINE"})
    assert status == 204 and sim.row("salesorders", order)["ordernumber"] != "MINE"  # read-only: ignored
    status, _h, body = await api("PATCH", f"salesorders({order})", {"description": "x"}, {"If-Match": 'W/"99"'})
    assert status == 412
    etag = (await api("GET", f"salesorders({order})"))[2]["@odata.etag"]
    assert (await api("PATCH", f"salesorders({order})", {"description": "x"}, {"If-Match": etag}))[0] == 204
    assert (await api("GET", f"salesorders({order})"))[2]["@odata.etag"] != etag
    contact = sim.add_contact()
    body = {"customerid_contact@odata.bind": f"/contacts({contact})", "freightamount": 9.95}
    assert (await api("PATCH", f"salesorders({order})", body))[0] == 204
    row = sim.row("salesorders", order)
    assert row["customerid"] == EntityReference("contact", contact) and row["freightamount"] == Decimal("9.95")


async def test_patch_missing_row_is_an_upsert_unless_if_match(api: Api, sim: SalesSimulator) -> None:
    missing = str(uuid.uuid4())
    status, _h, body = await api("PATCH", f"accounts({missing})", {"name": "New"}, {"If-Match": "*"})
    assert status == 404 and body["error"]["code"] == "0x80040217"
    assert sim.rows("accounts") == []
    assert (await api("PATCH", f"accounts({missing})", {"name": "New"}))[0] == 204
    assert sim.row("accounts", missing)["name"] == "New"


async def test_patch_rules_for_quotes(api: Api, sim: SalesSimulator) -> None:
    quote = await sim.create_quote(("account", sim.add_account()))
    assert (await api("PATCH", f"quotes({quote})", {"description": "draft edit"}))[0] == 204
    await sim.activate_quote(quote)
    status, _h, body = await api("PATCH", f"quotes({quote})", {"description": "active edit"})
    assert status == 400 and "only Draft" in body["error"]["message"]
    with pytest.raises(SimulatorError, match="cannot be edited"):
        await sim.update("quotes", quote, description="active edit")


async def test_post_annotation(api: Api, sim: SalesSimulator) -> None:
    order = await an_order(sim)
    body = {"subject": "BC", "notetext": "Released", "objectid_salesorder@odata.bind": f"/salesorders({order})"}
    status, headers, _b = await api("POST", "annotations", body)
    assert status == 204
    note_id = re.search(r"annotations\((.+)\)", headers["OData-EntityId"]).group(1)  # type: ignore[union-attr]
    note = sim.row("annotations", note_id)
    assert note["objectid"] == EntityReference("salesorder", order) and note["isdocument"] is False
    missing = {"subject": "x", "objectid_salesorder@odata.bind": f"/salesorders({uuid.uuid4()})"}
    assert (await api("POST", "annotations", missing))[0] == 404


# ---------------------------------------------------------------------------------------------
# Faults and the request log


async def test_faults(api: Api, sim: SalesSimulator, http: aiohttp.ClientSession) -> None:
    account = sim.add_account()
    await api.get_token()
    sim.fail_next("GET", r"accounts\(", count=2, status=503)
    sim.fail_next("*", r"accounts\(", status=429, retry_after=3)
    status, _h, body = await api("GET", f"accounts({account})")
    assert status == 503 and body["error"]["code"] == "0x80040216"
    assert (await api("PATCH", f"accounts({account})", {"name": "x"}))[0] == 429  # 503 is for GET only
    assert (await api("GET", f"accounts({account})"))[0] == 503
    assert (await api("GET", f"accounts({account})"))[0] == 200  # faults used up
    sim.fail_next("GET", "accounts", status=429, retry_after="Wed, 21 Oct 2026 07:28:00 GMT")
    status, headers, body = await api("GET", f"accounts({account})")
    assert status == 429 and headers["Retry-After"] == "Wed, 21 Oct 2026 07:28:00 GMT"
    assert body["error"]["code"] == "0x80072322"


async def test_timeout_and_disconnect_faults(api: Api, sim: SalesSimulator, http: aiohttp.ClientSession) -> None:
    account = sim.add_account()
    await api("GET", f"accounts({account})")
    sim.fail_next("GET", "accounts", status="timeout", delay=0.5)
    with pytest.raises(TimeoutError):
        async with http.get(
            f"{sim.api_url}accounts({account})",
            headers={"Authorization": f"Bearer {api.token}"},
            timeout=aiohttp.ClientTimeout(total=0.1),
        ) as resp:
            await resp.read()
    sim.fail_next("PATCH", "accounts", status="disconnect")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api("PATCH", f"accounts({account})", {"name": "x"})
    assert sim.row("accounts", account)["name"] == "Fabrikam"  # never carried out


async def test_request_log(api: Api, sim: SalesSimulator) -> None:
    account = sim.add_account()
    await api("PATCH", f"accounts({account})", {"name": "Renamed"})
    await api("GET", "accounts?$filter=name eq 'Renamed'")
    token, patch, get = sim.requests
    assert token.path.endswith("/oauth2/v2.0/token") and token.body is None  # form bodies (the secret) not kept
    assert (patch.method, patch.resource, patch.body) == ("PATCH", f"accounts({account})", {"name": "Renamed"})
    assert (get.method, get.resource, get.query) == ("GET", "accounts", {"$filter": "name eq 'Renamed'"})
    assert all("Authorization" not in r.headers for r in sim.requests)
    assert sim.api_requests("GET") == [get]
