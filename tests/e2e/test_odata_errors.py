"""Malformed, unsupported and unauthorised requests over real HTTP: each gets its status and an
OData error body `{"error": {"code", "message"}}`, never a 500.

One server per database for the whole module (the demo company loaded once): these requests
change nothing that the others see, and a server per case would cost half a second each.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import random
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer
from sqlalchemy import text, update

from gateway.app import GATEWAY, create_app
from gateway.config import Settings
from gateway.entity_sets import AVAILABILITY
from gateway.initialise import initialise
from orders.change_setup import SetupService
from orders.setup import SetupChange
from schemas.db import create_engine
from schemas.demo_company import product_id
from schemas.tables import metadata, web_service_user
from schemas.users import UserService
from tests.conftest import COMPANY, PG_SKIP, PG_URL, skip_or_fail
from tests.support.helpers import Api, basic, q

pytestmark = pytest.mark.asyncio(loop_scope="module")

IA = "/ODataV4/ItemAvailability"
PIA = "/ODataV4/Company('CRONUS')/ProductItemAvailability"
ATHENS = product_id("1896-S")
NOT_FOUND = "BadRequest_NotFound"
INVALID_FILTER = "BadRequest_InvalidFilter"
INVALID_OPTION = "BadRequest_InvalidQueryOption"
INVALID_KEY = "BadRequest_InvalidKey"
NOT_IMPLEMENTED = "Internal_NotImplemented"
NOT_ACCEPTABLE = "BadRequest_NotAcceptable"


def f(text: str) -> str:
    return f"{IA}?$filter={q(text)}"


class Served:
    def __init__(self, api: Api, server: TestServer, settings: Settings) -> None:
        self.api = api
        self.server = server
        self.settings = settings
        self.gateway = server.app[GATEWAY]
        self.engine = self.gateway.engine()


@pytest_asyncio.fixture(
    scope="module",
    loop_scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
async def served(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
    pg_migrated: bool,
) -> AsyncIterator[Served]:
    if request.param == "postgresql":
        if not pg_migrated:
            skip_or_fail(PG_SKIP)
        url = PG_URL
        engine = create_engine(url)
        names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        path = tmp_path_factory.mktemp("errors") / "bcgw.db"
        shutil.copy(sqlite_template, path)
        url = f"sqlite+aiosqlite:///{path}"
        engine = create_engine(url)
    settings = Settings(
        database_url=url,
        company=COMPANY,
        cache_ttl=30.0,
        change_poll_interval=0.05,
        auth_cache_ttl=10.0,
        reconcile_interval=0,
    )
    await initialise(engine, settings, demo=True)
    _user, key = await UserService(engine).change_key("DEMO")
    server = TestServer(create_app(settings, engine=engine, worker=False))
    await server.start_server()
    try:
        async with Api(server, "DEMO", key) as api:
            yield Served(api, server, settings)
    finally:
        await server.close()
        await engine.dispose()


@pytest.fixture
def api(served: Served) -> Api:
    return served.api


# (method, path, headers, status, code, words in the message)
CASES: list[tuple[str, str, dict[str, str], int, str, str]] = [
    ("GET", f("No eq"), {}, 400, INVALID_FILTER, "Syntax error"),
    ("GET", f("No eq 'a' and"), {}, 400, INVALID_FILTER, "Syntax error"),
    ("GET", f("(((No eq 'a')"), {}, 400, INVALID_FILTER, "ends too early"),
    ("GET", f("No eq 'abc"), {}, 400, INVALID_FILTER, "Unterminated string"),
    ("GET", f"{IA}?$filter=", {}, 400, INVALID_FILTER, "empty"),
    ("GET", f("Nope eq 1"), {}, 400, "BadRequest_InvalidProperty", "'Nope'"),
    ("GET", f"{IA}?$select=No,Nope", {}, 400, "BadRequest_InvalidProperty", "'Nope'"),
    ("GET", f"{IA}?$orderby={q('Nope desc')}", {}, 400, "BadRequest_InvalidProperty", "'Nope'"),
    ("GET", f("Inventory eq 'x'"), {}, 400, INVALID_FILTER, "Cannot compare Inventory (Edm.Decimal) with 'x'"),
    ("GET", f("CRM_ID eq 'not-a-guid'"), {}, 400, INVALID_FILTER, "not a valid Edm.Guid"),
    ("GET", f("frob(No) eq 1"), {}, 400, INVALID_FILTER, "'frob' is not a known OData function"),
    ("GET", f("matchesPattern(No,'^19')"), {}, 501, NOT_IMPLEMENTED, "matchesPattern"),
    ("GET", f("No/any(d:d eq '1')"), {}, 501, NOT_IMPLEMENTED, "any, all"),
    ("GET", f("No/all(d:d eq '1')"), {}, 501, NOT_IMPLEMENTED, "any, all"),
    ("GET", f("geo.distance(No,No) lt 10"), {}, 501, NOT_IMPLEMENTED, "geo.distance"),
    ("GET", f("cast(No,Edm.Int32) eq 1"), {}, 501, NOT_IMPLEMENTED, "'cast'"),
    ("GET", f"{IA}?$expand=Item", {}, 501, NOT_IMPLEMENTED, "'$expand'"),
    ("GET", f"{IA}?$search=desk", {}, 501, NOT_IMPLEMENTED, "'$search'"),
    ("GET", f"{IA}?$apply={q('groupby((No))')}", {}, 501, NOT_IMPLEMENTED, "'$apply'"),
    ("GET", f"{IA}?$orderby={q('length(No)')}", {}, 501, NOT_IMPLEMENTED, "expression"),
    ("GET", f"{IA}?$foo=1", {}, 400, INVALID_OPTION, "'$foo'"),
    ("GET", f"{IA}?$top=1&$TOP=2", {}, 400, INVALID_OPTION, "more than once"),
    ("GET", f"{IA}?$top=-1", {}, 400, INVALID_OPTION, "whole number"),
    ("GET", f"{IA}?$skip=abc", {}, 400, INVALID_OPTION, "whole number"),
    ("GET", f"{IA}?$count=maybe", {}, 400, INVALID_OPTION, "true or false"),
    ("GET", f"{IA}('1896-S')?$top=1", {}, 400, INVALID_OPTION, "single entity"),
    ("GET", f"{IA}(1896)", {}, 400, INVALID_KEY, "Edm.String"),
    ("GET", f"{IA}('a''b)", {}, 400, "BadRequest", "Unterminated"),
    ("GET", f"{PIA}('{ATHENS}')", {}, 400, INVALID_KEY, "2 part(s)"),
    ("GET", f"{PIA}(CRM_ID={ATHENS},CRM_ID={ATHENS})", {}, 400, INVALID_KEY, "given twice"),
    ("GET", "/ODataV4/Nope", {}, 404, NOT_FOUND, "'Nope'"),
    ("GET", "/ODataV4/Company('NOPE')/ItemAvailability", {}, 404, NOT_FOUND, "'NOPE'"),
    ("GET", f"{IA}?company=NOPE", {}, 404, NOT_FOUND, "'NOPE'"),
    ("GET", f"{IA}('NOPE')", {}, 404, NOT_FOUND, "No='NOPE'"),
    ("GET", f"{IA}('1896-S')/Nope", {}, 404, NOT_FOUND, "'Nope'"),
    ("GET", f"{IA}/$count/x", {}, 404, NOT_FOUND, "$count/x"),
    ("POST", IA, {}, 405, "BadRequest_MethodNotAllowed", "'POST'"),
    ("PUT", f"{IA}('1896-S')", {}, 405, "BadRequest_MethodNotAllowed", "'PUT'"),
    ("PATCH", f"{IA}('1896-S')", {}, 405, "BadRequest_MethodNotAllowed", "'PATCH'"),
    ("DELETE", f"{IA}('1896-S')", {}, 405, "BadRequest_MethodNotAllowed", "'DELETE'"),
    ("GET", IA, {"Accept": "application/xml"}, 406, NOT_ACCEPTABLE, "application/xml"),
    ("GET", f"{IA}?$format=atom", {}, 406, NOT_ACCEPTABLE, "'atom'"),
    ("GET", IA, {"OData-MaxVersion": "3.0"}, 400, "BadRequest_UnsupportedVersion", "4.0"),
    ("GET", "/ODataV4/$metadata", {"Accept": "application/json"}, 406, NOT_ACCEPTABLE, "application/xml"),
    ("GET", f"{IA}/$count", {"Accept": "application/xml"}, 406, NOT_ACCEPTABLE, "text/plain"),
    ("GET", f("not " * 1000 + "Blocked"), {}, 400, INVALID_FILTER, "nested too deeply"),
    ("GET", f("No eq '" + "x" * 33000 + "'"), {}, 400, INVALID_FILTER, "longer than"),
    ("GET", f("Inventory gt 9223372036854775808"), {}, 400, INVALID_FILTER, "outside the range of Edm.Int64"),
    ("GET", f("Inventory div 0 eq 1"), {}, 400, INVALID_FILTER, "Division by zero"),
    ("GET", f("length(No) mod 0 eq 1"), {}, 400, INVALID_FILTER, "Division by zero"),
    ("GET", f"{IA}?$skiptoken=garbage!", {}, 400, "BadRequest_InvalidToken", "$skiptoken"),
    ("GET", f("No eq @p"), {}, 400, INVALID_FILTER, "'@p' has no value"),
    ("GET", "/ODataV4/$batch", {}, 501, NOT_IMPLEMENTED, "$batch"),
    ("POST", "/ODataV4/$batch", {"Content-Type": "multipart/mixed; boundary=b"}, 501, NOT_IMPLEMENTED, "$batch"),
]


@pytest.mark.parametrize(
    ("method", "path", "headers", "status", "code", "words"),
    CASES,
    ids=[f"{c[3]}-{c[0]}-{c[1][:70]}" for c in CASES],
)
async def test_error_answers(
    api: Api, method: str, path: str, headers: dict[str, str], status: int, code: str, words: str
) -> None:
    got, got_headers, body = await api.request(method, path, headers=headers)
    assert got == status, body
    assert got_headers["Content-Type"].startswith("application/json")
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    assert words in body["error"]["message"]
    if status == 405:
        assert got_headers["Allow"] == "GET, HEAD"
    assert got_headers["OData-Version"] == "4.0"


@pytest.mark.parametrize(
    "flt",
    [
        "length(No) add 9223372036854775807 gt 0",  # integer overflow inside the database
        "Inventory eq 1.5e30",  # wider than the column's numeric type
        "substring(No,1,-1) eq 'a'",
        "substring(No,99999999999) eq 'a'",
        "No eq '\x00'",
        "Inventory div Qty_on_Sales_Order eq 1",  # zero at run time, not in the text
    ],
)
async def test_values_the_database_cannot_evaluate_are_never_a_500(api: Api, flt: str) -> None:
    # SQLite and PostgreSQL differ on these (NULL or an error); either way the client is not told
    # the server failed.
    status, headers, body = await api.get(f(flt))
    assert status in (200, 400), body
    assert headers["Content-Type"].startswith("application/json")
    if status == 400:
        assert body["error"]["code"].startswith("BadRequest") and body["error"]["message"]
    else:
        assert isinstance(body["value"], list)


async def test_near_misses_that_are_answers_not_errors(api: Api) -> None:
    # Integer division is OData's div: 6 div 4 is 1, on both databases.
    _s, _h, every = await api.get(f"{IA}?$select=No")
    status, _h, body = await api.get(f("length(No) div 4 eq 1"))
    assert status == 200
    assert {r["No"] for r in body["value"]} == {r["No"] for r in every["value"] if len(r["No"]) // 4 == 1}
    # /$count is plain text even to a client that says it wants JSON (as BC answers; python-odata asks so).
    status, headers, text = await api.get(f"{IA}/$count", headers={"Accept": "application/json"})
    assert status == 200 and headers["Content-Type"].startswith("text/plain") and int(text) == len(every["value"])
    # A property's context URL names the property of the entity, without the query string.
    status, _h, body = await api.get(f"{IA}('1896-S')/Description")
    assert status == 200
    assert body["@odata.context"] == api.base + "/ODataV4/$metadata#ItemAvailability('1896-S')/Description"
    # A parameter alias given twice is ambiguous.
    status, _h, body = await api.get(f("No eq @p") + "&@p='1896-S'&@p='1900-S'")
    assert status == 400 and body["error"]["code"] == INVALID_OPTION


async def test_v3_errors_have_the_v3_shape(api: Api) -> None:
    status, headers, body = await api.get("/OData/ItemAvailability?$filter=" + q("Nope eq 1"))
    assert status == 400 and headers["DataServiceVersion"] == "3.0"
    assert body == {
        "odata.error": {
            "code": "BadRequest_InvalidProperty",
            "message": {
                "lang": "en-US",
                "value": "Could not find a property named 'Nope' on type 'NAV.ItemAvailability'.",
            },
        }
    }
    status, _h, body = await api.get("/OData/ItemAvailability", headers={"MaxDataServiceVersion": "2.0"})
    assert status == 400 and body["odata.error"]["code"] == "BadRequest_UnsupportedVersion"


async def test_body_over_the_size_limit_is_413_with_an_odata_body(api: Api) -> None:
    big = b'{"sales_url": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    status, _h, body = await api.request("PATCH", "/api/setup", data=big, headers={"Content-Type": "application/json"})
    assert status == 413
    assert body["error"]["code"] == "BadRequest_RequestEntityTooLarge" and body["error"]["message"]


# --- authentication and authorisation ----------------------------------------------------------


async def test_every_kind_of_failed_sign_in_gets_the_same_401(api: Api, served: Served) -> None:
    engine = served.engine
    users = UserService(engine)
    await users.add("SALES", roles={"PRODUCT_AVAILABILITY"})
    _u, sales_key = await users.change_key("SALES")
    await users.add("GONE", roles={"PRODUCT_AVAILABILITY"})
    _u, gone_key = await users.change_key("GONE")
    await users.set_enabled("GONE", False)
    await users.add("OLD", roles={"PRODUCT_AVAILABILITY"})
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    _u, old_key = await users.change_key("OLD", expires_at=soon, now=soon - dt.timedelta(days=30))
    status, _h, _b = await api.get(IA, auth=basic("SALES", sales_key))
    assert status == 200  # the key itself works: the failures below are the failures named

    async def expire_old() -> None:
        async with engine.begin() as conn:
            await conn.execute(
                update(web_service_user)
                .where(web_service_user.c.user_name == "OLD")
                .values(key_expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
            )

    await expire_old()
    failures = {
        "no header": None,
        "not basic": "Bearer abc",
        "not base64": "Basic %%%",
        "no colon": "Basic " + base64.b64encode(b"SALES").decode(),
        "unknown user": basic("NOBODY", sales_key),
        "wrong key": basic("SALES", gone_key),
        "disabled user": basic("GONE", gone_key),
        "expired key": basic("OLD", old_key),
    }
    answers = []
    for why, header in failures.items():
        status, headers, body = await api.get(IA, auth=header)
        assert status == 401, why
        assert headers["WWW-Authenticate"] == 'Basic realm="Business Central", charset="UTF-8"', why
        answers.append(body)
    assert all(a == answers[0] for a in answers)
    assert answers[0] == {
        "error": {
            "code": "Authentication_InvalidCredentials",
            "message": "The server has rejected the client credentials.",
        }
    }


async def test_a_user_without_the_role_gets_403(api: Api, served: Served) -> None:
    users = UserService(served.engine)
    await users.add("CRMSYNC", roles={"INTEGRATION"})
    _u, key = await users.change_key("CRMSYNC")
    status, _h, body = await api.get(PIA, auth=basic("CRMSYNC", key))
    assert status == 403
    assert body["error"]["code"] == "Authorization_Forbidden"
    assert "CRMSYNC" in body["error"]["message"] and "PRODUCT_AVAILABILITY" in body["error"]["message"]
    status, _h, body = await api.get("/ODataV4/Customers", auth=basic("CRMSYNC", key))
    assert status == 200 and body["value"]
    # The sets it may not read are not listed in the service document either.
    _s, _h, doc = await api.get("/ODataV4/", auth=basic("CRMSYNC", key))
    assert "ProductItemAvailability" not in {s["name"] for s in doc["value"]}
    assert "Customers" in {s["name"] for s in doc["value"]}


async def test_unpublished_availability_service_is_404(api: Api, served: Served) -> None:
    setup = SetupService(served.engine, served.settings)
    await setup.change(SetupChange.parse({"item_availability_enabled": False}), changed_by="test")
    try:
        served.gateway.feed.wake()
        # The setup change reaches the server through the change feed.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while True:
            status, _h, body = await api.get(PIA)
            if status == 404 or loop.time() > deadline:
                break
            await asyncio.sleep(0.05)
        assert status == 404
        assert body["error"]["code"] == NOT_FOUND and "ProductItemAvailability" in body["error"]["message"]
        availability = {s.name for s in served.gateway.registry if s.group == AVAILABILITY}
        assert {"ProductItemAvailability", "ItemAvailability"} <= availability
        for name in availability:
            assert (await api.get(f"/ODataV4/{name}"))[0] == 404, name
            assert (await api.get(f"/ODataV4/{name}/$count"))[0] == 404, name
        status, _h, body = await api.get("/ODataV4/Customers")
        assert status == 200 and len(body["value"]) == 5
        _s, _h, doc = await api.get("/ODataV4/")
        listed = {s["name"] for s in doc["value"]}
        assert not listed & availability and {"Company", "Customers", "Resources"} <= listed
    finally:
        # The module shares this server: publish the service again for whatever runs next.
        await setup.change(SetupChange.parse({"item_availability_enabled": True}), changed_by="test")
        await served.gateway.reload_setup()


_PIECES = [
    "ItemAvailability", "ProductItemAvailability", "Company('CRONUS')", "Customers", "$count", "$value", "$metadata",
    "$batch", "No", "CRM_ID", "Inventory", "(", ")", "'", "''", "'1896-S'", ",", "=", "/", " ", "eq", "and", "not",
    "in", "@p", "$filter", "$top", "$skip", "$orderby", "$select", "$skiptoken", "$format", "$count", "$expand",
    "guid'", ATHENS, "12M", "-1", "9" * 25, "null", "true", "contains(", "substringof(", "tolower(", "ä", "日本",
    "%", "_", "\\", "\t", "{", "}", "desc", "*", "json", "xml", "&", "?", "#", "$it", "any(", "d:d",
]  # fmt: skip


def _junk(rng: random.Random) -> str:
    def part(n: int) -> str:
        return "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, n)))

    path = "/" + rng.choice(["ODataV4", "OData"]) + "/" + quote(part(4), safe="/()',=$@")
    options = [(part(2), part(6)) for _ in range(rng.randint(0, 3))]
    return path + "?" + "&".join(f"{quote(k, safe='$@')}={quote(v, safe='')}" for k, v in options)


async def test_random_junk_never_gets_a_500(api: Api) -> None:
    rng = random.Random(4242)  # fixed: a failure here is reproducible
    for _ in range(300):
        url = _junk(rng)
        status, headers, body = await api.get(url)
        assert status < 500 or status == 501, (url, body)
        if status >= 400:
            shape = body.get("error") or body.get("odata.error")
            assert shape and shape["code"] and shape["message"], (url, body)
            assert headers["Content-Type"].startswith("application/json"), url
