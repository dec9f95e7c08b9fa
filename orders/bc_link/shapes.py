"""The shapes the client answers with, and how it reads BC's JSON into them: the company, a page
of a collection (its rows and ``@odata.nextLink``), a bound action's result."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from yarl import URL

from orders.bc_link.errors import BcCompanyNotFound, BcProtocolError
from orders.bc_link.transport import BcResponse

__all__ = ["ActionResult", "BcCompany", "BcPage", "pick_company"]


@dataclass(frozen=True, slots=True)
class BcCompany:
    id: str
    name: str
    display_name: str


@dataclass(frozen=True, slots=True)
class BcPage:
    """One page of a collection: its rows, the URL it was read from, and BC's nextLink (None on
    the last page). A caller that checkpoints can store ``next_link`` and resume with it."""

    rows: list[dict[str, Any]]
    url: str
    next_link: str | None


@dataclass(frozen=True, slots=True)
class ActionResult:
    """A bound action's answer: usually 204 with nothing; ``location`` when BC names a new record."""

    status: int
    location: str | None
    body: Any


def is_absolute(path: str) -> bool:
    return path.startswith(("http://", "https://"))


def as_guid(value: str) -> str | None:
    try:
        return str(uuid.UUID(value.strip().strip("{}")))
    except ValueError:
        return None


def pick_company(wanted: str, found: Sequence[BcCompany]) -> BcCompany:
    """The company named (exactly, else the one equal ignoring case) or with the id ``wanted``."""
    wanted_id = as_guid(wanted)
    for company in found:
        if (wanted_id and company.id.lower() == wanted_id) or company.name == wanted:
            return company
    folded = [c for c in found if c.name.casefold() == wanted.casefold()]
    if len(folded) == 1:
        return folded[0]
    raise BcCompanyNotFound(wanted, tuple(c.name for c in found))


def json_object(response: BcResponse, method: str, path: str) -> dict[str, Any]:
    if not isinstance(response.body, dict):
        raise BcProtocolError(
            response.status, "bad_response", "BC did not answer a JSON object", method=method, path=path
        )
    return response.body


def rows_of(body: dict[str, Any], path: str) -> list[dict[str, Any]]:
    value = body.get("value")
    if not isinstance(value, list):
        raise BcProtocolError(200, "bad_response", "BC did not answer a collection", method="GET", path=path)
    return value


def next_link_of(body: dict[str, Any], current: str) -> str | None:
    link = body.get("@odata.nextLink")
    if not isinstance(link, str) or not link:
        return None
    if is_absolute(link):
        return link
    return str(URL(current, encoded=True).join(URL(link, encoded=True)))  # OData allows a relative link
