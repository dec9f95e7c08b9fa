"""The pure parts of orders.bc_link: OData literals and filters, JSON for BC, error bodies,
the configuration's checks, and the sliding window on a fake clock."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import aiohttp
import pytest

from orders.bc_link import BasicAccessKey, BcConnection, BcLimits, OAuthClientCredentials
from orders.bc_link.errors import (
    BcAuthenticationError,
    BcConflict,
    BcNotFound,
    BcPermissionError,
    BcProtocolError,
    BcRejected,
    BcUnavailable,
    error_for_status,
    parse_error_body,
    split_correlation_id,
)
from orders.bc_link.limits import SlidingWindow
from orders.bc_link.odata import (
    and_,
    any_of,
    contains,
    dumps,
    entity_path,
    eq,
    ge,
    literal,
    loads,
    not_,
    query,
    query_string,
    startswith,
)

OAUTH = OAuthClientCredentials("https://login.microsoftonline.com/t/oauth2/v2.0/token", "app-id", "s3cret")


def test_literals_quote_strings_only() -> None:
    assert literal("O'Brien") == "'O''Brien'"
    assert literal("5a1e5000-0000-4000-8000-000000001896") == "'5a1e5000-0000-4000-8000-000000001896'"
    assert literal(uuid.UUID("5A1E5000-0000-4000-8000-000000001896")) == "5a1e5000-0000-4000-8000-000000001896"
    assert literal(42) == "42" and literal(Decimal("1E+2")) == "100" and literal(Decimal("2.50")) == "2.50"
    assert literal(True) == "true" and literal(None) == "null" and literal(1.5) == "1.5"
    assert literal(date(2024, 5, 1)) == "2024-05-01"
    plus_two = timezone(timedelta(hours=2))
    assert literal(datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=plus_two)) == "2024-05-01T10:00:00.123Z"
    assert literal(datetime(2024, 5, 1, tzinfo=UTC)) == "2024-05-01T00:00:00Z"
    with pytest.raises(ValueError):
        literal(datetime(2024, 5, 1))  # naive
    with pytest.raises(ValueError):
        literal(Decimal("NaN"))
    with pytest.raises(TypeError):
        literal(object())


def test_filters() -> None:
    assert eq("number", "10000") == "number eq '10000'"
    assert and_(eq("a", 1), None, ge("b", Decimal("2.5"))) == "a eq 1 and b ge 2.5"
    assert any_of("number", ["A", "B"]) == "(number eq 'A' or number eq 'B')"
    assert (
        and_(any_of("number", ["A", "B"]), eq("blocked", False))
        == "(number eq 'A' or number eq 'B') and blocked eq false"
    )
    assert startswith("number", "19") == "startswith(number,'19')"
    assert contains("displayName", "it's") == "contains(displayName,'it''s')"
    assert not_(eq("a", 1)) == "not (a eq 1)"
    with pytest.raises(ValueError):
        eq("number eq '1' or 1", 1)  # field names are identifiers, never syntax


def test_query_and_query_string() -> None:
    params = query(filter=eq("displayName", "A & B+C"), select=["id", "number"], orderby=["number desc"], top=5)
    assert params == {
        "$filter": "displayName eq 'A & B+C'",
        "$select": "id,number",
        "$orderby": "number desc",
        "$top": "5",
    }
    text = query_string(params)
    assert text == "?$filter=displayName%20eq%20'A%20%26%20B%2BC'&$select=id,number&$orderby=number%20desc&$top=5"
    assert query_string(None) == ""


def test_entity_paths() -> None:
    gid = "5a1e5000-0000-4000-8000-000000001896"
    assert entity_path("items", gid) == f"items({gid})"
    assert entity_path("salesOrders", uuid.UUID(gid), "salesOrderLines") == f"salesOrders({gid})/salesOrderLines"
    with pytest.raises(ValueError):
        entity_path("items", "1896-S")
    with pytest.raises(ValueError):
        entity_path("items?$top=1")


def test_json_keeps_decimals_exact() -> None:
    body = {"quantity": Decimal("12345678901234.12345"), "on": date(2024, 5, 1), "id": uuid.UUID(int=1), "x": [1, None]}
    text = dumps(body)
    assert text == (
        b'{"quantity":12345678901234.12345,"on":"2024-05-01","id":"00000000-0000-0000-0000-000000000001","x":[1,null]}'
    )
    assert loads(text)["quantity"] == Decimal("12345678901234.12345")
    with pytest.raises(ValueError):
        dumps({"at": datetime(2024, 1, 1)})


def test_bc_error_bodies() -> None:
    message, correlation = split_correlation_id(
        "Another user has already changed the record.  CorrelationId:  3F2504E0-4F89-41D3-9A0C-0305E82C3301."
    )
    assert message == "Another user has already changed the record."
    assert correlation == "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
    assert split_correlation_id("no id here") == ("no id here", None)
    oauth = '{"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret.\\r\\nTrace ID: x"}'
    assert parse_error_body(oauth, 401) == ("invalid_client", "AADSTS7000215: Invalid client secret.", None)
    assert parse_error_body("", 502) == ("", "HTTP 502 with no body", None)
    assert parse_error_body("<html><body><p>Service &amp; more</p></body></html>", 503)[1] == "Service & more"


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BcRejected),
        (401, BcAuthenticationError),
        (403, BcPermissionError),
        (404, BcNotFound),
        (409, BcConflict),
        (412, BcConflict),
        (429, BcUnavailable),
        (500, BcUnavailable),
    ],
)
def test_statuses_map_to_kinds(status: int, cls: type) -> None:
    error = error_for_status(status, '{"error": {"code": "X", "message": "m"}}', method="GET", path="/p")
    assert type(error) is cls and error.code == "X" and str(error) == f"BC {status} X: m (GET /p)"


def test_a_redirect_is_not_bc_s_api() -> None:
    error = error_for_status(302, "<html><title>Sign in</title></html>")
    assert type(error) is BcProtocolError and error.code == "redirect" and error.message == "redirected (Sign in)"


def test_connection_checks_and_derives() -> None:
    online = BcConnection("https://api.businesscentral.dynamics.com/v2.0/t/production/api/v2.0/", "CRONUS", OAUTH)
    assert online.api_url.endswith("/api/v2.0")
    assert online.odata_root == "https://api.businesscentral.dynamics.com/v2.0/t/production/ODataV4"
    onprem = BcConnection("https://nav.contoso.com:7048/bc/api/v2.0", "CRONUS", BasicAccessKey("SALES", "k" * 44))
    assert onprem.odata_root == "https://nav.contoso.com:7048/bc/ODataV4"
    assert onprem.origin == "https://nav.contoso.com:7048"
    given = BcConnection("https://h/bc/api/v2.0", "C", OAUTH, odata_url="https://h:7048/bc/ODataV4/")
    assert given.odata_root == "https://h:7048/bc/ODataV4"
    assert OAUTH.scope == "https://api.businesscentral.dynamics.com/.default"
    assert "s3cret" not in repr(online) and "k" * 44 not in repr(onprem)
    for bad in ("ftp://h/api/v2.0", "https://h/bc/", "https://u:p@h/api/v2.0", "https://h/api/v2.0?company=x"):
        with pytest.raises(ValueError):
            BcConnection(bad, "CRONUS", OAUTH)
    with pytest.raises(ValueError):
        BasicAccessKey("a:b", "key")
    with pytest.raises(ValueError):
        BcLimits(max_batch=101)
    with pytest.raises(ValueError):
        BcLimits(rate_window=0)


async def test_sliding_window_on_a_fake_clock() -> None:
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    window = SlidingWindow(3, 10.0, clock=lambda: now[0], sleep=sleep)
    waits = [await window.acquire() for _ in range(3)]
    assert waits == [0.0, 0.0, 0.0] and window.used == 3
    now[0] = 4.0
    assert await window.acquire() == pytest.approx(6.0)  # the first slot frees at t=10
    assert slept == [pytest.approx(6.0)]
    # The three from t=0 left the window at t=10; now [10] is in it: two more fit, the third waits.
    waited = await asyncio.gather(*(window.acquire() for _ in range(3)))
    assert waited == [0.0, 0.0, pytest.approx(10.0)]  # FIFO: the last caller is the one who waits


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    from email.utils import format_datetime

    from multidict import CIMultiDict

    from orders.bc_link.auth import BasicAuthorizer
    from orders.bc_link.limits import IdentityLimiter
    from orders.bc_link.transport import Transport

    wall = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    transport = Transport(
        aiohttp.ClientSession,  # never called here
        BasicAuthorizer(BasicAccessKey("U", "key")),
        IdentityLimiter(),
        BcLimits(),
        language="en-US",
        wall_clock=wall.timestamp,
    )
    assert transport._retry_after(CIMultiDict({"Retry-After": "7"})) == 7.0
    later = format_datetime(wall + timedelta(seconds=90), usegmt=True)
    assert transport._retry_after(CIMultiDict({"Retry-After": later})) == 90.0
    assert transport._retry_after(CIMultiDict({"Retry-After": "soon"})) is None
    assert transport._retry_after(CIMultiDict()) is None
