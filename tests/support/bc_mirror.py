"""Helpers for tests of the mirror against the BC simulator: the setup in api mode pointing at a
simulator, a BcLink with quick retries, a Mirror on the simulator's clock, and waiting for a
condition."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from orders.bc_link import BcLimits
from orders.bc_link.from_setup import BcLink
from orders.bc_link.mirror import Mirror, MirrorOptions
from orders.change_setup import SetupService
from orders.setup import SetupChange
from tests.support.bc_simulator import BcSimulator

QUICK = BcLimits(base_delay=0.05, max_delay=0.5, timeout=20.0, connect_timeout=5.0, max_attempts=4)


async def link_to(
    engine: AsyncEngine, settings: Any, sim: BcSimulator, *, company: str = "CRONUS", **fields: Any
) -> None:
    """The setup in api mode against the simulator as DEMO (OAuth online, Basic on-premises)."""
    who = sim.identity("DEMO")
    values: dict[str, Any] = {"bc_mode": "api", "bc_api_url": sim.base_url, "bc_company": company}
    if sim.config.effective_auth_mode == "basic":
        values.update(bc_auth="basic", bc_user=who.user_name, bc_access_key=who.access_key)
    else:
        values.update(bc_auth="oauth", bc_token_url=sim.token_url, bc_client_id=who.client_id,
                      bc_client_secret=who.client_secret)  # fmt: skip
    values.update(fields)
    await SetupService(engine, settings).change(SetupChange(**values), "test")


class Quiet:
    def __init__(self) -> None:
        self.done = 0

    def update(self, n: int) -> None:
        self.done += n

    def close(self) -> None:
        pass


def quiet(_what: str, _total: int | None) -> Quiet:
    return Quiet()


def mirror_for(engine: AsyncEngine, settings: Any, sim: BcSimulator, **options: Any) -> Mirror:
    """A Mirror of the simulator on its clock (so time travel expires subscriptions for both)."""
    defaults: dict[str, Any] = {"poll_interval": 0.1, "delta_interval": 3600.0, "reconcile_interval": 0.0}
    defaults.update(options)
    progress = defaults.pop("progress", quiet)
    return Mirror(
        engine, BcLink(limits=QUICK), settings.company, MirrorOptions(**defaults), progress=progress,
        clock=sim.clock.now, owner="test-mirror",
    )  # fmt: skip


async def wait_for(check: Callable[[], Awaitable[Any]], within: float = 10.0, every: float = 0.05) -> Any:
    """Poll `check` until it returns something truthy; its last value, or AssertionError on timeout."""
    deadline = time.monotonic() + within
    value = None
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(every)
    raise AssertionError(f"not within {within} s (last: {value!r})")
