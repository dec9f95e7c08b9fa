"""Our BC webhook subscriptions (bc-api.md §6): made, renewed before the three-day expiry, made
again when BC dropped one, and BC's leftovers pointing at us removed.

One subscription per mirrored entity set, all to ``/webhooks/business-central`` at the gateway's
public address. Each gets its own random ``clientState`` (BC echoes it in every notification;
nothing else proves a notification is BC's, §6.4); only its salted hash is kept. Creating or
renewing makes BC call the receiver with ``validationToken`` first (§6.2), so the receiver must be
reachable at that address when this runs. A set BC refuses (not subscribable on this tenant)
is tried again after an hour; meanwhile its deltas keep it fresh.

A subscription BC dropped (expired while we were away; deleted after failed deliveries, §6.6)
missed notifications: its entity is read by a delta as soon as it is made again.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

from yarl import URL

from orders.bc_link.errors import BcError, BcNotFound
from orders.bc_link.mirror.context import Context, describe
from orders.bc_link.mirror.entities import WEBHOOK_SETS, parse_moment
from schemas import mirror_state as state
from schemas.db import write_transaction
from schemas.users import hash_secret, new_salt

log = logging.getLogger("bcgw.mirror")


@dataclass
class Maintenance:
    created: list[str] = field(default_factory=list)
    recreated: list[str] = field(default_factory=list)  # BC had dropped them: read their deltas now
    renewed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    removed: int = 0  # BC's subscriptions to our URL that we did not know


def resource_for(ctx: Context, entity_set: str) -> str:
    """``/api/v2.0/companies({id})/{set}``: the API route's path from the configured root."""
    path = URL(ctx.bc.connection.api_url).path
    route = path[path.index("/api/") :] if "/api/" in path else "/api/v2.0"
    return f"{route}/companies({ctx.company_id})/{entity_set}"


def _subscription_path(subscription_id: str) -> str:
    return "subscriptions('" + subscription_id.replace("'", "''") + "')"


async def _create(ctx: Context, entity_set: str, url: str, recreated: int) -> None:
    client_state = secrets.token_urlsafe(24)  # 32 characters: BC keeps at most 50 (bc-api §6.1)
    body = {"notificationUrl": url, "resource": resource_for(ctx, entity_set), "clientState": client_state}
    made = await ctx.bc.post("subscriptions", body, root=True)
    salt = new_salt()
    now = ctx.now()
    async with write_transaction(ctx.engine) as conn:
        await state.save_subscription(
            conn,
            ctx.company,
            entity_set,
            subscription_id=str(made.get("subscriptionId", "")),
            resource=body["resource"],
            notification_url=url,
            client_state_hash=hash_secret(client_state, salt),
            client_state_salt=salt,
            etag=str(made.get("@odata.etag", "")),
            status="active",
            expires_at=parse_moment(made.get("expirationDateTime")),
            created_at=now,
            renewed_at=None,
            recreated=recreated,
            next_try_at=None,
            last_error="",
        )


async def _renew(ctx: Context, row: state.SubscriptionRow, live: dict[str, Any]) -> None:
    body = {"notificationUrl": row.notification_url, "resource": row.resource}
    etag = str(live.get("@odata.etag") or row.etag or "*")
    renewed = await ctx.bc.patch(_subscription_path(row.subscription_id), body, etag=etag, root=True)
    await _save(ctx, row.entity_set, etag=str(renewed.get("@odata.etag", etag)), renewed_at=ctx.now(),
                expires_at=parse_moment(renewed.get("expirationDateTime")), last_error="")  # fmt: skip


async def _save(ctx: Context, entity_set: str, **values: Any) -> None:
    async with write_transaction(ctx.engine) as conn:
        await state.save_subscription(conn, ctx.company, entity_set, **values)


async def maintain(ctx: Context) -> Maintenance:
    """Bring our subscriptions in line (see the module docstring)."""
    done = Maintenance()
    url = ctx.options.notification_url
    if not url:
        return done
    now = ctx.now()
    async with ctx.engine.connect() as conn:
        ours = await state.read_subscriptions(conn, ctx.company)
    remote = {str(s.get("subscriptionId")): s for s in await ctx.bc.list_collection("subscriptions", root=True)}
    for entity_set in WEBHOOK_SETS:
        row = ours.get(entity_set)
        if row is not None and row.status == "failed" and row.next_try_at and row.next_try_at > now:
            continue
        live = remote.get(row.subscription_id) if row is not None and row.subscription_id else None
        try:
            if row is not None and live is not None and live.get("notificationUrl") == url:
                expires = parse_moment(live.get("expirationDateTime")) or row.expires_at
                if expires is None or expires - now < dt.timedelta(seconds=ctx.options.renew_before):
                    await _renew(ctx, row, live)
                    done.renewed.append(entity_set)
                continue
            if row is not None and live is not None:  # ours, but to an old address: replace it
                await ctx.bc.delete(_subscription_path(row.subscription_id), root=True, missing_ok=True)
            dropped = row is not None and row.status == "active" and bool(row.subscription_id) and live is None
            await _create(ctx, entity_set, url, (row.recreated if row else 0) + (1 if dropped else 0))
            (done.recreated if dropped else done.created).append(entity_set)
            if dropped:
                log.warning("mirror: Business Central had dropped the %s subscription; made it again", entity_set)
        except BcNotFound as exc:
            # Renewing one BC deleted meanwhile: make it again next time round.
            await _save(ctx, entity_set, subscription_id="", last_error=describe(exc))
            done.failed[entity_set] = describe(exc)
        except BcError as exc:
            retry = now + dt.timedelta(seconds=ctx.options.retry_failed_subscription)
            await _save(ctx, entity_set, status="failed", last_error=describe(exc), next_try_at=retry)
            done.failed[entity_set] = describe(exc)
            log.warning("mirror: cannot subscribe to %s: %s", entity_set, describe(exc))
    known = {r.subscription_id for r in (await _rows(ctx)).values()}
    for sid, sub in remote.items():
        if sub.get("notificationUrl") == url and sid not in known:
            await ctx.bc.delete(_subscription_path(sid), root=True, missing_ok=True)
            done.removed += 1
    return done


async def _rows(ctx: Context) -> dict[str, state.SubscriptionRow]:
    async with ctx.engine.connect() as conn:
        return await state.read_subscriptions(conn, ctx.company)


async def remove_all(ctx: Context) -> int:
    """Delete our subscriptions in BC and here (webhooks switched off, or the URL gone)."""
    removed = 0
    for row in (await _rows(ctx)).values():
        if row.subscription_id:
            try:
                await ctx.bc.delete(_subscription_path(row.subscription_id), root=True, missing_ok=True)
                removed += 1
            except BcError as exc:
                log.warning("mirror: could not delete the %s subscription: %s", row.entity_set, describe(exc))
        async with write_transaction(ctx.engine) as conn:
            await state.delete_subscription(conn, ctx.company, row.entity_set)
    return removed
