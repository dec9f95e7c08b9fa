"""BC's "Sales & Receivables Setup" as order processing needs it: the write-in product, the local
currency, the freight G/L account and the option mappings (Sales option value -> BC code)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas import tables as t
from schemas.bc_sales_document import DEFAULT_OPTION_MAPPINGS, SalesSetup

# Setup field -> (column, default mapping) for the three option mappings.
MAPPINGS = {
    "payment_terms": ("payment_terms_map", DEFAULT_OPTION_MAPPINGS.payment_terms),
    "shipping_agents": ("shipping_agent_map", DEFAULT_OPTION_MAPPINGS.shipping_agents),
    "shipment_methods": ("shipment_method_map", DEFAULT_OPTION_MAPPINGS.shipment_methods),
}
FIELDS = ("write_in_product", "local_currency_code", "freight_gl_account", *MAPPINGS)


class SalesSetupError(ValueError):
    """A Sales & Receivables setup value BC would refuse; the message says why."""


def _mapping(stored: str, default: Mapping[int, str]) -> dict[int, str]:
    """The defaults, overridden by what was stored; a stored "" removes a value's mapping."""
    merged = dict(default)
    for key, code in json.loads(stored or "{}").items():
        if code:
            merged[int(key)] = code
        else:
            merged.pop(int(key), None)
    return merged


async def load_sales_setup(conn: AsyncConnection, company: str) -> SalesSetup:
    row = (await conn.execute(select(t.sales_setup).where(t.sales_setup.c.company == company))).first()
    if row is None:
        return SalesSetup(write_in_product_type="", write_in_product_no="")
    return SalesSetup(
        write_in_product_type=row.write_in_product_type,  # type: ignore[arg-type]
        write_in_product_no=row.write_in_product_no,
        local_currency_code=row.local_currency_code,
        freight_gl_account=row.freight_gl_account,
        **{name: _mapping(getattr(row, column), default) for name, (column, default) in MAPPINGS.items()},
    )


def view(setup: SalesSetup) -> dict[str, Any]:
    product = f"{setup.write_in_product_type.lower()}:{setup.write_in_product_no}" if setup.write_in_product_no else ""
    return {
        "write_in_product": product,
        "local_currency_code": setup.local_currency_code,
        "freight_gl_account": setup.freight_gl_account,
        **{name: {str(k): v for k, v in sorted(getattr(setup, name).items())} for name in MAPPINGS},
    }


async def _check_write_in(conn: AsyncConnection, company: str, text: str) -> tuple[str, str]:
    if not text.strip():
        return "", ""
    kind, sep, no = text.partition(":")
    kind = kind.strip().lower()
    if not sep or kind not in ("item", "resource") or not no.strip():
        raise SalesSetupError("write_in_product takes item:NO or resource:NO.")
    table = t.item if kind == "item" else t.resource
    found = (await conn.execute(select(table.c.no).where(table.c.company == company, table.c.no == no.strip()))).first()
    if found is None:
        caption = "Item" if kind == "item" else "Resource"
        raise SalesSetupError(f"The {caption} does not exist. Identification fields and values: No.='{no.strip()}'")
    return kind.capitalize(), no.strip()


def _check_mapping(name: str, value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise SalesSetupError(f"{name} must be an object of Sales option value -> BC code.")
    out = {}
    for key, code in value.items():
        try:
            number = int(key)
        except (TypeError, ValueError):
            raise SalesSetupError(f"{name}: '{key}' is not a Sales option value (a number).") from None
        if not isinstance(code, str) or len(code) > 10:
            raise SalesSetupError(f"{name}: the BC code for {number} must be text of at most 10 characters.")
        out[str(number)] = code.strip().upper()
    return out


async def change_sales_setup(conn: AsyncConnection, company: str, values: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Apply changes by BC's rules; returns field -> (old, new) for what changed."""
    row = (await conn.execute(select(t.sales_setup).where(t.sales_setup.c.company == company))).first()
    current = (
        {c.name: getattr(row, c.name) for c in t.sales_setup.c}
        if row
        else {c.name: (c.server_default.arg if c.server_default is not None else None) for c in t.sales_setup.c}
    )
    new = dict(current)
    if "write_in_product" in values:
        new["write_in_product_type"], new["write_in_product_no"] = await _check_write_in(
            conn, company, str(values["write_in_product"])
        )
    if "local_currency_code" in values:
        code = str(values["local_currency_code"]).strip().upper()
        if len(code) > 10:
            raise SalesSetupError("local_currency_code can have at most 10 characters.")
        new["local_currency_code"] = code
    if "freight_gl_account" in values:
        account = str(values["freight_gl_account"]).strip()
        if len(account) > 20:
            raise SalesSetupError("freight_gl_account can have at most 20 characters.")
        new["freight_gl_account"] = account
    for name, (column, _default) in MAPPINGS.items():
        if name in values:
            merged = json.loads(current[column] or "{}")
            merged.update(_check_mapping(name, values[name]))
            new[column] = json.dumps(dict(sorted(merged.items(), key=lambda kv: int(kv[0]))))
    changed = {k: (current[k], new[k]) for k in new if k != "company" and new[k] != current[k]}
    if changed:
        data = {k: v for k, v in new.items() if k != "company"}
        if row:
            await conn.execute(update(t.sales_setup).where(t.sales_setup.c.company == company).values(**data))
        else:
            await conn.execute(insert(t.sales_setup).values(company=company, **data))
    return changed
