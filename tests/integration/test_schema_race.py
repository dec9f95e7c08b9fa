"""Issue 9, item 16: several processes starting at once on an empty database take turns to create
the schema (a PostgreSQL advisory lock; SQLite's write lock) instead of racing into a duplicate
alembic_version. Real processes (`bc-gateway init --demo` and commands that create an empty
database's schema on first use), started together."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from schemas.db import create_engine
from schemas.migrate import head_revision
from schemas.tables import company
from schemas.tables import web_service_user as users
from tests.support.db_fixtures import COMPANY, PG_SKIP, PG_URL, skip_or_fail

# init --demo twice (the demo user and data made once), and a command that sets up an empty database.
COMMANDS = [["init", "--demo"], ["init", "--demo"], ["users", "list"], ["users", "list"]]


async def _start_together(url: str) -> list[tuple[list[str], int, str]]:
    env = {**os.environ, "BCGW_DATABASE_URL": url, "BCGW_COMPANY": COMPANY, "BCGW_LOG_LEVEL": "WARNING"}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gateway.cli",
            *args,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for args in COMMANDS
    ]
    results = []
    for args, proc in zip(COMMANDS, procs, strict=True):
        out, err = await proc.communicate()
        results.append((args, proc.returncode or 0, (out + err).decode(errors="replace")))
    return results


async def _check(url: str) -> None:
    results = await _start_together(url)
    for args, code, output in results:
        assert code == 0, f"bc-gateway {' '.join(args)} exited {code}:\n{output[-2000:]}"
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
            assert versions == [head_revision()]
            assert (await conn.execute(select(func.count()).select_from(company))).scalar_one() == 1
            demo_users = select(func.count()).select_from(users).where(users.c.user_name == "DEMO")
            assert (await conn.execute(demo_users)).scalar_one() == 1
    finally:
        await engine.dispose()


@pytest.fixture
async def empty_pg_database() -> AsyncIterator[str]:
    if not PG_URL:
        skip_or_fail(PG_SKIP)
    name = f"bcgw_race_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    async with admin.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest.mark.postgres
async def test_processes_starting_together_on_an_empty_postgresql_database_create_the_schema_once(
    empty_pg_database: str,
) -> None:
    await _check(empty_pg_database)


async def test_processes_starting_together_on_an_empty_sqlite_file_create_the_schema_once(tmp_path: Path) -> None:
    await _check(f"sqlite+aiosqlite:///{tmp_path / 'bcgw.db'}")
