"""The Dataverse Web API client against the Sales simulator over real HTTP: every call, the token,
retries and their delays (recorded by a fake sleep), errors, paging and the BC write-back."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from email.utils import format_datetime
from typing import Any

import aiohttp
import pytest

from orders.dataverse.client import DataverseClient, DataverseError, DataverseNotFound, DataverseUnavailable
from tests.support.sales_simulator import SalesSimulator

WALL = datetime(2024, 5, 30, 12, 0, tzinfo=UTC).timestamp()


class FakeSleep:
    """Records the delays instead of sleeping."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def sim() -> AsyncIterator[SalesSimulator]:
    simulator = SalesSimulator()
    await simulator.start()
    yield simulator
    await simulator.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def sleep() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_client(
    sim: SalesSimulator, session: aiohttp.ClientSession, sleep: FakeSleep, clock: Clock
) -> Callable[..., DataverseClient]:
    def make(**options: Any) -> DataverseClient:
        kwargs: dict[str, Any] = {
            "sleep": sleep,
            "now": clock,
            "wall_clock": lambda: WALL,
            "rand": lambda: 1.0,  # the top of each jitter range: delays are exact
            "timeout": 5.0,
            **options,
        }
        return DataverseClient(
            kwargs.pop("session", session),
            kwargs.pop("org_url", sim.org_url),
            sim.token_url,
            sim.client_id,
            kwargs.pop("client_secret", sim.client_secret),
            **kwargs,
        )

    return make


@pytest.fixture
def client(make_client: Callable[..., DataverseClient]) -> DataverseClient:
    return make_client()


async def order_with_everything(sim: SalesSimulator) -> dict[str, str]:
    account = sim.add_account("Fabrikam, Inc.", "C10000")
    contact = sim.add_contact("Nancy Anderson", parent=("account", account))
    product = sim.add_product("1896-S", "Athens Desk")
    order = await sim.create_order(
        ("contact", contact),
        lines=[
            {"product": product, "quantity": Decimal("2"), "priceperunit": Decimal("649.40")},
            {"productdescription": "Assembly on site", "quantity": 1, "priceperunit": 120},
        ],
        notes=[
            {"subject": "Delivery", "notetext": "<div>Back entrance</div>"},
            {"subject": "Drawing", "notetext": "", "isdocument": True, "filename": "plan.pdf"},
        ],
        freightamount=Decimal("25.50"),
        requestdeliveryby=date(2024, 6, 14),
    )
    return {"account": account, "contact": contact, "product": product, "order": order}


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


# ---------------------------------------------------------------------------------------------
# Token


async def test_token_is_cached_until_shortly_before_expiry(
    sim: SalesSimulator, client: DataverseClient, clock: Clock
) -> None:
    account = sim.add_account()
    for _ in range(3):
        await client.get_account(account)
    assert sim.token_requests == 1
    clock.now += sim.token_lifetime - 61  # 60 s before expiry the cached token is still used
    await client.get_account(account)
    assert sim.token_requests == 1
    clock.now += 2
    await client.get_account(account)
    assert sim.token_requests == 2
    assert all(r.headers.get("Authorization") is None for r in sim.requests)  # the log never keeps tokens


async def test_short_lived_token_renewed_at_ninety_percent(
    sim: SalesSimulator, client: DataverseClient, clock: Clock
) -> None:
    sim.token_lifetime = 100
    account = sim.add_account()
    await client.get_account(account)
    clock.now += 89
    await client.get_account(account)
    assert sim.token_requests == 1
    clock.now += 2
    await client.get_account(account)
    assert sim.token_requests == 2


async def test_concurrent_callers_share_one_token_request(sim: SalesSimulator, client: DataverseClient) -> None:
    account = sim.add_account()
    results = await asyncio.gather(*(client.get_account(account) for _ in range(10)))
    assert all(r["accountid"] == account for r in results)
    assert sim.token_requests == 1


async def test_revoked_token_is_replaced_once(sim: SalesSimulator, client: DataverseClient, sleep: FakeSleep) -> None:
    account = sim.add_account()
    await client.get_account(account)
    sim.revoke_tokens()
    assert (await client.get_account(account))["accountid"] == account
    assert sim.token_requests == 2
    assert len(sim.api_requests("GET")) == 3  # the refused one, then the retry
    assert sleep.delays == []


async def test_persistent_401_is_an_error_after_one_refresh(sim: SalesSimulator, client: DataverseClient) -> None:
    account = sim.add_account()
    sim.fail_next("GET", "accounts", count=5, status=401)
    with pytest.raises(DataverseError) as caught:
        await client.get_account(account)
    assert caught.value.status == 401 and not isinstance(caught.value, DataverseUnavailable)
    assert len(sim.api_requests("GET")) == 2 and sim.token_requests == 2


async def test_wrong_secret_is_refused_without_retry_and_never_shown(
    sim: SalesSimulator, make_client: Callable[..., DataverseClient], caplog: pytest.LogCaptureFixture, sleep: FakeSleep
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "wrong-" + uuid.uuid4().hex
    client = make_client(client_secret=secret)
    with pytest.raises(DataverseError) as caught:
        await client.get_account(sim.add_account())
    assert (caught.value.status, caught.value.code) == (401, "invalid_client")
    assert "Invalid client secret" in caught.value.message
    assert sim.token_requests == 1 and sleep.delays == []
    assert secret not in str(caught.value) and secret not in caplog.text and secret not in repr(client)


async def test_token_endpoint_503_is_retried(sim: SalesSimulator, client: DataverseClient, sleep: FakeSleep) -> None:
    sim.fail_next("POST", "oauth2", status=503)
    await client.get_account(sim.add_account())
    assert sim.token_requests == 1  # the failed one never reached the token handler
    assert sleep.delays == [0.5]


async def test_secret_and_token_never_logged(
    sim: SalesSimulator, client: DataverseClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    account = sim.add_account()
    sim.fail_next("GET", "accounts", status=503)
    await client.get_account(account)
    sim.revoke_tokens()
    await client.get_account(account)
    assert caplog.records  # something was logged ...
    assert sim.client_secret not in caplog.text  # ... but no secret
    assert "Bearer" not in caplog.text


# ---------------------------------------------------------------------------------------------
# Retries


async def test_429_retry_after_seconds_is_honoured(
    sim: SalesSimulator, client: DataverseClient, sleep: FakeSleep
) -> None:
    account = sim.add_account()
    sim.fail_next("GET", "accounts", status=429, retry_after=7)
    assert (await client.get_account(account))["accountid"] == account
    assert sleep.delays == [7.0]
    assert len(sim.api_requests("GET")) == 2


async def test_429_retry_after_http_date_is_honoured(
    sim: SalesSimulator, client: DataverseClient, sleep: FakeSleep
) -> None:
    account = sim.add_account()
    when = format_datetime(datetime.fromtimestamp(WALL + 12, UTC), usegmt=True)
    sim.fail_next("GET", "accounts", status=429, retry_after=when)
    await client.get_account(account)
    assert sleep.delays == [12.0]


async def test_retry_after_is_a_floor_not_a_cap(
    sim: SalesSimulator, make_client: Callable[..., DataverseClient], sleep: FakeSleep
) -> None:
    """The backoff may wait longer than Retry-After, never shorter."""
    client = make_client(base_delay=4.0)
    account = sim.add_account()
    sim.fail_next("GET", "accounts", count=2, status=429, retry_after=5)
    await client.get_account(account)
    assert sleep.delays == [5.0, 8.0]


async def test_503_then_success(sim: SalesSimulator, client: DataverseClient, sleep: FakeSleep) -> None:
    account = sim.add_account()
    sim.fail_next("GET", "accounts", count=1, status=503)
    assert (await client.get_account(account))["accountid"] == account
    assert sleep.delays == [0.5]


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_backoff_grows_and_is_capped(
    sim: SalesSimulator, make_client: Callable[..., DataverseClient], sleep: FakeSleep, status: int
) -> None:
    client = make_client(max_attempts=6, base_delay=0.5, max_delay=3.0)
    account = sim.add_account()
    sim.fail_next("GET", "accounts", count=5, status=status)
    await client.get_account(account)
    assert sleep.delays == [0.5, 1.0, 2.0, 3.0, 3.0]


async def test_full_jitter_stays_within_the_cap(
    sim: SalesSimulator, make_client: Callable[..., DataverseClient], sleep: FakeSleep
) -> None:
    client = make_client(rand=random.Random(7).random, max_attempts=6)
    account = sim.add_account()
    sim.fail_next("GET", "accounts", count=5, status=503)
    await client.get_account(account)
    caps = [0.5, 1.0, 2.0, 4.0, 8.0]
    assert len(sleep.delays) == 5
    assert all(0 <= d <= cap for d, cap in zip(sleep.delays, caps, strict=True))
    assert len(set(sleep.delays)) == 5  # jittered, not fixed


async def test_gives_up_with_unavailable(sim: SalesSimulator, client: DataverseClient, sleep: FakeSleep) -> None:
    account = sim.add_account()
    sim.fail_next("GET", "accounts", count=10, status=429, retry_after=2)
    with pytest.raises(DataverseUnavailable) as caught:
        await client.get_account(account)
    assert caught.value.status == 429 and caught.value.code == "0x80072322"
    assert "Number of requests exceeded" in caught.value.message
    assert caught.value.retry_after == 2.0
    assert len(sim.api_requests("GET")) == 6 and len(sleep.delays) == 5


async def test_timeout_is_retried(
    sim: SalesSimulator, make_client: Callable[..., DataverseClient], sleep: FakeSleep
) -> None:
    client = make_client(timeout=0.2)
    account = sim.add_account()
    sim.fail_next("GET", "accounts", status="timeout", delay=1.0)
    assert (await client.get_account(account))["accountid"] == account
    assert sleep.delays == [0.5]


async def test_timeouts_end_in_unavailable(
    sim: SalesSimulator, make_client: Callable[..., DataverseClient], sleep: FakeSleep
) -> None:
    client = make_client(timeout=0.15, max_attempts=2)
    sim.fail_next("GET", "accounts", count=2, status="timeout", delay=1.0)
    with pytest.raises(DataverseUnavailable) as caught:
        await client.get_account(sim.add_account())
    assert (caught.value.status, caught.value.code) == (None, "timeout")
    assert len(sleep.delays) == 1


async def test_connection_reset_is_retried(sim: SalesSimulator, client: DataverseClient, sleep: FakeSleep) -> None:
    ids = await order_with_everything(sim)
    sim.fail_next("PATCH", "salesorders", count=2, status="disconnect")
    await client.patch("salesorders", ids["order"], {"description": "after two resets"})
    assert sim.row("salesorders", ids["order"])["description"] == "after two resets"
    assert sleep.delays == [0.5, 1.0]
    assert len(sim.api_requests("PATCH")) == 3


async def test_connection_reset_on_reads(sim: SalesSimulator, client: DataverseClient, sleep: FakeSleep) -> None:
    account = sim.add_account()
    sim.fail_next("GET", "accounts", count=4, status="disconnect")
    assert (await client.get_account(account))["accountid"] == account
    assert len(sim.api_requests("GET")) == 5
    # aiohttp itself repeats an idempotent GET once after a reset, so the client sees 2 to 4 of them.
    assert sleep.delays in ([0.5, 1.0], [0.5, 1.0, 2.0], [0.5, 1.0, 2.0, 4.0])


async def test_unreachable_web_api_ends_in_unavailable(
    sim: SalesSimulator, client: DataverseClient, sleep: FakeSleep
) -> None:
    account = sim.add_account()
    await client.get_account(account)  # a token in hand
    await sim.close()  # then Sales goes away
    with pytest.raises(DataverseUnavailable) as caught:
        await client.get_account(account)
    assert caught.value.code == "connection" and caught.value.status is None
    assert sleep.delays == [0.5, 1.0, 2.0, 4.0, 8.0]


async def test_unreachable_token_endpoint_ends_in_unavailable(
    make_client: Callable[..., DataverseClient], session: aiohttp.ClientSession, sleep: FakeSleep
) -> None:
    with socket.socket() as probe:  # a port with nothing behind it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = DataverseClient(
        session,
        f"http://127.0.0.1:{port}",
        f"http://127.0.0.1:{port}/token",
        "id",
        "secret",
        max_attempts=3,
        sleep=sleep,
    )
    with pytest.raises(DataverseUnavailable) as caught:
        await client.get_account(str(uuid.uuid4()))
    assert caught.value.code == "connection"
    assert len(sleep.delays) == 2


async def test_400_is_not_retried_and_carries_dataverse_message(
    sim: SalesSimulator, client: DataverseClient, sleep: FakeSleep
) -> None:
    with pytest.raises(DataverseError) as caught:
        await client.list_rows("salesorders", "totalamount gt 5")
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
