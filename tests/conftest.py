"""Shared fixtures. The database fixtures (a real database per test: SQLite always, PostgreSQL
when BCGW_TEST_DATABASE_URL is set) and the servers (the gateway, the Sales simulator and the two
wired together, on loopback) are pytest plugins in tests/support; the demo company is here."""

from __future__ import annotations

from typing import Any

import pytest

# Before the imports below: the support modules' asserts (the harness's waits) then explain themselves.
pytest.register_assert_rewrite("tests.support")

from hypothesis import HealthCheck  # noqa: E402
from hypothesis import settings as hypothesis_settings  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from gateway.config import Settings  # noqa: E402
from tests.support.db_fixtures import COMPANY, IN_CI, PG_SKIP, PG_URL, skip_or_fail  # noqa: E402
from tests.support.helpers import cli_env  # noqa: E402
from tests.support.stuck_tasks import dump_stuck_tasks  # noqa: E402, F401  (autouse)

# Property tests judge correctness, never speed: a busy machine must not fail them on Hypothesis'
# per-example deadline or its too-slow health check (speed lives in bench/).
hypothesis_settings.register_profile("bcgw", deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("bcgw")

pytest_plugins = [
    "tests.support.db_fixtures",
    "tests.support.server_fixtures",
    "tests.support.client_fixtures",
    "tests.support.sim_peers",
]

# Still importable from here (some test modules import them from tests.conftest).
__all__ = ["COMPANY", "IN_CI", "PG_SKIP", "PG_URL", "cli_env", "skip_or_fail"]


@pytest.fixture
async def demo(engine: AsyncEngine, settings: Settings) -> dict[str, Any]:
    """The demo company, a DEMO user with all roles and its key, availability published."""
    from gateway.initialise import initialise

    await initialise(engine, settings, demo=True)
    from schemas.users import UserService

    _user, key = await UserService(engine).change_key("DEMO")
    return {"user": "DEMO", "key": key}
