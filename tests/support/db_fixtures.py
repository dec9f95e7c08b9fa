"""Fixtures (a pytest plugin, loaded by tests/conftest.py): a real database per test — SQLite
always, PostgreSQL too when BCGW_TEST_DATABASE_URL is set — its engine and the settings for it."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.config import Settings
from schemas.db import create_engine
from schemas.migrate import upgrade
from schemas.tables import metadata

PG_URL = os.environ.get("BCGW_TEST_DATABASE_URL", "")
PG_SKIP = "PostgreSQL runs skipped: BCGW_TEST_DATABASE_URL is not set (CI sets it)"
IN_CI = os.environ.get("BCGW_CI") == "1"
COMPANY = "CRONUS"


def skip_or_fail(reason: str) -> None:
    """Skip for want of a service here; in CI, where every service is provided, fail instead."""
    if IN_CI:
        pytest.fail(f"CI must run this test, but: {reason}")
    pytest.skip(reason)


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec and callspec.params.get("db_kind") == "postgresql":
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database, copied for each test (migrating once is the slow part)."""
    path = tmp_path_factory.mktemp("template") / "template.db"

    async def make() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        await upgrade(engine)
        async with engine.connect() as conn:
            await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        await engine.dispose()

    asyncio.run(make())
    return path


@pytest.fixture(scope="session")
def pg_migrated() -> bool:
    """Migrate the PostgreSQL test database once per session (from empty: drop what is there)."""
    if not PG_URL:
        return False

    async def make() -> None:
        engine = create_engine(PG_URL)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await upgrade(engine)
        await engine.dispose()

    asyncio.run(make())
    return True


@pytest.fixture(params=["sqlite", "postgresql"])
def db_kind(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql" and not PG_URL:
        skip_or_fail(PG_SKIP)
    return request.param


@pytest.fixture
def db_url(db_kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if db_kind == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "bcgw.db"
        shutil.copy(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    request.getfixturevalue("pg_migrated")

    async def truncate() -> None:
        engine = create_engine(PG_URL)
        names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        await engine.dispose()

    asyncio.run(truncate())
    yield PG_URL


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(
        database_url=db_url,
        company=COMPANY,
        cache_ttl=30.0,
        change_poll_interval=0.05,
        auth_cache_ttl=10.0,
        worker_poll_interval=0.05,
        retry_base_delay=0.05,
        reconcile_interval=0,
        # The synchronisation jobs run only in the tests about them (tests/e2e/test_sync_*.py).
        sync_jobs=False,
    )


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(settings.database_url)
    yield eng
    await eng.dispose()
