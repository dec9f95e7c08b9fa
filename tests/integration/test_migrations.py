"""Migrations build exactly schemas/tables.py; `bc-gateway init` is idempotent; `db current` tells."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Connection, MetaData, String, func, select, text

from gateway.config import Settings
from schemas.db import create_engine
from schemas.migrate import current_revision, head_revision
from schemas.tables import metadata
from tests.conftest import PG_URL
from tests.support.helpers import cli, run_cli


def _differences(conn: Connection, declared: MetaData = metadata) -> list[Any]:
    # Server defaults are compared on PostgreSQL only: SQLite reflects them as raw text ("'0'").
    opts = {"compare_type": True, "compare_server_default": conn.dialect.name == "postgresql"}
    return compare_metadata(MigrationContext.configure(conn, opts=opts), declared)


def _with_an_extra_column() -> MetaData:
    altered = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.sorted_tables:
        table.to_metadata(altered)
    altered.tables["item"].append_column(Column("shelf", String(10), nullable=True))
    return altered


async def _counts(engine: Any) -> dict[str, int]:
    async with engine.connect() as conn:
        return {
            table.name: (await conn.execute(select(func.count()).select_from(table))).scalar_one()
            for table in metadata.sorted_tables
        }


@pytest.fixture
async def empty_db(db_kind: str, tmp_path: Path) -> str:
    """A database with nothing in it: a new SQLite file, or PostgreSQL's public schema emptied."""
    if db_kind == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    engine = create_engine(PG_URL)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
    return PG_URL


async def test_init_from_empty_builds_the_declared_schema_and_is_idempotent(empty_db: str) -> None:
    settings = Settings(database_url=empty_db, company="CRONUS")
    head = head_revision()
    assert head

    code, out, err = await run_cli(settings, "db", "current")
    assert code == 0, err
    assert out.split() == ["current:", "(empty)", "head:", head, "(run", "'bc-gateway", "db", "upgrade')"]

    code, out, err = await cli(settings, "init", "--demo")
    assert code == 0, err
    assert "Created company CRONUS." in out and "Loaded the demo data into CRONUS." in out

    engine = create_engine(empty_db)
    try:
        assert await current_revision(engine) == head
        async with engine.connect() as conn:
            assert await conn.run_sync(_differences) == []
            # The comparison is not vacuous: a column the migrations lack is reported.
            (diff,) = await conn.run_sync(_differences, _with_an_extra_column())
            assert diff[0] == "add_column" and diff[2] == "item" and diff[3].name == "shelf"
        first = await _counts(engine)
        assert first["item"] > 0 and first["item_ledger_entry"] > 0 and first["web_service_user"] == 1

        code, out, err = await cli(settings, "init", "--demo")
        assert code == 0, err
        assert "Created" not in out and "Loaded" not in out and "Published" not in out
        assert "Database is ready" in out
        assert await _counts(engine) == first
        assert await current_revision(engine) == head
    finally:
        await engine.dispose()

    code, out, err = await run_cli(settings, "db", "current")
    assert code == 0, err
    assert out.split() == ["current:", head, "head:", head]
