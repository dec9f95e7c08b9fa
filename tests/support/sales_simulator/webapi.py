"""The Web API, ``/api/data/v9.2/``, for the simulator's tables (docs/reference/dataverse.md §3).

Reads: a row by key (``$select``), collections (``$select``, ``$filter``, ``$orderby``, ``$top``,
``$skiptoken``) with server-driven paging (``Prefer: odata.maxpagesize``) and lookup annotations
only when ``Prefer: odata.include-annotations`` asks for them. Writes: PATCH (an upsert without
If-Match; the ETag checked with one) and POST, with Dataverse's type checks and edit rules.
Errors are Dataverse's ``{"error": {code, message}}``.

Choices where Microsoft's documentation is silent: collections come back in insertion order;
``$skiptoken`` is keyset-like (rows after the last one sent), so rows changed between pages are
neither skipped nor repeated; ``$filter`` understands ``<property> eq|ne <literal>`` clauses
joined by ``and`` — what the client sends.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import web
from yarl import URL

from tests.support.sales_simulator.errors import DeliveryFailed, Refused, error_response
from tests.support.sales_simulator.tables import SET_OF, TABLES, Table
from tests.support.sales_simulator.values import coerce_wire, json_value

if TYPE_CHECKING:
    from tests.support.sales_simulator.app import SalesSimulator

API = "/api/data/v9.2/"
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def serialise(table: Table, row: Mapping[str, Any], select: list[str] | None, annotate: bool) -> dict[str, Any]:
    """A stored row as the Web API answers it."""
    out: dict[str, Any] = {"@odata.etag": f'W/"{row["versionnumber"]}"'}
    for name in (table.key, *table.columns):
        if select is None or name in select or name == table.key:
            out[name] = json_value(row[name])
    for name in table.lookups:
        prop = f"_{name}_value"
        if select is not None and prop not in select:
            continue
        ref = row[name]
        out[prop] = ref.id if ref is not None else None
        if annotate and ref is not None:
            out[prop + "@Microsoft.Dynamics.CRM.lookuplogicalname"] = ref.logical_name
    return out


class WebApi:
    def __init__(self, sim: SalesSimulator) -> None:
        self.sim = sim

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if not self.sim.tokens.authorised(request):
            return self.sim.tokens.unauthorised()
        tail = request.match_info["tail"]
        match = re.fullmatch(r"([A-Za-z_]+)(?:\(([^)]*)\))?", tail)
        if match is None:
            return error_response(404, "0x8006088a", f"Resource not found for the segment '{tail}'.")
        entity_set, key = match.group(1), match.group(2)
        table = TABLES.get(entity_set)
        if table is None:
            return error_response(404, "0x8006088a", f"Resource not found for the segment '{entity_set}'.")
        if key is not None and not _GUID.fullmatch(key):
            return error_response(400, "0x80060888", f"Bad Request - Error in query syntax: '{key}' is not a GUID key.")
        try:
            if request.method == "GET":
                if key is None:
                    return self._get_collection(request, table)
                return self._get_row(request, table, key.lower())
            if request.method == "PATCH" and key is not None:
                return await self._patch(request, table, key.lower())
            if request.method == "POST" and key is None:
                return await self._post(request, table)
        except Refused as refused:
            return error_response(refused.status, refused.code, refused.message)
        except DeliveryFailed as failed:
            return error_response(400, "0x80040265", str(failed))
        return error_response(405, "0x80060888", f"The HTTP method '{request.method}' is not allowed on this resource.")

    # -- GET -----------------------------------------------------------------------------------

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

    @staticmethod
    def _select(table: Table, request: web.Request) -> list[str] | None:
        raw = request.query.get("$select")
        if raw is None:
            return None
        names = [n.strip() for n in raw.split(",") if n.strip()]
        table.check_properties(names)
        return names

    def _context_url(self, table: Table, select: list[str] | None, single: bool) -> str:
        columns = f"({','.join(select)})" if select else ""
        return f"{self.sim.api_url}$metadata#{table.entity_set}{columns}" + ("/$entity" if single else "")

    def _get_row(self, request: web.Request, table: Table, key: str) -> web.Response:
        unknown = [k for k in request.query if k.startswith("$") and k not in ("$select",)]
        if unknown:
            raise Refused(400, "0x80060888", f"The query parameter {unknown[0]} is not supported by this simulator.")
        select = self._select(table, request)
        row = self.sim.store.rows[table.entity_set].get(key)
        if row is None:
            return error_response(404, "0x80040217", f"Entity '{table.logical_name}' With Id = {key} Does Not Exist")
        annotate, _size = self._prefer(request)
        body = {"@odata.context": self._context_url(table, select, True), **serialise(table, row, select, annotate)}
        return web.json_response(body, headers={"OData-Version": "4.0"})

    def _get_collection(self, request: web.Request, table: Table) -> web.Response:
        allowed = {"$select", "$filter", "$orderby", "$top", "$skiptoken"}
        unknown = [k for k in request.query if k.startswith("$") and k not in allowed]
        if unknown:
            raise Refused(400, "0x80060888", f"The query parameter {unknown[0]} is not supported by this simulator.")
        select = self._select(table, request)
        annotate, max_size = self._prefer(request)
        views = [(row, serialise(table, row, None, False)) for row in self.sim.store.ordered(table.entity_set)]
        if "$filter" in request.query:
            predicate = parse_filter(request.query["$filter"], table)
            views = [(row, view) for row, view in views if predicate(view)]
        if "$orderby" in request.query:
            views = _order(table, views, request.query["$orderby"])
        if "$top" in request.query:
            try:
                views = views[: int(request.query["$top"])]
            except ValueError:
                raise Refused(400, "0x80060888", "Invalid value for $top.") from None
        after = request.query.get("$skiptoken")
        if after is not None:
            if not after.isdigit():
                raise Refused(400, "0x80060888", "The $skiptoken is not valid.")
            if "$orderby" in request.query:
                views = views[int(after) :]
            else:
                views = [(row, view) for row, view in views if row["_seq"] > int(after)]
        size = max_size or self.sim.default_page_size
        page, rest = views[:size], views[size:]
        body: dict[str, Any] = {
            "@odata.context": self._context_url(table, select, False),
            "value": [serialise(table, row, select, annotate) for row, _view in page],
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
            body["@odata.nextLink"] = str(URL(self.sim.api_url + table.entity_set).with_query(query))
        return web.json_response(body, headers=headers)

    # -- PATCH / POST --------------------------------------------------------------------------

    @staticmethod
    async def _read_json(request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise Refused(400, "0x80060888", "The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise Refused(400, "0x80060888", "The request body must be a JSON object.")
        return body

    def _entity_id(self, table: Table, key: str) -> dict[str, str]:
        return {"OData-EntityId": f"{self.sim.api_url}{table.entity_set}({key})"}

    async def _patch(self, request: web.Request, table: Table, key: str) -> web.Response:
        sim = self.sim
        values = coerce_wire(table, await self._read_json(request))
        values.pop(table.key, None)  # the address names the row
        row = sim.store.rows[table.entity_set].get(key)
        if_match = request.headers.get("If-Match")
        if row is None:
            if if_match is not None:
                return error_response(
                    404, "0x80040217", f"Entity '{table.logical_name}' With Id = {key} Does Not Exist"
                )
            # No If-Match: a PATCH is an upsert and creates the row.
            await sim.store.create(table.entity_set, {table.key: key, **values}, user_id=sim.integration_user_id)
            return web.Response(status=204, headers=self._entity_id(table, key))
        if if_match not in (None, "*") and if_match != f'W/"{row["versionnumber"]}"':
            return error_response(
                412, "0x80060882", "The version of the existing record doesn't match the RowVersion property provided."
            )
        state: dict[str, Any] = {k: values.pop(k) for k in ("statecode", "statuscode") if k in values}
        await sim.store.update(table, key, values, state=state, user_id=sim.integration_user_id)
        return web.Response(status=204, headers=self._entity_id(table, key))

    async def _post(self, request: web.Request, table: Table) -> web.Response:
        sim = self.sim
        values = coerce_wire(table, await self._read_json(request))
        chosen = values.get(table.key)
        if chosen is not None and chosen in sim.store.rows[table.entity_set]:
            raise Refused(412, "0x80040237", "A record with matching key values already exists.")
        if table.logical_name == "annotation":
            target = values.get("objectid")
            if target is None:
                raise Refused(400, "0x80040203", "A note needs objectid (objectid_<table>@odata.bind).")
            if target.id not in sim.store.rows.get(SET_OF.get(target.logical_name, ""), {}):
                raise Refused(404, "0x80040217", f"Entity '{target.logical_name}' With Id = {target.id} Does Not Exist")
            values.setdefault("objecttypecode", target.logical_name)
            values.setdefault("isdocument", False)
        row_id = await sim.store.create(table.entity_set, values, user_id=sim.integration_user_id)
        return web.Response(status=204, headers=self._entity_id(table, row_id))


def _order(table: Table, views: list[Any], orderby: str) -> list[Any]:
    keys = []
    for part in orderby.split(","):
        name, _, direction = part.strip().partition(" ")
        table.check_properties([name])
        if direction.strip() not in ("", "asc", "desc"):
            raise Refused(400, "0x80060888", f"Invalid $orderby direction '{direction}'.")
        keys.append((name, direction.strip() == "desc"))
    for name, descending in reversed(keys):
        # Nulls first ascending (last descending); stable, so earlier keys win ties.
        views = sorted(views, key=functools.partial(_sort_key, name), reverse=descending)
    return views


def _sort_key(name: str, row_and_view: tuple[Any, Mapping[str, Any]]) -> tuple[bool, Any]:
    value = row_and_view[1][name]
    return value is not None, value


# -- $filter: "<property> eq|ne <literal>" clauses joined by "and", as the client sends them -----

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')"
    r"|(?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})(?![\w-])"
    r"|(?P<num>-?\d+(?:\.\d+)?)(?![\w-])"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<other>\S))"
)


def parse_filter(text: str, table: Table) -> Any:
    """A predicate on a row's Web API view; Refused (0x80060888) for anything else."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:  # only trailing blanks are left
            break
        pos = match.end()
        kind = match.lastgroup or "other"
        tokens.append((kind, match.group(kind)))

    def syntax(at: int) -> Refused:
        return Refused(
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
        table.check_properties([name])
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
