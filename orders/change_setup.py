"""Changing the connection setup by BC's rules; the CLI and the admin API both call this.

Every change is recorded (who, when, old -> new, secrets masked) in `setup_change`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from sqlalchemy import insert, select, update
from sqlalchemy.exc import DataError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from orders.inbox import submitted_orders_waiting
from orders.settings import ProcessingSettings
from orders.setup import Setup, load_setup
from schemas import change_log as changes
from schemas.db import insert_ignore, write_transaction
from schemas.roles import PRODUCT_AVAILABILITY
from schemas.sales_setup_store import FIELDS as SALES_FIELDS
from schemas.sales_setup_store import SalesSetupError, change_sales_setup, load_sales_setup
from schemas.sales_setup_store import view as sales_view
from schemas.tables import connection_setup, setup_change, web_service_user
from schemas.users import generate_key, hash_secret, name_key, new_salt, secret_matches

MSG_SUBMITTED_ORDERS = "You cannot disable CRM sales order integration when a CRM sales order has the Submitted status."
MSG_AUTO_CREATE_NEEDS_INTEGRATION = (
    "Automatically Create Sales Orders can be turned on only while Sales Order Integration is enabled."
)
MSG_AUTO_QUOTES_NEEDS_INTEGRATION = (
    "Automatically Process Sales Quotes can be turned on only while Sales Order Integration is enabled."
)

BOOL_FIELDS = (
    "item_availability_enabled",
    "sales_order_integration_enabled",
    "auto_create_sales_orders",
    "auto_process_sales_quotes",
)
TEXT_FIELDS = (
    "sales_url",
    "odata_url",
    "odata_username",
    "sdk_version",
    "webhook_auth_mode",
    "webhook_header_name",
    "dataverse_url",
    "dataverse_token_url",
    "dataverse_client_id",
    "dataverse_client_secret",
)
# Operations that are not fields: reset the OData URL to its default, make a new webhook secret.
ACTIONS = ("reset_odata_url", "rotate_webhook_secret")
EDITABLE = BOOL_FIELDS + TEXT_FIELDS
SECRET_FIELDS = ("dataverse_client_secret",)
_HEADER_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}")
_RESERVED_HEADERS = {"host", "content-type", "content-length", "connection", "transfer-encoding"}


class SetupError(ValueError):
    """A change that breaks one of the setup's rules; the message is the rule."""


def _check_text(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise SetupError(f"{name} must be text.")
    limit = getattr(connection_setup.c[name].type, "length", None)
    if limit and len(value) > limit:
        raise SetupError(f"{name} can have at most {limit} characters.")
    if any(ord(c) < 32 and c not in "\t" for c in value) or any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise SetupError(f"{name} cannot contain control characters.")


def mask(value: str) -> str:
    if not value:
        return ""
    return "********" + (value[-4:] if len(value) >= 16 else "")


def default_odata_url(settings: ProcessingSettings) -> str:
    """The V3 address BC hands to Sales for ProductItemAvailability."""
    base = settings.external_base()
    company = quote(settings.company.replace("'", "''"), safe="")
    return f"{base}/OData/Company('{company}')/ProductItemAvailability"


def webhook_url(settings: ProcessingSettings) -> str:
    base = settings.external_base()
    return f"{base}/webhooks/dataverse"


def check_header_name(value: str) -> str:
    header = value.strip()
    if not _HEADER_TOKEN.fullmatch(header) or header.lower() in _RESERVED_HEADERS:
        raise SetupError(f"'{header}' cannot be used as the webhook header name.")
    return header


def check_url(field: str, value: str) -> str:
    """An address field: empty, or an absolute http(s) URL (no trailing slash)."""
    _check_text(field, value)
    return _url(field, value)


def _url(field: str, value: str) -> str:
    text = value.strip().rstrip("/")
    if not text:
        return ""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SetupError(f"{field}: '{value}' is not an absolute http:// or https:// address.")
    return text


def public_view(setup: Setup) -> dict[str, Any]:
    """The setup as shown to people: secrets masked, never printed back in full."""
    out = {f.name: getattr(setup, f.name) for f in dataclasses.fields(setup)}
    out.pop("webhook_secret_hash")
    out.pop("webhook_secret_salt")
    out["webhook_secret"] = "set" if setup.webhook_secret_hash else "not set"
    out["dataverse_client_secret"] = mask(setup.dataverse_client_secret)
    return out


@dataclass(frozen=True, slots=True)
class ChangeResult:
    setup: Setup
    changed: dict[str, tuple[Any, Any]]
    webhook_secret: str | None  # shown once, when this change made one


class SetupService:
    def __init__(self, engine: AsyncEngine, settings: ProcessingSettings) -> None:
        self.engine = engine
        self.settings = settings

    async def get(self) -> Setup:
        async with self.engine.connect() as conn:
            return await load_setup(conn)

    async def history(self, limit: int = 100) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(setup_change).order_by(setup_change.c.id.desc()).limit(limit))).all()
        return [
            {
                "changed_at": r.changed_at.isoformat(),
                "changed_by": r.changed_by,
                "field": r.field,
                "old": r.old_value,
                "new": r.new_value,
            }
            for r in rows
        ]

    async def webhook_secret_matches(self, secret: str) -> bool:
        setup = await self.get()
        return secret_matches(secret, setup.webhook_secret_salt, setup.webhook_secret_hash)

    async def change(self, values: dict[str, Any], changed_by: str) -> ChangeResult:
        """Apply field values (and ACTIONS set to true) by the setup's rules, in one transaction."""
        unknown = sorted(set(values) - set(EDITABLE) - set(ACTIONS) - set(SALES_FIELDS))
        if unknown:
            raise SetupError(f"Unknown setup field(s): {', '.join(unknown)}.")
        for name in BOOL_FIELDS + ACTIONS:
            if name in values and not isinstance(values[name], bool):
                raise SetupError(f"{name} must be true or false.")
        for name in TEXT_FIELDS:
            if name in values:
                _check_text(name, values[name])
        sales_values = {k: values.pop(k) for k in list(values) if k in SALES_FIELDS}
        try:
            return await self._change(values, sales_values, changed_by)
        except DataError:
            # A value the database refuses (the checks above should catch them all first).
            raise SetupError("A value cannot be stored; check the lengths and characters of the values.") from None

    async def _change(self, values: dict[str, Any], sales_values: dict[str, Any], changed_by: str) -> ChangeResult:
        async with write_transaction(self.engine) as conn:
            # The one row exists before anyone changes it, and is locked while it is changed:
            # two people saving at once must not undo each other's change (or a rule).
            await conn.execute(insert_ignore(conn, connection_setup, ["id"]).values(id=1))
            old = await load_setup(conn, for_update=True)
            new, secret = await self._apply(conn, old, values)
            try:
                sales_changed = await change_sales_setup(conn, self.settings.company, sales_values)
            except SalesSetupError as exc:
                raise SetupError(str(exc)) from None
            changed = {
                f.name: (getattr(old, f.name), getattr(new, f.name))
                for f in dataclasses.fields(Setup)
                if getattr(old, f.name) != getattr(new, f.name)
            }
            if changed:
                await conn.execute(
                    update(connection_setup)
                    .where(connection_setup.c.id == 1)
                    .values(**{name: after for name, (_before, after) in changed.items()})
                )
            if changed or sales_changed:
                now = dt.datetime.now(dt.UTC)
                for field, (before, after) in [*changed.items(), *sales_changed.items()]:
                    if field == "webhook_secret_salt":
                        continue
                    if field == "webhook_secret_hash":
                        field, before, after = (
                            "webhook_secret",
                            "set" if before else "",
                            "(new secret)",
                        )
                    elif field in SECRET_FIELDS:
                        before, after = mask(before), mask(after)
                    await conn.execute(
                        insert(setup_change).values(
                            changed_at=now,
                            changed_by=changed_by[:50],
                            field=field,
                            old_value=str(before),
                            new_value=str(after),
                        )
                    )
                await changes.record(conn, changes.SETUP)
        visible = {k: v for k, v in changed.items() if not k.startswith("webhook_secret_")}
        return ChangeResult(new, {**visible, **sales_changed}, secret)

    async def view(self) -> dict[str, Any]:
        """Everything a person may see of the setup: secrets masked, with the sales setup."""
        async with self.engine.connect() as conn:
            setup = await load_setup(conn)
            sales = await load_sales_setup(conn, self.settings.company)
        return {**public_view(setup), "webhook_url": webhook_url(self.settings), **sales_view(sales)}

    async def _apply(self, conn: AsyncConnection, old: Setup, values: dict[str, Any]) -> tuple[Setup, str | None]:
        v = dict(values)
        new = old
        secret = None

        if "sales_url" in v:
            new = dataclasses.replace(new, sales_url=_url("sales_url", v["sales_url"]))

        if "item_availability_enabled" in v:
            on = v["item_availability_enabled"]
            # Enabling fills in the URL; disabling unpublishes the service and clears it (BC).
            new = dataclasses.replace(
                new,
                item_availability_enabled=on,
                odata_url=(new.odata_url or default_odata_url(self.settings)) if on else "",
            )
        if "odata_url" in v:
            new = dataclasses.replace(new, odata_url=_url("odata_url", v["odata_url"]))
        if v.get("reset_odata_url"):
            new = dataclasses.replace(new, odata_url=default_odata_url(self.settings))
        if "odata_username" in v:
            new = dataclasses.replace(new, odata_username=await self._odata_user(conn, v["odata_username"]))

        if "sales_order_integration_enabled" in v:
            on = v["sales_order_integration_enabled"]
            if not on and old.sales_order_integration_enabled and await submitted_orders_waiting(conn):
                raise SetupError(MSG_SUBMITTED_ORDERS)
            new = dataclasses.replace(new, sales_order_integration_enabled=on)
            if not on:
                new = dataclasses.replace(new, auto_create_sales_orders=False, auto_process_sales_quotes=False)
        if "auto_create_sales_orders" in v:
            if v["auto_create_sales_orders"] and not new.sales_order_integration_enabled:
                raise SetupError(MSG_AUTO_CREATE_NEEDS_INTEGRATION)
            new = dataclasses.replace(new, auto_create_sales_orders=v["auto_create_sales_orders"])
        if "auto_process_sales_quotes" in v:
            if v["auto_process_sales_quotes"] and not new.sales_order_integration_enabled:
                raise SetupError(MSG_AUTO_QUOTES_NEEDS_INTEGRATION)
            new = dataclasses.replace(new, auto_process_sales_quotes=v["auto_process_sales_quotes"])

        if "sdk_version" in v:
            if len(v["sdk_version"]) > 30:
                raise SetupError("sdk_version can have at most 30 characters.")
            new = dataclasses.replace(new, sdk_version=v["sdk_version"].strip())

        if "webhook_auth_mode" in v:
            mode = v["webhook_auth_mode"].strip().lower()
            if mode not in ("header", "code"):
                raise SetupError("webhook_auth_mode must be 'header' (with a header name) or 'code'.")
            new = dataclasses.replace(new, webhook_auth_mode=mode)
        if "webhook_header_name" in v:
            new = dataclasses.replace(new, webhook_header_name=check_header_name(v["webhook_header_name"]))
        # A secret is made when asked, and the first time the webhook is set up or the sales
        # order integration (which takes webhooks) is switched on.
        if v.get("rotate_webhook_secret") or (
            new.webhook_secret_hash is None
            and ("webhook_auth_mode" in v or "webhook_header_name" in v or new.sales_order_integration_enabled)
        ):
            secret = generate_key().rstrip("=").replace("+", "-").replace("/", "_")
            salt = new_salt()
            new = dataclasses.replace(new, webhook_secret_hash=hash_secret(secret, salt), webhook_secret_salt=salt)

        if "dataverse_url" in v:
            new = dataclasses.replace(new, dataverse_url=_url("dataverse_url", v["dataverse_url"]))
        if "dataverse_token_url" in v:
            new = dataclasses.replace(new, dataverse_token_url=_url("dataverse_token_url", v["dataverse_token_url"]))
        if "dataverse_client_id" in v:
            new = dataclasses.replace(new, dataverse_client_id=v["dataverse_client_id"].strip()[:100])
        if "dataverse_client_secret" in v:
            new = dataclasses.replace(new, dataverse_client_secret=v["dataverse_client_secret"])
        return new, secret

    async def _odata_user(self, conn: AsyncConnection, user_name: str) -> str:
        name = user_name.strip()
        if not name:
            return ""
        row = (
            await conn.execute(select(web_service_user).where(web_service_user.c.user_name_key == name_key(name)))
        ).first()
        if row is None:
            raise SetupError(f"The user {name} does not exist.")
        if not row.enabled:
            raise SetupError(f"The user {row.user_name} is disabled; the OData web service user must be enabled.")
        if PRODUCT_AVAILABILITY not in row.roles.split(","):
            raise SetupError(
                f"The user {row.user_name} does not have the role {PRODUCT_AVAILABILITY} "
                "(Product Availability User), which the item availability web service needs."
            )
        return row.user_name
