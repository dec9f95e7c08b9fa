"""``BcSimulator``: a simulated Business Central on a loopback port, and its Python control API.

    async with BcSimulator(seed_demo=True) as sim:
        headers = sim.auth_headers()
        url = f"{sim.base_url}/companies({sim.company_id})/items"

Everything the control API (``/_sim/...``) can do is a method here too, for in-process tests.
"""

from __future__ import annotations

import base64
import dataclasses
from collections import deque
from datetime import date
from decimal import Decimal
from typing import Any

from aiohttp import web

from . import masterdata
from .api import Api
from .app import LoggedRequest, make_app
from .auth import Auth
from .clock import SimClock
from .config import Identity, SimConfig
from .control import Control
from .demo import bulk_seed, seed_demo
from .faults import Fault, FaultKind, Faults
from .limits import Limiter
from .paging import shape
from .store import Company, Rec, Store
from .subscriptions import SubscriptionApi
from .views import API_SETS, schema_for
from .webhooks import Delivery, Notifier
from .webservices import PAGES, WebServices


class BcSimulator:
    def __init__(
        self,
        config: SimConfig | None = None,
        *,
        seed_demo: bool = False,
        clock: SimClock | None = None,
        **overrides: Any,
    ) -> None:
        self.config = dataclasses.replace(config or SimConfig(), **overrides) if overrides else (config or SimConfig())
        self.clock = clock or SimClock()
        self.store = Store(self.config, self.clock)
        self.auth = Auth(self.config, self.clock)
        self.limiter = Limiter(self.config, self.clock)
        self.faults = Faults()
        self.notifier = Notifier(self.config, self.clock)
        self.store.listeners.append(self.notifier.on_changes)
        self.api = Api(self.store, self.config)
        self.subscription_api = SubscriptionApi(self.store, self.config, self.notifier)
        self.webservices = WebServices(self.api)
        self.control = Control(self)
        self.request_log: deque[LoggedRequest] = deque(maxlen=self.config.request_log_size)
        # Unexpected exceptions inside handlers (answered 500); tests may assert this stays empty.
        self.errors: list[str] = []
        self._runner: web.AppRunner | None = None
        self.port = self.config.port
        if seed_demo:
            self.seed_demo()

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> BcSimulator:
        await self.notifier.start()
        self._runner = web.AppRunner(make_app(self), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self

    async def close(self) -> None:
        await self.notifier.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BcSimulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- addresses ----------------------------------------------------------------------------

    @property
    def server_url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    @property
    def service_prefix(self) -> str:
        c = self.config
        return f"/v2.0/{c.tenant_id}/{c.environment}" if c.deployment == "online" else f"/{c.server_instance}"

    @property
    def base_url(self) -> str:
        """The API v2.0 route root, e.g. http://127.0.0.1:PORT/v2.0/{tenant}/production/api/v2.0."""
        return f"{self.server_url}{self.service_prefix}/api/v2.0"

    @property
    def odata_url(self) -> str:
        return f"{self.server_url}{self.service_prefix}/ODataV4"

    @property
    def token_url(self) -> str:
        return f"{self.server_url}/{self.config.tenant_id}/oauth2/v2.0/token"

    @property
    def control_url(self) -> str:
        return f"{self.server_url}/_sim"

    # -- identities and tokens ----------------------------------------------------------------

    def identity(self, name: str = "DEMO") -> Identity:
        return next(i for i in self.config.identities if i.name == name)

    def add_identity(self, identity: Identity) -> Identity:
        self.config.identities.append(identity)
        return identity

    def token(self, name: str = "DEMO", lifetime: float | None = None) -> str:
        return self.auth.issue(self.identity(name), lifetime)

    def auth_headers(self, name: str = "DEMO") -> dict[str, str]:
        """Credentials for the configured mode: a fresh Bearer token, or Basic with the access key."""
        identity = self.identity(name)
        if self.config.effective_auth_mode == "basic":
            raw = f"{identity.user_name}:{identity.access_key}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
        return {"Authorization": f"Bearer {self.token(name)}"}

    # -- data ---------------------------------------------------------------------------------

    def reset(self, demo: bool = False) -> None:
        self.store.clear()
        self.notifier.subscriptions.clear()
        self.notifier.deliveries.clear()
        self.faults.clear()
        self.request_log.clear()
        self.limiter.reset_stats()
        if demo:
            self.seed_demo()

    def seed_demo(self, name: str = "CRONUS", display_name: str = "CRONUS USA, Inc.") -> Company:
        return seed_demo(self.store, name, display_name)

    def add_company(self, name: str, display_name: str = "") -> Company:
        return self.store.add_company(name, display_name)

    def bulk_seed(self, company: str | None = None, items: int = 100_000, ledger_entries: int = 1_000_000) -> None:
        if ledger_entries and not items:
            raise ValueError("ledger entries need items")
        bulk_seed(self.store, self.company(company), items, ledger_entries)

    def company(self, name: str | None = None) -> Company:
        if name is None:
            if not self.store.by_id:
                raise LookupError("no company: seed the demo or add one")
            return next(iter(self.store.by_id.values()))
        found = self.store.company(name)
        if found is None:
            raise LookupError(f"no company {name!r}")
        return found

    @property
    def company_id(self) -> str:
        return self.company().id

    def records(self, set_name: str, company: str | None = None) -> list[dict[str, Any]]:
        """Rows of an entity set as the API shows them (internal sets too, with their stored names)."""
        comp = self.company(company)
        table = comp.table(set_name)
        cols = list(schema_for(comp, table.defn).values())
        extra = ("_location", "_variant", "_remaining", "_open", "_salesBlocked")
        out = []
        for row in table.scan():
            shaped = shape(row, cols)
            shaped.update({k: v for k, v in row.items() if k in extra})
            out.append(shaped)
        return out

    def get(self, set_name: str, key: str, company: str | None = None) -> Rec | None:
        """A stored row by id or by its number/code."""
        table = self.company(company).table(set_name)
        return table.get(key) or table.by_key(key.upper())

    def post_stock(
        self,
        item_no: str,
        quantity: Decimal | int | str,
        location: str = "",
        variant: str = "",
        company: str | None = None,
        entry_type: str | None = None,
        posting_date: date | None = None,
        document_no: str = "",
    ) -> Rec:
        """Post an item ledger entry (a purchase by default, a negative adjustment when negative)."""
        qty = Decimal(str(quantity))
        kind = entry_type or ("Purchase" if qty > 0 else "Negative Adjmt.")
        return masterdata.post_entry(
            self.company(company),
            item_no=item_no,
            quantity=qty,
            entry_type=kind,
            posting_date=posting_date,
            document_no=document_no or f"SIM{self.company(company).next_entry_no:06d}",
            document_type="Purchase Receipt" if kind == "Purchase" else " ",
            location=location,
            variant=variant,
            source_type="Vendor" if kind == "Purchase" else " ",
            source_no="10000" if kind == "Purchase" else "",
        )

    def change(self, set_name: str, key: str, company: str | None = None, **changes: Any) -> Rec:
        """Change a record as a BC user would in the client (events fire, no API rules)."""
        comp = self.company(company)
        rec = self.get(set_name, key, company)
        if rec is None:
            raise LookupError(f"no {set_name} {key!r}")
        if "salesBlocked" in changes:
            changes["_salesBlocked"] = bool(changes.pop("salesBlocked"))
        comp.table(set_name).update(rec, changes)
        return rec

    def block_item(self, number: str, blocked: bool = True, company: str | None = None) -> Rec:
        return self.change("items", number, company, blocked=blocked)

    def block_customer(self, number: str, blocked: str = "All", company: str | None = None) -> Rec:
        return self.change("customers", number, company, blocked=blocked)

    def add_record(self, set_name: str, company: str | None = None, **values: Any) -> Rec:
        """Insert a row directly (resources, item units of measure, accounts: what the API cannot create)."""
        comp = self.company(company)
        table = comp.table(set_name)
        rec = masterdata.blank(table.defn, comp)
        rec.update(values)
        table.insert(rec, notify=set_name in API_SETS)
        return rec

    # -- behaviour ----------------------------------------------------------------------------

    def configure(self, **settings: Any) -> None:
        for key, value in settings.items():
            if not hasattr(self.config, key):
                raise AttributeError(f"unknown setting {key!r}")
            setattr(self.config, key, set(value) if key == "published_pages" else value)

    def publish(self, page: str, published: bool = True) -> None:
        if page not in PAGES:
            raise KeyError(f"no web-service page {page!r}; known: {sorted(PAGES)}")
        (self.config.published_pages.add if published else self.config.published_pages.discard)(page)

    def add_fault(
        self,
        kind: FaultKind,
        path: str = "*",
        method: str = "*",
        times: int | None = 1,
        **options: Any,
    ) -> Fault:
        return self.faults.add(Fault(kind=kind, path=path, method=method, times=times, **options))

    def advance(self, seconds: float) -> None:
        """Time travel: merge windows, retries, expiry and token lifetimes fall due."""
        self.clock.advance(seconds)

    async def flush_webhooks(self) -> None:
        """Send every pending notification now, whatever the merge window."""
        self.notifier.expire()
        await self.notifier.deliver(force=True)

    @property
    def deliveries(self) -> list[Delivery]:
        return self.notifier.deliveries

    def stats(self) -> dict[str, Any]:
        return {"identities": self.limiter.snapshot(), "requests": len(self.request_log)}
