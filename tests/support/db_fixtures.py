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
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from gateway.config import Settings
from schemas.db import create_engine
from schemas.migrate import upgrade
from schemas.tables import metadata

_PG_BASE_URL = os.environ.get("BCGW_TEST_DATABASE_URL", "")
# Under pytest-xdist each worker gets a database of its own (<name>_gw0, ...), made at session
# start: the PostgreSQL tests truncate every table, which must not reach another worker's test.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def _worker_url(base: str, worker: str) -> str:
    if not base or not worker:
        return base
    url = make_url(base)
    return url.set(database=f"{url.database}_{worker}").render_as_string(hide_password=False)


PG_URL = _worker_url(_PG_BASE_URL, _XDIST_WORKER)
PG_SKIP = "PostgreSQL runs skipped: BCGW_TEST_DATABASE_URL is not set (CI sets it)"
IN_CI = os.environ.get("BCGW_CI") == "1"
COMPANY = "CRONUS"


def skip_or_fail(reason: str) -> None:
    """Skip for want of a service here; in CI, where every service is provided, fail instead."""
    if IN_CI:
        pytest.fail(f"CI must run this test, but: {reason}")
    pytest.skip(reason)


def pytest_sessionstart(session: Any) -> None:
    if PG_URL and PG_URL != _PG_BASE_URL:
        asyncio.run(_create_worker_database())


async def _create_worker_database() -> None:
    name = make_url(PG_URL).database
    # CREATE DATABASE cannot run inside a transaction.
    engine = create_async_engine(_PG_BASE_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            exists = await conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if not exists:
                await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        await engine.dispose()


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
