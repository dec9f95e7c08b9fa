"""``BcApiClient``: the one client of a Business Central API v2.0, shared by every caller of an
identity (the mirror, the order writer, the connection check).

    async with BcApiClient(connection) as bc:
        customer = await bc.first("customers", query(filter=eq("number", "10000")))
        async for item in bc.iter_collection("items", query(select=["id", "number", "inventory"])):
            ...
        order = await bc.post("salesOrders", {"customerNumber": "10000", "externalDocumentNumber": key})
        order = await bc.patch(entity_path("salesOrders", order["id"]), {"email": e}, etag=etag_of(order))

Paths are relative to the company (``companies({id})/`` is prepended, bc-api §1.1; a company
configured by name is resolved to its id once, by ``GET companies``), or to the API root with
``root=True`` (``companies``, ``subscriptions``). Published web-service pages (bc-api §9) are read
under the OData V4 root with the same credentials and limits. Pacing, token handling and retries
are in :mod:`~orders.bc_link.transport`; what each error means in :mod:`~orders.bc_link.errors`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from orders.bc_link.auth import Authorizer, authorizer_for
from orders.bc_link.batch import BatchOperation, BatchReply, BatchResult, assign_ids, parse_reply, request_item
from orders.bc_link.config import BcConnection, BcLimits, OAuthClientCredentials
from orders.bc_link.errors import BcError, BcNotFound, BcProtocolError
from orders.bc_link.limits import BcMetrics, IdentityLimiter, SingleFlight
from orders.bc_link.odata import dumps, literal, query_string
from orders.bc_link.shapes import (
    ActionResult,
    BcCompany,
    BcPage,
    as_guid,
    is_absolute,
    json_object,
    next_link_of,
    pick_company,
    rows_of,
)
from orders.bc_link.transport import BcCall, BcResponse, Transport

__all__ = ["BcApiClient"]


class BcApiClient:
    """One BC environment, company and identity. Make one per identity and share it: its limits
    (in flight, sliding window) and its token only work when every caller goes through it.

    ``session``: an aiohttp session to use (the client makes and closes its own otherwise).
    ``limits``: pacing and retries (:class:`BcLimits`). ``limiter``: an :class:`IdentityLimiter`
    to share with another client of the same identity. ``sleep``, ``clock`` (monotonic: token
    expiry, the sliding window), ``wall_clock`` (an HTTP-date ``Retry-After``) and ``rand`` (the
    backoff's jitter) are injectable for tests; ``observer`` sees every HTTP attempt (metrics).
    """

    def __init__(
        self,
        connection: BcConnection,
        session: aiohttp.ClientSession | None = None,
        *,
        limits: BcLimits | None = None,
        limiter: IdentityLimiter | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        observer: Callable[[BcCall], None] | None = None,
    ) -> None:
        self.connection = connection
        self.limits = limits or BcLimits()
        self._session = session
        self._own_session = session is None
        self.limiter = limiter or IdentityLimiter(
            self.limits.max_in_flight, self.limits.rate_limit, self.limits.rate_window, clock=clock, sleep=sleep
        )
        self.authorizer: Authorizer = authorizer_for(
            connection.auth, self._fetch_token, clock=clock, refresh_margin=self.limits.token_refresh_margin
        )
        self.transport = Transport(
            self._get_session,
            self.authorizer,
            self.limiter,
            self.limits,
            language=connection.language,
            sleep=sleep,
            wall_clock=wall_clock,
            rand=rand,
            observer=observer,
        )
        self._company: BcCompany | None = None
        self._company_lookup = SingleFlight(self._look_up_company)

    def __repr__(self) -> str:  # the connection's repr leaves secrets out
        return f"BcApiClient({self.connection!r})"

    # -- lifecycle ----------------------------------------------------------------------------

    def _get_session(self) -> aiohttp.ClientSession:
        # A session we were given is the caller's to open and close; our own we (re)make.
        if self._session is None or (self._own_session and self._session.closed):
            self._session = aiohttp.ClientSession()
            self._own_session = True
        return self._session

    async def aclose(self) -> None:
        if self._own_session and self._session is not None and not self._session.closed:
            await self._session.close()

    async def __aenter__(self) -> BcApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def metrics(self) -> BcMetrics:
        return self.limiter.metrics()

    async def _fetch_token(self, form: dict[str, str]) -> tuple[int, str]:
        assert isinstance(self.connection.auth, OAuthClientCredentials)
        return await self.transport.fetch_token(self.connection.auth.token_url, form)

    # -- company and URLs ---------------------------------------------------------------------

    async def companies(self) -> list[BcCompany]:
        """The companies this identity can see (``GET companies``)."""
        rows = await self.list_collection("companies", root=True)
        return [BcCompany(str(r.get("id", "")), str(r.get("name", "")), str(r.get("displayName", ""))) for r in rows]

    async def company(self) -> BcCompany:
        """The configured company, resolved once (by id or name) and then remembered."""
        if self._company is None:
            self._company = await self._company_lookup()
        return self._company

    async def _look_up_company(self) -> BcCompany:
        return pick_company(self.connection.company.strip(), await self.companies())

    async def company_id(self) -> str:
        """The company's id: as configured when that is a GUID, else resolved by :meth:`company`."""
        if self._company is not None:
            return self._company.id
        given = as_guid(self.connection.company)
        return given if given is not None else (await self.company()).id

    async def url(self, path: str, params: Mapping[str, object] | None = None, *, root: bool = False) -> str:
        """The absolute URL of ``path`` (relative to the company, or to the API root)."""
        path = path.lstrip("/")
        if not root:
            company_id = await self.company_id()
            path = f"companies({company_id})/{path}" if path else f"companies({company_id})"
        query = query_string(params)
        if query and "?" in path:
            query = "&" + query[1:]
        return f"{self.connection.api_url}/{path}{query}"

    async def web_service_url(
        self, service: str, params: Mapping[str, object] | None = None, *, key: object = None
    ) -> str:
        """``{ODataV4}/Company('{name}')/{service}[(key)]``; ``key`` a value or a mapping of the
        key fields (``{"Item_No": "1900-S", "Code": "BOX"}``), written as OData literals."""
        company = await self.company()
        name = quote(company.name.replace("'", "''"), safe="'")
        suffix = ""
        if isinstance(key, Mapping):
            if not all(isinstance(k, str) and k.isidentifier() for k in key):
                raise ValueError(f"not key field names: {list(key)!r}")
            suffix = "(" + ",".join(f"{k}={literal(v)}" for k, v in key.items()) + ")"
        elif key is not None:
            suffix = f"({literal(key)})"
        return f"{self.connection.odata_root}/Company('{name}')/{quote(service, safe='')}{suffix}{query_string(params)}"

    # -- the general call ---------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, object] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        root: bool = False,
        idempotent: bool | None = None,
    ) -> BcResponse:
        """Any call. ``idempotent`` defaults to True for GET and for PATCH/DELETE carrying
        ``If-Match``, False otherwise: a call that is not is never repeated once it may have reached
        BC (see :mod:`~orders.bc_link.transport`)."""
        method = method.upper()
        if is_absolute(path) and params:
            raise ValueError("params cannot be added to an absolute URL: a nextLink is followed as given")
        url = path if is_absolute(path) else await self.url(path, params, root=root)
        self._check_origin(url)
        if idempotent is None:
            has_if_match = any(k.lower() == "if-match" for k in (headers or {}))
            idempotent = method in ("GET", "HEAD") or (method in ("PATCH", "DELETE", "PUT") and has_if_match)
        data = None if body is None else dumps(body)
        return await self.transport.send(method, url, body=data, headers=headers, idempotent=idempotent)

    def _trusted(self, url: str) -> bool:
        # Only BC's own hosts get our credentials: a nextLink elsewhere would receive the token.
        origin = URL(url, encoded=True).origin()
        return origin in (URL(self.connection.api_url).origin(), URL(self.connection.odata_root).origin())

    def _check_origin(self, url: str) -> None:
        if not self._trusted(url):
            origin = URL(url, encoded=True).origin()
            raise BcProtocolError(None, "foreign_url", f"refusing to send BC credentials to {origin}")

    # -- reads --------------------------------------------------------------------------------

    def _read_headers(self, page_size: int | None, replica: bool) -> dict[str, str]:
        headers: dict[str, str] = {}
        size = page_size or self.limits.page_size
        if size:
            headers["Prefer"] = f"odata.maxpagesize={size}"
        if replica:
            headers["Data-Access-Intent"] = "ReadOnly"  # a read replica (bc-api §1.3)
        return headers

    async def get(
        self, path: str, params: Mapping[str, object] | None = None, *, root: bool = False, replica: bool = False
    ) -> dict[str, Any]:
        """``GET`` one entity (or one page of a collection) as a JSON object."""
        response = await self.request("GET", path, params=params, root=root, headers=self._read_headers(None, replica))
        return json_object(response, "GET", path)

    async def first(
        self, path: str, params: Mapping[str, object] | None = None, *, root: bool = False, replica: bool = False
    ) -> dict[str, Any] | None:
        """The first row of a collection read (``$top=1`` added), or None."""
        page = await self.get(path, {**(params or {}), "$top": "1"}, root=root, replica=replica)
        rows = rows_of(page, path)
        return rows[0] if rows else None

    async def iter_pages(
        self,
        path: str,
        params: Mapping[str, object] | None = None,
        *,
        root: bool = False,
        page_size: int | None = None,
        replica: bool = False,
        start: str | None = None,
    ) -> AsyncIterator[BcPage]:
        """The pages of a collection, following ``@odata.nextLink`` unchanged (bc-api §1.3).
        ``page_size`` asks BC for smaller pages (``Prefer: odata.maxpagesize``); ``start`` resumes
        at a nextLink kept from an earlier read."""
        url: str | None = start or await self.url(path, params, root=root)
        headers = self._read_headers(page_size, replica)
        while url is not None:
            response = await self.request("GET", url, headers=headers)
            body = json_object(response, "GET", path)
            next_link = next_link_of(body, url)
            yield BcPage(rows_of(body, path), url, next_link)
            if next_link is not None and not self._trusted(next_link):
                origin = URL(next_link, encoded=True).origin()
                raise BcProtocolError(
                    None, "foreign_next_link", f"refusing to follow a nextLink to {origin}", method="GET", path=path
                )
            url = next_link

    async def iter_collection(
        self,
        path: str,
        params: Mapping[str, object] | None = None,
        *,
        root: bool = False,
        page_size: int | None = None,
        replica: bool = False,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every row of a collection, page after page."""
        async for page in self.iter_pages(path, params, root=root, page_size=page_size, replica=replica):
            for row in page.rows:
                yield row

    async def list_collection(
        self,
        path: str,
        params: Mapping[str, object] | None = None,
        *,
        root: bool = False,
        page_size: int | None = None,
        replica: bool = False,
    ) -> list[dict[str, Any]]:
        return [
            row async for row in self.iter_collection(path, params, root=root, page_size=page_size, replica=replica)
        ]

    # -- published web-service pages (OData V4) -----------------------------------------------

    async def get_web_service(
        self, service: str, params: Mapping[str, object] | None = None, *, key: object = None
    ) -> dict[str, Any]:
        """One row (with ``key``) or one page of a published page, e.g. ``ItemLedgerEntries``."""
        url = await self.web_service_url(service, params, key=key)
        response = await self.request("GET", url, headers=self._read_headers(None, False))
        return json_object(response, "GET", service)

    async def iter_web_service(
        self, service: str, params: Mapping[str, object] | None = None, *, page_size: int | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Every row of a published page, following its nextLinks."""
        start = await self.web_service_url(service, params)
        async for page in self.iter_pages(service, page_size=page_size, start=start):
            for row in page.rows:
                yield row

    async def list_web_service(
        self, service: str, params: Mapping[str, object] | None = None, *, page_size: int | None = None
    ) -> list[dict[str, Any]]:
        return [row async for row in self.iter_web_service(service, params, page_size=page_size)]

    # -- writes -------------------------------------------------------------------------------

    async def post(
        self, path: str, body: Mapping[str, Any], *, params: Mapping[str, object] | None = None, root: bool = False
    ) -> dict[str, Any]:
        """Create: 201 with the entity (bc-api §1.4). Never repeated once it may have reached BC:
        an unknown outcome raises :class:`BcIndeterminate`. A 204 answer gives ``{}``."""
        response = await self.request("POST", path, params=params, body=dict(body), root=root, idempotent=False)
        return {} if response.body is None else json_object(response, "POST", path)

    async def patch(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        etag: str,
        params: Mapping[str, object] | None = None,
        root: bool = False,
    ) -> dict[str, Any]:
        """Change the given fields, ``If-Match: etag`` (the entity's ``@odata.etag``, or ``"*"`` to
        give the protection up); 200 with the entity. A stale ETag is :class:`BcConflict`."""
        if not etag:
            raise ValueError("PATCH needs If-Match: give the entity's @odata.etag or '*'")
        response = await self.request(
            "PATCH", path, params=params, body=dict(body), headers={"If-Match": etag}, root=root, idempotent=True
        )
        return {} if response.body is None else json_object(response, "PATCH", path)

    async def delete(self, path: str, *, etag: str = "*", root: bool = False, missing_ok: bool = False) -> bool:
        """Delete (204). ``If-Match`` is sent (bc-api §1.5: the docs want it), ``*`` by default.
        ``missing_ok``: a record already gone (404) counts as deleted, e.g. after a retry whose
        first attempt's answer was lost. True when BC deleted it now, False when it was gone."""
        try:
            await self.request("DELETE", path, headers={"If-Match": etag}, root=root, idempotent=True)
        except BcNotFound:
            if not missing_ok:
                raise
            return False
        return True

    async def action(self, path: str, name: str, *, etag: str | None = None) -> ActionResult:
        """A bound action: ``POST {path}/Microsoft.NAV.{name}`` with no body, e.g.
        ``action(entity_path("salesQuotes", qid), "makeOrder")`` (bc-api §3.9). Like a POST it is
        never repeated once it may have reached BC."""
        if not name.isidentifier():
            raise ValueError(f"not an action name: {name!r}")
        headers = {"If-Match": etag} if etag else None
        response = await self.request(
            "POST", f"{path.rstrip('/')}/Microsoft.NAV.{name}", headers=headers, idempotent=False
        )
        return ActionResult(response.status, response.headers.get("Location"), response.body)

    # -- $batch -------------------------------------------------------------------------------

    async def batch(self, operations: Sequence[BatchOperation], *, isolation_snapshot: bool = False) -> BatchReply:
        """Send the operations as JSON ``$batch`` calls of at most ``limits.max_batch`` each, in
        order, and return every result in the order given. A batch of GETs only is retried like a
        GET; one with writes is a POST (never repeated once it may have reached BC).
        ``isolation_snapshot`` makes one call all or nothing, so it takes at most ``max_batch``
        operations (bc-api §1.6)."""
        if not operations:
            return BatchReply(())
        size = self.limits.max_batch
        if isolation_snapshot and len(operations) > size:
            raise ValueError(f"a snapshot batch is one transaction: at most {size} operations, not {len(operations)}")
        ids = assign_ids(operations)
        company_id = await self.company_id()
        results: list[BatchResult] = []
        rolled_back = False
        for start in range(0, len(operations), size):
            chunk, chunk_ids = operations[start : start + size], ids[start : start + size]
            items = []
            for op, op_id in zip(chunk, chunk_ids, strict=True):
                path = op.path.lstrip("/")
                relative = path if op.root else f"companies({company_id})/{path}"
                items.append(request_item(op, op_id, relative + query_string(op.params)))
            headers = {"Isolation": "snapshot"} if isolation_snapshot else {}
            try:
                response = await self.request(
                    "POST",
                    "$batch",
                    body={"requests": items},
                    headers=headers,
                    root=True,
                    idempotent=all(op.method == "GET" for op in chunk),
                )
            except BcError as error:
                error.completed = tuple(results)  # earlier calls' writes stand: the caller must know
                raise
            chunk_results = parse_reply(response.body, chunk_ids, chunk)
            rolled_back = rolled_back or (isolation_snapshot and any(not r.ok for r in chunk_results))
            results.extend(chunk_results)
        return BatchReply(tuple(results), rolled_back)
