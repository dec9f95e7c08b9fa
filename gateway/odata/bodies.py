"""The JSON bodies of OData answers: entities, collections, context and next links (V4 and V3)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import orjson
from aiohttp import web

from gateway.odata import edm
from gateway.odata.formats import JsonFormat
from gateway.odata.host import ODataHost, Page
from gateway.odata.plans import Processor, converter, processed
from gateway.odata.query import QueryOptions, selected
from gateway.odata.uri import COMPANY_SET

_ORIGINS: dict[tuple[str, str], str] = {}
V4_ROOT = "/ODataV4"
V3_ROOT = "/OData"


class JsonBodies:
    """The body-writing half of the OData service (mixed into ODataService)."""

    registry: edm.Registry
    host: ODataHost

    def _base(self, request: web.Request) -> str:
        """Absolute URLs start here: the host's public base, else the request's own origin."""
        public = self.host.public_base()
        if public:
            return public
        # The origin depends on the scheme and Host alone; building the request's URL to find it
        # is a good part of a small answer's time, and the same few come again and again.
        key = (request.scheme, request.host)
        found = _ORIGINS.get(key)
        if found is None:
            found = str(request.url.origin())
            if len(_ORIGINS) < 1000:
                _ORIGINS[key] = found
        return found

    def _metadata_url(self, request: web.Request, v3: bool) -> str:
        return self._base(request) + (V3_ROOT if v3 else V4_ROOT) + "/$metadata"

    def _context_v4(
        self,
        request: web.Request,
        entity_set: edm.EntitySet,
        company: str,
        in_path: bool,
        options: QueryOptions,
        props: Sequence[edm.Property],
    ) -> str:
        target = entity_set.name
        if in_path and entity_set.per_company:
            target = f"Company('{company.replace(chr(39), chr(39) * 2)}')/{target}"
        if options.select and "*" not in options.select:
            target += "(" + ",".join(p.name for p in props) + ")"
        return self._metadata_url(request, False) + "#" + target

    def _context_v3(self, request: web.Request, entity_set: edm.EntitySet) -> str:
        return self._metadata_url(request, True) + "#" + entity_set.name

    def _entity_url(
        self,
        request: web.Request,
        entity_set: edm.EntitySet,
        company: str,
        keys: dict[str, Any],
        v3: bool,
        in_path: bool,
    ) -> str:
        root = self._base(request) + (V3_ROOT if v3 else V4_ROOT)
        prefix = ""
        if entity_set.per_company and (in_path or v3):
            prefix = f"Company('{quote(company.replace(chr(39), chr(39) * 2), safe='')}')/"
        if len(keys) == 1:
            ((k, v),) = keys.items()
            key_text = _url_literal(v, entity_set.by_name[k], v3)
        else:
            key_text = ",".join(f"{k}={_url_literal(v, entity_set.by_name[k], v3)}" for k, v in keys.items())
        url = f"{root}/{prefix}{entity_set.name}({key_text})"
        if entity_set.per_company and not (in_path or v3):
            url += "?company=" + quote(company, safe="")
        return url

    def _entity(
        self,
        request: web.Request,
        entity_set: edm.EntitySet,
        company: str,
        record: dict[str, Any],
        props: Sequence[edm.Property],
        fmt: JsonFormat,
        v3: bool,
        in_path: bool,
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if fmt.metadata in ("full", "verbose"):
            keys = {k: record[k] for k in entity_set.key}
            url = self._entity_url(request, entity_set, company, keys, v3, in_path)
            type_name = f"{self.registry.namespace}.{entity_set.type_name}"
            if fmt.metadata == "verbose":
                out["__metadata"] = {"id": url, "uri": url, "type": type_name}
            elif v3:
                out["odata.type"] = type_name
                out["odata.id"] = url
            else:
                out["@odata.type"] = "#" + type_name
                out["@odata.id"] = url
        for p in props:
            out[p.name] = edm.json_converter(p, fmt.ieee754, v3)(record[p.name])
        return out

    def _collection_body(
        self,
        request: web.Request,
        entity_set: edm.EntitySet,
        options: QueryOptions,
        company: str,
        fmt: JsonFormat,
        v3: bool,
        page: Page,
        names: list[str],
        processors: Sequence[Processor] | None = None,
    ) -> bytes:
        """`processors`: the rows are raw from the driver; each column's result processor (plans.py)."""
        props = selected(options, entity_set)
        in_path = request.match_info.get("tail", "").startswith(COMPANY_SET + "(")
        values: Any
        if fmt.metadata in ("full", "verbose"):
            values = [
                self._entity(
                    request,
                    entity_set,
                    company,
                    dict(zip(names, r if processors is None else processed(r, processors), strict=True)),
                    props,
                    fmt,
                    v3,
                    in_path,
                )
                for r in page.rows
            ]
        else:
            values = _values(page.rows, props, names, processors, fmt, v3)
        next_link = self._next_link(request, options, page) if page.next_token else None
        body: dict[str, Any]
        if v3 and fmt.metadata == "verbose":
            d: dict[str, Any] = {"results": values}
            if page.count is not None:
                d["__count"] = str(page.count)
            if next_link:
                d["__next"] = next_link
            body = {"d": d}
        elif v3:
            body = {}
            if fmt.metadata != "none":
                body["odata.metadata"] = self._context_v3(request, entity_set)
            if page.count is not None:
                body["odata.count"] = str(page.count)
            body["value"] = values
            if next_link:
                body["odata.nextLink"] = next_link
        else:
            body = {}
            if fmt.metadata != "none":
                body["@odata.context"] = self._context_v4(request, entity_set, company, in_path, options, props)
            if page.count is not None:
                body["@odata.count"] = page.count
            body["value"] = values
            if next_link:
                body["@odata.nextLink"] = next_link
        return orjson.dumps(body)

    def _next_link(self, request: web.Request, options: QueryOptions, page: Page) -> str:
        params: list[tuple[str, str]] = []
        for name, value in request.query.items():
            low = name.lower()
            if low in ("$skip", "$skiptoken", "$top"):
                continue
            params.append((name, value))
        if page.next_top is not None:
            params.append(("$top", str(page.next_top)))
        params.append(("$skiptoken", page.next_token or ""))
        query = "&".join(f"{quote(k, safe='$@')}={quote(v, safe=',()=@$')}" for k, v in params)
        return self._base(request) + quote(request.path, safe="/()',=$@") + "?" + query


_CHUNK = 2000  # rows serialised at a time: a large page never holds all its rows as dicts at once


def _values(
    rows: Sequence[Sequence[Any]],
    props: Sequence[edm.Property],
    names: list[str],
    processors: Sequence[Processor] | None,
    fmt: JsonFormat,
    v3: bool,
) -> orjson.Fragment:
    """The JSON array of the page's entities (minimal or no metadata), written a chunk at a time."""
    specs = []
    for p in props:
        i = names.index(p.name)
        conv = edm.json_converter(p, fmt.ieee754, v3)
        processor = processors[i] if processors is not None else None
        keep = processor is None and conv is edm.keep  # the value goes into JSON as it is
        specs.append((p.name, i, None if keep else converter(processor, conv)))
    chunks = []
    for start in range(0, len(rows), _CHUNK):
        chunk = [{n: r[i] if c is None else c(r[i]) for n, i, c in specs} for r in rows[start : start + _CHUNK]]
        chunks.append(orjson.dumps(chunk)[1:-1])
    return orjson.Fragment(b"[" + b",".join(chunks) + b"]")


def _url_literal(value: Any, prop: edm.Property, v3: bool) -> str:
    text = edm.format_literal(value, prop)
    if v3 and prop.type == edm.GUID:
        text = f"guid'{text}'"
    return quote(text, safe="'-:.")
