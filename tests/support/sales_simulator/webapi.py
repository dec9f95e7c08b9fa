"""The Web API, ``/api/data/v9.2/``, for the simulator's tables (docs/reference/dataverse.md §3).

Reads: a row by key (``$select``), collections (``$select``, ``$filter``, ``$orderby``, ``$top``,
``$skiptoken``) with server-driven paging (``Prefer: odata.maxpagesize``) and lookup annotations
only when ``Prefer: odata.include-annotations`` asks for them. Writes: POST (``Prefer:
return=representation`` answers 201 with the row, otherwise 204 with ``OData-EntityId``), PATCH
(an upsert without If-Match; ``If-Match: *`` makes a missing row a 404; an ETag that is not the
row's version a 412), DELETE (If-Match checked the same way), with Dataverse's type checks, edit
rules and Sales' validation (rules.py). ``$batch``: multipart/mixed with change sets (below).
Errors are Dataverse's ``{"error": {code, message}}``.

``$batch`` (OData 4.0 multipart/mixed, as Dataverse takes it): at most 1000 requests; each part an
``application/http`` request (absolute URL, a path under ``/api/data/v9.2/``, or ``$<Content-ID>``
for a row created earlier in the same change set — also as an ``@odata.bind`` value; one that no
earlier request of the change set declared is a 400, "Content-ID Reference: '$1' does not exist in
the batch context."); a change set (a nested multipart of writes) is carried out in one
transaction: when one of its requests fails, the rows it touched are restored as before it, its
webhook jobs are dropped, and its answer is that one error response (with the failing request's
Content-ID). Without ``Prefer: odata.continue-on-error`` the
batch stops at the first failure and answers 400 with the answers so far; with it, every part is
run and the batch answers 200.

Choices where Microsoft's documentation is silent: collections come back in insertion order;
``$skiptoken`` is keyset-like (rows after the last one sent), so rows changed between pages are
neither skipped nor repeated; ``$filter`` is the subset in filters.py.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy
from yarl import URL

from tests.support.sales_simulator import rules
from tests.support.sales_simulator.errors import DeliveryFailed, Refused
from tests.support.sales_simulator.filters import key_candidates, parse_filter
from tests.support.sales_simulator.tables import SET_OF, TABLES, Table
from tests.support.sales_simulator.values import coerce_wire, json_value

if TYPE_CHECKING:
    from tests.support.sales_simulator.app import SalesSimulator

API = "/api/data/v9.2/"
MAX_BATCH_REQUESTS = 1000
# "$<Content-ID>": a row created earlier in the change set, as a request path or a bind value.
_CONTENT_REF = re.compile(r"\$[A-Za-z0-9._~-]+")
_UNDECLARED = "Content-ID Reference: '{}' does not exist in the batch context."
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    412: "Precondition Failed",
    429: "Too Many Requests",
}

__all__ = ["API", "MAX_BATCH_REQUESTS", "Answer", "Call", "WebApi", "parse_filter", "serialise"]


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


@dataclass
class Call:
    """One Web API request, from HTTP or from a part of a ``$batch``."""

    method: str
    tail: str  # the path below /api/data/v9.2/, without the query
    query: MultiDictProxy[str]
    headers: CIMultiDictProxy[str]
    body: bytes = b""


@dataclass
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None  # a JSON value, or None for an empty answer

    @classmethod
    def error(cls, status: int, code: str, message: str) -> Answer:
        return cls(
            status,
            {"Content-Type": "application/json; odata.metadata=minimal"},
            {"error": {"code": code, "message": message}},
        )

    def response(self) -> web.Response:
        headers = {"OData-Version": "4.0", **self.headers}
        if self.body is None:
            headers.pop("Content-Type", None)
            return web.Response(status=self.status, headers=headers)
        headers.setdefault("Content-Type", "application/json; odata.metadata=minimal")
        return web.Response(status=self.status, text=json.dumps(self.body), headers=headers)

    def http_text(self) -> str:
        """The answer as an ``application/http`` part of a ``$batch`` answer."""
        lines = [f"HTTP/1.1 {self.status} {_REASONS.get(self.status, '')}".rstrip()]
        headers = {"OData-Version": "4.0", **self.headers}
        if self.body is not None:
            headers.setdefault("Content-Type", "application/json; odata.metadata=minimal")
        lines += [f"{k}: {v}" for k, v in headers.items()]
        lines.append("")
        lines.append(json.dumps(self.body) if self.body is not None else "")
        return "\r\n".join(lines)


def _call(method: str, url: str, headers: CIMultiDict[str], body: bytes) -> Call:
    target = URL(url)
    path = target.path if target.is_absolute() or url.startswith("/") else API + url.split("?", 1)[0]
    if url.startswith("$"):
        path = API + url.split("?", 1)[0]
    if not path.startswith(API):
        raise Refused(400, "0x80060888", f"The request URL '{url}' is not under {API}.")
    return Call(method, path[len(API) :], target.query, CIMultiDictProxy(headers), body)


class WebApi:
    def __init__(self, sim: SalesSimulator) -> None:
        self.sim = sim

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if not self.sim.tokens.authorised(request):
            return self.sim.tokens.unauthorised()
        tail = request.match_info["tail"]
        if tail == "$batch":
            if request.method != "POST":
                return Answer.error(405, "0x80060888", "$batch takes POST only.").response()
            return await self._batch(request)
        call = Call(request.method, tail, request.query, request.headers, await request.read())
        return (await self.execute(call)).response()

    async def execute(self, call: Call, content_ids: Mapping[str, str] | None = None) -> Answer:
        """Carry out one request; every refusal is an error answer, never an exception."""
        tail = call.tail
        if tail.startswith("$") and content_ids is not None and _CONTENT_REF.fullmatch(tail):
            if tail not in content_ids:
                return _undeclared(tail)
            tail = content_ids[tail]
        match = re.fullmatch(r"([A-Za-z_]+)(?:\(([^)]*)\))?", tail)
        if match is None:
            return Answer.error(404, "0x8006088a", f"Resource not found for the segment '{tail}'.")
        entity_set, key = match.group(1), match.group(2)
        table = TABLES.get(entity_set)
        if table is None:
            return Answer.error(404, "0x8006088a", f"Resource not found for the segment '{entity_set}'.")
        if key is not None and not _GUID.fullmatch(key):
            return Answer.error(400, "0x80060888", f"Bad Request - Error in query syntax: '{key}' is not a GUID key.")
        try:
            if call.method == "GET":
                if key is None:
                    return self._get_collection(call, table)
                return self._get_row(call, table, key.lower())
            if call.method == "PATCH" and key is not None:
                return await self._patch(call, table, key.lower(), content_ids or {})
            if call.method == "POST" and key is None:
                return await self._post(call, table, content_ids or {})
            if call.method == "DELETE" and key is not None:
                return self._delete(call, table, key.lower())
        except Refused as refused:
            return Answer.error(refused.status, refused.code, refused.message)
        except DeliveryFailed as failed:
            return Answer.error(400, "0x80040265", str(failed))
        return Answer.error(405, "0x80060888", f"The HTTP method '{call.method}' is not allowed on this resource.")

    # -- GET -----------------------------------------------------------------------------------

    @staticmethod
    def _prefer(call: Call) -> tuple[bool, int | None, bool]:
        """(lookup annotations wanted, odata.maxpagesize, return=representation)."""
        prefer = ",".join(call.headers.getall("Prefer", []))
        annotations = re.search(r'odata\.include-annotations="([^"]*)"', prefer)
        wanted = annotations.group(1) if annotations else ""
        lookups = any(
            p.strip() in ("*", "Microsoft.Dynamics.CRM.lookuplogicalname", "Microsoft.Dynamics.CRM.*")
            for p in wanted.split(",")
        )
        size = re.search(r"odata\.maxpagesize=(\d+)", prefer)
        return lookups, int(size.group(1)) if size else None, "return=representation" in prefer

    @staticmethod
    def _select(table: Table, call: Call) -> list[str] | None:
        raw = call.query.get("$select")
        if raw is None:
            return None
        names = [n.strip() for n in raw.split(",") if n.strip()]
        table.check_properties(names)
        return names

    def _context_url(self, table: Table, select: list[str] | None, single: bool) -> str:
        columns = f"({','.join(select)})" if select else ""
        return f"{self.sim.api_url}$metadata#{table.entity_set}{columns}" + ("/$entity" if single else "")

    def _representation(self, call: Call, table: Table, row: Mapping[str, Any]) -> dict[str, Any]:
        select = self._select(table, call)
        annotate, _size, _ret = self._prefer(call)
        return {"@odata.context": self._context_url(table, select, True), **serialise(table, row, select, annotate)}

    def _get_row(self, call: Call, table: Table, key: str) -> Answer:
        unknown = [k for k in call.query if k.startswith("$") and k not in ("$select",)]
        if unknown:
            raise Refused(400, "0x80060888", f"The query parameter {unknown[0]} is not supported by this simulator.")
        row = self.sim.store.rows[table.entity_set].get(key)
        if row is None:
            return Answer.error(404, "0x80040217", f"Entity '{table.logical_name}' With Id = {key} Does Not Exist")
        return Answer(200, {"ETag": f'W/"{row["versionnumber"]}"'}, self._representation(call, table, row))

    def _get_collection(self, call: Call, table: Table) -> Answer:
        allowed = {"$select", "$filter", "$orderby", "$top", "$skiptoken"}
        query = call.query
        unknown = [k for k in query if k.startswith("$") and k not in allowed]
        if unknown:
            raise Refused(400, "0x80060888", f"The query parameter {unknown[0]} is not supported by this simulator.")
        select = self._select(table, call)
        annotate, max_size, _ret = self._prefer(call)
        ids = key_candidates(query["$filter"], table.key) if "$filter" in query else None
        if ids is None:
            rows = self.sim.store.ordered(table.entity_set)
        else:
            held = self.sim.store.rows[table.entity_set]
            rows = sorted((held[i] for i in ids if i in held), key=lambda r: r["_seq"])
        views = [(row, serialise(table, row, None, False)) for row in rows]
        if "$filter" in query:
            predicate = parse_filter(query["$filter"], table)
            views = [(row, view) for row, view in views if predicate(view)]
        if "$orderby" in query:
            views = _order(table, views, query["$orderby"])
        if "$top" in query:
            try:
                top = int(query["$top"])
            except ValueError:
                raise Refused(400, "0x80060888", "Invalid value for $top.") from None
            if top < 0:
                raise Refused(400, "0x80060888", "Invalid value for $top.")
            views = views[:top]
        after = query.get("$skiptoken")
        if after is not None:
            if not after.isdigit():
                raise Refused(400, "0x80060888", "The $skiptoken is not valid.")
            if "$orderby" in query:
                views = views[int(after) :]
            else:
                views = [(row, view) for row, view in views if row["_seq"] > int(after)]
        size = max_size or self.sim.default_page_size
        page, rest = views[:size], views[size:]
        body: dict[str, Any] = {
            "@odata.context": self._context_url(table, select, False),
            "value": [serialise(table, row, select, annotate) for row, _view in page],
        }
        headers = {}
        if max_size:
            headers["Preference-Applied"] = f"odata.maxpagesize={max_size}"
        if rest:
            # Keyset after the last row sent; with $orderby, a plain offset ($top is applied again
            # before the token, so it is carried along as it is).
            ordered = "$orderby" in query
            token = str(int(after or 0) + len(page)) if ordered else str(page[-1][0]["_seq"])
            next_query = MultiDict((k, v) for k, v in query.items() if k != "$skiptoken")
            next_query["$skiptoken"] = token
            body["@odata.nextLink"] = str(URL(self.sim.api_url + table.entity_set).with_query(next_query))
        return Answer(200, headers, body)

    # -- PATCH / POST / DELETE -----------------------------------------------------------------

    @staticmethod
    def _read_json(call: Call, content_ids: Mapping[str, str]) -> dict[str, Any]:
        try:
            body = json.loads(call.body) if call.body.strip() else None
        except ValueError:
            raise Refused(400, "0x80060888", "The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise Refused(400, "0x80060888", "The request body must be a JSON object.")
        for name, value in list(body.items()):
            # "$1" in a change set: the row its request with Content-ID 1 created.
            if name.endswith("@odata.bind") and isinstance(value, str) and _CONTENT_REF.fullmatch(value):
                if value not in content_ids:
                    raise Refused(400, "0x80060888", _UNDECLARED.format(value))
                body[name] = "/" + content_ids[value]
        return body

    def _entity_id(self, table: Table, key: str) -> dict[str, str]:
        return {"OData-EntityId": f"{self.sim.api_url}{table.entity_set}({key})"}

    def _etag_matches(self, call: Call, row: Mapping[str, Any]) -> None:
        if_match = call.headers.get("If-Match")
        if if_match not in (None, "*") and if_match != f'W/"{row["versionnumber"]}"':
            raise Refused(
                412, "0x80060882", "The version of the existing record doesn't match the RowVersion property provided."
            )

    async def _patch(self, call: Call, table: Table, key: str, content_ids: Mapping[str, str]) -> Answer:
        sim = self.sim
        values = coerce_wire(table, self._read_json(call, content_ids))
        row = sim.store.rows[table.entity_set].get(key)
        if row is None:
            if call.headers.get("If-Match") is not None:
                return Answer.error(404, "0x80040217", f"Entity '{table.logical_name}' With Id = {key} Does Not Exist")
            # No If-Match: a PATCH is an upsert and creates the row.
            values.pop(table.key, None)
            created = rules.check_create(sim, table, values)
            await sim.store.create(table.entity_set, {table.key: key, **created}, user_id=sim.integration_user_id)
            rules.after_create(sim, table, key)
            return self._written(call, table, key, 201)
        self._etag_matches(call, row)
        values.pop(table.key, None)
        state: dict[str, Any] = {k: values.pop(k) for k in ("statecode", "statuscode") if k in values}
        rules.check_state_request(table, state)
        values = {k: v for k, v in values.items() if k not in table.read_only}
        values = rules.check_change(sim, table, row, values)
        await sim.store.update(table, key, values, state=state, user_id=sim.integration_user_id)
        return self._written(call, table, key, 200)

    def _written(self, call: Call, table: Table, key: str, status_with_row: int) -> Answer:
        _annotate, _size, representation = self._prefer(call)
        headers = self._entity_id(table, key)
        if not representation:
            return Answer(204, headers)
        row = self.sim.store.rows[table.entity_set][key]
        headers["Preference-Applied"] = "return=representation"
        headers["ETag"] = f'W/"{row["versionnumber"]}"'
        return Answer(status_with_row, headers, self._representation(call, table, row))

    async def _post(self, call: Call, table: Table, content_ids: Mapping[str, str]) -> Answer:
        sim = self.sim
        values = coerce_wire(table, self._read_json(call, content_ids))
        if table.logical_name == "annotation":
            target = values.get("objectid")
            if target is None:
                raise Refused(400, "0x80040203", "A note needs objectid (objectid_<table>@odata.bind).")
            if target.id not in sim.store.rows.get(SET_OF.get(target.logical_name, ""), {}):
                raise Refused(404, "0x80040217", f"Entity '{target.logical_name}' With Id = {target.id} Does Not Exist")
            values.setdefault("objecttypecode", target.logical_name)
            values.setdefault("isdocument", False)
        key = values.pop(table.key, None)
        if key is not None:
            if not isinstance(key, str) or not _GUID.fullmatch(key):
                raise Refused(400, "0x80060888", f"Cannot convert the literal '{key}' to the expected type 'Edm.Guid'.")
            if key.lower() in sim.store.rows[table.entity_set]:
                raise Refused(412, "0x80040237", "Cannot insert duplicate key.")
        created = rules.check_create(sim, table, values)
        if key is not None:
            created[table.key] = key.lower()
        row_id = await sim.store.create(table.entity_set, created, user_id=sim.integration_user_id)
        rules.after_create(sim, table, row_id)
        return self._written(call, table, row_id, 201)

    def _delete(self, call: Call, table: Table, key: str) -> Answer:
        row = self.sim.store.rows[table.entity_set].get(key)
        if row is None:
            return Answer.error(404, "0x80040217", f"Entity '{table.logical_name}' With Id = {key} Does Not Exist")
        self._etag_matches(call, row)
        self.sim.store.delete(table, key)
        return Answer(204)

    # -- $batch --------------------------------------------------------------------------------

    async def _batch(self, request: web.Request) -> web.Response:
        boundary = _boundary(request.headers.get("Content-Type", ""))
        if boundary is None or not request.content_type.startswith("multipart/mixed"):
            return Answer.error(
                400, "0x80060888", "A $batch request must be multipart/mixed with a boundary."
            ).response()
        text = (await request.read()).decode("utf-8", "replace")
        try:
            parts = _parts(text, boundary)
            count = sum(len(_parts(p.content, b)) if (b := p.multipart_boundary()) else 1 for p in parts)
        except Refused as refused:
            return Answer.error(refused.status, refused.code, refused.message).response()
        if count > MAX_BATCH_REQUESTS:
            return Answer.error(
                400, "0x80060888", f"The batch holds {count} requests; at most {MAX_BATCH_REQUESTS} are allowed."
            ).response()
        continue_on_error = "odata.continue-on-error" in ",".join(request.headers.getall("Prefer", []))
        out: list[str] = []
        failed = False
        for part in parts:
            inner = part.multipart_boundary()
            if inner is not None:
                ok, text_part = await self._change_set(_parts(part.content, inner))
            else:
                answer = await self._batch_request(part, None)
                ok, text_part = answer.status < 400, _http_part(answer, None)
            out.append(text_part)
            if not ok:
                failed = True
                if not continue_on_error:
                    break
        answer_boundary = f"batchresponse_{uuid.uuid4()}"
        body = "".join(f"--{answer_boundary}\r\n{p}\r\n" for p in out) + f"--{answer_boundary}--\r\n"
        headers = {"OData-Version": "4.0", "Content-Type": f"multipart/mixed; boundary={answer_boundary}"}
        if continue_on_error:
            headers["Preference-Applied"] = "odata.continue-on-error"
        status = 400 if failed and not continue_on_error else 200
        return web.Response(status=status, text=body, headers=headers)

    async def _batch_request(self, part: _Part, content_ids: dict[str, str] | None) -> Answer:
        try:
            method, url, headers, body = _http_request(part.content)
            call = _call(method, url, headers, body)
        except Refused as refused:
            return Answer.error(refused.status, refused.code, refused.message)
        if content_ids is not None and method == "GET":
            return Answer.error(400, "0x80060888", "A change set may not contain a GET request.")
        return await self.execute(call, content_ids)

    async def _change_set(self, parts: list[_Part]) -> tuple[bool, str]:
        """Run a change set in one transaction: (committed, its answer part)."""
        store, hooks = self.sim.store, self.sim.hooks
        store.begin()
        hooks.begin()
        content_ids: dict[str, str] = {}
        answers: list[tuple[Answer, str | None]] = []
        for part in parts:
            content_id = part.headers.get("content-id")
            answer = await self._batch_request(part, content_ids)
            if answer.status >= 400:
                store.rollback()
                hooks.rollback()
                return False, _http_part(answer, content_id)
            entity = answer.headers.get("OData-EntityId", "")
            if content_id and API in entity:
                content_ids["$" + content_id] = entity.split(API, 1)[1]
            answers.append((answer, content_id))
        store.commit()
        hooks.commit()
        boundary = f"changesetresponse_{uuid.uuid4()}"
        inner = "".join(f"--{boundary}\r\n{_http_part(a, cid)}\r\n" for a, cid in answers) + f"--{boundary}--"
        return True, f"Content-Type: multipart/mixed; boundary={boundary}\r\n\r\n{inner}"


@dataclass
class _Part:
    headers: dict[str, str]  # lower-case names
    content: str

    def multipart_boundary(self) -> str | None:
        content_type = self.headers.get("content-type", "")
        return _boundary(content_type) if content_type.startswith("multipart/") else None


def _boundary(content_type: str) -> str | None:
    match = re.search(r'boundary="?([^";]+)"?', content_type or "")
    return match.group(1).strip() if match else None


def _split_head(text: str) -> tuple[list[str], str]:
    match = re.search(r"\r?\n\r?\n", text)
    if match is None:
        return [line for line in text.splitlines() if line.strip()], ""
    return [line for line in text[: match.start()].splitlines() if line.strip()], text[match.end() :]


def _parts(text: str, boundary: str) -> list[_Part]:
    delimiter = "--" + boundary
    segments = text.split(delimiter)
    if len(segments) < 2:
        raise Refused(400, "0x80060888", "The $batch body has no part with its boundary.")
    parts = []
    for segment in segments[1:]:
        if segment.startswith("--"):
            break
        segment = re.sub(r"^[ \t]*\r?\n", "", segment)
        segment = re.sub(r"\r?\n$", "", segment)
        head, content = _split_head(segment)
        headers = {}
        for line in head:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        parts.append(_Part(headers, content))
    return parts


def _http_request(content: str) -> tuple[str, str, CIMultiDict[str], bytes]:
    head, body = _split_head(content.lstrip("\r\n"))
    request_line = head[0].split() if head else []
    if len(request_line) != 3 or not request_line[2].startswith("HTTP/"):
        raise Refused(400, "0x80060888", "A $batch part holds no HTTP request line ('<METHOD> <URL> HTTP/1.1').")
    headers: CIMultiDict[str] = CIMultiDict()
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers.add(name.strip(), value.strip())
    return request_line[0].upper(), request_line[1], headers, body.strip().encode()


def _undeclared(reference: str) -> Answer:
    """Dataverse's answer to a ``$<n>`` no earlier request of the change set declared."""
    return Answer.error(400, "0x80060888", _UNDECLARED.format(reference))


def _http_part(answer: Answer, content_id: str | None) -> str:
    head = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
    if content_id:
        head += f"Content-ID: {content_id}\r\n"
    return f"{head}\r\n{answer.http_text()}"


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
