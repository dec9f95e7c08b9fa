"""``SalesSimulator``: the facade tests use. It owns the organisation's identity and the
tunables, serves the token endpoint and the Web API on a loopback port, and hands each concern
to its module (store, documents, webhooks, webapi, auth, faults)."""

from __future__ import annotations

import copy
import json
import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from tests.support.dataverse_payloads import EntityReference
from tests.support.sales_simulator.auth import TOKEN_PATH, Tokens
from tests.support.sales_simulator.documents import Documents
from tests.support.sales_simulator.faults import Faults, ServiceProtection
from tests.support.sales_simulator.store import Rows, RowStore
from tests.support.sales_simulator.tables import TABLES
from tests.support.sales_simulator.values import coerce_python, reference
from tests.support.sales_simulator.webapi import API, WebApi, serialise
from tests.support.sales_simulator.webhooks import Delivery, Step, Webhook, Webhooks


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]

    @property
    def resource(self) -> str:
        """The path below ``/api/data/v9.2/`` (``salesorders(<id>)``), or the full path otherwise."""
        return self.path[len(API) :] if self.path.startswith(API) else self.path


class SalesSimulator:
    """Dataverse for this project's needs. ``await start()``, use, ``await close()``.

    Test-facing attributes: ``requests`` (LoggedRequest list), ``deliveries`` (Delivery list),
    ``token_requests`` (count), ``token_lifetime`` (s), ``default_page_size``, ``timeout_delay``,
    ``webhook_timeout``, ``state_change_message`` ("Update" or "SetState"), ``now`` (clock),
    ``deliver_api_changes`` (False: Web API writes change rows without running steps),
    ``products_created_active`` (False: a product created through the Web API is Draft, as in a
    Sales organisation that does not create products active), ``max_concurrent_requests`` (52:
    more Web API requests at once are answered 429) and ``peak_concurrent_requests`` (the most
    seen at once). ``default_uom_schedule_id`` / ``default_uom_id``: the unit group "Default Unit"
    and its base unit "Primary Unit", as every organisation has them.
    """

    def __init__(
        self,
        org_host: str = "contoso.crm4.dynamics.com",
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        token_lifetime: int = 3599,
        default_page_size: int = 5000,
        base_currency: str = "EUR",
    ) -> None:
        self.org_host = org_host
        self.organization_name = org_host.split(".")[0]
        self.organization_id = str(uuid.uuid4())
        self.client_id = client_id or str(uuid.uuid4())
        self.client_secret = client_secret or secrets.token_urlsafe(30)
        self.token_lifetime = token_lifetime
        self.default_page_size = default_page_size
        self.timeout_delay = 2.0
        self.webhook_timeout = 60.0
        self.state_change_message = "Update"
        # Sales runs steps for every caller, the integration user's Web API writes included.
        self.deliver_api_changes = True
        self.products_created_active = False
        self.now = _now
        self.user_id = str(uuid.uuid4())  # the salesperson who clicks in Sales
        self.integration_user_id = str(uuid.uuid4())  # the application user behind the client id
        self.requests: list[LoggedRequest] = []
        self.store = RowStore(self)
        self.hooks = Webhooks(self)
        self.tokens = Tokens(self)
        self.faults = Faults(self)
        self.protection = ServiceProtection(self)
        self.documents = Documents(self)
        self.web_api = WebApi(self)
        self._runner: web.AppRunner | None = None
        self._port = 0
        self.add_user("Nancy Davolio", "nancy@contoso.example", systemuserid=self.user_id)
        # An application user: not licensed, so BC's SALESPEOPLE filter leaves it out.
        self.add_user("# Business Central", "", systemuserid=self.integration_user_id, islicensed=False)
        self.base_currency_id = self.add_currency(base_currency)
        self.default_uom_schedule_id, self.default_uom_id = self.add_unit_group("Default Unit", "Primary Unit")

    # -- lifecycle ---------------------------------------------------------------------------

    async def _who_am_i(self, request: web.Request) -> web.StreamResponse:
        """The WhoAmI function: the application user behind the token, in this organisation."""
        if not self.tokens.authorised(request):
            return self.tokens.unauthorised()
        return web.json_response(
            {
                "@odata.context": f"{self.api_url}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
                "BusinessUnitId": str(uuid.uuid5(uuid.NAMESPACE_URL, self.org_host)),
                "UserId": self.integration_user_id,
                "OrganizationId": self.organization_id,
            }
        )

    async def start(self, port: int = 0) -> SalesSimulator:
        """Serve on 127.0.0.1 (``port`` 0: any free port) and start delivering."""
        app = web.Application(middlewares=[self._log_mw, self.protection.middleware, self.faults.middleware])
        app.router.add_post(TOKEN_PATH, self.tokens.token_endpoint)
        app.router.add_get(API + "WhoAmI", self._who_am_i)
        app.router.add_route("*", API + "{tail:.*}", self.web_api.handle)
        # handler_cancellation: a "timeout" fault's sleeping handler ends when the client gives up.
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self._port = self._runner.addresses[0][1]
        self.hooks.start()
        return self

    async def close(self) -> None:
        """Stop serving and delivering (safe to call twice)."""
        runner, self._runner = self._runner, None
        await self.hooks.close()
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> SalesSimulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def org_url(self) -> str:
        """Where the organisation answers (loopback stands in for https://<org_host>)."""
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_url(self) -> str:
        return self.org_url + API

    @property
    def token_url(self) -> str:
        return self.org_url + TOKEN_PATH

    # -- what tests read -----------------------------------------------------------------------

    @property
    def deliveries(self) -> list[Delivery]:
        return self.hooks.deliveries

    @property
    def webhooks(self) -> list[Webhook]:
        return self.hooks.webhooks

    @property
    def token_requests(self) -> int:
        return self.tokens.requests

    @property
    def _rows(self) -> Rows:
        """The stored rows themselves (a test may plant a value Sales' rules would refuse)."""
        return self.store.rows

    # -- test controls -----------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        path_regex: str,
        count: int = 1,
        status: int | str = 503,
        *,
        retry_after: str | float | None = None,
        delay: float | None = None,
    ) -> None:
        """Answer the next ``count`` matching requests with a fault instead of the real answer.

        ``status``: an HTTP status (429 and 503 carry a Dataverse error body; ``retry_after`` adds
        the Retry-After header, seconds or an HTTP date), ``"timeout"`` (wait ``delay``, default
        ``timeout_delay``, before answering normally: longer than the client's timeout) or
        ``"disconnect"`` (close the connection without an answer) or ``"hold"`` (keep the request
        until ``release_held_requests``: requests in flight at once, without timing). ``path_regex`` is searched in
        the URL path; ``method`` "*" matches any method.
        """
        self.faults.add(method, path_regex, count, status, retry_after, delay)

    @property
    def max_concurrent_requests(self) -> int:
        return self.protection.max_concurrent

    @max_concurrent_requests.setter
    def max_concurrent_requests(self, value: int) -> None:
        self.protection.max_concurrent = value

    @property
    def peak_concurrent_requests(self) -> int:
        return self.protection.peak

    def limit_requests(self, count: int, window: float = 300.0, retry_after: float | None = None) -> None:
        """Service protection by number of requests: after ``count`` Web API requests within
        ``window`` seconds, Sales answers 429 (0x80072322) with ``Retry-After`` (the seconds until
        the window has room again, or ``retry_after``) — as Dataverse's 6000 per 300 s, smaller.
        ``count`` 0 switches the limit off."""
        self.protection.limit(count, window, retry_after)

    def release_held_requests(self) -> None:
        """Answer every request a "hold" fault keeps, and those it meets from now on."""
        self.faults.gate.set()

    def revoke_tokens(self) -> None:
        """Every issued token stops working (as after a key rotation): the next call gets 401."""
        self.tokens.revoke()

    def api_requests(self, method: str | None = None) -> list[LoggedRequest]:
        """Logged Web API requests (not token requests), optionally of one method."""
        return [r for r in self.requests if r.path.startswith(API) and (method is None or r.method == method)]

    def register_webhook(
        self,
        url: str,
        auth: tuple[Any, ...] = ("code", "secret"),
        mode: int = 1,
        steps: Iterable[Step | tuple[Any, ...]] | None = None,
    ) -> Webhook:
        """Register a webhook (serviceendpoint) and its steps.

        ``auth``: ("header", name, value) for HttpHeader, ("code", key) for WebhookKey,
        ("query", {name: value}) for HttpQueryString. ``mode``: 1 asynchronous, 0 synchronous.
        ``steps``: Step objects or (entity, message[, filtering_attributes]) tuples; by default
        Update of salesorder and quote filtered on statecode.
        """
        return self.hooks.register(url, auth, mode, steps)

    def set_mode(self, mode: int | str) -> None:
        """Switch every registered webhook to synchronous (0, "sync") or asynchronous (1, "async")."""
        self.hooks.set_mode(mode)

    def drop_next_delivery(self, count: int = 1) -> None:
        """The next ``count`` deliveries are lost: recorded as dropped, never sent."""
        self.hooks.drop += count

    def force_size_exceeded(self, count: int = 1) -> None:
        """Send the next ``count`` deliveries in the size-exceeded form (as if the body passed 256 KB)."""
        self.hooks.force_size_exceeded += count

    def hold_deliveries(self) -> None:
        """Keep asynchronous deliveries queued until ``release_deliveries`` (to reorder them)."""
        self.hooks.hold()

    def release_deliveries(self, reverse: bool = False) -> None:
        """Send the held asynchronous deliveries; ``reverse`` sends them newest first, since
        Sales does not promise creation order."""
        self.hooks.release(reverse)

    async def flush(self) -> None:
        """Wait until every queued asynchronous delivery has been attempted."""
        await self.hooks.flush()

    # -- data access for tests ---------------------------------------------------------------

    def row(self, entity_set: str, row_id: str) -> dict[str, Any]:
        """A copy of a row as the simulator keeps it (lookups as EntityReference, money as Decimal)."""
        return copy.deepcopy(self.store.rows[entity_set][row_id.lower()])

    def rows(self, entity_set: str) -> list[dict[str, Any]]:
        return [copy.deepcopy(r) for r in self.store.ordered(entity_set)]

    def as_json(self, entity_set: str, row_id: str) -> dict[str, Any]:
        """A row exactly as the Web API would answer it (with lookup annotations)."""
        return serialise(TABLES[entity_set], self.store.rows[entity_set][row_id.lower()], None, True)

    def insert(self, entity_set: str, values: Mapping[str, Any] | None = None, **columns: Any) -> str:
        """Add a row directly (no deliveries): master data for a test. Returns its id."""
        table = TABLES[entity_set]
        data = {**(values or {}), **columns}
        row_id = str(data.pop(table.key, None) or uuid.uuid4()).lower()
        self.store.put(entity_set, row_id, coerce_python(table, data))
        return row_id

    def add_currency(self, iso: str, name: str | None = None, **columns: Any) -> str:
        return self.insert(
            "transactioncurrencies", isocurrencycode=iso, currencyname=name or iso, statecode=0, statuscode=1, **columns
        )

    def add_unit_group(self, name: str, base_unit: str, **columns: Any) -> tuple[str, str]:
        """A unit group (uomschedule) with its base unit, as Sales makes them; (group id, unit id)."""
        group = self.insert("uomschedules", name=name, baseuomname=base_unit, statecode=0, statuscode=1, **columns)
        unit = self.insert(
            "uoms", name=base_unit, quantity=Decimal(1), isschedulebaseuom=True, uomscheduleid=group, baseuom=None
        )
        self.store.rows["uomschedules"][group]["baseuom"] = EntityReference("uom", unit)
        return group, unit

    def add_uom(self, name: str, group: str | None = None, quantity: Any = 1, **columns: Any) -> str:
        """A unit in a unit group (default: "Default Unit"), ``quantity`` base units."""
        group = group or self.default_uom_schedule_id
        base = self.store.rows["uomschedules"][group]["baseuom"]
        return self.insert(
            "uoms",
            name=name,
            quantity=Decimal(str(quantity)),
            isschedulebaseuom=False,
            uomscheduleid=group,
            baseuom=base.id if base is not None else None,
            **columns,
        )

    def add_price_list(self, name: str, currency: str | None = None, **columns: Any) -> str:
        """An active price list (pricelevel), in the base currency unless ``currency`` (an id)."""
        return self.insert(
            "pricelevels",
            name=name,
            transactioncurrencyid=currency or self.base_currency_id,
            statecode=0,
            statuscode=100001,
            **columns,
        )

    def add_account(
        self, name: str = "Fabrikam", accountnumber: str | None = None, customertypecode: int = 3, **columns: Any
    ) -> str:
        return self.insert(
            "accounts",
            name=name,
            accountnumber=accountnumber,
            customertypecode=customertypecode,
            statecode=0,
            statuscode=1,
            **columns,
        )

    def add_contact(self, fullname: str = "Nancy Anderson", parent: Any = None, **columns: Any) -> str:
        first, _, last = fullname.partition(" ")
        return self.insert(
            "contacts",
            fullname=fullname,
            firstname=first,
            lastname=last,
            parentcustomerid=reference(parent, ("account", "contact")) if parent else None,
            statecode=0,
            statuscode=1,
            **columns,
        )

    def add_user(self, fullname: str, email: str, **columns: Any) -> str:
        """A user of the organisation (systemuser), enabled and licensed unless told otherwise."""
        first, _, last = fullname.rpartition(" ")
        values = {"isdisabled": False, "islicensed": True, "isintegrationuser": False, **columns}
        return self.insert(
            "systemusers", fullname=fullname, firstname=first, lastname=last, internalemailaddress=email, **values
        )

    async def close_opportunity(self, opportunity_id: str, won: bool = True) -> None:
        """The salesperson closes an opportunity as Won (statuscode 3) or Lost (Canceled, 4), as
        WinOpportunity / LoseOpportunity do."""
        await self.documents.set_state("opportunities", opportunity_id, 1 if won else 2, 3 if won else 4)

    def add_product(
        self,
        productnumber: str,
        name: str | None = None,
        producttypecode: int = 1,
        statecode: int = 0,
        uom: str | None = None,
        **columns: Any,
    ) -> str:
        unit = (uom or self.default_uom_id).lower()
        group = self.store.rows["uoms"].get(unit, {}).get("uomscheduleid")
        columns.setdefault("defaultuomscheduleid", group)
        return self.insert(
            "products",
            productnumber=productnumber,
            name=name or productnumber,
            producttypecode=producttypecode,
            statecode=statecode,
            statuscode=TABLES["products"].states[statecode][0],
            defaultuomid=EntityReference("uom", unit),
            **columns,
        )

    # -- business actions (deliver what Sales would) -----------------------------------------

    async def create_order(
        self,
        customer: Any = None,
        lines: Iterable[Mapping[str, Any]] = (),
        notes: Iterable[Mapping[str, Any] | str] = (),
        **columns: Any,
    ) -> str:
        """A new Active (New) sales order with its lines and notes; delivers Create steps."""
        return await self.documents.create_order(customer, lines, notes, **columns)

    async def add_order_line(self, order_id: str, **line: Any) -> str:
        """A line added to an existing (Active) order."""
        return await self.documents.add_order_line(order_id, line)

    async def add_note(
        self, object_id: str, subject: str, notetext: str, entity: str = "salesorder", **columns: Any
    ) -> str:
        return await self.documents.add_note(object_id, subject, notetext, entity, **columns)

    async def submit_order(self, order_id: str, also_change: Mapping[str, Any] | None = None) -> None:
        """Submitted (statecode 1, statuscode 3, submitdate now). With ``also_change`` the other
        columns change in the same save: Sales then runs the Update steps twice."""
        await self.documents.submit_order(order_id, also_change)

    async def set_state(self, entity_set: str, row_id: str, statecode: int, statuscode: int | None = None) -> None:
        """A user changes a row's state (e.g. cancel or reopen an order)."""
        await self.documents.set_state(entity_set, row_id, statecode, statuscode)

    async def update(self, entity_set: str, row_id: str, **changes: Any) -> None:
        """A user edits columns (Dataverse's edit rules apply: SimulatorError when refused)."""
        await self.documents.update(entity_set, row_id, changes)

    async def create_quote(
        self,
        customer: Any = None,
        lines: Iterable[Mapping[str, Any]] = (),
        notes: Iterable[Mapping[str, Any] | str] = (),
        **columns: Any,
    ) -> str:
        """A new Draft quote (revision 0)."""
        return await self.documents.create_quote(customer, lines, notes, **columns)

    async def activate_quote(self, quote_id: str, statuscode: int = 2) -> None:
        await self.documents.activate_quote(quote_id, statuscode)

    async def revise_quote(self, quote_id: str) -> str:
        """Close the Active quote as Revised and create its next revision (Draft, lines copied)."""
        return await self.documents.revise_quote(quote_id)

    async def win_quote(self, quote_id: str, create_order: bool = True, submit_order: bool = True) -> str | None:
        """Won (statecode 2, statuscode 4); then, as the user would, the order made from it."""
        return await self.documents.win_quote(quote_id, create_order, submit_order)

    async def lose_quote(self, quote_id: str, statuscode: int = 5) -> None:
        """Closed as Lost (5) or Canceled (6)."""
        await self.documents.lose_quote(quote_id, statuscode)

    async def deliver_raw(
        self, body: bytes | str | Mapping[str, Any], headers: Mapping[str, str], webhook: Webhook | None = None
    ) -> Delivery:
        """Send exactly this body and these headers (plus the webhook's authentication) now,
        with Sales' retry rule, and record it like any delivery."""
        return await self.hooks.deliver_raw(body, headers, webhook)

    # -- the HTTP side -----------------------------------------------------------------------

    @web.middleware
    async def _log_mw(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body: Any = None
        if request.can_read_body and request.content_type == "application/json":
            raw = await request.read()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
        elif request.can_read_body and request.content_type.startswith("multipart/"):
            body = (await request.read()).decode("utf-8", "replace")  # a $batch, as text
        headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
        self.requests.append(LoggedRequest(request.method, request.path, dict(request.query), body, headers))
        return await handler(request)
