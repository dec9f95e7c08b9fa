"""The OData service: one aiohttp handler, generic over a Registry of entity sets.

It knows EDM, URLs, query options, formats and paging; nothing of items or orders. What it needs
from its host (the database engine, who may read what, which sets are published, which companies
exist, the answer cache) comes in through `ODataHost`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import orjson
from aiohttp import web
from cachetools import LRUCache
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from gateway.odata import csdl, edm
from gateway.odata.answer_cache import CachedAnswer, Memo
from gateway.odata.bodies import V3_ROOT, V4_ROOT, JsonBodies
from gateway.odata.computed import computed_columns
from gateway.odata.errors import (
    ODataError,
    bad_request,
    forbidden,
    method_not_allowed,
    not_acceptable,
    not_found,
    not_implemented,
    service_unavailable,
)
from gateway.odata.filter import compile_filter
from gateway.odata.filter_tags import identity_tags
from gateway.odata.formats import JsonFormat, accepts, negotiate_json
from gateway.odata.host import ODataHost, Page, error_response
from gateway.odata.paging import after, decode_token, encode_token, fingerprint, order_clauses
from gateway.odata.plans import processed
from gateway.odata.prepared import PreparedReads
from gateway.odata.query import QueryOptions, check_against, parse_options, selected
from gateway.odata.request_headers import accepts_text, max_page_preference, max_version_ok, request_facts
from gateway.odata.uri import ResourcePath, key_values, parse_path

log = logging.getLogger("bcgw.odata")


class ODataService(JsonBodies):
    def __init__(self, registry: edm.Registry, host: ODataHost) -> None:
        self.registry = registry
        self.host = host
        self._metadata_v4 = csdl.metadata_v4(registry)
        self._metadata_v3 = csdl.metadata_v3(registry)
        # (set, company) -> the columns of its source subquery; companies are few, but bounded all the same.
        self._sources: LRUCache[tuple[str, str], dict[str, Any]] = LRUCache(maxsize=1024)
        self._prepared = PreparedReads(host)
        # A request as it came -> (its answer's cache key, set, company): see _remembered.
        self._front: Memo[tuple[Any, ...], tuple[Any, str, str]] = Memo(maxsize=20000)

    def add_routes(self, app: web.Application) -> None:
        for root in (V4_ROOT, V3_ROOT):
            app.router.add_route("*", root, self.handle)
            app.router.add_route("*", root + "/{tail:.*}", self.handle)

    # entry ----------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        v3 = not request.path.startswith(V4_ROOT)
        try:
            if request.method not in ("GET", "HEAD"):
                if request.match_info.get("tail", "").strip("/") == "$batch":
                    # A batch is always POSTed: say it is not supported, not that the method is wrong.
                    raise not_implemented("$batch is not supported by this service.")
                raise method_not_allowed(request.method)
            hit = await self._remembered(request)
            if hit is not None:
                return hit
            max_version_ok(request, v3)
            path = parse_path(request.match_info.get("tail", ""))
            return await self._dispatch(request, path, v3)
        except ODataError as err:
            return error_response(err, v3)
        except SQLAlchemyError as exc:
            return error_response(self._database_error(exc), v3)

    async def _remembered(self, request: web.Request) -> web.StreamResponse | None:
        """A cached answer found by the request as it came (path, query, the headers that choose
        the answer), without parsing it again: the same request text was parsed, checked and
        answered before, and that answer is still in the cache. What can change since — the
        set's publication, the user's roles, the company — is checked again, as the full way
        checks it; anything else (not remembered, answer dropped) takes the full way."""
        cache = self.host.cache()
        if cache is None:
            return None
        found = self._front.get(request_facts(request))
        if found is None:
            return None
        cache_key, set_name, company = found
        self._entity_set(request, set_name)
        if company and not await self.host.company_exists(company):
            return None
        hit = cache.peek(cache_key)
        return hit.response() if hit is not None else None

    def _database_error(self, exc: SQLAlchemyError) -> ODataError:
        if self.host.database_unavailable(exc) and not _is_query_error(exc):
            log.error("database unavailable: %s", type(exc).__name__)
            return service_unavailable("The database is not available; try again.")
        if isinstance(exc, DBAPIError) and _is_query_error(exc):
            if "no such function" in str(exc.orig).lower():
                return not_implemented("A function in the query is not supported by this database.")
            return bad_request("The query cannot be evaluated on the data: " + _first_line(exc.orig))
        log.exception("query failed")
        return ODataError(500, "Internal_ServerError", "The query failed inside the server.")

    async def _dispatch(self, request: web.Request, path: ResourcePath, v3: bool) -> web.StreamResponse:
        if path.kind == "service":
            return await self._service_document(request, v3)
        if path.kind == "metadata":
            return self._metadata(request, v3)
        if path.kind == "batch":
            raise not_implemented("$batch is not supported by this service.")
        entity_set = self._entity_set(request, path.set_name or "")
        options = parse_options(request.query.items(), v3)
        check_against(options, entity_set)
        company = await self._company(path, options, entity_set)
        if path.kind == "count":
            if not accepts_text(request, options):
                raise not_acceptable("$count answers text/plain.")
            fmt = None
        elif path.kind == "property" and path.raw_value:
            if not accepts_text(request, options):
                raise not_acceptable("$value answers text/plain.")
            fmt = None
        else:
            fmt = negotiate_json(request.headers.get("Accept"), options.format, v3)
        return await self._answer(request, path, entity_set, options, company, fmt, v3)

    # helpers ----------------------------------------------------------------------------
    def _entity_set(self, request: web.Request, name: str) -> edm.EntitySet:
        entity_set = self.registry.get(name)
        if entity_set is None or not self.host.published(entity_set):
            raise not_found(f"No web service named '{name}' is published.")
        if not self.host.may_read(request, entity_set):
            raise forbidden(self.host.forbidden_message(request, entity_set))
        refused = self.host.refusal(entity_set)
        if refused is not None:
            raise refused
        return entity_set

    async def _company(self, path: ResourcePath, options: QueryOptions, entity_set: edm.EntitySet) -> str:
        if not entity_set.per_company:
            if path.company is not None:
                raise not_found(f"'{entity_set.name}' is not a per-company resource.")
            return ""
        name = path.company if path.company is not None else options.company
        name = name if name is not None else self.host.default_company()
        if not await self.host.company_exists(name):
            raise not_found(f"The company '{name}' does not exist.")
        return name

    async def _service_document(self, request: web.Request, v3: bool) -> web.Response:
        fmt = negotiate_json(request.headers.get("Accept"), request.query.get("$format"), v3)
        root = self._base(request) + (V3_ROOT if v3 else V4_ROOT)
        sets = [s for s in self.registry if self.host.published(s) and self.host.may_read(request, s)]
        if v3:
            body: dict[str, Any] = {
                "odata.metadata": root + "/$metadata",
                "value": [{"name": s.name, "url": s.name} for s in sets],
            }
        else:
            body = {
                "@odata.context": root + "/$metadata",
                "value": [{"name": s.name, "kind": "EntitySet", "url": s.name} for s in sets],
            }
        return web.Response(body=orjson.dumps(body), content_type=None, headers={"Content-Type": fmt.content_type()})

    def _metadata(self, request: web.Request, v3: bool) -> web.Response:
        if not accepts(request.headers.get("Accept"), request.query.get("$format"), "application/xml"):
            raise not_acceptable("$metadata is served as application/xml only.")
        body = self._metadata_v3 if v3 else self._metadata_v4
        return web.Response(body=body, content_type="application/xml", charset="utf-8")

    # answers ----------------------------------------------------------------------------
    async def _answer(
        self,
        request: web.Request,
        path: ResourcePath,
        entity_set: edm.EntitySet,
        options: QueryOptions,
        company: str,
        fmt: JsonFormat | None,
        v3: bool,
    ) -> web.StreamResponse:
        cache = self.host.cache()
        page_pref = max_page_preference(request) if path.kind == "collection" and not v3 else None
        cacheable = cache is not None and entity_set.cache_identity is not None
        cache_key: tuple[Any, ...] | None = None
        if cacheable and cache is not None:
            cache_key = (
                v3,
                entity_set.name,
                company,
                path,
                tuple(sorted(request.query.items())),
                fmt,
                self._base(request),
                page_pref,
                request.path,
            )
            self._front[request_facts(request)] = (cache_key, entity_set.name, company)
            hit = cache.get(cache_key)
            if hit is not None:
                return hit.response()
            generation = cache.generation(company)

        if path.kind in ("entity", "property"):
            if options.has_collection_options():
                raise bad_request(
                    "Only $select and $format apply to a single entity.",
                    "BadRequest_InvalidQueryOption",
                )
            keys = key_values(path.key, entity_set, v3)
            answer = await self._single(request, path, entity_set, options, company, keys, fmt, v3)
            tags = self._key_tags(entity_set, keys)
            tree = None
        elif path.kind == "count":
            answer, tree = await self._count_answer(entity_set, options, company)
            tags = None
        else:
            assert fmt is not None
            answer, tree = await self._collection(request, entity_set, options, company, fmt, v3, page_pref)
            tags = None

        if cacheable and cache is not None and cache_key is not None and answer.status == 200:
            if path.kind not in ("entity", "property"):  # what the answer depends on: only to cache it
                tags = identity_tags(tree, entity_set, edm.tag_value)
            cache.put(cache_key, answer, company, tags, generation)
        return answer.response()

    def _key_tags(self, entity_set: edm.EntitySet, keys: dict[str, Any]) -> frozenset[tuple[str, str]] | None:
        ident = entity_set.cache_identity or {}
        for name, value in keys.items():
            if name in ident:
                return frozenset({(ident[name], edm.tag_value(value, entity_set.by_name[name]))})
        return None

    async def _columns(
        self,
        entity_set: edm.EntitySet,
        company: str,
        options: QueryOptions | None = None,
        keys: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The set's rows as columns to query: its SQL source, or the rows the host computes for
        the value the request names (computed.py)."""
        if entity_set.computed is not None:
            flt, aliases = (options.filter, options.aliases) if options is not None else (None, {})
            return await computed_columns(entity_set, company, flt, aliases, keys)
        assert entity_set.source is not None
        # Building the set's select costs more than the rest of a one-row answer (~0.5 ms): it is
        # the same for every request of a set and company, so it is built once (Core objects are
        # immutable and may be shared by concurrent statements).
        key = (entity_set.name, company)
        cols = self._sources.get(key)
        if cols is None:
            sq = entity_set.source(company).subquery("s")
            cols = self._sources[key] = {p.name: sq.c[p.name] for p in entity_set.properties}
        return cols

    def _where(self, entity_set: edm.EntitySet, options: QueryOptions, cols: dict[str, Any]) -> tuple[list[Any], Any]:
        if options.filter is None:
            return [], None
        clause, tree = compile_filter(options.filter, entity_set, cols, options.aliases)
        return [clause], tree

    async def _count_answer(
        self, entity_set: edm.EntitySet, options: QueryOptions, company: str
    ) -> tuple[CachedAnswer, Any]:
        cols = await self._columns(entity_set, company, options)
        where, tree = self._where(entity_set, options, cols)
        first = next(iter(cols.values()))
        stmt = select(func.count()).select_from(first.table).where(*where)
        async with self.host.engine().connect() as conn:
            n = (await conn.execute(stmt)).scalar_one()
        return CachedAnswer(200, "text/plain; charset=utf-8", str(n).encode(), ()), tree

    async def _collection(
        self,
        request: web.Request,
        entity_set: edm.EntitySet,
        options: QueryOptions,
        company: str,
        fmt: JsonFormat,
        v3: bool,
        page_pref: int | None,
    ) -> tuple[CachedAnswer, Any]:
        max_size = self.host.max_page_size()
        page_size = min(page_pref, max_size) if page_pref else max_size
        cols = await self._columns(entity_set, company, options)
        # Computed rows are made per request from the filter's value: never a prepared plan.
        prepared = self._prepared.preparable(entity_set, options, cols) if entity_set.computed is None else None
        where: list[Any]
        if prepared is not None:
            where, tree = [], prepared[0]
        else:
            where, tree = self._where(entity_set, options, cols)
        count_where = list(where)

        order_names = [n for n, _ in options.orderby]
        order = [(cols[n], d, entity_set.by_name[n].nullable) for n, d in options.orderby]
        order += [(cols[k], False, False) for k in entity_set.key if k not in order_names]
        order_props = [entity_set.by_name[n] for n in order_names] + [
            entity_set.by_name[k] for k in entity_set.key if k not in order_names
        ]

        def query_fp() -> str:  # only when a token is read or written: a hash per answer otherwise
            aliases = sorted(options.aliases.items())
            return fingerprint(entity_set.name, company, options.filter, aliases, options.orderby)

        if options.skiptoken:
            where.append(after(order, decode_token(options.skiptoken, query_fp(), order_props)))

        limit = page_size if options.top is None else min(page_size, options.top)
        page = Page([], None, None, None)
        names = [p.name for p in entity_set.properties]
        rows: list[Sequence[Any]] = []
        count = None
        processors = None
        if prepared is not None and limit > 0:
            run = self._prepared.rows(prepared, entity_set, company, options, limit, cols, names, order)
            rows, processors = await run
        elif limit > 0 or options.count:
            async with self.host.engine().connect() as conn:
                if limit > 0:
                    stmt = select(*[cols[n] for n in names]).where(*where).order_by(*order_clauses(order))
                    stmt = stmt.limit(limit + 1)
                    if options.skip and not options.skiptoken:
                        stmt = stmt.offset(options.skip)
                    rows = list((await conn.execute(stmt)).all())
                if options.count:
                    first = next(iter(cols.values()))
                    count = (
                        await conn.execute(select(func.count()).select_from(first.table).where(*count_where))
                    ).scalar_one()
        more = len(rows) > limit
        rows = rows[:limit]
        next_token = next_top = None
        if more and rows and (options.top is None or options.top > limit):
            last = rows[-1] if processors is None else processed(rows[-1], processors)
            index = {n: i for i, n in enumerate(names)}
            next_token = encode_token(query_fp(), [last[index[p.name]] for p in order_props], order_props)
            next_top = options.top - limit if options.top is not None else None
        page = Page(rows, count, next_token, next_top)

        headers: tuple[tuple[str, str], ...] = ()
        if page_pref:
            headers = (("Preference-Applied", f"odata.maxpagesize={page_size}"),)
        body = self._collection_body(request, entity_set, options, company, fmt, v3, page, names, processors)
        return CachedAnswer(200, fmt.content_type(), body, headers), tree

    async def _single(
        self,
        request: web.Request,
        path: ResourcePath,
        entity_set: edm.EntitySet,
        options: QueryOptions,
        company: str,
        keys: dict[str, Any],
        fmt: JsonFormat | None,
        v3: bool,
    ) -> CachedAnswer:
        cols = await self._columns(entity_set, company, keys=keys)
        names = [p.name for p in entity_set.properties]
        stmt = select(*[cols[n] for n in names]).where(*[cols[k] == v for k, v in keys.items()]).limit(1)
        async with self.host.engine().connect() as conn:
            row = (await conn.execute(stmt)).first()
        if row is None:
            raise not_found(
                f"The {entity_set.name} with the key "
                + ", ".join(f"{k}={edm.format_literal(v, entity_set.by_name[k])}" for k, v in keys.items())
                + " does not exist."
            )
        record = dict(zip(names, row, strict=True))
        if path.kind == "property":
            prop = entity_set.by_name.get(path.property or "")
            if prop is None:
                raise not_found(f"'{entity_set.name}' has no property named '{path.property}'.")
            value = record[prop.name]
            if value is None:
                return CachedAnswer(204, "", b"", ())
            if path.raw_value:
                text = edm.json_converter(prop, True, False)(value)
                return CachedAnswer(200, "text/plain; charset=utf-8", str(text).encode(), ())
            assert fmt is not None
            conv = edm.json_converter(prop, fmt.ieee754, v3)
            entity_url = self._entity_url(request, entity_set, company, keys, v3, path.company is not None)
            if v3:
                body: dict[str, Any] = (
                    {"d": {prop.name: conv(value)}}
                    if fmt.metadata == "verbose"
                    else {
                        "odata.metadata": self._context_v3(request, entity_set) + "/@Element",
                        "value": conv(value),
                    }
                )
            else:
                body = {"value": conv(value)}
                if fmt.metadata != "none":
                    body = {
                        "@odata.context": self._metadata_url(request, v3)
                        + "#"
                        + entity_url.split(V4_ROOT + "/", 1)[1].split("?", 1)[0]
                        + "/"
                        + prop.name,
                        **body,
                    }
            return CachedAnswer(200, fmt.content_type(), orjson.dumps(body), ())
        assert fmt is not None
        props = selected(options, entity_set)
        entity = self._entity(request, entity_set, company, record, props, fmt, v3, path.company is not None)
        if v3:
            body = {"d": entity} if fmt.metadata == "verbose" else entity
            if fmt.metadata in ("minimal", "full"):
                body = {
                    "odata.metadata": self._context_v3(request, entity_set) + "/@Element",
                    **entity,
                }
        else:
            body = entity
            if fmt.metadata != "none":
                ctx = self._context_v4(request, entity_set, company, path.company is not None, options, props)
                body = {"@odata.context": ctx + "/$entity", **entity}
        return CachedAnswer(200, fmt.content_type(), orjson.dumps(body), ())


def _is_query_error(exc: SQLAlchemyError) -> bool:
    """An error caused by the query's values (a data error), not by the database being down."""
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    # SQLSTATE class 22 is "data exception" (overflow, division by zero, bad substring, NUL in text ...):
    # the values in the query cannot be evaluated. The driver's adapted error class name says nothing.
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if isinstance(sqlstate, str) and sqlstate.startswith("22"):
        return True
    name = type(orig).__name__.lower()
    text = str(orig).lower()
    return (
        "dataerror" in name
        or "numericvalueoutofrange" in name
        or "invalidtextrepresentation" in name
        or "no such function" in text
        or "overflow" in text
        or "division by zero" in text
        or "invalid input" in text
    )


def _first_line(error: BaseException | None) -> str:
    text = str(error or "").strip().splitlines()
    return text[0][:200] if text else "invalid value"
