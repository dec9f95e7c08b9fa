"""The API v2.0 request handler: URL grammar, methods, ETags, permissions, answer shapes.

It is synchronous on purpose: one request (or a whole ``$batch``) runs to the end without yielding
to the event loop, so transactions never interleave. The HTTP layer (app.py) does the waiting:
authentication, throttling, faults.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from yarl import URL

from . import operations
from .config import SimConfig
from .entities import COMPANIES, EntityDef
from .errors import (
    ApiError,
    dialog,
    method_not_allowed,
    permission,
    record_not_found,
    resource_not_found,
)
from .fields import etag_for, to_wire
from .lines import BY_LINES
from .paging import Options, parse_options, run_query, selected, shape
from .request import ApiRequest, ApiResponse, Segment, check_etag, parse_guid, parse_path
from .store import Company, Rec, Store, Table
from .views import API_SETS, NAVIGATION, metadata_xml, schema_for

_PREFER_PAGE = re.compile(r"odata\.maxpagesize=(\d+)")
_VERBS = {"GET": "Read", "POST": "Insert", "PATCH": "Modify", "DELETE": "Delete"}


class Api:
    def __init__(self, store: Store, config: SimConfig) -> None:
        self.store = store
        self.config = config

    def handle(self, req: ApiRequest) -> ApiResponse:
        try:
            return self._route(req)
        except ApiError as err:
            return ApiResponse(err.status, err.body(self.config.correlation_ids), dict(err.headers))

    # -- routing ------------------------------------------------------------------------------

    def _route(self, req: ApiRequest) -> ApiResponse:
        if req.method != "GET" and (req.header("data-access-intent") or "").lower() == "readonly":
            raise method_not_allowed(req.method, "the read-only replica")
        segs = parse_path(req.path)
        if not segs:
            return self._service_document(req)
        first = segs[0]
        if first.name == "$metadata" and len(segs) == 1:
            return ApiResponse(200, metadata_xml(), content_type="application/xml")
        if first.name == "companies":
            if first.key is None:
                if len(segs) > 1:
                    raise resource_not_found(segs[1].name)
                if req.method != "GET":
                    raise method_not_allowed(req.method, "companies", "EntitySet")
                return self._companies(req)
            company = self._company(req, first.key.strip())
            if len(segs) == 1:
                if req.method != "GET":
                    raise method_not_allowed(req.method, "companies")
                ctx = f"{req.root}/$metadata#companies/$entity"
                return self._entity(ctx, company.rec, schema_for(None, COMPANIES))
            return self._entity_path(req, company, segs[1:], f"companies({company.id})")
        hint = req.query.get("company") or req.company_hint or self.config.default_company
        if not hint:
            raise ApiError(
                400,
                "Internal_CompanyNotFound",
                "Cannot process the request because the default company cannot be found. You can specify a default "
                "company in the service configuration file, or specify one for each tenant, or you can add a query "
                'string in the form of "company=[name]".',
            )
        company = self._company(req, hint)
        return self._entity_path(req, company, segs, f"companies({company.id})")

    def _company(self, req: ApiRequest, key: str) -> Company:
        company = self.store.company(key.strip("'"))
        allowed = req.identity.companies
        if company is None:
            raise ApiError(404, "Internal_CompanyNotFound", f"The company '{key}' does not exist.")
        if allowed is not None and company.name not in allowed:
            raise permission(COMPANIES.table_no, "Company", "Read")
        return company

    def _service_document(self, req: ApiRequest) -> ApiResponse:
        names = ["companies", *API_SETS, "subscriptions"]
        value = [{"name": n, "kind": "EntitySet", "url": n} for n in names]
        return ApiResponse(200, {"@odata.context": f"{req.root}/$metadata", "value": value})

    def _companies(self, req: ApiRequest) -> ApiResponse:
        allowed = req.identity.companies
        schema = schema_for(None, COMPANIES)
        opts = parse_options(req.query, schema, COMPANIES.entity, "name")
        table = self.store.companies

        def scan(after: tuple[Any, ...] | None, lower: Any) -> Iterable[Rec]:
            return (r for r in table.scan(after=after) if allowed is None or r["name"] in allowed)

        return self._collection(req, f"{req.root}/$metadata#companies", scan, table.key_of, opts, schema)

    def _authorize(self, req: ApiRequest, defn: EntityDef, write: bool) -> None:
        access = req.identity.access(defn.set_name)
        if access == "none" or (write and access == "read"):
            raise permission(defn.table_no, defn.caption, _VERBS.get(req.method, "Read"))

    def _entity_path(self, req: ApiRequest, company: Company, segs: list[Segment], prefix: str) -> ApiResponse:
        head = segs[0]
        defn = API_SETS.get(head.name)
        if defn is None:
            raise resource_not_found(head.name)
        self._authorize(req, defn, req.method != "GET")
        table = company.table(defn.set_name)
        if head.key is None:
            if len(segs) == 2 and segs[1].name == "$count":
                return ApiResponse(200, str(len(table)), content_type="text/plain")
            if len(segs) > 1:
                raise resource_not_found(segs[1].name)
            return self._set(req, company, defn, None, f"{prefix}/{defn.set_name}")
        rec = table.get(parse_guid(head.key))
        if rec is None:
            raise record_not_found(defn.caption, f"Id='{head.key}'")
        path = f"{prefix}/{defn.set_name}({rec['id']})"
        if len(segs) == 1:
            return self._single(req, company, defn, rec, f"{prefix}/{defn.set_name}")
        nav = segs[1]
        if nav.name.startswith("Microsoft.NAV."):
            if len(segs) > 2:
                raise resource_not_found(segs[2].name)
            return self._action(req, company, defn, rec, nav.name[len("Microsoft.NAV.") :])
        link = NAVIGATION.get((defn.set_name, nav.name))
        if link is None:
            if nav.name in defn.by_name and nav.key is None and len(segs) == 2 and req.method == "GET":
                f = defn.by_name[nav.name]
                value = to_wire(f, schema_for(company, defn)[f.name].get(rec))
                return ApiResponse(200, {"@odata.context": f"{req.root}/$metadata#{path}/{nav.name}", "value": value})
            raise resource_not_found(nav.name)
        child = API_SETS[link[0]]
        self._authorize(req, child, req.method != "GET")
        if nav.key is None:
            if len(segs) == 3 and segs[2].name == "$count":
                return ApiResponse(
                    200, str(sum(1 for _ in self._children(company, rec, link))), content_type="text/plain"
                )
            if len(segs) > 2:
                raise resource_not_found(segs[2].name)
            return self._set(req, company, child, rec, f"{path}/{nav.name}", link)
        child_rec = company.table(child.set_name).get(parse_guid(nav.key))
        if child_rec is None or child_rec[link[1]] != rec[link[2]]:
            raise record_not_found(child.caption, f"Id='{nav.key}'")
        if len(segs) > 2:
            raise resource_not_found(segs[2].name)
        return self._single(req, company, child, child_rec, f"{path}/{nav.name}")

    def _children(self, company: Company, parent: Rec, link: tuple[str, str, str]) -> Iterable[Rec]:
        return company.table(link[0]).scan(prefix=(parent[link[2]],))

    # -- collections --------------------------------------------------------------------------

    def page_size(self, req: ApiRequest, token_size: int | None = None) -> tuple[int, dict[str, str]]:
        cap = self.config.max_page_size
        prefer = req.header("prefer") or ""
        match = _PREFER_PAGE.search(prefer)
        if match:
            size = max(1, min(int(match.group(1)), cap))
            return size, {"Preference-Applied": f"odata.maxpagesize={size}"}
        return (min(token_size, cap) if token_size else cap), {}

    def _set(
        self,
        req: ApiRequest,
        company: Company,
        defn: EntityDef,
        parent: Rec | None,
        path: str,
        link: tuple[str, str, str] | None = None,
    ) -> ApiResponse:
        if req.method == "POST":
            if "POST" not in defn.methods:
                raise method_not_allowed("POST", defn.set_name, "EntitySet")
            rec = operations.create(self.store, company, defn, parent, req.json())
            location = f"{req.root}/{path}({rec['id']})"
            return self._written(req, company, defn, rec, path, 201, {"Location": location})
        if req.method != "GET":
            raise method_not_allowed(req.method, defn.set_name, "EntitySet")
        schema = schema_for(company, defn)
        lead = defn.sort_key[0] if parent is None else None
        opts = parse_options(req.query, schema, defn.entity, lead)
        table = company.table(defn.set_name)
        prefix: tuple[Any, ...] | None = None
        if parent is not None and link is not None:
            prefix = (parent[link[2]],)
        elif defn.set_name in BY_LINES or defn.set_name == "salesInvoiceLines":
            props = opts.filter.props if opts.filter else frozenset()
            if "documentId" not in props and "id" not in props:
                raise dialog("You must specify an Id or a Document Id to get the lines.")

        def scan(after: tuple[Any, ...] | None, lower: Any) -> Iterable[Rec]:
            if after is None and lower is not None and prefix is None:
                return table.start_at((lower,))
            return table.scan(after=after, prefix=prefix)

        keys = defn.sort_key if prefix is None else ()
        return self._collection(
            req, f"{req.root}/$metadata#{path}", scan, table.key_of, opts, schema, company, defn, keys
        )

    def _collection(
        self,
        req: ApiRequest,
        context: str,
        scan: Any,
        key_of: Any,
        opts: Options,
        schema: dict[str, Any],
        company: Company | None = None,
        defn: EntityDef | None = None,
        key_names: tuple[str, ...] = (),
    ) -> ApiResponse:
        size, headers = self.page_size(req, opts.token.get("p") if opts.token else None)
        page = run_query(scan, key_of, opts, schema, size, key_names)
        cols = selected(schema, opts.select)
        if opts.select:
            context = f"{context}({','.join(c.name for c in cols)})"
        body: dict[str, Any] = {"@odata.context": context}
        if page.count is not None:
            body["@odata.count"] = page.count
        rows = [shape(r, cols) for r in page.rows]
        if opts.expand and company is not None and defn is not None:
            for out, row in zip(rows, page.rows, strict=True):
                self._expand(company, defn, row, out, opts)
        body["value"] = rows
        if page.next_token:
            query = {k: v for k, v in req.query.items() if k not in ("$skiptoken", "$skip")}
            query["$skiptoken"] = page.next_token
            base = f"{req.root}/{req.path.strip('/')}"
            body["@odata.nextLink"] = str(URL(base).with_query(query))
        return ApiResponse(200, body, headers)

    def _expand(self, company: Company, defn: EntityDef, row: Rec, out: dict[str, Any], opts: Options) -> None:
        for item in opts.expand:
            link = NAVIGATION.get((defn.set_name, item.name))
            if link is None:
                raise ApiError(
                    400,
                    "BadRequest_NotFound",
                    f"Could not find a property named '{item.name}' on type 'Microsoft.NAV.{defn.entity}'.",
                )
            child = API_SETS[link[0]]
            schema = schema_for(company, child)
            nested = parse_options(item.options, schema, child.entity, None, nested=True)
            children = company.table(child.set_name)
            parent_key = (row[link[2]],)

            def scan(
                after: tuple[Any, ...] | None, lower: Any, t: Table = children, k: tuple[Any, ...] = parent_key
            ) -> Iterable[Rec]:
                return t.scan(after=after, prefix=k)

            page = run_query(
                scan,
                children.key_of,
                nested,
                schema,
                self.config.max_page_size,
            )
            out[item.name] = [shape(r, selected(schema, nested.select)) for r in page.rows]

    # -- single entities ----------------------------------------------------------------------

    def _entity(self, context: str, rec: Rec, schema: dict[str, Any]) -> ApiResponse:
        body = {"@odata.context": context, **shape(rec, list(schema.values()))}
        return ApiResponse(200, body, {"ETag": body["@odata.etag"]})

    def _written(
        self,
        req: ApiRequest,
        company: Company,
        defn: EntityDef,
        rec: Rec,
        path: str,
        status: int,
        headers: dict[str, str] | None = None,
    ) -> ApiResponse:
        headers = dict(headers or {})
        headers["ETag"] = etag_for(rec["_v"])
        if "return-no-content" in (req.header("prefer") or ""):
            return ApiResponse(204, None, headers)
        schema = schema_for(company, defn)
        opts = parse_options(
            {k: v for k, v in req.query.items() if k in ("$select", "$expand")}, schema, defn.entity, None
        )
        cols = selected(schema, opts.select)
        body: dict[str, Any] = {"@odata.context": f"{req.root}/$metadata#{path}/$entity", **shape(rec, cols)}
        if opts.expand:
            self._expand(company, defn, rec, body, opts)
        return ApiResponse(status, body, headers)

    def _single(self, req: ApiRequest, company: Company, defn: EntityDef, rec: Rec, path: str) -> ApiResponse:
        if req.method == "GET":
            return self._written(req, company, defn, rec, path, 200)
        if req.method not in defn.methods:
            raise method_not_allowed(req.method, defn.set_name)
        if req.method == "PATCH":
            check_etag(req, rec, required=True)
            body = req.json()
            with self.store.atomic():
                operations.update(company, defn, rec, body)
            return self._written(req, company, defn, rec, path, 200)
        if req.method == "DELETE":
            check_etag(req, rec, required=False)
            with self.store.atomic():
                operations.delete(company, defn, rec)
            return ApiResponse(204)
        raise method_not_allowed(req.method, defn.set_name)

    def _action(self, req: ApiRequest, company: Company, defn: EntityDef, rec: Rec, name: str) -> ApiResponse:
        known = operations.ACTIONS.get(defn.set_name, {})
        if name not in known:
            raise resource_not_found(f"Microsoft.NAV.{name}")
        if req.method != "POST":
            raise method_not_allowed(req.method, f"Microsoft.NAV.{name}", "Action")
        action = known[name]
        if action is None:
            raise ApiError(501, "BadRequest_MethodNotImplemented", f"The simulator does not implement {name}.")
        self._authorize(req, defn, True)
        check_etag(req, rec, required=False)
        with self.store.atomic():
            action(company, rec)
        return ApiResponse(204)
