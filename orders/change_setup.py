"""Reading and changing the setup: the one way the CLI, the admin API, the demo and the worker do it.

A change reads what the rules need from the database, applies them (orders/setup_rules.py),
stores the outcome (schemas/setup_store.py), logs every changed field (who, when, old -> new,
secrets masked) and tells the other processes through the change feed; all in one transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import DataError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from orders.inbox import submitted_orders_waiting, waiting_submitted_orders
from orders.settings import ProcessingSettings
from orders.setup import ConnectionSetup, SalesSetup, SetupChange, SetupError
from orders.setup_rules import (
    SetupFacts,
    apply_change,
    default_odata_url,
    history_entries,
    parse_write_in,
    setup_view,
    setup_warnings,
    webhook_url,
    with_webhook_secret,
)
from schemas import change_log as changes
from schemas import setup_store as store
from schemas.db import write_transaction
from schemas.master_data import record_exists
from schemas.users import find_user, generate_key, hash_secret, new_salt, secret_matches


async def load_connection_setup(conn: AsyncConnection, *, for_update: bool = False) -> ConnectionSetup:
    """The connection setup as stored (the defaults before anyone saved it)."""
    return ConnectionSetup.from_row(await store.read_connection_setup(conn, for_update=for_update))


async def load_sales_setup(conn: AsyncConnection, company: str) -> SalesSetup:
    """The company's Sales & Receivables Setup, the option mappings with their defaults."""
    return SalesSetup.from_row(await store.read_sales_setup(conn, company))


@dataclass(frozen=True, slots=True)
class ChangeResult:
    setup: ConnectionSetup
    # Field (connection setup) or column (sales setup) -> (old, new); the webhook secret's hash
    # and salt are left out.
    changed: Mapping[str, tuple[Any, Any]]
    webhook_secret: str | None  # shown once, when this change made one


class SetupService:
    def __init__(self, engine: AsyncEngine, settings: ProcessingSettings) -> None:
        self.engine = engine
        self.settings = settings

    async def get(self) -> ConnectionSetup:
        async with self.engine.connect() as conn:
            return await load_connection_setup(conn)

    async def sales(self) -> SalesSetup:
        async with self.engine.connect() as conn:
            return await load_sales_setup(conn, self.settings.company)

    async def view(self) -> dict[str, Any]:
        """Everything a person may see of the setup: secrets masked, with the sales setup."""
        async with self.engine.connect() as conn:
            connection = await load_connection_setup(conn)
            sales = await load_sales_setup(conn, self.settings.company)
        return setup_view(connection, sales, webhook_url(self.settings), default_odata_url(self.settings))

    async def warnings(self) -> list[str]:
        """What in the stored setup will not work with a real Sales (setup_rules.setup_warnings)."""
        return setup_warnings(await self.get(), self.settings)

    async def history(self, limit: int = 100) -> list[dict[str, Any]]:
        """The latest changes, newest first, as people see them (the values were masked when logged)."""
        async with self.engine.connect() as conn:
            entries = await store.read_setup_changes(conn, limit)
        return [
            {
                "changed_at": e.changed_at.isoformat(),
                "changed_by": e.changed_by,
                "field": e.field,
                "old": e.old_value,
                "new": e.new_value,
            }
            for e in entries
        ]

    async def webhook_secret_matches(self, secret: str) -> bool:
        setup = await self.get()
        return secret_matches(secret, setup.webhook_secret_salt, setup.webhook_secret_hash)

    async def change(self, change: SetupChange, changed_by: str) -> ChangeResult:
        """Apply `change` by the setup's rules, in one transaction; SetupError if one is broken."""
        try:
            return await self._change(change, changed_by)
        except DataError:
            # A value the database refuses (the rules should catch them all first).
            raise SetupError("A value cannot be stored; check the lengths and characters of the values.") from None

    async def _change(self, change: SetupChange, changed_by: str) -> ChangeResult:
        async with write_transaction(self.engine) as conn:
            # The one row exists before anyone changes it, and is locked while it is changed:
            # two people saving at once must not undo each other's change (or a rule).
            await store.ensure_connection_setup(conn)
            old = await load_connection_setup(conn, for_update=True)
            outcome = apply_change(old, change, await self._read_facts(conn, old, change))
            new, secret = outcome.connection, None
            if outcome.make_webhook_secret:
                # URL-safe, without padding: it goes into a header or a query string as it is.
                secret = generate_key().rstrip("=").replace("+", "-").replace("/", "_")
                salt = new_salt()
                new = with_webhook_secret(new, hash_secret(secret, salt), salt)
            changed = {
                f.name: (getattr(old, f.name), getattr(new, f.name))
                for f in dataclasses.fields(ConnectionSetup)
                if getattr(old, f.name) != getattr(new, f.name)
            }
            await store.update_connection_setup(conn, {name: after for name, (_before, after) in changed.items()})
            sales_changed = await store.change_sales_setup(conn, self.settings.company, outcome.sales_columns)
            if changed or sales_changed:
                now = dt.datetime.now(dt.UTC)
                await store.add_setup_changes(conn, now, changed_by, history_entries(changed, sales_changed))
                await changes.record(conn, changes.SETUP)
        visible = {k: v for k, v in changed.items() if not k.startswith("webhook_secret_")}
        return ChangeResult(new, {**visible, **sales_changed}, secret)

    async def _read_facts(self, conn: AsyncConnection, old: ConnectionSetup, change: SetupChange) -> SetupFacts:
        """What the rules need to know about the database for this change, and only that."""
        user_name = (change.odata_username or "").strip()
        switching_off = change.sales_order_integration_enabled is False and old.sales_order_integration_enabled
        write_in = parse_write_in(change.write_in_product or "")
        waiting = await submitted_orders_waiting(conn) if switching_off else 0
        named = await waiting_submitted_orders(conn) if waiting else []
        return SetupFacts(
            default_odata_url=default_odata_url(self.settings),
            odata_user=await find_user(conn, user_name) if user_name else None,
            submitted_orders_waiting=waiting,
            waiting_orders=tuple((row.id, row.label) for row in named),
            write_in_product_exists=(
                write_in is not None and await record_exists(conn, self.settings.company, *write_in)
            ),
        )
