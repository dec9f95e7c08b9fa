"""The BC link's setup on a real database (SQLite and PostgreSQL): secrets are stored encrypted and
read back in clear; migration 0008 encrypts the Dataverse client secret stored in clear before it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text, update

from gateway.config import Settings
from orders.change_setup import SetupService
from orders.setup import SetupChange
from schemas import setup_store as store
from schemas.db import create_engine, write_transaction
from schemas.migrate import alembic_config, current_revision, head_revision, upgrade
from schemas.secrets import PREFIX, SecretKeyError, secret_box
from schemas.tables import connection_setup
from tests.conftest import PG_URL

API = "https://api.businesscentral.dynamics.com/v2.0/tenant/production/api/v2.0"


async def _raw(engine: Any) -> dict[str, Any]:
    """The stored row as it is, whatever the schema's revision (the table's columns may be newer)."""
    async with engine.connect() as conn:
        row = (await conn.execute(text("SELECT * FROM connection_setup"))).one()
    return dict(row._mapping)


async def test_secrets_are_encrypted_at_rest_and_read_in_clear(engine: Any, settings: Settings) -> None:
    service = SetupService(engine, settings)
    await service.change(
        SetupChange(
            bc_mode="api",
            bc_api_url=API,
            bc_company="CRONUS USA, Inc.",
            bc_token_url="https://login.microsoftonline.com/tenant/oauth2/v2.0/token",
            bc_client_id="app",
            bc_client_secret="bc-client-secret-1234",
            dataverse_client_secret="dv-client-secret-5678",
        ),
        "test",
    )
    raw = await _raw(engine)
    for column, clear in (
        ("bc_client_secret", "bc-client-secret-1234"),
        ("dataverse_client_secret", "dv-client-secret-5678"),
    ):
        assert raw[column].startswith(PREFIX) and clear not in raw[column]
    assert raw["bc_access_key"] == ""  # nothing to hide
    setup = await service.get()
    assert (setup.bc_client_secret, setup.dataverse_client_secret) == ("bc-client-secret-1234", "dv-client-secret-5678")
    # The history and the view never hold them.
    history = await service.history()
    assert all("secret-1234" not in str(h) and "secret-5678" not in str(h) for h in history)
    assert "bc-client-secret-1234" not in str(await service.view())


async def test_a_secret_under_another_key_says_what_to_do(engine: Any, settings: Settings, monkeypatch: Any) -> None:
    service = SetupService(engine, settings)
    await service.change(SetupChange(dataverse_client_secret="dv-secret"), "test")
    from cryptography.fernet import Fernet

    monkeypatch.setenv("BCGW_SECRET_KEY", Fernet.generate_key().decode())
    with pytest.raises(SecretKeyError, match="saved with another key"):
        await service.get()


@pytest.fixture
async def fresh_url(db_kind: str, tmp_path: Path) -> str:
    if db_kind == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    engine = create_engine(PG_URL)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
    return PG_URL


async def test_migration_0008_encrypts_a_secret_stored_in_clear_and_downgrade_decrypts(fresh_url: str) -> None:
    before = ScriptDirectory.from_config(alembic_config()).get_revision("0008").down_revision
    assert isinstance(before, str)
    engine = create_engine(fresh_url)
    try:
        await upgrade(engine, before)
        async with engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO connection_setup (id, dataverse_client_secret) VALUES (1, 'in-clear')")
            )
        await upgrade(engine, "0008")
        raw = await _raw(engine)
        assert raw["dataverse_client_secret"].startswith(PREFIX) and raw["bc_mode"] == "embedded"
        # (The store reads the columns of the newest schema: at 0008 the raw value is decrypted.)
        assert secret_box(engine.url).decrypt(raw["dataverse_client_secret"]) == "in-clear"

        from alembic import command
        from sqlalchemy import Connection

        def down(conn: Connection) -> None:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, before)

        async with engine.begin() as conn:
            await conn.run_sync(down)
        async with engine.connect() as conn:
            value = (await conn.execute(text("SELECT dataverse_client_secret FROM connection_setup"))).scalar_one()
        assert value == "in-clear"
        await upgrade(engine)
        assert await current_revision(engine) == head_revision()
        assert secret_box(engine.url).decrypt((await _raw(engine))["dataverse_client_secret"]) == "in-clear"
        async with engine.connect() as conn:
            row = await store.read_connection_setup(conn)
        assert row is not None and row["dataverse_client_secret"] == "in-clear"
        async with write_transaction(engine) as conn:
            await conn.execute(update(connection_setup).values(dataverse_client_secret=""))
    finally:
        await engine.dispose()
