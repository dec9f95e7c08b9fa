"""``Mirror``: the sync process that owns our BC tables in api mode (inside ``bc-gateway serve``, or
alone as ``bc-gateway mirror``).

Each cycle, every ``poll_interval`` seconds or as soon as a webhook wakes it:

1. reads the setup (a change of BC, company or pages is followed) and holds the company's lease
   (with several processes on PostgreSQL one mirrors, the others stand by);
2. a new source empties the tables; anything not loaded yet is loaded (load.py, resumable);
3. queued webhook notifications become refreshes (notifications.py);
4. new item ledger entries are applied (ledger.py);
5. every ``delta_interval``: master data deltas (deltas.py); every
   ``subscription_check_interval``: the webhook subscriptions (subscriptions.py); every
   ``reconcile_interval``: the full reconciliation (reconcile.py).

A step that fails is recorded on its entity's state row (``mirror status`` shows it) and the
others still run; after failures in a row the cycle waits longer (up to ``max_backoff``).
Availability requests never wait on any of this: they read our tables.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from orders.bc_link.errors import BcUnavailable
from orders.bc_link.from_setup import BcLink
from orders.bc_link.mirror import deltas, documents, ledger, load, reconcile, subscriptions
from orders.bc_link.mirror.context import SOURCE, Context, MirrorOptions, ProgressFactory, log_progress, utc_now
from orders.bc_link.mirror.entities import BY_NAME, LEDGER, MASTER_ENTITIES
from orders.bc_link.mirror.notifications import ids, plan
from orders.setup import ConnectionSetup
from orders.wake import woken
from schemas import change_log as changes
from schemas import mirror_state as state
from schemas import mirror_store as store
from schemas import setup_store
from schemas import tables as t
from schemas.db import write_transaction

log = logging.getLogger("bcgw.mirror")


@dataclass
class CycleResult:
    status: str  # idle (embedded mode) | standby (another process mirrors) | ran
    applied: int = 0  # ledger entries applied
    failed: dict[str, str] = field(default_factory=dict)
    transient: bool = False  # a failure that waiting may cure (BC or the network away)


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


class Mirror:
    def __init__(
        self,
        engine: AsyncEngine,
        link: BcLink,
        company: str,
        options: MirrorOptions | None = None,
        *,
        owner: str | None = None,
        progress: ProgressFactory = log_progress,
        clock: Callable[[], dt.datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        on_ready: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.engine = engine
        self.link = link
        self.company = company
        self.options = options or MirrorOptions()
        self.owner = owner or default_owner()
        self.progress = progress
        self.clock = clock
        self.monotonic = monotonic
        self.on_ready = on_ready
        self._wake = asyncio.Event()
        self._next_delta = 0.0
        self._next_subscriptions = 0.0
        self.cycles = 0

    def wake(self) -> None:
        """A notification is queued: run a cycle now."""
        self._wake.set()

    async def run(self) -> None:
        """Cycle until cancelled; the lease is given up on the way out."""
        failures = 0
        try:
            while True:
                try:
                    result = await self.cycle()
                    failures = failures + 1 if result.transient else 0
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the database away, say: keep trying, slower
                    failures += 1
                    log.warning(
                        "mirror: cycle failed: %s", type(exc).__name__, exc_info=log.isEnabledFor(logging.DEBUG)
                    )
                wait = self.options.poll_interval * (2 ** min(failures, 10) if failures else 1)
                self._wake.clear()
                await woken(self._wake, min(wait, self.options.max_backoff))
        finally:
            with contextlib.suppress(Exception):
                async with write_transaction(self.engine) as conn:
                    await state.release_lease(conn, self.company, self.owner)

    async def _setup(self) -> ConnectionSetup:
        async with self.engine.connect() as conn:
            return ConnectionSetup.from_row(await setup_store.read_connection_setup(conn))

    async def context(self) -> Context | None:
        """This cycle's context, or None in embedded mode."""
        self.link.update(await self._setup())
        if not self.link.configured:
            return None
        bc = await self.link.client()
        return Context(self.engine, bc, self.company, await bc.company_id(), self.link.pages, self.options,
                       self.progress, self.clock)  # fmt: skip

    async def cycle(self) -> CycleResult:
        ctx = await self.context()
        if ctx is None:
            return CycleResult("idle")
        async with write_transaction(self.engine) as conn:
            if not await state.take_lease(conn, self.company, self.owner, self.clock(), self.options.lease_seconds):
                return CycleResult("standby")
        self.cycles += 1
        result = CycleResult("ran")
        steps: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
            (SOURCE, lambda: self._load(ctx)),
            ("notifications", lambda: self._notifications(ctx)),
            (LEDGER, lambda: self._poll(ctx, result)),
        ]
        now = self.monotonic()
        if now >= self._next_delta:
            steps.append(("deltas", lambda: deltas.refresh_all(ctx, MASTER_ENTITIES)))
        if self.options.notification_url is not None and now >= self._next_subscriptions:
            steps.append(("subscriptions", lambda: self._subscriptions(ctx)))
        if await self._reconcile_due(ctx):
            steps.append(("reconcile", lambda: reconcile.reconcile(ctx)))
        for name, step in steps:
            try:
                await step()
            except Exception as exc:
                await ctx.failed(
                    SOURCE if name in ("deltas", "subscriptions", "reconcile", "notifications") else name, exc
                )
                result.failed[name] = str(exc)[:300]
                result.transient = result.transient or _transient(exc)
                if name == SOURCE:
                    break
            else:
                if name == "deltas":
                    self._next_delta = now + self.options.delta_interval
                elif name == "subscriptions":
                    self._next_subscriptions = now + self.options.subscription_check_interval
        return result

    async def _load(self, ctx: Context) -> None:
        new = await load.check_source(ctx, ctx.page_source(ctx.pages.ledger_entries))
        if new:
            self._next_delta = self._next_subscriptions = 0.0
        source = await ctx.read(SOURCE)
        if source.ready and await load.loaded(ctx) and (await ctx.read(LEDGER)).ready:
            return
        for entity in MASTER_ENTITIES:
            try:
                await load.load_entity(ctx, entity)
            except Exception as exc:
                await ctx.failed(entity.name, exc)
                raise
        await load.load_all(ctx)  # the published pages (master entities are in by now)
        try:
            await ledger.load_ledger(ctx)
        except Exception as exc:
            await ctx.failed(LEDGER, exc)
            raise
        if not source.ready:
            # BC's open orders count in Qty. on Sales Order from the start (a failure: the next delta).
            await documents.refresh_all(ctx, whole=True)
            async with write_transaction(self.engine) as conn:
                now = ctx.now()
                await state.save_state(conn, self.company, SOURCE, phase="ready", load_finished_at=now,
                                       last_success_at=now, last_reconciled_at=now)  # fmt: skip
                await changes.record(conn, changes.MIRROR, company=self.company)
            log.info("mirror: %s is loaded from Business Central", self.company)
            if self.on_ready is not None:
                await self.on_ready()

    async def _poll(self, ctx: Context, result: CycleResult) -> None:
        result.applied += await ledger.catch_up(ctx)

    async def _notifications(self, ctx: Context) -> None:
        async with self.engine.connect() as conn:
            rows = await state.waiting_notifications(conn, self.company)
        if not rows:
            return
        todo = plan(rows)
        try:
            for refresh in todo.refreshes.values():
                kind = documents.BY_SET.get(refresh.entity_set)
                if kind is not None:
                    if refresh.deleted:
                        await documents.remove_by_ids(ctx, kind, ids(refresh.deleted))
                    if refresh.delta or "*" in refresh.deleted:
                        await documents.refresh(ctx, kind, since=refresh.since, whole="*" in refresh.deleted)
                    continue
                entity = BY_NAME.get(refresh.entity_set)
                if entity is None:
                    continue
                table = t.metadata.tables[entity.table]
                if "*" in refresh.deleted or (refresh.deleted and "system_id" not in table.c):
                    await reconcile.reconcile_entity(ctx, entity)  # ids we cannot map: compare whole
                    continue
                if refresh.deleted:
                    async with write_transaction(self.engine) as conn:
                        keys = await store.keys_for_ids(conn, table, self.company, ids(refresh.deleted))
                        if await store.delete_rows(conn, table, self.company, keys):
                            await changes.record(conn, changes.MASTER, company=self.company)
                if refresh.delta:
                    await deltas.refresh_entity(ctx, entity, since=refresh.since)
            if todo.ledger:
                await ledger.catch_up(ctx)
        finally:
            # A refresh that failed is made good by the next delta: the notices are not kept.
            async with write_transaction(self.engine) as conn:
                await state.drop_notifications(conn, self.company, todo.last_id)

    async def _subscriptions(self, ctx: Context) -> None:
        done = await subscriptions.maintain(ctx)
        for name in done.recreated:
            entity = BY_NAME.get(name)
            if entity is not None:
                await deltas.refresh_entity(ctx, entity)
            elif name in documents.BY_SET:
                await documents.refresh(ctx, documents.BY_SET[name])
            elif name == LEDGER:
                await ledger.catch_up(ctx)

    async def _reconcile_due(self, ctx: Context) -> bool:
        interval = self.options.reconcile_interval
        if interval <= 0:
            return False
        last = (await ctx.read(SOURCE)).last_reconciled_at
        return last is not None and (ctx.now() - last).total_seconds() >= interval

    async def reconcile_now(self) -> dict[str, Any]:
        ctx = await self.context()
        if ctx is None:
            return {}
        return await reconcile.reconcile(ctx)


def _transient(error: BaseException) -> bool:
    return isinstance(error, BcUnavailable | OSError | TimeoutError) or bool(getattr(error, "transient", False))
