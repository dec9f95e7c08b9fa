"""Fixtures (a pytest plugin, loaded by tests/conftest.py): the gateway served over real HTTP on
loopback, the Sales simulator, and the two wired together as in production (the order harness)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.config import Settings
from tests.support.order_harness import Harness
from tests.support.sales_simulator import SalesSimulator


@pytest.fixture
async def gateway_server(settings: Settings, engine: AsyncEngine, demo: dict[str, Any], aiohttp_server: Any) -> Any:
    """The gateway on a real loopback port, with the demo company."""
    from gateway.app import create_app

    app = create_app(settings, engine=engine, worker=False)
    return await aiohttp_server(app)


@pytest.fixture
async def api(gateway_server: Any, demo: dict[str, Any]) -> AsyncIterator[Any]:
    from tests.support.helpers import Api

    async with Api(gateway_server, demo["user"], demo["key"]) as client:
        yield client


@pytest.fixture
async def sim() -> AsyncIterator[SalesSimulator]:
    """The Dynamics 365 Sales simulator on a real loopback port."""
    simulator = SalesSimulator("contoso.crm4.dynamics.com")
    await simulator.start()
    yield simulator
    await simulator.close()


@pytest.fixture
def sales_sim(sim: SalesSimulator) -> SalesSimulator:
    """The same simulator under the name the gateway-side fixtures use."""
    return sim


@pytest.fixture
async def harness(
    settings: Settings, engine: AsyncEngine, demo: dict[str, Any], aiohttp_server: Any, sales_sim: SalesSimulator
) -> Harness:
    """Gateway with its order worker + Sales simulator, wired as in production (auto-create on)."""
    from gateway.app import create_app
    from tests.support.order_harness import start_harness

    server = await aiohttp_server(create_app(settings, engine=engine, worker=True))
    return await start_harness(sales_sim, server, engine, settings)


@pytest.fixture
async def receiver_only(
    settings: Settings, engine: AsyncEngine, demo: dict[str, Any], aiohttp_server: Any, sales_sim: SalesSimulator
) -> Harness:
    """The gateway without its worker: deliveries are only stored; workers run elsewhere."""
    from gateway.app import create_app
    from tests.support.order_harness import start_harness

    server = await aiohttp_server(create_app(settings, engine=engine, worker=False))
    return await start_harness(sales_sim, server, engine, settings)
