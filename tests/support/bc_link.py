"""Helpers for the tests of ``orders.bc_link`` against the BC simulator: a connection for one of the
simulator's identities, and a fake clock whose sleeps move the simulator's clock along, so tests
that wait (backoff, Retry-After, the sliding window, token expiry) take no real time."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from orders.bc_link import BasicAccessKey, BcApiClient, BcConnection, BcLimits, OAuthClientCredentials
from tests.support.bc_simulator import BcSimulator


class FakeTime:
    """A monotonic clock and a sleep that records each delay and advances the clock (and the
    simulator's, when given) by it, instead of waiting."""

    def __init__(self, sim: BcSimulator | None = None) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.sim = sim

    def clock(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
        if self.sim is not None:
            self.sim.advance(seconds)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)
        await asyncio.sleep(0)


def connection_for(
    sim: BcSimulator, identity: str = "DEMO", *, company: str = "CRONUS", secret: str | None = None, **options: Any
) -> BcConnection:
    """A BcConnection to ``sim`` as ``identity``: OAuth, or Basic with the access key when the
    simulator runs on-premises style. ``secret`` replaces the client secret or access key."""
    who = sim.identity(identity)
    if sim.config.effective_auth_mode == "basic":
        assert who.user_name and who.access_key
        auth: OAuthClientCredentials | BasicAccessKey = BasicAccessKey(who.user_name, secret or who.access_key)
    else:
        assert who.client_id and who.client_secret
        auth = OAuthClientCredentials(sim.token_url, who.client_id, secret or who.client_secret)
    return BcConnection(sim.base_url, company, auth, **options)


def client_for(
    sim: BcSimulator,
    session: aiohttp.ClientSession,
    time: FakeTime | None = None,
    *,
    identity: str = "DEMO",
    company: str = "CRONUS",
    **limits: Any,
) -> BcApiClient:
    """A BcApiClient on ``sim`` with fake time, exact backoff delays (no jitter) and quick timeouts."""
    time = time or FakeTime(sim)
    settings: dict[str, Any] = {"base_delay": 0.5, "max_delay": 8.0, "timeout": 5.0, "connect_timeout": 2.0}
    settings.update(limits)
    return BcApiClient(
        connection_for(sim, identity, company=company),
        session,
        limits=BcLimits(**settings),
        sleep=time.sleep,
        clock=time.clock,
        wall_clock=lambda: 1_800_000_000.0,
        rand=lambda: 1.0,
    )


def token_requests(sim: BcSimulator) -> int:
    return sum(1 for entry in sim.request_log if entry.path.endswith("/oauth2/v2.0/token"))


def api_requests(sim: BcSimulator, method: str | None = None, contains: str = "") -> list[str]:
    """Paths (with query) of API requests the simulator saw, token requests left out."""
    return [
        entry.path
        for entry in sim.request_log
        if not entry.path.endswith("/oauth2/v2.0/token")
        and (method is None or entry.method == method)
        and contains in entry.path
    ]
