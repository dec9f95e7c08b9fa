"""A Dynamics 365 Sales (Dataverse) simulator on a real loopback port.

Sales itself cannot run here, so this speaks its documented wire format instead of stubbing it
(../shared/reference/dataverse.md): an OAuth 2.0 client-credentials token endpoint, the Web API
(``/api/data/v9.2/``) for the tables the integration reads and writes, and webhook deliveries of
``RemoteExecutionContext`` bodies with Sales' headers, authentication and retry rule.

Choices where Microsoft's documentation is silent (they are the simulator's, not Dataverse's):
- Lookup annotations (``_x_value@Microsoft.Dynamics.CRM.lookuplogicalname``) are sent only when
  ``Prefer: odata.include-annotations=...`` asks for them, as Dataverse does. FormattedValue
  annotations are not produced.
- ``requestdeliveryby``, ``lastbackofficesubmit``, ``effectivefrom`` and ``effectiveto`` are
  date-only ("YYYY-MM-DD"); ``submitdate``, ``createdon`` and ``modifiedon`` are datetimes ("...Z").
- Collections come back in insertion order; ``$skiptoken`` is keyset-like (rows after the last one
  sent), so rows changed between pages are neither skipped nor repeated.
- Error codes are Dataverse's where known (0x80040217 not found, 0x8006088a unknown set, 0x80072322
  throttled, 0x80060888 query syntax); the texts of refusals (editing a Submitted order) are ours.
- An Update that changes statecode/statuscode together with other columns is run as two Update
  operations (other columns first, then the state), each delivered on its own. A step's filtering
  attributes are matched against the columns of the whole request, so a step filtered on statecode
  fires for both halves (the double Update the brief describes).
- Changes made through the Web API (the integration user) also trigger deliveries, as they would
  in Sales; ``UserId`` in those contexts is ``integration_user_id``.
- A synchronous (Mode 0) step whose delivery fails rolls the change back: a helper raises
  DeliveryFailed, a Web API write answers 400 0x80040265.
"""

from __future__ import annotations

import asyncio
import copy
import json
import random
import re
import secrets
import string
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from tests.support.dataverse_payloads import EntityReference, Money, OptionSetValue, build_context

API = "/api/data/v9.2/"
TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
MAX_BODY = 256 * 1024
RETRIED_STATUSES = frozenset({502, 503, 504})
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class SimulatorError(Exception):
    """A helper was asked to do something Sales would not allow (e.g. submit a Submitted order)."""


class DeliveryFailed(SimulatorError):
    """A synchronous webhook failed, so Sales rolled the operation back ("Endpoint unavailable")."""


class _Refused(Exception):
    """Internal: a Web API request Dataverse refuses (status, code, message)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# ---------------------------------------------------------------------------------------------
# Tables


@dataclass(frozen=True)
class Table:
    logical_name: str
    entity_set: str
    columns: tuple[str, ...]
    lookups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    money: frozenset[str] = frozenset()
    decimals: frozenset[str] = frozenset()
    options: frozenset[str] = frozenset()
    dates: frozenset[str] = frozenset()
    datetimes: frozenset[str] = frozenset({"createdon", "modifiedon"})
    booleans: frozenset[str] = frozenset()
    integers: frozenset[str] = frozenset({"versionnumber"})
    read_only: frozenset[str] = frozenset({"createdon", "modifiedon", "versionnumber"})
    # statecode -> its statuscodes (the first is the default); only these pairs are accepted.
    states: Mapping[int, tuple[int, ...]] = field(default_factory=dict)
    # Rows can be edited only in this state (statecode/statuscode changes aside); None: always.
    editable_state: int | None = None

    @property
    def key(self) -> str:
        return self.logical_name + "id"

    def properties(self) -> set[str]:
        """The names a Web API client sees (and may $select / $filter on)."""
        return {self.key, *self.columns, *(f"_{name}_value" for name in self.lookups)}


_ADDRESS = tuple(
    f"{prefix}_{part}"
    for prefix in ("billto", "shipto")
    for part in (
        "line1",
        "line2",
        "line3",
        "city",
        "stateorprovince",
        "postalcode",
        "country",
        "name",
        "contactname",
        "telephone",
        "fax",
    )
)
_HEADER_MONEY = frozenset(
    {
        "discountamount",
        "freightamount",
        "totalamount",
        "totallineitemamount",
        "totalamountlessfreight",
        "totaldiscountamount",
        "totallineitemdiscountamount",
        "totaltax",
    }
)
_HEADER_OPTIONS = frozenset({"paymenttermscode", "shippingmethodcode", "freighttermscode", "statecode", "statuscode"})
_SYSTEM = ("createdon", "modifiedon", "versionnumber")
_HEADER_COMMON = (
    "name",
    "description",
    "requestdeliveryby",
    "discountpercentage",
    "willcall",
    "statecode",
    "statuscode",
    *_HEADER_MONEY,
    "paymenttermscode",
    "shippingmethodcode",
    "freighttermscode",
    *_ADDRESS,
    *_SYSTEM,
)
_LINE_MONEY = frozenset(
    {"priceperunit", "manualdiscountamount", "volumediscountamount", "baseamount", "extendedamount", "tax"}
)
_LINE_COLUMNS = (
    "productdescription",
    "isproductoverridden",
    "ispriceoverridden",
    "quantity",
    *sorted(_LINE_MONEY),
    "lineitemnumber",
    "sequencenumber",
    "description",
    "producttypecode",
    "shipto_line1",
    "shipto_city",
    "shipto_postalcode",
    "shipto_country",
    *_SYSTEM,
)
_LINE_TYPES: dict[str, Any] = {
    "money": _LINE_MONEY,
    "decimals": frozenset({"quantity"}),
    "options": frozenset({"producttypecode"}),
    "booleans": frozenset({"isproductoverridden", "ispriceoverridden"}),
    "integers": frozenset({"versionnumber", "lineitemnumber", "sequencenumber"}),
}

ORDER_STATES = {0: (1, 2, 690970000), 1: (3,), 2: (4,), 3: (100001, 100002), 4: (100003,)}
QUOTE_STATES = {0: (1,), 1: (2, 3), 2: (4,), 3: (5, 6, 7)}
STATE_LABELS = {
    "salesorder": {0: "Active", 1: "Submitted", 2: "Canceled", 3: "Fulfilled", 4: "Invoiced"},
    "quote": {0: "Draft", 1: "Active", 2: "Won", 3: "Closed"},
}
STATUS_LABELS = {
    "salesorder": {
        1: "New",
        2: "Pending",
        3: "In Progress",
        4: "No Money",
        100001: "Complete",
        100002: "Partial",
        100003: "Invoiced",
        690970000: "On hold",
    },
    "quote": {1: "In Progress", 2: "In Progress", 3: "Open", 4: "Won", 5: "Lost", 6: "Canceled", 7: "Revised"},
}

TABLES: dict[str, Table] = {
    t.entity_set: t
    for t in (
        Table(
            "account",
            "accounts",
            ("accountnumber", "name", "customertypecode", "telephone1", "statecode", "statuscode", *_SYSTEM),
            {"primarycontactid": ("contact",), "transactioncurrencyid": ("transactioncurrency",)},
            options=frozenset({"customertypecode", "statecode", "statuscode"}),
            states={0: (1,), 1: (2,)},
        ),
        Table(
            "contact",
            "contacts",
            ("firstname", "lastname", "fullname", "emailaddress1", "statecode", "statuscode", *_SYSTEM),
            {"parentcustomerid": ("account", "contact")},
            options=frozenset({"statecode", "statuscode"}),
            states={0: (1,), 1: (2,)},
        ),
        Table(
            "product",
            "products",
            (
                "productnumber",
                "name",
                "description",
                "producttypecode",
                "quantityonhand",
                "statecode",
                "statuscode",
                *_SYSTEM,
            ),
            {"defaultuomid": ("uom",), "transactioncurrencyid": ("transactioncurrency",)},
            decimals=frozenset({"quantityonhand"}),
            options=frozenset({"producttypecode", "statecode", "statuscode"}),
            states={0: (1,), 1: (2,), 2: (0,), 3: (3,)},
        ),
        Table("uom", "uoms", ("name", "quantity", *_SYSTEM), decimals=frozenset({"quantity"})),
        Table(
            "transactioncurrency",
            "transactioncurrencies",
            ("isocurrencycode", "currencyname", "currencysymbol", "exchangerate", "statecode", "statuscode", *_SYSTEM),
            decimals=frozenset({"exchangerate"}),
            options=frozenset({"statecode", "statuscode"}),
            states={0: (1,), 1: (2,)},
        ),
        Table(
            "salesorder",
            "salesorders",
            ("ordernumber", "submitdate", "lastbackofficesubmit", *_HEADER_COMMON),
            {
                "customerid": ("account", "contact"),
                "transactioncurrencyid": ("transactioncurrency",),
                "pricelevelid": ("pricelevel",),
                "quoteid": ("quote",),
                "opportunityid": ("opportunity",),
            },
            money=_HEADER_MONEY,
            decimals=frozenset({"discountpercentage"}),
            options=_HEADER_OPTIONS,
            dates=frozenset({"requestdeliveryby", "lastbackofficesubmit"}),
            datetimes=frozenset({"submitdate", "createdon", "modifiedon"}),
            booleans=frozenset({"willcall"}),
            read_only=frozenset({"ordernumber", *_SYSTEM}),
            states=ORDER_STATES,
            editable_state=0,
        ),
        Table(
            "salesorderdetail",
            "salesorderdetails",
            _LINE_COLUMNS,
            {
                "salesorderid": ("salesorder",),
                "productid": ("product",),
                "uomid": ("uom",),
                "quotedetailid": ("quotedetail",),
                "transactioncurrencyid": ("transactioncurrency",),
            },
            **_LINE_TYPES,
        ),
        Table(
            "quote",
            "quotes",
            ("quotenumber", "revisionnumber", "effectivefrom", "effectiveto", *_HEADER_COMMON),
            {
                "customerid": ("account", "contact"),
                "transactioncurrencyid": ("transactioncurrency",),
                "pricelevelid": ("pricelevel",),
                "opportunityid": ("opportunity",),
            },
            money=_HEADER_MONEY,
            decimals=frozenset({"discountpercentage"}),
            options=_HEADER_OPTIONS,
            dates=frozenset({"requestdeliveryby", "effectivefrom", "effectiveto"}),
            booleans=frozenset({"willcall"}),
            integers=frozenset({"revisionnumber", "versionnumber"}),
            read_only=frozenset({"quotenumber", "revisionnumber", *_SYSTEM}),
            states=QUOTE_STATES,
            editable_state=0,
        ),
        Table(
            "quotedetail",
            "quotedetails",
            _LINE_COLUMNS,
            {
                "quoteid": ("quote",),
                "productid": ("product",),
                "uomid": ("uom",),
                "transactioncurrencyid": ("transactioncurrency",),
            },
            **_LINE_TYPES,
        ),
        Table(
            "annotation",
            "annotations",
            ("subject", "notetext", "objecttypecode", "isdocument", "filename", "filesize", "mimetype", *_SYSTEM),
            {"objectid": ("salesorder", "quote", "account", "contact")},
            booleans=frozenset({"isdocument"}),
            integers=frozenset({"filesize", "versionnumber"}),
        ),
    )
}
BY_LOGICAL = {t.logical_name: t for t in TABLES.values()}
# Sets the simulator does not keep rows for, but a lookup may point into (pricelevel, opportunity).
OTHER_SETS = {"pricelevels": "pricelevel", "opportunities": "opportunity"}
_LINE_SETS = {"salesorders": ("salesorderdetails", "salesorderid"), "quotes": ("quotedetails", "quoteid")}
SET_OF = {**{t.logical_name: t.entity_set for t in TABLES.values()}, **{v: k for k, v in OTHER_SETS.items()}}


# ---------------------------------------------------------------------------------------------
# Webhook registrations and deliveries


@dataclass(frozen=True)
class Step:
    """A registered step: a message on a table, optionally filtered on columns, with images."""

    entity: str
    message: str
    filtering_attributes: tuple[str, ...] = ()
    images: bool = True


@dataclass
class Webhook:
    url: str
    auth: tuple[Any, ...]
    mode: int
    steps: list[Step]

    def target_url(self) -> str:
        url = URL(self.url)
        if self.auth[0] == "code":
            url = url.update_query(code=self.auth[1])
        elif self.auth[0] == "query":
            url = url.update_query(dict(self.auth[1]))
        return str(url)

    def auth_headers(self) -> dict[str, str]:
        return {self.auth[1]: self.auth[2]} if self.auth[0] == "header" else {}


@dataclass
class Delivery:
    """One System Job of a webhook: the request Sales sent and every status it got back.

    ``statuses`` holds one code per HTTP attempt (0 = no answer: connection failed or timed out).
    """

    webhook: Webhook
    entity: str
    message: str
    row_id: str
    mode: int
    headers: dict[str, str]
    body: bytes
    statuses: list[int] = field(default_factory=list)
    dropped: bool = False
    size_exceeded: bool = False

    @property
    def succeeded(self) -> bool:
        return bool(self.statuses) and 200 <= self.statuses[-1] < 300

    @property
    def failed(self) -> bool:
        """A failed System Job (statuscode 31 in Sales): sent, and the last answer was not 2xx."""
        return not self.dropped and not self.succeeded

    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


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


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    remaining: int
    status: int | str
    retry_after: str | None
    delay: float


# ---------------------------------------------------------------------------------------------
# The simulator


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = json.dumps({"error": {"code": code, "message": message}})
    return web.Response(status=status, text=body, content_type="application/json", headers=headers)


def _json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise TypeError("boolean")
    result = Decimal(str(value)) if isinstance(value, int | float | str | Decimal) else None
    if result is None or not result.is_finite():
        raise TypeError("not a number")
    return result


class SalesSimulator:
    """Dataverse for this project's needs. ``await start()``, use, ``await close()``.

    Test-facing attributes: ``requests`` (LoggedRequest list), ``deliveries`` (Delivery list),
    ``token_requests`` (count), ``token_lifetime`` (s), ``default_page_size``, ``timeout_delay``,
    ``webhook_timeout``, ``state_change_message`` ("Update" or "SetState"), ``now`` (clock),
    ``deliver_api_changes`` (False: Web API writes change rows without running steps).
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
        self.now = _now
        self.user_id = str(uuid.uuid4())  # the salesperson who clicks in Sales
        self.integration_user_id = str(uuid.uuid4())  # the application user behind the client id
        self.token_requests = 0
        self.requests: list[LoggedRequest] = []
        self.deliveries: list[Delivery] = []
        self.webhooks: list[Webhook] = []
        self._tokens: dict[str, float] = {}
        self._faults: list[Fault] = []
        self._rows: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in TABLES}
        self._seq = 0
        self._order_counter = 1000
        self._quote_counter = 1000
        self._drop = 0
        self._force_size_exceeded = 0
        self._held: list[Delivery] | None = None
        self._queue: asyncio.Queue[Delivery] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._port = 0
        self.base_currency_id = self.add_currency(base_currency)
        self.default_uom_id = self.add_uom("Primary Unit")

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> SalesSimulator:
        app = web.Application(middlewares=[self._log_mw, self._fault_mw])
        app.router.add_post(f"/{TENANT_ID}/oauth2/v2.0/token", self._token)
        app.router.add_get(API + "WhoAmI", self._who_am_i)
        app.router.add_route("*", API + "{tail:.*}", self._api)
        # handler_cancellation: a "timeout" fault's sleeping handler ends when the client gives up.
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]
        self._session = aiohttp.ClientSession()
        self._queue = asyncio.Queue()
        self._worker = asyncio.create_task(self._async_jobs())
        return self

    async def close(self) -> None:
        """Stop serving and delivering (safe to call twice)."""
        worker, session, runner = self._worker, self._session, self._runner
        self._worker = self._session = self._runner = None
        if worker is not None:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)
        if session is not None:
            await session.close()
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
        return f"{self.org_url}/{TENANT_ID}/oauth2/v2.0/token"

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
        ``"disconnect"`` (close the connection without an answer). ``path_regex`` is searched in
        the URL path; ``method`` "*" matches any method.
        """
        self._faults.append(
            Fault(
                method.upper(),
                re.compile(path_regex),
                count,
                status,
                None if retry_after is None else str(retry_after),
                self.timeout_delay if delay is None else delay,
            )
        )

    def revoke_tokens(self) -> None:
        """Every issued token stops working (as after a key rotation): the next call gets 401."""
        self._tokens.clear()

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
        if auth[0] not in ("header", "code", "query"):
            raise ValueError(f"unknown webhook authentication {auth[0]!r}")
        if steps is None:
            steps = [Step("salesorder", "Update", ("statecode",)), Step("quote", "Update", ("statecode",))]
        parsed = [s if isinstance(s, Step) else Step(s[0], s[1], tuple(s[2]) if len(s) > 2 else ()) for s in steps]
        hook = Webhook(url, tuple(auth), mode, parsed)
        self.webhooks.append(hook)
        return hook

    def set_mode(self, mode: int | str) -> None:
        """Switch every registered webhook to synchronous (0, "sync") or asynchronous (1, "async")."""
        value = {"sync": 0, "async": 1}.get(mode, mode) if isinstance(mode, str) else mode
        if value not in (0, 1):
            raise ValueError(f"mode must be sync/0 or async/1, not {mode!r}")
        for hook in self.webhooks:
            hook.mode = value

    def drop_next_delivery(self, count: int = 1) -> None:
        """The next ``count`` deliveries are lost: recorded as dropped, never sent."""
        self._drop += count

    def force_size_exceeded(self, count: int = 1) -> None:
        """Send the next ``count`` deliveries in the size-exceeded form (as if the body passed 256 KB)."""
        self._force_size_exceeded += count

    def hold_deliveries(self) -> None:
        """Keep asynchronous deliveries queued until ``release_deliveries`` (to reorder them)."""
        if self._held is None:
            self._held = []

    def release_deliveries(self, reverse: bool = False) -> None:
        """Send the held asynchronous deliveries; ``reverse`` sends them newest first, since
        Sales does not promise creation order."""
        held, self._held = self._held or [], None
        for delivery in reversed(held) if reverse else held:
            self._enqueue(delivery)

    async def flush(self) -> None:
        """Wait until every queued asynchronous delivery has been attempted."""
        if self._queue is not None:
            await self._queue.join()

    # -- data access for tests ---------------------------------------------------------------

    def row(self, entity_set: str, row_id: str) -> dict[str, Any]:
        """A copy of a row as the simulator keeps it (lookups as EntityReference, money as Decimal)."""
        return copy.deepcopy(self._rows[entity_set][row_id.lower()])

    def rows(self, entity_set: str) -> list[dict[str, Any]]:
        return [copy.deepcopy(r) for r in self._ordered(entity_set)]

    def as_json(self, entity_set: str, row_id: str) -> dict[str, Any]:
        """A row exactly as the Web API would answer it (with lookup annotations)."""
        table = TABLES[entity_set]
        return self._serialise(table, self._rows[entity_set][row_id.lower()], None, True)

    def insert(self, entity_set: str, values: Mapping[str, Any] | None = None, **columns: Any) -> str:
        """Add a row directly (no deliveries): master data for a test. Returns its id."""
        table = TABLES[entity_set]
        data = {**(values or {}), **columns}
        row_id = str(data.pop(table.key, None) or uuid.uuid4()).lower()
        row = self._new_row(table, row_id)
        row.update(self._coerce_python(table, data))
        self._rows[entity_set][row_id] = row
        return row_id

    def add_currency(self, iso: str, name: str | None = None, **columns: Any) -> str:
        return self.insert(
            "transactioncurrencies", isocurrencycode=iso, currencyname=name or iso, statecode=0, statuscode=1, **columns
        )

    def add_uom(self, name: str, **columns: Any) -> str:
        return self.insert("uoms", name=name, quantity=Decimal(1), **columns)

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
            parentcustomerid=self._reference(parent, ("account", "contact")) if parent else None,
            statecode=0,
            statuscode=1,
            **columns,
        )

    def add_product(
        self,
        productnumber: str,
        name: str | None = None,
        producttypecode: int = 1,
        statecode: int = 0,
        uom: str | None = None,
        **columns: Any,
    ) -> str:
        return self.insert(
            "products",
            productnumber=productnumber,
            name=name or productnumber,
            producttypecode=producttypecode,
            statecode=statecode,
            statuscode=TABLES["products"].states[statecode][0],
            defaultuomid=EntityReference("uom", uom or self.default_uom_id),
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
        self._order_counter += 1
        values: dict[str, Any] = {
            "name": f"Order {self._order_counter}",
            "ordernumber": f"ORD-{self._order_counter:05d}-{self._suffix()}",
            "statecode": 0,
            "statuscode": 1,
            "transactioncurrencyid": EntityReference("transactioncurrency", self.base_currency_id),
            **columns,
        }
        if customer is not None:
            values["customerid"] = self._reference(customer, ("account", "contact"))
        return await self._create_document("salesorders", values, lines, notes)

    async def add_order_line(self, order_id: str, **line: Any) -> str:
        """A line added to an existing (Active) order."""
        order = self._rows["salesorders"][order_id.lower()]
        if order["statecode"] != 0:
            raise SimulatorError("only Active orders can be edited")
        number = len(self._lines("salesorderdetails", "salesorderid", order_id)) + 1
        line_id = await self._create_line("salesorderdetails", "salesorderid", order_id, number, line)
        self._recalculate("salesorders", order_id)
        return line_id

    async def add_note(
        self, object_id: str, subject: str, notetext: str, entity: str = "salesorder", **columns: Any
    ) -> str:
        return await self._create(
            "annotations",
            {
                "subject": subject,
                "notetext": notetext,
                "objectid": EntityReference(entity, object_id.lower()),
                "objecttypecode": entity,
                "isdocument": False,
                **columns,
            },
        )

    async def submit_order(self, order_id: str, also_change: Mapping[str, Any] | None = None) -> None:
        """Submitted (statecode 1, statuscode 3, submitdate now). With ``also_change`` the other
        columns change in the same save: Sales then runs the Update steps twice."""
        order = self._rows["salesorders"][order_id.lower()]
        if order["statecode"] != 0:
            raise SimulatorError(f"order {order_id} is not Active (statecode {order['statecode']})")
        table = TABLES["salesorders"]
        await self._update(
            table,
            order_id,
            self._coerce_python(table, dict(also_change or {})),
            state={"statecode": 1, "statuscode": 3, "submitdate": self.now()},
            user_id=self.user_id,
        )

    async def set_state(self, entity_set: str, row_id: str, statecode: int, statuscode: int | None = None) -> None:
        """A user changes a row's state (e.g. cancel or reopen an order)."""
        table = TABLES[entity_set]
        status = statuscode if statuscode is not None else table.states[statecode][0]
        try:
            await self._update(
                table, row_id, {}, state={"statecode": statecode, "statuscode": status}, user_id=self.user_id
            )
        except _Refused as refused:
            raise SimulatorError(refused.message) from None

    async def update(self, entity_set: str, row_id: str, **changes: Any) -> None:
        """A user edits columns (Dataverse's edit rules apply: SimulatorError when refused)."""
        table = TABLES[entity_set]
        values = self._coerce_python(table, changes)
        state = {k: values.pop(k) for k in ("statecode", "statuscode") if k in values}
        try:
            await self._update(table, row_id, values, state=state, user_id=self.user_id)
        except _Refused as refused:
            raise SimulatorError(refused.message) from None

    async def create_quote(
        self,
        customer: Any = None,
        lines: Iterable[Mapping[str, Any]] = (),
        notes: Iterable[Mapping[str, Any] | str] = (),
        **columns: Any,
    ) -> str:
        """A new Draft quote (revision 0)."""
        self._quote_counter += 1
        values: dict[str, Any] = {
            "name": f"Quote {self._quote_counter}",
            "quotenumber": f"QUO-{self._quote_counter:05d}-{self._suffix()}",
            "revisionnumber": 0,
            "statecode": 0,
            "statuscode": 1,
            "transactioncurrencyid": EntityReference("transactioncurrency", self.base_currency_id),
            **columns,
        }
        if customer is not None:
            values["customerid"] = self._reference(customer, ("account", "contact"))
        return await self._create_document("quotes", values, lines, notes)

    async def activate_quote(self, quote_id: str, statuscode: int = 2) -> None:
        self._require_quote(quote_id, 0, "activated")
        await self.set_state("quotes", quote_id, 1, statuscode)

    async def revise_quote(self, quote_id: str) -> str:
        """Close the Active quote as Revised and create its next revision (Draft, lines copied)."""
        old = self._require_quote(quote_id, 1, "revised")
        await self.set_state("quotes", quote_id, 3, 7)
        skip = {"quoteid", "statecode", "statuscode", "createdon", "modifiedon", "versionnumber"}
        values = {k: v for k, v in old.items() if k not in skip and not k.startswith("_")}
        values.update(revisionnumber=old["revisionnumber"] + 1, statecode=0, statuscode=1)
        lines = [self._line_copy(line) for line in self._lines("quotedetails", "quoteid", quote_id)]
        return await self._create_document("quotes", values, lines, ())

    async def win_quote(self, quote_id: str, create_order: bool = True, submit_order: bool = True) -> str | None:
        """Won (statecode 2, statuscode 4); then, as the user would, the order made from it."""
        quote = self._require_quote(quote_id, 1, "won")
        await self.set_state("quotes", quote_id, 2, 4)
        if not create_order:
            return None
        copied = {
            k: v
            for k, v in quote.items()
            if k in TABLES["salesorders"].columns or k in TABLES["salesorders"].lookups
            if k not in ("quoteid", "statecode", "statuscode", "createdon", "modifiedon", "versionnumber", "name")
        }
        lines = []
        for line in self._lines("quotedetails", "quoteid", quote_id):
            copy_ = self._line_copy(line)
            copy_["quotedetailid"] = EntityReference("quotedetail", line["quotedetailid"])
            lines.append(copy_)
        order_id = await self.create_order(
            None, lines, (), **copied, quoteid=EntityReference("quote", quote_id.lower()), name=quote["name"]
        )
        if submit_order:
            await self.submit_order(order_id)
        return order_id

    async def lose_quote(self, quote_id: str, statuscode: int = 5) -> None:
        """Closed as Lost (5) or Canceled (6)."""
        self._require_quote(quote_id, 1, "closed")
        await self.set_state("quotes", quote_id, 3, statuscode)

    async def deliver_raw(
        self, body: bytes | str | Mapping[str, Any], headers: Mapping[str, str], webhook: Webhook | None = None
    ) -> Delivery:
        """Send exactly this body and these headers (plus the webhook's authentication) now,
        with Sales' retry rule, and record it like any delivery."""
        hook = webhook or self.webhooks[0]
        raw = json.dumps(body).encode() if isinstance(body, Mapping) else body
        data = raw.encode() if isinstance(raw, str) else raw
        delivery = Delivery(
            hook,
            headers.get("x-ms-dynamics-entity-name", ""),
            headers.get("x-ms-dynamics-request-name", ""),
            "",
            hook.mode,
            dict(headers),
            data,
        )
        self.deliveries.append(delivery)
        await self._send(delivery)
        return delivery

    # -- internals: rows ---------------------------------------------------------------------

    def _suffix(self) -> str:
        return "".join(random.choices(string.ascii_uppercase + string.digits, k=6))

    def _new_row(self, table: Table, row_id: str) -> dict[str, Any]:
        self._seq += 1
        row: dict[str, Any] = dict.fromkeys((*table.columns, *table.lookups))
        now = self.now()
        row.update({table.key: row_id, "createdon": now, "modifiedon": now, "versionnumber": 1, "_seq": self._seq})
        if "statecode" in table.columns and table.states:
            row["statecode"] = 0
            row["statuscode"] = table.states[0][0]
        return row

    def _ordered(self, entity_set: str) -> list[dict[str, Any]]:
        return sorted(self._rows[entity_set].values(), key=lambda r: r["_seq"])

    def _lines(self, entity_set: str, parent_column: str, parent_id: str) -> list[dict[str, Any]]:
        parent_id = parent_id.lower()
        rows = [r for r in self._ordered(entity_set) if r[parent_column] and r[parent_column].id == parent_id]
        return sorted(rows, key=lambda r: r["sequencenumber"] or 0)

    @staticmethod
    def _line_copy(line: Mapping[str, Any]) -> dict[str, Any]:
        keep = {
            "productid",
            "uomid",
            "productdescription",
            "quantity",
            "priceperunit",
            "manualdiscountamount",
            "volumediscountamount",
            "tax",
            "description",
            "ispriceoverridden",
        }
        result = {k: line[k] for k in keep if line.get(k) is not None}
        result["product"] = result.pop("productid", None)
        return result

    def _require_quote(self, quote_id: str, state: int, action: str) -> dict[str, Any]:
        quote = self._rows["quotes"][quote_id.lower()]
        if quote["statecode"] != state:
            label = STATE_LABELS["quote"][state]
            raise SimulatorError(f"only a {label} quote can be {action} (quote is statecode {quote['statecode']})")
        return quote

    def _reference(self, value: Any, targets: tuple[str, ...]) -> EntityReference:
        if isinstance(value, EntityReference):
            return EntityReference(value.logical_name, value.id.lower())
        if isinstance(value, tuple):
            return EntityReference(value[0], str(value[1]).lower())
        if isinstance(value, str) and len(targets) == 1:
            return EntityReference(targets[0], value.lower())
        raise TypeError(f"a lookup to {'/'.join(targets)} needs (logical name, id) or an EntityReference")

    def _coerce_python(self, table: Table, values: Mapping[str, Any]) -> dict[str, Any]:
        """Helper input (Python values) into the stored form; unknown columns are a test bug."""
        result: dict[str, Any] = {}
        for name, value in values.items():
            if name in table.lookups:
                result[name] = None if value is None else self._reference(value, table.lookups[name])
            elif name in table.columns:
                if value is not None and (name in table.money or name in table.decimals):
                    value = _to_decimal(value)
                elif isinstance(value, OptionSetValue):
                    value = value.value
                result[name] = value
            else:
                raise KeyError(f"{table.logical_name} has no column {name!r}")
        return result

    async def _create_document(
        self,
        entity_set: str,
        values: dict[str, Any],
        lines: Iterable[Mapping[str, Any]],
        notes: Iterable[Mapping[str, Any] | str],
    ) -> str:
        table = TABLES[entity_set]
        # One snapshot for the document: a failed synchronous step rolls back lines and notes too.
        snapshot = copy.deepcopy(self._rows)
        row_id = await self._create(entity_set, self._coerce_python(table, values), snapshot=snapshot)
        line_set, parent = _LINE_SETS[entity_set]
        for number, line in enumerate(lines, start=1):
            await self._create_line(line_set, parent, row_id, number, line, snapshot=snapshot)
        for note in notes:
            fields = {"notetext": note} if isinstance(note, str) else dict(note)
            await self._create(
                "annotations",
                {
                    "subject": fields.pop("subject", None),
                    "notetext": fields.pop("notetext", None),
                    "objectid": EntityReference(table.logical_name, row_id),
                    "objecttypecode": table.logical_name,
                    "isdocument": fields.pop("isdocument", False),
                    **fields,
                },
                snapshot=snapshot,
            )
        self._recalculate(entity_set, row_id)
        return row_id

    async def _create_line(
        self,
        entity_set: str,
        parent_column: str,
        parent_id: str,
        number: int,
        line: Mapping[str, Any],
        snapshot: dict[str, Any] | None = None,
    ) -> str:
        table = TABLES[entity_set]
        data = dict(line)
        product_id = data.pop("product", None) or data.pop("productid", None)
        product = None
        if product_id is not None:
            product_ref = self._reference(product_id, ("product",))
            product = self._rows["products"].get(product_ref.id)
            data["productid"] = product_ref
        uom = data.pop("uom", None)
        if uom is not None:
            data["uomid"] = uom
        elif "uomid" not in data and product is not None and product["defaultuomid"] is not None:
            data["uomid"] = product["defaultuomid"]
        values = self._coerce_python(table, data)
        quantity = values.get("quantity") if values.get("quantity") is not None else Decimal(1)
        price = values.get("priceperunit") if values.get("priceperunit") is not None else Decimal(0)
        manual = values.get("manualdiscountamount") or Decimal(0)
        volume = values.get("volumediscountamount") or Decimal(0)
        tax = values.get("tax") or Decimal(0)
        base = price * quantity
        values = {
            "sequencenumber": number,
            "lineitemnumber": number,
            "isproductoverridden": product_id is None,
            "ispriceoverridden": False,
            "producttypecode": product["producttypecode"] if product else None,
            "baseamount": base,
            "extendedamount": base - volume * quantity - manual + tax,
            "manualdiscountamount": manual,
            "volumediscountamount": volume,
            "tax": tax,
            **values,
            "quantity": quantity,
            "priceperunit": price,
            parent_column: EntityReference(parent_column[:-2], parent_id.lower()),
        }
        parent_set = "salesorders" if parent_column == "salesorderid" else "quotes"
        values.setdefault("transactioncurrencyid", self._rows[parent_set][parent_id.lower()]["transactioncurrencyid"])
        return await self._create(entity_set, values, snapshot=snapshot)

    def _recalculate(self, entity_set: str, row_id: str) -> None:
        """Totals as Sales computes them (line extended amounts, header discount, freight, tax)."""
        line_set, parent = _LINE_SETS[entity_set]
        row = self._rows[entity_set][row_id]
        lines = self._lines(line_set, parent, row_id)
        line_total = sum((line["extendedamount"] or Decimal(0)) - (line["tax"] or Decimal(0)) for line in lines)
        line_total = Decimal(line_total)
        tax = Decimal(sum(line["tax"] or Decimal(0) for line in lines))
        percent = row["discountpercentage"] or Decimal(0)
        discount = (row["discountamount"] or Decimal(0)) + (line_total * percent / 100).quantize(Decimal("0.01"))
        freight = row["freightamount"] or Decimal(0)
        row["totallineitemamount"] = line_total
        row["totallineitemdiscountamount"] = Decimal(
            sum(
                (line["manualdiscountamount"] or 0) + (line["volumediscountamount"] or 0) * line["quantity"]
                for line in lines
            )
        )
        row["totaldiscountamount"] = discount
        row["totalamountlessfreight"] = line_total - discount
        row["totaltax"] = tax
        row["totalamount"] = line_total - discount + freight + tax

    async def _create(
        self, entity_set: str, values: Mapping[str, Any], user_id: str | None = None, snapshot: Any = None
    ) -> str:
        table = TABLES[entity_set]
        data = dict(values)
        row_id = str(data.pop(table.key, None) or uuid.uuid4()).lower()
        if snapshot is None:
            snapshot = copy.deepcopy(self._rows)
        row = self._new_row(table, row_id)
        row.update(data)
        self._rows[entity_set][row_id] = row
        target = {k: v for k, v in row.items() if v is not None and k != "_seq" and k != table.key}
        await self._dispatch(
            table, row_id, [("Create", target, None, dict(row))], set(target), user_id or self.user_id, snapshot
        )
        return row_id

    async def _update(
        self,
        table: Table,
        row_id: str,
        changes: Mapping[str, Any],
        state: Mapping[str, Any],
        user_id: str,
    ) -> None:
        """Apply an update as Dataverse does: edit rules, state/status pairs, and the split of a
        combined change into two Update operations (other columns first, then the state)."""
        row_id = row_id.lower()
        row = self._rows[table.entity_set].get(row_id)
        if row is None:
            raise _Refused(404, "0x80040217", f"Entity '{table.logical_name}' With Id = {row_id} Does Not Exist")
        changes = {k: v for k, v in changes.items() if k not in table.read_only}
        if changes and table.editable_state is not None and row["statecode"] != table.editable_state:
            what = STATE_LABELS.get(table.logical_name, {}).get(row["statecode"], str(row["statecode"]))
            allowed = STATE_LABELS.get(table.logical_name, {}).get(table.editable_state, "")
            raise _Refused(
                400,
                "0x80040203",
                f"This {table.logical_name} is {what} (statecode {row['statecode']}) and cannot be edited: "
                f"only {allowed} records can be edited, except to change their status.",
            )
        state = dict(state)
        if state:
            new_state = state.setdefault("statecode", row["statecode"])
            if "statuscode" not in state or state["statuscode"] == -1:
                state["statuscode"] = table.states[new_state][0] if new_state in table.states else None
            if new_state not in table.states or state["statuscode"] not in table.states[new_state]:
                raise _Refused(
                    400,
                    "0x80040203",
                    f"{state['statuscode']} is not a valid status code for state code "
                    f"{table.logical_name}State.{new_state} on {table.logical_name} with Id {row_id}.",
                )
        snapshot = copy.deepcopy(self._rows)
        operations = []
        for part in (changes, state):
            if not part:
                continue
            pre = dict(row)
            row.update(part)
            row["modifiedon"] = self.now()
            row["versionnumber"] += 1
            message = "Update"
            if part is state and "statecode" in part and self.state_change_message != "Update":
                message = self.state_change_message
            operations.append((message, dict(part), pre, dict(row)))
        if table.entity_set in ("salesorders", "quotes") and changes:
            self._recalculate(table.entity_set, row_id)
        await self._dispatch(table, row_id, operations, set(changes) | set(state), user_id, snapshot)

    # -- internals: deliveries ---------------------------------------------------------------

    def _typed(self, table: Table, values: Mapping[str, Any], drop_null: bool) -> dict[str, Any]:
        """Stored values as a RemoteExecutionContext carries them (OptionSetValue, Money, ...)."""
        result: dict[str, Any] = {}
        for name, value in values.items():
            if name == "_seq" or (value is None and drop_null):
                continue
            if value is not None and name in table.options:
                value = OptionSetValue(value)
            elif value is not None and name in table.money:
                value = Money(value)
            result[name] = value
        return result

    def _formatted(self, table: Table, row: Mapping[str, Any]) -> dict[str, str]:
        labels: dict[str, str] = {}
        states = STATE_LABELS.get(table.logical_name)
        if states is not None:
            labels["statecode"] = states.get(row["statecode"], str(row["statecode"]))
            labels["statuscode"] = STATUS_LABELS[table.logical_name].get(row["statuscode"], str(row["statuscode"]))
        return labels

    async def _dispatch(
        self,
        table: Table,
        row_id: str,
        operations: list[tuple[str, dict[str, Any], dict[str, Any] | None, dict[str, Any]]],
        request_columns: set[str],
        user_id: str,
        snapshot: Any,
    ) -> None:
        if user_id == self.integration_user_id and not self.deliver_api_changes:
            return
        correlation_id = str(uuid.uuid4())
        # Asynchronous jobs exist only once the save commits, i.e. after every synchronous step passed.
        pending: list[Delivery] = []
        for message, target_values, pre, post in operations:
            for hook in self.webhooks:
                for step in hook.steps:
                    if not self._step_fires(step, table, message, request_columns):
                        continue
                    delivery = self._delivery(
                        hook, step, table, row_id, message, target_values, pre, post, user_id, correlation_id
                    )
                    self.deliveries.append(delivery)
                    if hook.mode == 1:
                        pending.append(delivery)
                        continue
                    await self._send(delivery)
                    if delivery.failed:
                        self._rows = snapshot  # Sales rolls the save back
                        for job in pending:
                            self.deliveries.remove(job)
                        raise DeliveryFailed(f"Endpoint unavailable: the webhook answered {delivery.statuses}")
        for job in pending:
            self._enqueue(job)

    @staticmethod
    def _step_fires(step: Step, table: Table, message: str, request_columns: set[str]) -> bool:
        if step.entity != table.logical_name:
            return False
        if step.message != message and not (message == "SetState" and step.message == "Update"):
            return False
        # Filtering attributes are matched against the whole request's columns.
        return not (
            step.filtering_attributes and message == "Update" and not request_columns & set(step.filtering_attributes)
        )

    def _delivery(
        self,
        hook: Webhook,
        step: Step,
        table: Table,
        row_id: str,
        message: str,
        target_values: dict[str, Any],
        pre: dict[str, Any] | None,
        post: dict[str, Any],
        user_id: str,
        correlation_id: str,
    ) -> Delivery:
        now = self.now()
        if message in ("SetState", "SetStateDynamicEntity"):
            target = None
            params: dict[str, Any] = {
                "EntityMoniker": EntityReference(table.logical_name, row_id),
                "State": OptionSetValue(target_values["statecode"]),
                "Status": OptionSetValue(target_values["statuscode"]),
            }
        else:
            target = self._typed(table, target_values, drop_null=False)
            target.pop(table.key, None)
            if message == "Update":
                target.update(modifiedon=now, modifiedby=EntityReference("systemuser", user_id))
            params = {}
        common: dict[str, Any] = {
            "organization_name": self.organization_name,
            "organization_id": self.organization_id,
            "correlation_id": correlation_id,
            "user_id": user_id,
            "operation_created_on": now,
            "mode": hook.mode,
        }
        parent = build_context(message, table.logical_name, row_id, target=target, stage=30, **common)
        body = build_context(
            message,
            table.logical_name,
            row_id,
            target=target,
            input_parameters=params,
            post_image=self._typed(table, post, drop_null=True) if step.images else None,
            pre_image=self._typed(table, pre, drop_null=True) if step.images and pre is not None else None,
            formatted_values=self._formatted(table, post),
            parent=parent,
            **common,
        )
        data = json.dumps(body).encode()
        exceeded = len(data) > MAX_BODY or self._force_size_exceeded > 0
        if exceeded:
            self._force_size_exceeded = max(0, self._force_size_exceeded - 1)
            body.update(ParentContext=None, InputParameters=[], PreEntityImages=[], PostEntityImages=[])
            data = json.dumps(body).encode()
        headers = {
            "Content-Type": "application/json",
            "x-ms-dynamics-organization": self.org_host,
            "x-ms-dynamics-entity-name": table.logical_name,
            "x-ms-dynamics-request-name": message,
            "x-ms-correlation-request-id": correlation_id,
        }
        if exceeded:
            headers["x-ms-dynamics-msg-size-exceeded"] = "true"
        return Delivery(hook, table.logical_name, message, row_id, hook.mode, headers, data, size_exceeded=exceeded)

    def _enqueue(self, delivery: Delivery) -> None:
        if self._held is not None:
            self._held.append(delivery)
        elif self._queue is not None:
            self._queue.put_nowait(delivery)

    async def _async_jobs(self) -> None:
        """Sales' asynchronous service: one System Job after the other, in queue order."""
        assert self._queue is not None
        while True:
            delivery = await self._queue.get()
            try:
                await self._send(delivery)
            except Exception:  # a job failing oddly must not stop the service
                delivery.statuses.append(0)
            finally:
                self._queue.task_done()

    async def _send(self, delivery: Delivery) -> None:
        if self._drop > 0:
            self._drop -= 1
            delivery.dropped = True
            return
        assert self._session is not None, "start() the simulator first"
        headers = {**delivery.headers, **delivery.webhook.auth_headers()}
        url = delivery.webhook.target_url()
        for _attempt in range(2):  # on 502/503/504 Sales tries once more; any other failure is final
            try:
                async with self._session.post(
                    url, data=delivery.body, headers=headers, timeout=aiohttp.ClientTimeout(total=self.webhook_timeout)
                ) as resp:
                    await resp.read()
                    delivery.statuses.append(resp.status)
            except (aiohttp.ClientError, TimeoutError):
                delivery.statuses.append(0)
                return
            if delivery.statuses[-1] not in RETRIED_STATUSES:
                return

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
        headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
        self.requests.append(LoggedRequest(request.method, request.path, dict(request.query), body, headers))
        return await handler(request)

    @web.middleware
    async def _fault_mw(self, request: web.Request, handler: Any) -> web.StreamResponse:
        for fault in self._faults:
            if fault.remaining <= 0 or fault.method not in ("*", request.method):
                continue
            if not fault.pattern.search(request.path):
                continue
            fault.remaining -= 1
            if fault.status == "timeout":
                await asyncio.sleep(fault.delay)
                return await handler(request)
            if fault.status == "disconnect":
                if request.transport is not None:
                    request.transport.close()
                return web.Response(status=500)  # never reaches the client: the connection is gone
            status = int(fault.status)
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
            if status == 429:
                return _error(
                    429,
                    "0x80072322",
                    "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
                    headers,
                )
            return _error(status, "0x80040216", f"simulated failure {status}", headers)
        return await handler(request)

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.token_requests += 1

        def oauth_error(status: int, error: str, description: str) -> web.Response:
            return web.json_response({"error": error, "error_description": description}, status=status)

        if form.get("grant_type") != "client_credentials":
            return oauth_error(
                400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type."
            )
        if form.get("client_id") != self.client_id:
            return oauth_error(
                400,
                "unauthorized_client",
                f"AADSTS700016: Application with identifier '{form.get('client_id')}' was not found in the directory.",
            )
        if not secrets.compare_digest(str(form.get("client_secret", "")), self.client_secret):
            return oauth_error(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
        if form.get("scope") not in (f"{self.org_url}/.default", f"https://{self.org_host}/.default"):
            return oauth_error(
                400, "invalid_scope", f"AADSTS500011: The resource principal named {form.get('scope')} was not found."
            )
        token = secrets.token_urlsafe(32)
        self._tokens[token] = time.monotonic() + self.token_lifetime
        return web.json_response(
            {
                "token_type": "Bearer",
                "expires_in": self.token_lifetime,
                "ext_expires_in": self.token_lifetime,
                "access_token": token,
            }
        )

    def _authorised(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return False
        expires = self._tokens.get(header[7:])
        return expires is not None and time.monotonic() < expires

    async def _who_am_i(self, request: web.Request) -> web.StreamResponse:
        """The WhoAmI function: the application user behind the token, in this organisation."""
        if not self._authorised(request):
            return _error(401, "Unauthorized", "The user is not authenticated: the bearer token is missing or invalid.")
        return web.json_response(
            {
                "@odata.context": f"{self.api_url}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
                "BusinessUnitId": str(uuid.uuid5(uuid.NAMESPACE_URL, self.org_host)),
                "UserId": self.integration_user_id,
                "OrganizationId": self.organization_id,
            }
        )

    async def _api(self, request: web.Request) -> web.StreamResponse:
        if not self._authorised(request):
            return _error(
                401,
                "Unauthorized",
                "The user is not authenticated: the bearer token is missing, invalid or expired.",
                {
                    "WWW-Authenticate": f"Bearer authorization_uri=https://login.microsoftonline.com/{TENANT_ID}"
                    f"/oauth2/authorize, resource_id=https://{self.org_host}/"
                },
            )
        tail = request.match_info["tail"]
        match = re.fullmatch(r"([A-Za-z_]+)(?:\(([^)]*)\))?", tail)
        if match is None:
            return _error(404, "0x8006088a", f"Resource not found for the segment '{tail}'.")
        entity_set, key = match.group(1), match.group(2)
        table = TABLES.get(entity_set)
        if table is None:
            return _error(404, "0x8006088a", f"Resource not found for the segment '{entity_set}'.")
        if key is not None and not _GUID.fullmatch(key):
            return _error(400, "0x80060888", f"Bad Request - Error in query syntax: '{key}' is not a GUID key.")
        try:
            if request.method == "GET":
                if key is None:
                    return self._get_collection(request, table)
                return self._get_row(request, table, key.lower())
            if request.method == "PATCH" and key is not None:
                return await self._patch(request, table, key.lower())
            if request.method == "POST" and key is None:
                return await self._post(request, table)
        except _Refused as refused:
            return _error(refused.status, refused.code, refused.message)
        except DeliveryFailed as failed:
            return _error(400, "0x80040265", str(failed))
        return _error(405, "0x80060888", f"The HTTP method '{request.method}' is not allowed on this resource.")

    # GET

    @staticmethod
    def _prefer(request: web.Request) -> tuple[bool, int | None]:
        prefer = ",".join(request.headers.getall("Prefer", []))
        annotations = re.search(r'odata\.include-annotations="([^"]*)"', prefer)
        wanted = annotations.group(1) if annotations else ""
        lookups = any(
            p.strip() in ("*", "Microsoft.Dynamics.CRM.lookuplogicalname", "Microsoft.Dynamics.CRM.*")
            for p in wanted.split(",")
        )
        size = re.search(r"odata\.maxpagesize=(\d+)", prefer)
        return lookups, int(size.group(1)) if size else None

    def _select(self, table: Table, request: web.Request) -> list[str] | None:
        raw = request.query.get("$select")
        if raw is None:
            return None
        names = [n.strip() for n in raw.split(",") if n.strip()]
        self._check_properties(table, names)
        return names

    @staticmethod
    def _check_properties(table: Table, names: Iterable[str]) -> None:
        known = table.properties()
        for name in names:
            if name not in known:
                raise _Refused(
                    400,
                    "0x0",
                    f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{table.logical_name}'.",
                )

    def _serialise(
        self, table: Table, row: Mapping[str, Any], select: list[str] | None, annotate: bool
    ) -> dict[str, Any]:
        out: dict[str, Any] = {"@odata.etag": f'W/"{row["versionnumber"]}"'}
        for name in (table.key, *table.columns):
            if select is None or name in select or name == table.key:
                out[name] = self._json_value(row[name])
        for name in table.lookups:
            prop = f"_{name}_value"
            if select is not None and prop not in select:
                continue
            ref = row[name]
            out[prop] = ref.id if ref is not None else None
            if annotate and ref is not None:
                out[prop + "@Microsoft.Dynamics.CRM.lookuplogicalname"] = ref.logical_name
        return out

    @staticmethod
    def _json_value(value: Any) -> Any:
        if isinstance(value, Decimal):
            return _json_number(value)
        if isinstance(value, datetime):
            return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, EntityReference):
            return value.id
        return value

    def _context_url(self, table: Table, select: list[str] | None, single: bool) -> str:
        columns = f"({','.join(select)})" if select else ""
        return f"{self.api_url}$metadata#{table.entity_set}{columns}" + ("/$entity" if single else "")

    def _get_row(self, request: web.Request, table: Table, key: str) -> web.Response:
        unknown = [k for k in request.query if k.startswith("$") and k not in ("$select",)]
        if unknown:
            raise _Refused(400, "0x80060888", f"The query parameter {unknown[0]} is not supported by this simulator.")
        select = self._select(table, request)
        row = self._rows[table.entity_set].get(key)
        if row is None:
            return _error(404, "0x80040217", f"Entity '{table.logical_name}' With Id = {key} Does Not Exist")
        annotate, _size = self._prefer(request)
        body = {
            "@odata.context": self._context_url(table, select, True),
            **self._serialise(table, row, select, annotate),
        }
        return web.json_response(body, headers={"OData-Version": "4.0"})

    def _get_collection(self, request: web.Request, table: Table) -> web.Response:
        allowed = {"$select", "$filter", "$orderby", "$top", "$skiptoken"}
        unknown = [k for k in request.query if k.startswith("$") and k not in allowed]
        if unknown:
            raise _Refused(400, "0x80060888", f"The query parameter {unknown[0]} is not supported by this simulator.")
        select = self._select(table, request)
        annotate, max_size = self._prefer(request)
        views = [(row, self._serialise(table, row, None, False)) for row in self._ordered(table.entity_set)]
        if "$filter" in request.query:
            predicate = _parse_filter(request.query["$filter"], table)
            views = [(row, view) for row, view in views if predicate(view)]
        if "$orderby" in request.query:
            views = self._order(table, views, request.query["$orderby"])
        if "$top" in request.query:
            try:
                views = views[: int(request.query["$top"])]
            except ValueError:
                raise _Refused(400, "0x80060888", "Invalid value for $top.") from None
        after = request.query.get("$skiptoken")
        if after is not None:
            if not after.isdigit():
                raise _Refused(400, "0x80060888", "The $skiptoken is not valid.")
            if "$orderby" in request.query:
                views = views[int(after) :]
            else:
                views = [(row, view) for row, view in views if row["_seq"] > int(after)]
        size = max_size or self.default_page_size
        page, rest = views[:size], views[size:]
        body: dict[str, Any] = {
            "@odata.context": self._context_url(table, select, False),
            "value": [self._serialise(table, row, select, annotate) for row, _view in page],
        }
        headers = {"OData-Version": "4.0"}
        if max_size:
            headers["Preference-Applied"] = f"odata.maxpagesize={max_size}"
        if rest:
            # Keyset after the last row sent; with $orderby, a plain offset.
            ordered = "$orderby" in request.query
            token = str(int(after or 0) + len(page)) if ordered else str(page[-1][0]["_seq"])
            query = {k: v for k, v in request.query.items() if k != "$skiptoken"}
            query["$skiptoken"] = token
            body["@odata.nextLink"] = str(URL(self.api_url + table.entity_set).with_query(query))
        return web.json_response(body, headers=headers)

    def _order(self, table: Table, views: list[Any], orderby: str) -> list[Any]:
        keys = []
        for part in orderby.split(","):
            name, _, direction = part.strip().partition(" ")
            self._check_properties(table, [name])
            if direction.strip() not in ("", "asc", "desc"):
                raise _Refused(400, "0x80060888", f"Invalid $orderby direction '{direction}'.")
            keys.append((name, direction.strip() == "desc"))
        for name, descending in reversed(keys):
            views = sorted(views, key=lambda rv, n=name: (rv[1][n] is not None, rv[1][n]), reverse=descending)
        return views

    # PATCH / POST

    async def _read_json(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise _Refused(400, "0x80060888", "The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise _Refused(400, "0x80060888", "The request body must be a JSON object.")
        return body

    def _coerce_wire(self, table: Table, body: Mapping[str, Any]) -> dict[str, Any]:
        """Web API JSON into the stored form, refusing what Dataverse refuses."""
        result: dict[str, Any] = {}
        for name, value in body.items():
            if name.startswith("@"):
                continue
            if name.endswith("@odata.bind"):
                nav = name[: -len("@odata.bind")]
                column = nav if nav in table.lookups else nav.rsplit("_", 1)[0]
                if column not in table.lookups:
                    raise _Refused(
                        400,
                        "0x80060888",
                        f"An undeclared property '{nav}' which only has property annotations in the payload but no "
                        "property value was found in the payload.",
                    )
                bind = re.fullmatch(r"/?([a-z_]+)\(([0-9a-fA-F-]{36})\)", str(value))
                target = None
                if bind is not None:
                    set_name = bind.group(1)
                    target = OTHER_SETS.get(set_name) or (TABLES[set_name].logical_name if set_name in TABLES else None)
                if bind is None or target is None or target not in table.lookups[column]:
                    raise _Refused(400, "0x80060888", f"Invalid value {value!r} for {name}.")
                result[column] = EntityReference(target, bind.group(2).lower())
                continue
            if name not in table.columns:
                raise _Refused(
                    400,
                    "0x80060888",
                    f"The property '{name}' does not exist on type 'Microsoft.Dynamics.CRM.{table.logical_name}'. "
                    "Make sure to only use property names that are defined by the type.",
                )
            result[name] = self._wire_value(table, name, value)
        return result

    @staticmethod
    def _wire_value(table: Table, name: str, value: Any) -> Any:
        if value is None:
            return None

        def bad(kind: str) -> _Refused:
            return _Refused(400, "0x80060888", f"Cannot convert the literal '{value}' to the expected type '{kind}'.")

        try:
            if name in table.money or name in table.decimals:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise bad("Edm.Decimal")
                return _to_decimal(value)
            if name in table.options or name in table.integers:
                if isinstance(value, bool) or not isinstance(value, int):
                    raise bad("Edm.Int32")
                return value
            if name in table.booleans:
                if not isinstance(value, bool):
                    raise bad("Edm.Boolean")
                return value
            if name in table.dates:
                if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                    raise bad("Edm.Date")
                return date.fromisoformat(value)
            if name in table.datetimes:
                if not isinstance(value, str):
                    raise bad("Edm.DateTimeOffset")
                return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
        except (ValueError, TypeError, InvalidOperation):
            raise bad("Edm." + ("Decimal" if name in table.money else "Date")) from None
        if not isinstance(value, str):
            raise bad("Edm.String")
        return value

    async def _patch(self, request: web.Request, table: Table, key: str) -> web.Response:
        body = await self._read_json(request)
        values = self._coerce_wire(table, body)
        row = self._rows[table.entity_set].get(key)
        if_match = request.headers.get("If-Match")
        if row is None:
            if if_match is not None:
                return _error(404, "0x80040217", f"Entity '{table.logical_name}' With Id = {key} Does Not Exist")
            # No If-Match: a PATCH is an upsert and creates the row.
            await self._create(table.entity_set, {table.key: key, **values}, user_id=self.integration_user_id)
            return web.Response(status=204, headers={"OData-EntityId": f"{self.api_url}{table.entity_set}({key})"})
        if if_match not in (None, "*") and if_match != f'W/"{row["versionnumber"]}"':
            return _error(
                412, "0x80060882", "The version of the existing record doesn't match the RowVersion property provided."
            )
        state = {k: values.pop(k) for k in ("statecode", "statuscode") if k in values}
        await self._update(table, key, values, state=state, user_id=self.integration_user_id)
        return web.Response(status=204, headers={"OData-EntityId": f"{self.api_url}{table.entity_set}({key})"})

    async def _post(self, request: web.Request, table: Table) -> web.Response:
        body = await self._read_json(request)
        values = self._coerce_wire(table, body)
        if table.logical_name == "annotation":
            target = values.get("objectid")
            if target is None:
                raise _Refused(400, "0x80040203", "A note needs objectid (objectid_<table>@odata.bind).")
            if target.id not in self._rows.get(SET_OF.get(target.logical_name, ""), {}):
                raise _Refused(
                    404, "0x80040217", f"Entity '{target.logical_name}' With Id = {target.id} Does Not Exist"
                )
            values.setdefault("objecttypecode", target.logical_name)
            values.setdefault("isdocument", False)
        row_id = await self._create(table.entity_set, values, user_id=self.integration_user_id)
        return web.Response(status=204, headers={"OData-EntityId": f"{self.api_url}{table.entity_set}({row_id})"})


# ---------------------------------------------------------------------------------------------
# $filter: "<property> eq|ne <literal>" clauses joined by "and", as the client sends them


_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')"
    r"|(?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})(?![\w-])"
    r"|(?P<num>-?\d+(?:\.\d+)?)(?![\w-])"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<other>\S))"
)
_MISSING = object()


def _parse_filter(text: str, table: Table) -> Any:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:  # only trailing blanks are left
            break
        pos = match.end()
        kind = match.lastgroup or "other"
        tokens.append((kind, match.group(kind)))

    def syntax(at: int) -> _Refused:
        return _Refused(
            400,
            "0x80060888",
            f"Syntax error at position {at} in '{text}': this simulator supports "
            "'<property> eq|ne <literal>' clauses joined by 'and'.",
        )

    clauses: list[tuple[str, bool, Any]] = []
    i = 0
    while True:
        if i + 3 > len(tokens):
            raise syntax(i)
        (k1, name), (k2, op), (k3, literal) = tokens[i : i + 3]
        if k1 != "word" or k2 != "word" or op not in ("eq", "ne"):
            raise syntax(i)
        SalesSimulator._check_properties(table, [name])
        clauses.append((name, op == "ne", _literal(k3, literal, syntax(i + 2))))
        i += 3
        if i == len(tokens):
            break
        if tokens[i] != ("word", "and"):
            raise syntax(i)
        i += 1

    def predicate(view: Mapping[str, Any]) -> bool:
        return all(_equal(view.get(name), value) != negate for name, negate, value in clauses)

    return predicate


def _literal(kind: str, text: str, error: Exception) -> Any:
    if kind == "str":
        return text[1:-1].replace("''", "'")
    if kind == "guid":
        return text.lower()
    if kind == "num":
        return Decimal(text)
    if kind == "word" and text in ("true", "false", "null"):
        return {"true": True, "false": False, "null": None}[text]
    raise error


def _equal(value: Any, literal: Any) -> bool:
    if literal is None or value is None:
        return value is None and literal is None
    if isinstance(literal, bool) or isinstance(value, bool):
        return value is literal
    if isinstance(literal, Decimal):
        return isinstance(value, int | float) and Decimal(str(value)) == literal
    if isinstance(value, str) and isinstance(literal, str):
        return value.casefold() == literal.casefold()  # Dataverse compares text case-insensitively
    return False
