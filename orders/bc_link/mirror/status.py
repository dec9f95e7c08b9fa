"""What the mirror holds, how fresh it is and what failed (``bc-gateway mirror status``), and which
entity sets cannot answer in api mode and why (the gateway answers those with an OData error).

The sets and the gaps of the standard API (bc-api.md §3.3, §3.4, §3.10, §9):

| set | needs |
|---|---|
| ``ItemAvailabilityByLocation`` | page 38 "Item Ledger Entries" published (``Location_Code``) |
| ``ItemUnitsOfMeasure`` | page 5404 "Item Units of Measure" published |
| ``Resources`` | page 77 "Resources" (or 76 "Resource Card") published |
| every availability and master-data set | the initial load finished |
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from orders.bc_link.from_setup import published_pages
from orders.bc_link.mirror.context import SOURCE
from orders.bc_link.mirror.entities import ITEM_UNITS, LEDGER, MASTER_ENTITIES, RESOURCES, WEBHOOK_SETS
from orders.bc_link.mirror.reconcile import summary
from orders.setup import ConnectionSetup
from schemas import mirror_state as state
from schemas import setup_store

# Entity set -> (what it needs, the setup flag, the page): the sets the standard API cannot fill.
NEEDS_PAGE: Mapping[str, tuple[str, str, str]] = {
    "ItemAvailabilityByLocation": (
        "stock per location, which Business Central's API v2.0 does not give",
        "--bc-ledger-entries-service",
        'page 38 "Item Ledger Entries"',
    ),
    "ItemUnitsOfMeasure": (
        "the units of measure of each item, which Business Central's API v2.0 does not give",
        "--bc-item-units-service",
        'page 5404 "Item Units of Measure"',
    ),
    "Resources": (
        "resources, which Business Central's API v2.0 does not have",
        "--bc-resources-service",
        'page 77 "Resources"',
    ),
}
_PAGE_FIELD = {
    "ItemAvailabilityByLocation": "bc_ledger_entries_service",
    "ItemUnitsOfMeasure": "bc_item_units_service",
    "Resources": "bc_resources_service",
}
# The sets whose rows come from the mirror (not the gateway's own documents or the inbox).
MIRRORED_SETS = frozenset(
    {
        "ProductItemAvailability",
        "ItemAvailability",
        "ItemAvailabilityByLocation",
        "ItemUnitsOfMeasure",
        "Customers",
        "Resources",
    }
)


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    code: str
    message: str
    retry_after: int | None = None


def refusal(setup: ConnectionSetup, mirror_ready: bool, entity_set: str) -> Refusal | None:
    """Why a set cannot answer in api mode (None: it can). Pure."""
    if not setup.bc_api_mode or entity_set not in MIRRORED_SETS:
        return None
    if entity_set in NEEDS_PAGE and not getattr(setup, _PAGE_FIELD[entity_set]):
        what, flag, page = NEEDS_PAGE[entity_set]
        return Refusal(
            404,
            "BadRequest_NotFound",
            f"{entity_set} needs {what}. Publish {page} as a web service in Business Central (page Web "
            f"Services) and name it in the setup: bc-gateway setup {flag} <service name>.",
        )
    if not mirror_ready:
        return Refusal(
            503,
            "Internal_ServiceUnavailable",
            f"{entity_set} is answered from the mirror of Business Central, which is still loading; "
            "try again shortly (bc-gateway mirror status shows how far it is).",
            retry_after=30,
        )
    return None


async def mirror_ready(engine: AsyncEngine, company: str) -> bool:
    async with engine.connect() as conn:
        return (await state.read_state(conn, company, SOURCE)).ready


@dataclass
class MirrorStatus:
    mode: str
    company: str
    bc_company: str = ""
    api_url: str = ""
    ready: bool = False
    owner: str | None = None
    owner_until: dt.datetime | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    subscriptions: list[dict[str, Any]] = field(default_factory=list)
    notifications_waiting: int = 0
    pages: dict[str, str] = field(default_factory=dict)
    last_reconciled_at: dt.datetime | None = None
    drift: dict[str, int] = field(default_factory=dict)
    next_step: str = ""


def _age(at: dt.datetime | None, now: dt.datetime) -> float | None:
    return None if at is None else round((now - at).total_seconds(), 1)


def _entity(s: state.EntityState, now: dt.datetime) -> dict[str, Any]:
    return {
        "entity": s.entity,
        "phase": s.phase,
        "rows": s.rows,
        "loaded": s.loaded,
        "watermark": s.last_entry_no if s.entity == LEDGER else s.watermark,
        "last_success_at": s.last_success_at,
        "fresh_seconds": _age(s.last_success_at, now),
        "last_change_at": s.last_change_at,
        "last_failure_at": s.last_failure_at,
        "failures": s.failures,
        "last_error": s.last_error
        if s.last_failure_at and (not s.last_success_at or s.last_failure_at > s.last_success_at)
        else "",
        "last_reconciled_at": s.last_reconciled_at,
        "drift": dict(s.drift),
    }


async def mirror_status(engine: AsyncEngine, company: str, now: dt.datetime | None = None) -> MirrorStatus:
    now = now or dt.datetime.now(dt.UTC)
    async with engine.connect() as conn:
        setup = ConnectionSetup.from_row(await setup_store.read_connection_setup(conn))
        states = await state.read_states(conn, company)
        lease = await state.read_lease(conn, company)
        subs = await state.read_subscriptions(conn, company)
        waiting = await state.count_notifications(conn, company)
    out = MirrorStatus(setup.bc_mode, company, setup.bc_company, setup.bc_api_url)
    pages = published_pages(setup)
    out.pages = {"ledger_entries (page 38)": pages.ledger_entries, "item_units (page 5404)": pages.item_units,
                 "resources (page 77)": pages.resources}  # fmt: skip
    if not setup.bc_api_mode:
        out.next_step = (
            "Business Central is embedded: the gateway's own tables are the records and nothing is mirrored. "
            "To mirror a real BC: bc-gateway setup --bc-mode api --bc-api-url ... (README: Business Central as "
            "the system of record)."
        )
        return out
    source = states.get(SOURCE, state.EntityState(company, SOURCE))
    out.ready = source.ready
    out.last_reconciled_at = source.last_reconciled_at
    if lease is not None:
        out.owner, out.owner_until = lease
    names = [e.name for e in MASTER_ENTITIES]
    names += [ITEM_UNITS] if pages.item_units else []
    names += [RESOURCES] if pages.resources else []
    names.append(LEDGER)
    names += [n for n in ("salesOrders", "salesQuotes") if n in states]  # BC's documents, once read
    out.entities = [_entity(states.get(n, state.EntityState(company, n)), now) for n in names]
    out.drift = summary({s["entity"]: s["drift"] for s in out.entities})
    out.subscriptions = [
        {
            "entity_set": n,
            "status": subs[n].status if n in subs else "none",
            "expires_at": subs[n].expires_at if n in subs else None,
            "last_notified_at": subs[n].last_notified_at if n in subs else None,
            "recreated": subs[n].recreated if n in subs else 0,
            "last_error": subs[n].last_error if n in subs else "",
        }
        for n in WEBHOOK_SETS
    ]
    out.notifications_waiting = waiting
    out.next_step = _next_step(out, source, now, pages.ledger_entries)
    return out


def _next_step(out: MirrorStatus, source: state.EntityState, now: dt.datetime, ledger_page: str) -> str:
    failing = [e for e in out.entities if e["last_error"]]
    if not source.source and not any(e["phase"] != "new" for e in out.entities):
        return "Not loaded yet: run bc-gateway mirror (or bc-gateway serve) to load it from Business Central."
    if failing:
        first = failing[0]
        return f"{first['entity']} failed: {first['last_error']} Check the connection with bc-gateway setup test."
    if not out.ready:
        return "Loading: bc-gateway mirror (or serve) goes on with it, from where it stopped."
    if out.owner is None or (out.owner_until is not None and out.owner_until < now):
        return "Loaded, but no process is keeping it fresh: run bc-gateway serve or bc-gateway mirror."
    if not ledger_page:
        return (
            "Fresh. ItemAvailabilityByLocation waits for page 38 Item Ledger Entries: publish it and run "
            "bc-gateway setup --bc-ledger-entries-service <service name>."
        )
    return "Fresh: nothing to do."
