"""What a request's headers say to the service: the OData version it allows, the page size it
prefers, whether it takes text, and the facts its answer depends on (for the answer cache)."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from gateway.odata.errors import bad_request
from gateway.odata.formats import accepts
from gateway.odata.query import QueryOptions


def max_version_ok(request: web.Request, v3: bool) -> None:
    header = "MaxDataServiceVersion" if v3 else "OData-MaxVersion"
    floor = 3.0 if v3 else 4.0
    value = request.headers.get(header)
    if value is None:
        return
    m = re.match(r"\s*(\d+)(?:\.(\d+))?", value)
    if not m:
        raise bad_request(f"The {header} header '{value}' is not a version number.")
    version = float(f"{m.group(1)}.{m.group(2) or 0}")
    if version < floor:
        raise bad_request(
            f"This service speaks OData {floor:.1f}; the request allows at most {value.strip()}.",
            "BadRequest_UnsupportedVersion",
        )


def max_page_preference(request: web.Request) -> int | None:
    for header in request.headers.getall("Prefer", []):
        for pref in header.split(","):
            name, _, value = pref.strip().partition("=")
            if name.strip().lower() in ("odata.maxpagesize", "maxpagesize"):
                value = value.strip().strip('"')
                if value.isdigit() and int(value) > 0:
                    return int(value)
    return None


def request_facts(request: web.Request) -> tuple[Any, ...]:
    """Everything of a request that its answer depends on, as it came: the path and query, the
    headers the service reads (Accept, Prefer, the maximum versions) and the origin (absolute
    URLs in the answer). The user is not in it: who may read what is checked on every request."""
    headers = request.headers
    return (
        request.raw_path,
        headers.get("Accept"),
        tuple(headers.getall("Prefer", ())),
        headers.get("OData-MaxVersion"),
        headers.get("MaxDataServiceVersion"),
        request.scheme,
        request.host,
    )


def accepts_text(request: web.Request, options: QueryOptions) -> bool:
    """May a $count or $value answer (text/plain) go to this client?

    A client that asks for JSON gets the plain text too, as BC (ASP.NET OData) answers; python-odata
    and others send `Accept: application/json` on every request, $count included.
    """
    accept = request.headers.get("Accept")
    if accepts(accept, options.format, "text/plain"):
        return True
    return options.format is None and accepts(accept, None, "application/json")
