"""BC's webhook notifications (bc-api.md §6.4–§6.6): taken in fast, then merged into refreshes.

:func:`accept` is what the receiver (gateway/bc_webhook.py) does with a POST: parse the body,
check each notification's ``clientState`` against the hash kept for its subscription (in constant
time; BC signs nothing), and queue the good ones in ``bc_notification`` — answered before any work,
since BC deletes a subscription whose receiver keeps failing. :func:`plan` (pure) folds what is
queued into one refresh per entity set: a ``created``/``updated`` means "run that set's delta
now", a ``collection`` the same from its ``lastModifiedDateTime gt`` (§6.5), a ``deleted`` removes
the record named by id, and anything on ``itemLedgerEntries`` polls the ledger at once.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from orders.bc_link.mirror.entities import LEDGER, parse_moment
from schemas import mirror_state as state
from schemas.db import write_transaction
from schemas.users import secret_matches

CHANGE_TYPES = frozenset({"created", "updated", "deleted", "collection"})
_ID = re.compile(r"\(([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})\)\s*$")
_SINCE = re.compile(r"lastModifiedDateTime\s+gt\s+([0-9T:.\-]+Z?)")
_SET = re.compile(r"/([A-Za-z]+)(?:\([^)]*\))?$")


class NotificationError(ValueError):
    """The body is not BC's notification payload; the message says why (answered 400)."""


@dataclass(frozen=True, slots=True)
class Notice:
    subscription_id: str
    client_state: str
    resource: str
    change_type: str


def parse_body(body: bytes) -> list[Notice]:
    """BC's ``{"value": [...]}`` as notices (UTF-8 JSON without a BOM since BC 19; one tolerated)."""
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        raise NotificationError("The body is not JSON.") from None
    value = data.get("value") if isinstance(data, dict) else None
    if not isinstance(value, list):
        raise NotificationError('The body has no "value" array of notifications.')
    notices = []
    for entry in value:
        if not isinstance(entry, dict):
            raise NotificationError("A notification is not an object.")
        change = str(entry.get("changeType", ""))
        if change not in CHANGE_TYPES:
            raise NotificationError(f"'{change}' is not a changeType BC sends.")
        notices.append(
            Notice(
                str(entry.get("subscriptionId", "")),
                str(entry.get("clientState", "")),
                str(entry.get("resource", "")),
                change,
            )
        )
    return notices


def entity_id_of(resource: str) -> str | None:
    """The id a ``created``/``updated``/``deleted`` notification names: ``.../items(<guid>)``."""
    match = _ID.search(resource.split("?", 1)[0])
    return match.group(1).lower() if match else None


def since_of(resource: str) -> dt.datetime | None:
    """A ``collection`` notification's ``$filter=lastModifiedDateTime gt X`` as X."""
    match = _SINCE.search(urllib.parse.unquote(resource))
    return parse_moment(match.group(1)) if match else None


def entity_set_of(resource: str) -> str | None:
    match = _SET.search(resource.split("?", 1)[0].rstrip("/"))
    return match.group(1) if match else None


@dataclass(frozen=True, slots=True)
class Accepted:
    queued: int
    refused: int  # unknown subscription or wrong clientState


async def accept(engine: AsyncEngine, body: bytes, now: dt.datetime) -> Accepted:
    """Check and queue one POST's notifications (NotificationError for a body that is not BC's)."""
    notices = parse_body(body)
    async with engine.connect() as conn:
        subscriptions = await state.find_subscriptions(conn, (n.subscription_id for n in notices))
    rows: list[dict[str, Any]] = []
    refused = 0
    for notice in notices:
        sub = subscriptions.get(notice.subscription_id)
        if sub is None or not secret_matches(notice.client_state, sub.client_state_salt, sub.client_state_hash):
            refused += 1
            continue
        rows.append(
            {
                "company": sub.company,
                "entity_set": sub.entity_set,
                "change_type": notice.change_type,
                "entity_id": entity_id_of(notice.resource) if notice.change_type != "collection" else None,
                "since": since_of(notice.resource) if notice.change_type == "collection" else None,
                "received_at": now,
            }
        )
    if rows:
        async with write_transaction(engine) as conn:
            await state.queue_notifications(conn, rows)
            await state.mark_notified(
                conn, {n.subscription_id for n in notices if n.subscription_id in subscriptions}, now
            )
    return Accepted(len(rows), refused)


@dataclass
class Refresh:
    """What to do for one entity set."""

    entity_set: str
    delta: bool = False  # read what changed since the watermark
    since: dt.datetime | None = None  # ... or since this, when earlier (a collection)
    deleted: set[str] = field(default_factory=set)  # ids BC deleted


@dataclass
class Plan:
    refreshes: dict[str, Refresh] = field(default_factory=dict)
    ledger: bool = False
    last_id: int = 0

    @property
    def empty(self) -> bool:
        return not self.refreshes and not self.ledger


def plan(rows: Sequence[state.NotificationRow]) -> Plan:
    """Fold queued notifications into one refresh per set (BC already merged repeats: §6.4)."""
    out = Plan(last_id=max((r.id for r in rows), default=0))
    for row in rows:
        if row.entity_set == LEDGER:
            out.ledger = True
            continue
        refresh = out.refreshes.setdefault(row.entity_set, Refresh(row.entity_set))
        if row.change_type == "deleted" and row.entity_id:
            refresh.deleted.add(row.entity_id)
        elif row.change_type == "collection":
            refresh.delta = True
            if row.since is not None:
                refresh.since = row.since if refresh.since is None else min(refresh.since, row.since)
            else:
                # A collection without a stamp covers a deletion (or a set without stamps): compare all.
                refresh.deleted.add("*")
        else:
            refresh.delta = True
    return out


def ids(values: Iterable[str]) -> list[str]:
    return sorted(v for v in values if v != "*")
