"""Published OData V4 web services: UI pages an admin publishes to fill the API's gaps.

``ODataV4/Company('{name}')/ItemLedgerEntries`` (page 38, with location, variant and remaining
quantity), ``ItemUnitsOfMeasure`` (page 5404) and ``Resources`` answer with OData V4 web-service
conventions (PascalCase_With_Underscores names, ``value``, nextLink paging, the same ``$filter``
rules as the API). Each must be published (config or control API); an unpublished one answers 404
as BC does. ``Company`` (the list of companies) is always there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from operator import itemgetter
from typing import Any
from urllib.parse import quote

from yarl import URL

from .api import Api
from .entities import DOCUMENT_TYPES, ENTRY_TYPES
from .errors import ApiError, method_not_allowed, query_syntax
from .fields import Field, Kind, boolean, code, day, dec, guid, integer, option, text
from .paging import parse_options, run_query, selected, shape
from .query import Col, parse_literal_for
from .request import ApiRequest, ApiResponse
from .store import Company, Rec

_KEY_PAIR = re.compile(r"^\s*(\w+)\s*=\s*(.+?)\s*$")
_SEGMENT = re.compile(r"^(?P<name>[A-Za-z_$][\w$]*)(?:\((?P<key>.*)\))?$")


@dataclass(frozen=True)
class Page:
    name: str
    source: str
    columns: tuple[tuple[Field, str], ...]  # (web-service field, stored field)

    def schema(self) -> dict[str, Col]:
        return {f.name: Col(f.name, f, itemgetter(src)) for f, src in self.columns}


PAGES = {
    p.name: p
    for p in (
        Page(
            "ItemLedgerEntries",
            "itemLedgerEntries",
            (
                (integer("Entry_No"), "entryNumber"),
                (day("Posting_Date"), "postingDate"),
                (option("Entry_Type", ENTRY_TYPES), "entryType"),
                (option("Document_Type", DOCUMENT_TYPES), "documentType"),
                (code("Document_No", 20), "documentNumber"),
                (code("Item_No", 20), "itemNumber"),
                (code("Variant_Code", 10), "_variant"),
                (text("Description", 100), "description"),
                (code("Location_Code", 10), "_location"),
                (dec("Quantity"), "quantity"),
                (dec("Remaining_Quantity"), "_remaining"),
                (dec("Sales_Amount_Actual"), "salesAmountActual"),
                (dec("Cost_Amount_Actual"), "costAmountActual"),
                (boolean("Open"), "_open"),
            ),
        ),
        Page(
            "ItemUnitsOfMeasure",
            "itemUnitsOfMeasure",
            (
                (code("Item_No", 20), "itemNumber"),
                (code("Code", 10), "code"),
                (dec("Qty_per_Unit_of_Measure"), "qtyPerUnitOfMeasure"),
            ),
        ),
        Page(
            "Resources",
            "resources",
            (
                (code("No", 20), "number"),
                (text("Name", 100), "name"),
                (option("Type", ("Person", "Machine")), "type"),
                (code("Base_Unit_of_Measure", 10), "baseUnitOfMeasure"),
                (dec("Unit_Price"), "unitPrice"),
                (dec("Unit_Cost"), "unitCost"),
                (boolean("Blocked"), "blocked"),
                (code("Search_Name", 100), "searchName"),
            ),
        ),
    )
}
_COMPANY = Page(
    "Company",
    "companies",
    ((text("Name", 30), "name"), (text("Display_Name", 250), "displayName"), (guid("Id"), "id")),
)


def _lead(page: Page, company: Company) -> str:
    sort_field = company.table(page.source).defn.sort_key[0]
    return next(f.name for f, src in page.columns if src == sort_field)


class WebServices:
    def __init__(self, api: Api) -> None:
        self.api = api

    @property
    def published(self) -> set[str]:
        return self.api.config.published_pages

    def handle(self, req: ApiRequest) -> ApiResponse:
        """req.path is the part after ODataV4/; req.root the absolute ODataV4 root."""
        try:
            return self._route(req)
        except ApiError as err:
            return ApiResponse(err.status, err.body(self.api.config.correlation_ids), dict(err.headers))

    def _not_found(self, req: ApiRequest) -> ApiError:
        return ApiError(
            404,
            "BadRequest_NotFound",
            f"No HTTP resource was found that matches the request URI '{req.root}/{req.path}'.",
        )

    def _route(self, req: ApiRequest) -> ApiResponse:
        parts = [p for p in req.path.split("/") if p]
        if not parts:
            value = [{"name": n, "kind": "EntitySet", "url": n} for n in ["Company", *sorted(self.published)]]
            return ApiResponse(200, {"@odata.context": f"{req.root}/$metadata", "value": value})
        if req.method != "GET":
            raise method_not_allowed(req.method, parts[-1])
        if parts == ["$metadata"]:
            return ApiResponse(200, self._metadata(), content_type="application/xml")
        company: Company | None = None
        first = _SEGMENT.match(parts[0])
        if first is None:
            raise query_syntax()
        if first.group("name") == "Company" and first.group("key") and len(parts) > 1:
            company = self.api.store.company(first.group("key").strip().strip("'").replace("''", "'"))
            if company is None:
                raise self._not_found(req)
            parts = parts[1:]
        elif parts[0] == "Company" and len(parts) == 1:
            return self._companies(req)
        match = _SEGMENT.match(parts[0])
        if match is None or len(parts) != 1:
            raise self._not_found(req)
        page = PAGES.get(match.group("name"))
        if page is None or page.name not in self.published:
            raise self._not_found(req)
        if company is None:
            hint = req.query.get("company") or self.api.config.default_company
            company = self.api.store.company(hint) if hint else None
            if company is None:
                raise ApiError(
                    400,
                    "Internal_CompanyNotFound",
                    "Cannot process the request because the default company cannot be found.",
                )
        if req.identity.companies is not None and company.name not in req.identity.companies:
            raise ApiError(
                403, "Authorization_InsufficientPermissions", "Sorry, the current permissions prevented the action."
            )
        context = f"{req.root}/$metadata#Company('{quote(company.name)}')/{page.name}"
        if match.group("key") is not None:
            return self._single(company, page, match.group("key"), context)
        return self._collection(req, company, page, context)

    def _single(self, company: Company, page: Page, key: str, context: str) -> ApiResponse:
        schema = page.schema()
        table = company.table(page.source)
        sort_fields = table.defn.sort_key
        by_src = {src: f for f, src in page.columns}
        pairs = [p.strip() for p in key.split(",")]
        values: list[Any] = []
        if len(pairs) == 1 and not _KEY_PAIR.match(pairs[0]):
            values = [parse_literal_for(by_src[sort_fields[0]], pairs[0])]
        else:
            named = {}
            for pair in pairs:
                m = _KEY_PAIR.match(pair)
                if m is None:
                    raise query_syntax()
                named[m.group(1)] = m.group(2)
            for src in sort_fields:
                f = by_src[src]
                if f.name not in named:
                    raise query_syntax()
                values.append(parse_literal_for(f, named[f.name]))
        rec = table.by_key(*values)
        if rec is None:
            raise ApiError(404, "BadRequest_NotFound", "The requested entity could not be found.")
        body = {"@odata.context": f"{context}/$entity", **shape(rec, list(schema.values()))}
        return ApiResponse(200, body, {"ETag": body["@odata.etag"]})

    def _collection(self, req: ApiRequest, company: Company, page: Page, context: str) -> ApiResponse:
        schema = page.schema()
        table = company.table(page.source)
        opts = parse_options(req.query, schema, page.name, _lead(page, company))

        def scan(after: tuple[Any, ...] | None, lower: Any) -> Iterable[Rec]:
            if after is None and lower is not None:
                return table.start_at((lower,))
            return table.scan(after=after)

        by_src = {src: f.name for f, src in page.columns}
        keys = tuple(by_src[k] for k in table.defn.sort_key) if all(k in by_src for k in table.defn.sort_key) else ()
        return self._answer(req, context, scan, table.key_of, opts, schema, keys)

    def _companies(self, req: ApiRequest) -> ApiResponse:
        schema = _COMPANY.schema()
        table = self.api.store.companies
        opts = parse_options(req.query, schema, "Company", "Name")
        allowed = req.identity.companies

        def scan(after: tuple[Any, ...] | None, lower: Any) -> Iterable[Rec]:
            return (r for r in table.scan(after=after) if allowed is None or r["name"] in allowed)

        return self._answer(req, f"{req.root}/$metadata#Company", scan, table.key_of, opts, schema)

    def _answer(
        self,
        req: ApiRequest,
        context: str,
        scan: Any,
        key_of: Any,
        opts: Any,
        schema: dict[str, Col],
        key_names: tuple[str, ...] = (),
    ) -> ApiResponse:
        size, headers = self.api.page_size(req, opts.token.get("p") if opts.token else None)
        result = run_query(scan, key_of, opts, schema, size, key_names)
        cols = selected(schema, opts.select)
        body: dict[str, Any] = {"@odata.context": context, "value": [shape(r, cols) for r in result.rows]}
        if result.count is not None:
            body["@odata.count"] = result.count
        if result.next_token:
            query = {k: v for k, v in req.query.items() if k not in ("$skiptoken", "$skip")}
            query["$skiptoken"] = result.next_token
            body["@odata.nextLink"] = str(URL(f"{req.root}/{req.path.strip('/')}").with_query(query))
        return ApiResponse(200, body, headers)

    def _metadata(self) -> str:
        edm = {
            Kind.CODE: "Edm.String",
            Kind.TEXT: "Edm.String",
            Kind.DECIMAL: "Edm.Decimal",
            Kind.INT: "Edm.Int32",
            Kind.BOOL: "Edm.Boolean",
            Kind.DATE: "Edm.Date",
            Kind.GUID: "Edm.Guid",
            Kind.ENUM: "Edm.String",
            Kind.DATETIME: "Edm.DateTimeOffset",
        }
        types, sets = [], []
        for page in [_COMPANY, *(PAGES[n] for n in sorted(self.published) if n in PAGES)]:
            props = "".join(f'<Property Name="{f.name}" Type="{edm[f.kind]}"/>' for f, _ in page.columns)
            key = f'<Key><PropertyRef Name="{page.columns[0][0].name}"/></Key>'
            types.append(f'<EntityType Name="{page.name}">{key}{props}</EntityType>')
            sets.append(f'<EntitySet Name="{page.name}" EntityType="NAV.{page.name}"/>')
        return (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">'
            '<edmx:DataServices><Schema Namespace="NAV" xmlns="http://docs.oasis-open.org/odata/ns/edm">'
            f'{"".join(types)}<EntityContainer Name="NAV">{"".join(sets)}</EntityContainer>'
            "</Schema></edmx:DataServices></edmx:Edmx>"
        )
