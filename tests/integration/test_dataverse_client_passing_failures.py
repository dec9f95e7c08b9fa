"""The Dataverse client against the Sales simulator: a 500 is a passing failure for idempotent
calls, a long Retry-After is handed back instead of slept, and every failure says what failed."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from orders.dataverse.client import DataverseClient, DataverseUnavailable
from tests.support.sales_simulator import SalesSimulator


class FakeSleep:
    """Records the delays instead of sleeping."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
async def simulator() -> AsyncIterator[SalesSimulator]:
    sim = SalesSimulator()
    await sim.start()
    yield sim
    await sim.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def pauses() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
def new_client(
    simulator: SalesSimulator, http: aiohttp.ClientSession, pauses: FakeSleep
) -> Callable[..., DataverseClient]:
    def make(**options: Any) -> DataverseClient:
        kwargs: dict[str, Any] = {"sleep": pauses, "rand": lambda: 1.0, "timeout": 5.0, **options}
        return DataverseClient(
            http,
            kwargs.pop("org_url", simulator.org_url),
            kwargs.pop("token_url", simulator.token_url),
            simulator.client_id,
            simulator.client_secret,
            **kwargs,
        )

    return make


async def test_a_500_on_a_read_is_retried(
    simulator: SalesSimulator, new_client: Callable[..., DataverseClient], pauses: FakeSleep
) -> None:
    account = simulator.add_account()
    simulator.fail_next("GET", "accounts", count=2, status=500)
    assert (await new_client().get_account(account))["accountid"] == account
    assert pauses.delays == [0.5, 1.0]


async def test_a_500_that_persists_ends_in_unavailable_after_the_cap(
    simulator: SalesSimulator, new_client: Callable[..., DataverseClient], pauses: FakeSleep
) -> None:
    simulator.fail_next("GET", "accounts", count=10, status=500)
    with pytest.raises(DataverseUnavailable) as caught:
        await new_client(max_attempts=3, max_delay=0.8).get_account(simulator.add_account())
    assert caught.value.status == 500 and caught.value.code == "0x80040216"
    assert pauses.delays == [0.5, 0.8]  # backoff, capped
    assert len(simulator.api_requests("GET")) == 3


async def test_a_500_on_a_post_is_not_repeated_but_is_passing(
    simulator: SalesSimulator, new_client: Callable[..., DataverseClient], pauses: FakeSleep
) -> None:
    account = simulator.add_account()
    simulator.fail_next("POST", "annotations", status=500)
    with pytest.raises(DataverseUnavailable) as caught:
        await new_client().create_note("accounts", account, "BC", "text")
    assert caught.value.status == 500
    assert len(simulator.api_requests("POST")) == 1 and pauses.delays == []


async def test_a_500_from_the_token_endpoint_is_retried(
    simulator: SalesSimulator, new_client: Callable[..., DataverseClient], pauses: FakeSleep
) -> None:
    simulator.fail_next("POST", "oauth2", status=500)
    await new_client().get_account(simulator.add_account())
    assert pauses.delays == [0.5]


async def test_a_long_retry_after_is_handed_back_not_slept(
    simulator: SalesSimulator, new_client: Callable[..., DataverseClient], pauses: FakeSleep
) -> None:
    simulator.fail_next("GET", "accounts", status=429, retry_after=300)
    with pytest.raises(DataverseUnavailable) as caught:
        await new_client().get_account(simulator.add_account())
    assert caught.value.status == 429 and caught.value.retry_after == 300.0
    assert pauses.delays == []  # nothing slept inside the request
    assert len(simulator.api_requests("GET")) == 1


async def test_a_retry_after_within_the_cap_is_slept(
    simulator: SalesSimulator, new_client: Callable[..., DataverseClient], pauses: FakeSleep
) -> None:
    account = simulator.add_account()
    simulator.fail_next("GET", "accounts", status=429, retry_after=30)
    await new_client().get_account(account)
    assert pauses.delays == [30.0]
    simulator.fail_next("GET", "accounts", status=429, retry_after=8)
    with pytest.raises(DataverseUnavailable) as caught:
        await new_client(max_retry_after=5.0).get_account(account)
    assert caught.value.retry_after == 8.0 and pauses.delays == [30.0]


async def test_failures_say_which_call_and_what_came_back(
    simulator: SalesSimulator,
    new_client: Callable[..., DataverseClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="orders.dataverse.webapi")
    account = simulator.add_account()
    simulator.fail_next("GET", "accounts", count=2, status=503)
    with pytest.raises(DataverseUnavailable) as caught:
        await new_client(max_attempts=2).get_account(account)
    text = caught.value.describe()
    assert text == (f"GET /api/data/v9.2/accounts({account}): HTTP 503 0x80040216: simulated failure 503")
    assert "retry 1 of 1" in caplog.text and f"accounts({account}): HTTP 503" in caplog.text
    assert "None" not in caplog.text


async def test_an_unreachable_web_api_names_the_call_and_the_cause(
    simulator: SalesSimulator, new_client: Callable[..., DataverseClient], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="orders.dataverse.webapi")
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = new_client(org_url=f"http://127.0.0.1:{port}", token_url=f"http://127.0.0.1:{port}/token", max_attempts=2)
    with pytest.raises(DataverseUnavailable) as caught:
        await client.get_account(simulator.add_account())
    assert caught.value.code == "connection"
    assert caught.value.describe() == f"POST /token: 127.0.0.1:{port} refused the connection (nothing listens there)"
    assert "None" not in caplog.text and "refused the connection" in caplog.text


async def test_a_timeout_names_the_call_and_the_limit(
    simulator: SalesSimulator, new_client: Callable[..., DataverseClient]
) -> None:
    account = simulator.add_account()
    simulator.fail_next("GET", "accounts", count=2, status="timeout", delay=1.0)
    with pytest.raises(DataverseUnavailable) as caught:
        await new_client(timeout=0.2, max_attempts=2).get_account(account)
    assert caught.value.describe() == f"GET /api/data/v9.2/accounts({account}): no answer within 0.2 s"
