"""BC's "Dynamics 365 Connection Setup": one record, read by everything that needs it."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas.tables import connection_setup


@dataclass(frozen=True, slots=True)
class Setup:
    sales_url: str = ""
    item_availability_enabled: bool = False
    odata_url: str = ""
    odata_username: str = ""
    sales_order_integration_enabled: bool = False
    auto_create_sales_orders: bool = False
    auto_process_sales_quotes: bool = False
    sdk_version: str = ""
    webhook_auth_mode: str = "header"
    webhook_header_name: str = "x-bcgw-key"
    webhook_secret_hash: str | None = field(default=None, repr=False)
    webhook_secret_salt: str | None = field(default=None, repr=False)
    dataverse_url: str = ""
    dataverse_token_url: str = ""
    dataverse_client_id: str = ""
    dataverse_client_secret: str = field(default="", repr=False)

    @classmethod
    def from_row(cls, row: Any) -> Setup:
        if row is None:
            return cls()
        mapping = row._mapping
        return cls(**{f.name: mapping[f.name] for f in fields(cls)})


async def load_setup(conn: AsyncConnection, for_update: bool = False) -> Setup:
    stmt = select(connection_setup).where(connection_setup.c.id == 1)
    if for_update and conn.dialect.name != "sqlite":  # SQLite: the writer holds the lock already
        stmt = stmt.with_for_update()
    return Setup.from_row((await conn.execute(stmt)).first())
