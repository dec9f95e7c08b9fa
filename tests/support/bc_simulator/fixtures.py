"""pytest fixtures for the simulator; load with ``pytest_plugins = ["tests.support.bc_simulator.fixtures"]``.

- ``bc_simulator``: a running simulator with the CRONUS demo company (fresh per test), short
  webhook merge window and fast retries so tests need not sleep;
- ``bc_simulator_factory``: an async factory taking SimConfig fields, for other setups (on-premises
  Basic auth, small limits, ...), all closed at the end of the test;
- ``bc_session``: an aiohttp client session, closed at the end of the test;
- ``bc_client``: a BcClient (auth headers, absolute URLs, parsed replies) on ``bc_simulator``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from .client import BcClient, Factory
from .config import SimConfig
from .simulator import BcSimulator

# Test-friendly timings: BC's real ones are 30 s and minutes.
FAST = {"webhook_delay": 0.05, "webhook_retry_scale": 0.0005, "tick": 0.01}


@pytest.fixture
async def bc_simulator_factory() -> AsyncIterator[Factory]:
    started: list[BcSimulator] = []

    async def make(seed_demo: bool = True, **settings: Any) -> BcSimulator:
        config = SimConfig(**{**FAST, **settings})
        sim = BcSimulator(config, seed_demo=seed_demo)
        await sim.start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        await sim.close()
    # A handler that raised is a simulator bug, whatever the test asserted.
    assert [e for sim in started for e in sim.errors] == []


@pytest.fixture
async def bc_simulator(bc_simulator_factory: Factory) -> BcSimulator:
    return await bc_simulator_factory()


@pytest.fixture
async def bc_session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def bc_client(bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession) -> BcClient:
    return BcClient(bc_simulator, bc_session)
