"""Run Alembic migrations from code, on an async engine."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


# One PostgreSQL advisory lock for "the schema is being created or upgraded" ('bcgwschm').
SCHEMA_LOCK = 0x6263677773636856


@asynccontextmanager
async def schema_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    """Hold the schema lock: several processes starting on one empty PostgreSQL database take
    turns to create the schema (the second finds it done) instead of racing into a duplicate
    alembic_version (issue 9, item 16). SQLite needs none: the upgrade's BEGIN IMMEDIATE queues
    writers on the file itself."""
    if engine.dialect.name != "postgresql":
        yield
        return
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": SCHEMA_LOCK})
        try:
            yield
        finally:
            await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": SCHEMA_LOCK})


async def upgrade(engine: AsyncEngine, revision: str = "head", *, lock: bool = True) -> None:
    """Upgrade to `revision` under the schema lock (`lock=False`: the caller holds it); Alembic
    reads the current revision once the lock is held, so a process that waited finds it done."""

    def run(conn: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)

    async with schema_lock(engine) if lock else contextlib.nullcontext(), engine.connect() as conn:
        # write=True: on SQLite a BEGIN IMMEDIATE, the file's write lock from the first statement.
        conn = await conn.execution_options(write=True)
        async with conn.begin():
            await conn.run_sync(run)


async def current_revision(engine: AsyncEngine) -> str | None:
    def read(conn: Connection) -> str | None:
        return MigrationContext.configure(conn).get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(read)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
