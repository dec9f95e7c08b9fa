"""Storage of the setup: the one ``connection_setup`` row, the ``sales_setup`` row of each company
and the ``setup_change`` log.

Rows go in and out as column name -> value; what the values mean (and their rules) is order
processing's business (orders/setup.py). A column marked ``info={"json_object": True}`` holds a
JSON object: it is read as a dict, and a change sets entries over the stored ones. A column
marked ``info={"secret": True}`` holds a secret the gateway must send on (a client secret, an
access key): it is encrypted on the way in and decrypted on the way out (schemas/secrets.py), so a
row, a backup or a database dump never holds it in clear.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Column, String, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.schema import DefaultClause

from schemas.db import insert_ignore
from schemas.secrets import secret_box
from schemas.tables import connection_setup, sales_setup, setup_change

CONNECTION_SETUP_ID = 1  # the table holds one row (a check constraint says so)


def _is_json_object(column: Column[Any]) -> bool:
    return bool(column.info.get("json_object"))


SECRET_COLUMNS = frozenset(c.name for c in connection_setup.c if c.info.get("secret"))


async def read_connection_setup(conn: AsyncConnection, *, for_update: bool = False) -> dict[str, Any] | None:
    """The connection setup's columns (without the id); None before anyone has saved it.

    `for_update` locks the row until the transaction ends (PostgreSQL; on SQLite the writer holds
    the database's write lock already)."""
    stmt = select(connection_setup).where(connection_setup.c.id == CONNECTION_SETUP_ID)
    if for_update and conn.dialect.name != "sqlite":
        stmt = stmt.with_for_update()
    row = (await conn.execute(stmt)).first()
    if row is None:
        return None
    box = secret_box(conn.engine.url)
    return {
        name: box.decrypt(value) if name in SECRET_COLUMNS else value
        for name, value in row._mapping.items()
        if name != "id"
    }


async def ensure_connection_setup(conn: AsyncConnection) -> None:
    """Make the one row (with the columns' defaults) if it is not there yet."""
    await conn.execute(insert_ignore(conn, connection_setup, ["id"]).values(id=CONNECTION_SETUP_ID))


async def update_connection_setup(conn: AsyncConnection, values: Mapping[str, object]) -> None:
    """Store the given columns; secrets (SECRET_COLUMNS) are given in clear and stored encrypted."""
    if values:
        box = secret_box(conn.engine.url)
        stored = {name: box.encrypt(str(v)) if name in SECRET_COLUMNS else v for name, v in values.items()}
        await conn.execute(
            update(connection_setup).where(connection_setup.c.id == CONNECTION_SETUP_ID).values(**stored)
        )


def _sales_defaults() -> dict[str, Any]:
    """The columns of a company that has no sales_setup row yet: the columns' defaults."""
    out: dict[str, Any] = {}
    for column in sales_setup.c:
        if column.name == "company":
            continue
        default = column.server_default
        out[column.name] = default.arg if isinstance(default, DefaultClause) else None
    return out


def _decoded(columns: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: json.loads(value or "{}") if _is_json_object(sales_setup.c[name]) else value
        for name, value in columns.items()
    }


async def _stored_sales_setup(conn: AsyncConnection, company: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(sales_setup).where(sales_setup.c.company == company))).first()
    if row is None:
        return None
    return {name: value for name, value in row._mapping.items() if name != "company"}


async def read_sales_setup(conn: AsyncConnection, company: str) -> dict[str, Any]:
    """The company's Sales & Receivables Setup columns (the defaults if it has none stored);
    JSON object columns as dicts."""
    return _decoded(await _stored_sales_setup(conn, company) or _sales_defaults())


async def change_sales_setup(
    conn: AsyncConnection, company: str, values: Mapping[str, object]
) -> dict[str, tuple[Any, Any]]:
    """Store `values` (a JSON object column: entries set over the stored ones, "" kept as "").

    Returns column -> (old, new) for the columns that changed, as stored (JSON as its text)."""
    stored = await _stored_sales_setup(conn, company)
    current = stored or _sales_defaults()
    new = dict(current)
    for name, value in values.items():
        if _is_json_object(sales_setup.c[name]):
            assert isinstance(value, Mapping)
            merged = {**json.loads(current[name] or "{}"), **value}
            # Sorted by option value, so that the stored text (and the log) reads in order.
            new[name] = json.dumps(dict(sorted(merged.items(), key=lambda kv: int(kv[0]))))
        else:
            new[name] = value
    changed = {name: (current[name], new[name]) for name in new if new[name] != current[name]}
    if changed:
        if stored is None:
            await conn.execute(insert(sales_setup).values(company=company, **new))
        else:
            await conn.execute(update(sales_setup).where(sales_setup.c.company == company).values(**new))
    return changed


@dataclass(frozen=True, slots=True)
class SetupChangeEntry:
    """One line of the setup's change log: who changed which field when, from what to what."""

    changed_at: dt.datetime
    changed_by: str
    field: str
    old_value: str
    new_value: str


async def add_setup_changes(
    conn: AsyncConnection, changed_at: dt.datetime, changed_by: str, entries: Iterable[tuple[str, str, str]]
) -> None:
    """Log (field, old, new) entries; the values must already have their secrets masked."""
    limit = cast(String, setup_change.c.changed_by.type).length
    for field, old, new in entries:
        await conn.execute(
            insert(setup_change).values(
                changed_at=changed_at, changed_by=changed_by[:limit], field=field, old_value=old, new_value=new
            )
        )


async def read_setup_changes(conn: AsyncConnection, limit: int = 100) -> list[SetupChangeEntry]:
    """The latest changes, newest first."""
    rows = (await conn.execute(select(setup_change).order_by(setup_change.c.id.desc()).limit(limit))).all()
    return [SetupChangeEntry(r.changed_at, r.changed_by, r.field, r.old_value, r.new_value) for r in rows]
