"""The Sales simulator itself, over real HTTP: token endpoint, Web API reads, filters, paging, PATCH
rules, faults, and webhook deliveries (auth modes, the 503 retry, the double Update, the
size-exceeded form, sync rollback) into a small aiohttp receiver."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from orders.dataverse.webhook_context import Entity, EntityReference, OptionSetValue, classify, parse_context
from tests.support.sales_simulator import DeliveryFailed, SalesSimulator, SimulatorError, Step

ANNOTATIONS = 'odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"'


@dataclass
class Received:
    headers: dict[str, str]
    query: dict[str, str]
    body: bytes

    def context(self) -> Any:
        return parse_context(self.body)

    def classification(self) -> Any:
        return classify(self.context(), "x-ms-dynamics-msg-size-exceeded" in self.headers)


class Receiver:
    """A webhook endpoint that records what it gets and answers the queued statuses (then 200)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answers: list[int] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(Received(dict(request.headers), dict(request.query), await request.read()))
        return web.Response(status=self.answers.pop(0) if self.answers else 200)


@pytest.fixture
async def sim() -> AsyncIterator[SalesSimulator]:
    simulator = SalesSimulator()
    await simulator.start()
    yield simulator
    await simulator.close()


@pytest.fixture
async def receiver(aiohttp_server: Any) -> Receiver:
    hook = Receiver()
    app = web.Application()
    app.router.add_post("/webhooks/dataverse", hook.handle)
    server = await aiohttp_server(app)
    hook.url = str(server.make_url("/webhooks/dataverse"))
    return hook


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


class Api:
    def __init__(self, sim: SalesSimulator, http: aiohttp.ClientSession) -> None:
        self.sim, self.http = sim, http
        self.token = ""

    async def get_token(self, **overrides: str) -> tuple[int, dict[str, Any]]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.sim.client_id,
            "client_secret": self.sim.client_secret,
            "scope": f"{self.sim.org_url}/.default",
            **overrides,
        }
        async with self.http.post(self.sim.token_url, data=form) as resp:
            return resp.status, await resp.json()

    async def __call__(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None, token: str | None = None
    ) -> tuple[int, dict[str, str], Any]:
        if not self.token:
            _status, answer = await self.get_token()
            self.token = answer["access_token"]
        all_headers = {"Authorization": f"Bearer {token if token is not None else self.token}", **(headers or {})}
        url = path if path.startswith("http") else self.sim.api_url + path
        async with self.http.request(method, url, json=body, headers=all_headers) as resp:
            text = await resp.text()
            return resp.status, dict(resp.headers), json.loads(text) if text else None


@pytest.fixture
def api(sim: SalesSimulator, http: aiohttp.ClientSession) -> Api:
    return Api(sim, http)


async def an_order(sim: SalesSimulator, **columns: Any) -> str:
    account = sim.add_account("Fabrikam", "C10000")
    product = sim.add_product("1896-S", "Athens Desk")
    return await sim.create_order(
        ("account", account),
        lines=[{"product": product, "quantity": 2, "priceperunit": Decimal("100.25")}],
        notes=[{"subject": "Hi", "notetext": "<p>Hello</p>"}],
        **columns,
    )


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
        ("totalamount gt 5", "Syntax error"),
        ("statecode eq", "Syntax error"),
        ("statecode eq 1 or statecode eq 0", "Syntax error"),
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


# ---------------------------------------------------------------------------------------------
# Webhook deliveries


async def test_delivery_with_webhook_key(sim: SalesSimulator, receiver: Receiver) -> None:
    sim.register_webhook(receiver.url, auth=("code", "s3cret"))
    order = await an_order(sim)
    await sim.submit_order(order)
    await sim.flush()
    (got,) = receiver.received
    assert got.query == {"code": "s3cret"}
    assert got.headers["x-ms-dynamics-organization"] == "contoso.crm4.dynamics.com"
    assert got.headers["x-ms-dynamics-entity-name"] == "salesorder"
    assert got.headers["x-ms-dynamics-request-name"] == "Update"
    assert got.headers["Content-Type"] == "application/json"
    assert "x-ms-dynamics-msg-size-exceeded" not in got.headers
    ctx = got.context()
    assert got.headers["x-ms-correlation-request-id"] == ctx.correlation_id
    assert (ctx.message_name, ctx.primary_entity_name, ctx.primary_entity_id) == ("Update", "salesorder", order)
    assert (ctx.mode, ctx.stage, ctx.depth, ctx.organization_name) == (1, 40, 1, "contoso")
    assert ctx.user_id == sim.user_id
    assert isinstance(ctx.target, Entity) and ctx.target.attributes["statecode"] == OptionSetValue(1)
    assert ctx.target.attributes["modifiedby"] == EntityReference("systemuser", sim.user_id)
    image = ctx.post_images["PostImage"]
    assert image.attributes["ordernumber"] == sim.row("salesorders", order)["ordernumber"]
    assert image.formatted_values["statecode"] == "Submitted"
    assert ctx.pre_images["PreImage"].attributes["statecode"] == OptionSetValue(0)
    assert ctx.parent is not None and ctx.parent.stage == 30
    assert got.classification().event == "submit"
    (delivery,) = sim.deliveries
    assert delivery.statuses == [200] and delivery.succeeded and delivery.json()["PrimaryEntityId"] == order


async def test_delivery_with_http_header_and_query_string(sim: SalesSimulator, receiver: Receiver) -> None:
    sim.register_webhook(receiver.url, auth=("header", "x-bc-secret", "h3ader"))
    sim.register_webhook(receiver.url, auth=("query", {"tenant": "cronus", "key": "q"}))
    await sim.submit_order(await an_order(sim))
    await sim.flush()
    by_header, by_query = receiver.received
    assert by_header.headers["x-bc-secret"] == "h3ader" and by_header.query == {}
    assert by_query.query == {"tenant": "cronus", "key": "q"} and "x-bc-secret" not in by_query.headers


async def test_retry_once_on_502_503_504_only(sim: SalesSimulator, receiver: Receiver) -> None:
    sim.register_webhook(receiver.url)
    order = await an_order(sim)
    receiver.answers = [503, 200]
    await sim.submit_order(order)
    await sim.flush()
    assert sim.deliveries[-1].statuses == [503, 200] and sim.deliveries[-1].succeeded
    assert receiver.received[0].body == receiver.received[1].body  # the same payload, re-sent
    receiver.answers = [504, 502]
    await sim.set_state("salesorders", order, 0, 2)
    await sim.flush()
    assert sim.deliveries[-1].statuses == [504, 502] and sim.deliveries[-1].failed
    receiver.answers = [500]
    await sim.set_state("salesorders", order, 1, 3)
    await sim.flush()
    assert sim.deliveries[-1].statuses == [500] and sim.deliveries[-1].failed
    receiver.answers = [401]
    await sim.set_state("salesorders", order, 0, 2)
    await sim.flush()
    assert sim.deliveries[-1].statuses == [401]
    assert len(receiver.received) == 6


async def test_unreachable_endpoint_is_a_failed_job(sim: SalesSimulator) -> None:
    sim.register_webhook("http://127.0.0.1:9/hook")  # discard port: nothing listens
    await sim.submit_order(await an_order(sim))
    await sim.flush()
    assert sim.deliveries[-1].statuses == [0] and sim.deliveries[-1].failed


async def test_state_with_other_columns_runs_update_twice(sim: SalesSimulator, receiver: Receiver) -> None:
    sim.register_webhook(receiver.url)
    order = await an_order(sim)
    await sim.submit_order(order, also_change={"description": "Rush"})
    await sim.flush()
    first, second = (r.context() for r in receiver.received)
    assert first.correlation_id == second.correlation_id
    assert isinstance(first.target, Entity) and isinstance(second.target, Entity)
    assert first.target.attributes["description"] == "Rush" and "statecode" not in first.target.attributes
    assert first.post_images["PostImage"].attributes["statecode"] == OptionSetValue(0)
    assert second.target.attributes["statecode"] == OptionSetValue(1) and "description" not in second.target.attributes
    assert [r.classification().event for r in receiver.received] == [None, "submit"]


async def test_filtering_attributes(sim: SalesSimulator, receiver: Receiver) -> None:
    sim.register_webhook(receiver.url)  # Update filtered on statecode
    order = await an_order(sim)
    await sim.update("salesorders", order, description="Only a text change")
    await sim.flush()
    assert receiver.received == []
    sim.register_webhook(receiver.url, steps=[("salesorder", "Update"), Step("salesorder", "Create")])
    await sim.update("salesorders", order, description="Again")
    await an_order(sim)
    await sim.flush()
    assert [r.headers["x-ms-dynamics-request-name"] for r in receiver.received] == ["Update", "Create"]
    create = receiver.received[1].context()
    assert create.target.attributes["statecode"] == OptionSetValue(0)  # type: ignore[union-attr]


async def test_setstate_form(sim: SalesSimulator, receiver: Receiver) -> None:
    sim.register_webhook(receiver.url)
    sim.state_change_message = "SetState"
    order = await an_order(sim)
    await sim.submit_order(order)
    await sim.flush()
    (got,) = receiver.received
    ctx = got.context()
    assert got.headers["x-ms-dynamics-request-name"] == "SetState" and ctx.target is None
    assert ctx.input_parameters["EntityMoniker"] == EntityReference("salesorder", order)
    assert (ctx.input_parameters["State"], ctx.input_parameters["Status"]) == (OptionSetValue(1), OptionSetValue(3))
    assert got.classification().event == "submit"


async def test_size_exceeded_form(sim: SalesSimulator, receiver: Receiver) -> None:
    sim.register_webhook(receiver.url)
    order = await an_order(sim)
    sim.force_size_exceeded()
    await sim.submit_order(order)
    # A body past 256 KB is sent in the same form without being asked.
    await sim.set_state("salesorders", order, 0, 2)
    await sim.submit_order(order, also_change={"description": "x" * 300_000})
    await sim.flush()
    forced, _reopened, big_text, big_state = receiver.received
    for got in (forced, big_text, big_state):
        assert got.headers["x-ms-dynamics-msg-size-exceeded"] == "true"
        data = json.loads(got.body)
        assert (data["InputParameters"], data["PreEntityImages"], data["PostEntityImages"]) == ([], [], [])
        assert data["ParentContext"] is None and data["PrimaryEntityId"] == order
        assert len(got.body) < 256 * 1024
        assert got.classification().event == "submit"
    assert "x-ms-dynamics-msg-size-exceeded" not in _reopened.headers
    assert [d.size_exceeded for d in sim.deliveries] == [True, False, True, True]


async def test_sync_failure_rolls_the_save_back(sim: SalesSimulator, receiver: Receiver, api: Api) -> None:
    sim.register_webhook(receiver.url, mode=0)
    order = await an_order(sim)
    receiver.answers = [500]
    with pytest.raises(DeliveryFailed, match="Endpoint unavailable"):
        await sim.submit_order(order)
    assert sim.row("salesorders", order)["statecode"] == 0
    assert receiver.received[0].context().mode == 0
    # Through the Web API the caller gets the error and nothing changes.
    receiver.answers = [503, 503]
    status, _h, body = await api("PATCH", f"salesorders({order})", {"statecode": 1, "statuscode": 3})
    assert status == 400 and "Endpoint unavailable" in body["error"]["message"]
    assert sim.row("salesorders", order)["statecode"] == 0
    # Asynchronous: the save stands, the System Job fails.
    sim.set_mode("async")
    receiver.answers = [500]
    await sim.submit_order(order)
    await sim.flush()
    assert sim.row("salesorders", order)["statecode"] == 1 and sim.deliveries[-1].failed


async def test_web_api_changes_are_delivered_as_the_integration_user(
    sim: SalesSimulator, receiver: Receiver, api: Api
) -> None:
    sim.register_webhook(receiver.url)
    order = await an_order(sim)
    await sim.submit_order(order)
    for body in ({"statecode": 0, "statuscode": 2}, {"lastbackofficesubmit": "2024-05-30"}, {"statecode": 1}):
        assert (await api("PATCH", f"salesorders({order})", body))[0] == 204
    await sim.flush()
    # The date-only PATCH does not touch statecode, so the filtered step skips it.
    assert [r.classification().event for r in receiver.received] == ["submit", None, "submit"]
    assert {r.context().user_id for r in receiver.received[1:]} == {sim.integration_user_id}
    assert sim.row("salesorders", order)["statuscode"] == 3  # the default status of Submitted
    sim.deliver_api_changes = False
    assert (await api("PATCH", f"salesorders({order})", {"statecode": 0}))[0] == 204
    await sim.flush()
    assert len(receiver.received) == 3 and sim.row("salesorders", order)["statecode"] == 0


async def test_dropped_and_reordered_deliveries(sim: SalesSimulator, receiver: Receiver) -> None:
    sim.register_webhook(receiver.url)
    first, second, third = await an_order(sim), await an_order(sim), await an_order(sim)
    sim.drop_next_delivery()
    await sim.submit_order(first)
    sim.hold_deliveries()
    await sim.submit_order(second)
    await sim.submit_order(third)
    await sim.flush()
    assert receiver.received == []
    sim.release_deliveries(reverse=True)
    await sim.flush()
    assert [r.context().primary_entity_id for r in receiver.received] == [third, second]
    assert sim.deliveries[0].dropped and not sim.deliveries[0].failed and sim.deliveries[0].statuses == []


async def test_deliver_raw(sim: SalesSimulator, receiver: Receiver) -> None:
    sim.register_webhook(receiver.url, auth=("header", "x-bc-secret", "s"))
    receiver.answers = [502, 204]
    delivery = await sim.deliver_raw(b"not json at all", {"x-ms-dynamics-entity-name": "salesorder"})
    assert delivery.statuses == [502, 204]
    got = receiver.received[-1]
    assert got.body == b"not json at all" and got.headers["x-bc-secret"] == "s"
    assert got.headers["x-ms-dynamics-entity-name"] == "salesorder"


# ---------------------------------------------------------------------------------------------
# Quotes


async def test_quote_life_cycle(sim: SalesSimulator, receiver: Receiver) -> None:
    sim.register_webhook(receiver.url)
    product = sim.add_product("1900-S", "Paris Chair")
    quote = await sim.create_quote(
        ("account", sim.add_account()),
        lines=[{"product": product, "quantity": 4, "priceperunit": 50}],
        notes=["<b>Bring samples</b>"],
        effectiveto=date(2024, 7, 1),
    )
    row = sim.row("quotes", quote)
    assert re.fullmatch(r"QUO-01001-[A-Z0-9]{6}", row["quotenumber"])
    assert (row["statecode"], row["statuscode"], row["revisionnumber"]) == (0, 1, 0)
    with pytest.raises(SimulatorError):
        await sim.win_quote(quote)  # a Draft cannot be won

    await sim.activate_quote(quote)
    revision = await sim.revise_quote(quote)
    await sim.activate_quote(revision)
    order = await sim.win_quote(revision)
    await sim.flush()
    assert order is not None

    old, new = sim.row("quotes", quote), sim.row("quotes", revision)
    assert (old["statecode"], old["statuscode"]) == (3, 7)
    assert (new["quotenumber"], new["revisionnumber"], new["statecode"], new["statuscode"]) == (
        old["quotenumber"],
        1,
        2,
        4,
    )
    assert new["effectiveto"] == date(2024, 7, 1)
    (new_line,) = sim.rows("quotedetails")[1:]
    assert new_line["quoteid"].id == revision and new_line["quantity"] == 4

    made = sim.row("salesorders", order)
    assert made["quoteid"] == EntityReference("quote", revision) and made["statecode"] == 1
    assert made["customerid"] == new["customerid"] and made["totalamount"] == Decimal(200)
    (order_line,) = sim.rows("salesorderdetails")
    assert order_line["quotedetailid"] == EntityReference("quotedetail", new_line["quotedetailid"])

    seen = [(r.context().primary_entity_name, r.classification()) for r in receiver.received]
    assert [(name, c.event, c.revision) for name, c in seen] == [
        ("quote", "activate", 0),
        ("quote", None, 0),  # closed as Revised
        ("quote", "activate", 1),
        ("quote", "win", 1),
        ("salesorder", "submit", None),
    ]


async def test_lose_quote(sim: SalesSimulator, receiver: Receiver) -> None:
    sim.register_webhook(receiver.url)
    quote = await sim.create_quote(("account", sim.add_account()))
    await sim.activate_quote(quote)
    await sim.lose_quote(quote)
    await sim.flush()
    assert (sim.row("quotes", quote)["statecode"], sim.row("quotes", quote)["statuscode"]) == (3, 5)
    lost = receiver.received[-1].classification()
    assert lost.event is None and "Closed" in lost.reason


async def test_win_without_order(sim: SalesSimulator) -> None:
    quote = await sim.create_quote(("account", sim.add_account()))
    await sim.activate_quote(quote)
    assert await sim.win_quote(quote, create_order=False) is None
    assert sim.rows("salesorders") == []
    quote2 = await sim.create_quote(("account", sim.add_account()))
    await sim.activate_quote(quote2)
    order = await sim.win_quote(quote2, submit_order=False)
    assert order is not None and sim.row("salesorders", order)["statecode"] == 0
