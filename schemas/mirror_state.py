"""The mirror's own bookkeeping: per entity where its load stands and how fresh it is
(``bc_mirror_state``), which process runs it (``bc_mirror_owner``), our BC webhook subscriptions
(``bc_subscription``) and the notifications waiting for the mirror (``bc_notification``).

What the values mean is the mirror's business (orders/bc_link/mirror/); this module only keeps them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas.db import insert_ignore
from schemas.tables import bc_mirror_owner, bc_mirror_state, bc_notification, bc_subscription


@dataclass(frozen=True, slots=True)
class EntityState:
    """One mirrored entity's row; a missing row reads as phase "new"."""

    company: str
    entity: str
    phase: str = "new"
    source: str = ""
    resume_link: str | None = None
    watermark: dt.datetime | None = None
    last_entry_no: int = 0
    rows: int = 0
    loaded: int = 0
    load_started_at: dt.datetime | None = None
    load_finished_at: dt.datetime | None = None
    last_success_at: dt.datetime | None = None
    last_change_at: dt.datetime | None = None
    last_failure_at: dt.datetime | None = None
    last_error: str = ""
    failures: int = 0
    last_reconciled_at: dt.datetime | None = None
    drift: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return self.phase == "ready"


def _state(row: Any) -> EntityState:
    values = dict(row._mapping)
    values["drift"] = json.loads(values["drift"]) if values["drift"] else {}
    return EntityState(**values)


async def read_states(conn: AsyncConnection, company: str) -> dict[str, EntityState]:
    rows = (await conn.execute(select(bc_mirror_state).where(bc_mirror_state.c.company == company))).all()
    return {row.entity: _state(row) for row in rows}


async def read_state(conn: AsyncConnection, company: str, entity: str) -> EntityState:
    row = (
        await conn.execute(
            select(bc_mirror_state).where(bc_mirror_state.c.company == company, bc_mirror_state.c.entity == entity)
        )
    ).first()
    return _state(row) if row is not None else EntityState(company, entity)


async def save_state(conn: AsyncConnection, company: str, entity: str, **values: Any) -> None:
    """Set the given columns of the entity's row (made first if missing)."""
    if "drift" in values and not isinstance(values["drift"], str):
        values["drift"] = json.dumps(values["drift"], default=str, sort_keys=True)
    await conn.execute(
        insert_ignore(conn, bc_mirror_state, ["company", "entity"]).values(company=company, entity=entity)
    )
    if values:
        await conn.execute(
            update(bc_mirror_state)
            .where(bc_mirror_state.c.company == company, bc_mirror_state.c.entity == entity)
            .values(**values)
        )


async def record_failure(conn: AsyncConnection, company: str, entity: str, error: str, at: dt.datetime) -> None:
    await save_state(conn, company, entity)
    await conn.execute(
        update(bc_mirror_state)
        .where(bc_mirror_state.c.company == company, bc_mirror_state.c.entity == entity)
        .values(last_failure_at=at, last_error=error[:2000], failures=bc_mirror_state.c.failures + 1)
    )


async def reset_states(conn: AsyncConnection, company: str, entities: Iterable[str] | None = None) -> None:
    """Forget the entities' progress (all of the company's when None): they load again."""
    stmt = delete(bc_mirror_state).where(bc_mirror_state.c.company == company)
    if entities is not None:
        stmt = stmt.where(bc_mirror_state.c.entity.in_(list(entities)))
    await conn.execute(stmt)


# --- who runs the mirror ------------------------------------------------------------------------


async def take_lease(conn: AsyncConnection, company: str, owner: str, now: dt.datetime, seconds: float) -> bool:
    """Hold (or renew) the company's mirror lease; False while another live process holds it."""
    until = now + dt.timedelta(seconds=seconds)
    await conn.execute(
        insert_ignore(conn, bc_mirror_owner, ["company"]).values(company=company, owner=owner, lease_until=until)
    )
    result = await conn.execute(
        update(bc_mirror_owner)
        .where(
            bc_mirror_owner.c.company == company,
            or_(bc_mirror_owner.c.owner == owner, bc_mirror_owner.c.lease_until < now),
        )
        .values(owner=owner, lease_until=until)
    )
    return bool(result.rowcount)


async def release_lease(conn: AsyncConnection, company: str, owner: str) -> None:
    await conn.execute(
        delete(bc_mirror_owner).where(bc_mirror_owner.c.company == company, bc_mirror_owner.c.owner == owner)
    )


async def read_lease(conn: AsyncConnection, company: str) -> tuple[str, dt.datetime] | None:
    row = (await conn.execute(select(bc_mirror_owner).where(bc_mirror_owner.c.company == company))).first()
    return (row.owner, row.lease_until) if row is not None else None


# --- webhook subscriptions ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubscriptionRow:
    company: str
    entity_set: str
    subscription_id: str
    resource: str
    notification_url: str
    client_state_hash: str
    client_state_salt: str
    etag: str
    status: str
    expires_at: dt.datetime | None
    created_at: dt.datetime | None
    renewed_at: dt.datetime | None
    recreated: int
    last_notified_at: dt.datetime | None
    next_try_at: dt.datetime | None
    last_error: str


async def read_subscriptions(conn: AsyncConnection, company: str) -> dict[str, SubscriptionRow]:
    rows = (await conn.execute(select(bc_subscription).where(bc_subscription.c.company == company))).all()
    return {row.entity_set: SubscriptionRow(**row._mapping) for row in rows}


async def find_subscriptions(conn: AsyncConnection, subscription_ids: Iterable[str]) -> dict[str, SubscriptionRow]:
    ids = sorted({i for i in subscription_ids if i})
    if not ids:
        return {}
    rows = (
        await conn.execute(
            select(bc_subscription).where(
                bc_subscription.c.subscription_id.in_(ids), bc_subscription.c.status == "active"
            )
        )
    ).all()
    return {row.subscription_id: SubscriptionRow(**row._mapping) for row in rows}


async def save_subscription(conn: AsyncConnection, company: str, entity_set: str, **values: Any) -> None:
    await conn.execute(
        insert_ignore(conn, bc_subscription, ["company", "entity_set"]).values(company=company, entity_set=entity_set)
    )
    if values:
        await conn.execute(
            update(bc_subscription)
            .where(bc_subscription.c.company == company, bc_subscription.c.entity_set == entity_set)
            .values(**values)
        )


async def delete_subscription(conn: AsyncConnection, company: str, entity_set: str) -> None:
    await conn.execute(
        delete(bc_subscription).where(bc_subscription.c.company == company, bc_subscription.c.entity_set == entity_set)
    )


async def mark_notified(conn: AsyncConnection, subscription_ids: Iterable[str], at: dt.datetime) -> None:
    ids = sorted(set(subscription_ids))
    if ids:
        await conn.execute(
            update(bc_subscription).where(bc_subscription.c.subscription_id.in_(ids)).values(last_notified_at=at)
        )


# --- notifications waiting for the mirror -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NotificationRow:
    id: int
    company: str
    entity_set: str
    change_type: str
    entity_id: str | None
    since: dt.datetime | None
    received_at: dt.datetime


async def queue_notifications(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Store notifications (company, entity_set, change_type, entity_id, since, received_at)."""
    if rows:
        await conn.execute(insert(bc_notification), rows)


async def waiting_notifications(conn: AsyncConnection, company: str, limit: int = 10_000) -> list[NotificationRow]:
    rows = (
        await conn.execute(
            select(bc_notification)
            .where(bc_notification.c.company == company)
            .order_by(bc_notification.c.id)
            .limit(limit)
        )
    ).all()
    return [NotificationRow(**row._mapping) for row in rows]


async def drop_notifications(conn: AsyncConnection, company: str, up_to_id: int) -> None:
    await conn.execute(
        delete(bc_notification).where(bc_notification.c.company == company, bc_notification.c.id <= up_to_id)
    )


async def count_notifications(conn: AsyncConnection, company: str) -> int:
    stmt = select(func.count()).select_from(bc_notification).where(bc_notification.c.company == company)
    return int((await conn.execute(stmt)).scalar_one())
