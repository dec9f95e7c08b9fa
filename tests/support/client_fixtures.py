"""Fixtures (a pytest plugin, loaded by tests/conftest.py): the Dataverse client against the Sales
simulator (the ``sim`` fixture), with its sleeps recorded instead of slept and its clocks fixed,
so retries and their delays are exact and instant."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from orders.dataverse.client import DataverseClient
from tests.support.sales_simulator import SalesSimulator

WALL = datetime(2024, 5, 30, 12, 0, tzinfo=UTC).timestamp()  # the client's wall clock (Retry-After dates)


class FakeSleep:
    """Records the delays instead of sleeping."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


class Clock:
    """The client's monotonic clock (token expiry), moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


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
    """A factory of clients for the simulator; keyword arguments override the client's options."""

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
