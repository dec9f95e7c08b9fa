"""The app factory: settings in, an aiohttp Application out (routes, middlewares, resources)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway import cache_invalidation as availability
from gateway.admin_api import add_admin_routes
from gateway.auth import PRINCIPAL, Authenticator, Limit, Lockout
from gateway.bc_webhook import add_bc_webhook_routes
from gateway.change_feed import ChangeFeed
from gateway.config import Settings
from gateway.dataverse_webhook import add_webhook_routes
from gateway.edge import edge_middleware, is_v3
from gateway.entity_sets import ALL_SETS, AVAILABILITY
from gateway.entity_sets.differences import sales_order_differences
from gateway.health import add_health_routes
from gateway.metrics import Metrics
from gateway.odata.answer_cache import ResponseCache
from gateway.odata.edm import EntitySet, Registry
from gateway.odata.errors import ODataError
from gateway.odata.service import ODataService
from gateway.proxy import setup_forwarding
from gateway.sales_reads import SalesReads
from orders import inbox
from orders.bc_link.from_setup import BcLink
from orders.bc_link.mirror import Mirror, MirrorOptions, mirror_ready, refusal
from orders.change_setup import load_connection_setup
from orders.diff_sales_order import OrderDiff, diff_sales_order
from orders.setup import ConnectionSetup
from orders.worker import OrderWorker
from schemas import change_log as changes
from schemas.db import create_engine, is_unavailable
from schemas.migrate import current_revision, head_revision
from schemas.roles import INTEGRATION_ADMIN
from schemas.sqlite_reader import SqliteReader, reader_for
from schemas.tables import company as company_table
from schemas.users import UserService

log = logging.getLogger("bcgw.app")
STOP_GRACE = 5.0  # seconds a background task gets to end after its cancellation, before another


class SchemaNotReady(RuntimeError):
    """The database's schema is not the one this version needs."""


class Gateway:
    """The running gateway's state; also the OData service's host."""

    def __init__(
        self, settings: Settings, engine: AsyncEngine | None = None, worker: bool = True, mirror: bool = True
    ) -> None:
        self.settings = settings
        self.run_worker = worker
        self.worker: OrderWorker | None = None
        # api mode: the one BC client of this process (the mirror and the order writer share it),
        # and the mirror that keeps our BC tables a read model of that BC.
        self.run_mirror = mirror
        self.bc_link = BcLink()
        self.mirror: Mirror | None = None
        self.mirror_ready = False
        self._engine = engine
        self._owns_engine = engine is None
        # Sales reads that OData requests make (SalesOrderDifferences), apart from the worker's.
        self.sales_reads = SalesReads(settings.sales_timeout)
        self.registry = Registry([*ALL_SETS, sales_order_differences(self.order_differences)])
        self.response_cache = ResponseCache(settings.cache_ttl) if settings.cache_ttl > 0 else None
        self.setup = ConnectionSetup()
        self.companies: set[str] = set()
        self.metrics = Metrics()
        self.users: UserService
        self.auth: Authenticator
        self.feed: ChangeFeed
        self.background: list[asyncio.Task[Any]] = []
        self._reader: SqliteReader | None = None
        self._reader_engine: AsyncEngine | None = None

    # ODataHost ---------------------------------------------------------------------------
    def engine(self) -> AsyncEngine:
        assert self._engine is not None, "the engine is created at start-up"
        return self._engine

    def default_company(self) -> str:
        return self.settings.company

    def public_base(self) -> str | None:
        return self.settings.public_base()

    def max_page_size(self) -> int:
        return self.settings.max_page_size

    def published(self, entity_set: EntitySet) -> bool:
        if entity_set.group == AVAILABILITY:
            return self.setup.item_availability_enabled
        return True

    def refusal(self, entity_set: EntitySet) -> ODataError | None:
        """api mode: a set the mirror cannot fill (a BC page not published) or not yet (loading)."""
        found = refusal(self.setup, self.mirror_ready, entity_set.name)
        if found is None:
            return None
        headers = {"Retry-After": str(found.retry_after)} if found.retry_after else None
        return ODataError(found.status, found.code, found.message, headers)

    async def company_exists(self, name: str) -> bool:
        if name in self.companies:
            return True
        async with self.engine().connect() as conn:
            found = (await conn.execute(select(company_table.c.name).where(company_table.c.name == name))).first()
        if found:
            self.companies.add(name)
        return found is not None

    def may_read(self, request: web.Request, entity_set: EntitySet) -> bool:
        principal = request.get(PRINCIPAL)
        return principal is not None and principal.has_any(entity_set.read_roles)

    def forbidden_message(self, request: web.Request, entity_set: EntitySet) -> str:
        principal = request[PRINCIPAL]
        roles = " or ".join(sorted(entity_set.read_roles))
        return (
            f"The user {principal.user.user_name} does not have permission to read "
            f"'{entity_set.name}'; it needs the role {roles}."
        )

    def cache(self) -> ResponseCache | None:
        return self.response_cache

    def reader(self) -> SqliteReader | None:
        """SQLite: the OData reads' raw reader on the engine's file (made anew if the engine changes)."""
        engine = self.engine()
        if self._reader_engine is not engine:
            if self._reader is not None:
                self._reader.close()
            self._reader, self._reader_engine = reader_for(engine), engine
        return self._reader

    def database_unavailable(self, error: BaseException) -> bool:
        return is_unavailable(error)

    async def order_differences(self, company: str, sales_id: str) -> OrderDiff:
        """The reconciliation report of one Sales order (`orders diff`), for SalesOrderDifferences."""
        return await diff_sales_order(self.engine(), company, self.sales_reads.client(self.setup), sales_id)

    # lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        if self._engine is None:
            self._engine = create_engine(self.settings.database_url)
        engine = self.engine()
        current, head = await current_revision(engine), head_revision()
        if current != head:
            raise SchemaNotReady(
                f"The database schema is at {current or 'nothing'}, this version needs {head}: "
                "run 'bc-gateway db upgrade' (or 'bc-gateway init')."
            )
        self.users = UserService(engine)
        s = self.settings
        limits = {
            "user": Limit(s.lockout_failures, s.lockout_window),
            "addr": Limit(s.lockout_address_failures, s.lockout_window),
            "hook": Limit(s.webhook_failures, s.lockout_window),
        }
        self.auth = Authenticator(self.users, s.auth_cache_ttl, Lockout(limits, engine=engine))
        await self.reload_setup()
        await self.reload_companies()
        self.feed = ChangeFeed(engine, self.settings.change_poll_interval)
        await self.feed.start()
        self.feed.on(changes.USERS, self._on_users)
        self.feed.on(changes.SETUP, self._on_setup)
        self.feed.on(changes.COMPANY, self._on_company)
        if self.response_cache is not None:
            cache = self.response_cache
            self.feed.on(changes.ITEM, lambda rows: availability.invalidate_items(engine, cache, rows))
            self.feed.on(changes.MASTER, self._on_master)
        self.feed.on(changes.INBOX, self._on_inbox)
        self.feed.on(changes.MASTER, self._on_bc_change)
        self.feed.on(changes.ITEM, self._on_bc_change)
        self.feed.on(changes.MIRROR, self._on_mirror)
        self.background.append(asyncio.create_task(self.feed.run(), name="change-feed"))
        self.mirror_ready = await mirror_ready(engine, self.settings.company)
        self._start_mirror()
        if self.run_worker:
            self.worker = OrderWorker(engine, self.settings, bc_link=self.bc_link)
            self.background.append(asyncio.create_task(self.worker.run(), name="order-worker"))
        self.background.append(asyncio.create_task(self._flush_last_used(), name="last-used"))

    async def stop(self) -> None:
        pending = set(self.background)
        for task in pending:
            task.cancel()
        # Not "suppress(CancelledError): await task": that would swallow the cancellation of
        # stop() itself. A task that swallowed its own once (a library catching CancelledError at
        # the wrong moment) is cancelled again, so shutting down cannot hang on it.
        while pending:
            done, pending = await asyncio.wait(pending, timeout=STOP_GRACE)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    log.warning("background task %s ended with %r", task.get_name(), task.exception())
            for task in pending:
                log.warning("background task %s is still running; cancelling it again", task.get_name())
                task.cancel()
        self.background.clear()
        feed: ChangeFeed | None = getattr(self, "feed", None)  # not there when start() failed early
        if feed is not None:
            feed.close()
        with contextlib.suppress(Exception):
            await self.auth.flush_last_used()
        await self.bc_link.aclose()
        if self._reader is not None:
            self._reader.close()
            self._reader = self._reader_engine = None
        await self.sales_reads.close()
        if self._owns_engine and self._engine is not None:
            await self._engine.dispose()

    async def reload_setup(self) -> None:
        async with self.engine().connect() as conn:
            self.setup = await load_connection_setup(conn)
        self.bc_link.update(self.setup)

    def _start_mirror(self) -> None:
        if not (self.run_mirror and self.setup.bc_api_mode and self.mirror is None):
            return
        s = self.settings
        options = MirrorOptions(
            poll_interval=s.bc_poll_interval,
            delta_interval=s.bc_delta_interval,
            reconcile_interval=s.bc_reconcile_interval,
            notification_url=s.bc_notification_url(),
        )
        self.mirror = Mirror(self.engine(), self.bc_link, s.company, options)
        self.background.append(asyncio.create_task(self.mirror.run(), name="bc-mirror"))

    def wake_mirror(self) -> None:
        if self.mirror is not None:
            self.mirror.wake()

    async def _on_mirror(self, _rows: list[Any]) -> None:
        self.mirror_ready = await mirror_ready(self.engine(), self.settings.company)
        if self.response_cache is not None:
            self.response_cache.invalidate_company(self.settings.company)

    async def reload_companies(self) -> None:
        async with self.engine().connect() as conn:
            self.companies = set((await conn.execute(select(company_table.c.name))).scalars())

    def wake_worker(self) -> None:
        if self.worker is not None:
            self.worker.wake()

    async def _on_inbox(self, _rows: list[Any]) -> None:
        self.wake_worker()

    async def refresh_metrics(self) -> None:
        cache = self.response_cache
        if cache is not None:
            self.metrics.cache_entries.set(len(cache))
            self.metrics.cache_hits.set(cache.hits)
            self.metrics.cache_misses.set(cache.misses)
        for state, count in (await inbox.counts_by_state(self.engine())).items():
            self.metrics.inbox.labels(state).set(count)

    async def _on_users(self, _rows: list[Any]) -> None:
        self.auth.forget_verifications()

    async def _on_setup(self, _rows: list[Any]) -> None:
        await self.reload_setup()
        self._start_mirror()

    async def _on_company(self, _rows: list[Any]) -> None:
        await self.reload_companies()

    async def _on_master(self, rows: list[Any]) -> None:
        if self.response_cache is not None:
            availability.invalidate_master(self.response_cache, rows)

    async def _on_bc_change(self, _rows: list[Any]) -> None:
        """BC master data or inventory changed: the synchronisation jobs look at once."""
        if self.worker is not None:
            self.worker.wake_sync()

    async def _flush_last_used(self) -> None:
        while True:
            await asyncio.sleep(30)
            try:
                await self.auth.flush_last_used()
            except Exception as exc:
                log.warning("could not record last use of keys: %s", type(exc).__name__)


GATEWAY = web.AppKey("gateway", Gateway)
MAX_REQUEST_LINE = 65536


async def _version_header(request: web.Request, response: web.StreamResponse) -> None:
    if is_v3(request):
        response.headers.setdefault("DataServiceVersion", "3.0")
    else:
        response.headers.setdefault("OData-Version", "4.0")


def create_app(
    settings: Settings, engine: AsyncEngine | None = None, worker: bool = True, mirror: bool = True
) -> web.Application:
    """The application; `engine` lets tests share one database engine. `mirror`: run the mirror of a
    real BC in this process when the setup is in api mode."""
    gateway = Gateway(settings, engine, worker, mirror)
    app = web.Application(
        middlewares=[edge_middleware(settings, gateway.metrics, lambda: gateway.auth)],
        client_max_size=1024 * 1024,
        # A $filter with hundreds of CRM_IDs makes a long request line (aiohttp's default: 8190).
        # auto_decompress off: gateway/request_body.py decodes Content-Encoding itself, so a body that
        # is not what its header says is a 400 with the reason, not a 500 or a hung connection.
        handler_args={"max_line_size": MAX_REQUEST_LINE, "max_field_size": 16384, "auto_decompress": False},
    )
    app[GATEWAY] = gateway
    setup_forwarding(app, settings)

    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        await gateway.start()
        yield
        await gateway.stop()

    app.cleanup_ctx.append(lifecycle)
    app.on_response_prepare.append(_version_header)

    ODataService(gateway.registry, gateway).add_routes(app)
    add_admin_routes(app, GATEWAY)
    add_webhook_routes(app, GATEWAY)
    add_bc_webhook_routes(app, GATEWAY)
    add_health_routes(app, GATEWAY)
    app.router.add_get("/", _root)
    gateway.metrics.add_route(app, _metrics_allowed, gateway.refresh_metrics)
    return app


async def _root(_request: web.Request) -> web.Response:
    """`GET /`: where things are, for a person trying the URL (not a bare 404)."""
    body = {
        "service": "Business Central gateway",
        "odata_v4": "/ODataV4/",
        "odata_v3": "/OData/",
        "health": "/health",
        "note": "OData needs HTTP Basic: a web service user name and its access key.",
    }
    return web.json_response(body)


def _metrics_allowed(request: web.Request) -> bool:
    principal = request.get(PRINCIPAL)
    return principal is not None and INTEGRATION_ADMIN in principal.user.roles
