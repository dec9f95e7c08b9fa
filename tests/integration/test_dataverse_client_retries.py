"""The Dataverse Web API client against the Sales simulator over real HTTP: the token, and retries
and their delays (recorded by a fake sleep) on throttling, outages, timeouts and resets."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime

import aiohttp
import pytest

from orders.dataverse.client import DataverseClient, DataverseError, DataverseUnavailable
from tests.support.builders import order_with_everything
from tests.support.client_fixtures import WALL, Clock, FakeSleep
from tests.support.sales_simulator import SalesSimulator

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
