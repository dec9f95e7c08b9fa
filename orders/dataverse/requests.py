"""The pure parts of writing to Dataverse: lookups bound by `@odata.bind` and their
navigation-property names, ETags and entity ids, queries and what a write gave back. Used through
`orders/dataverse/writes.py`, which re-exports them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote as urlquote

from orders.dataverse.webapi import (
    checked_guid,
)

# Dataverse takes at most 1000 requests in one $batch.
MAX_BATCH_OPERATIONS = 1000
# The codes of a 412 (DataversePreconditionFailed): If-Match named an older version of the row;
# a row with the same unique key (a product number, an ISO currency code) exists already.
STALE_ROW_VERSION = "0x80060882"
DUPLICATE_RECORD = "0x80040237"
_FILTER_SAFE = "'(),:"  # readable in logs; everything else percent-encoded
_ENTITY_ID = re.compile(r"\(([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\)\s*$")
# A note's objectid navigation property is objectid_<logical name>.
_LOGICAL_NAMES = {
    "accounts": "account",
    "contacts": "contact",
    "products": "product",
    "salesorders": "salesorder",
    "quotes": "quote",
    "invoices": "invoice",
    "opportunities": "opportunity",
}

Method = Literal["GET", "POST", "PATCH", "DELETE"]


# -- pure helpers -----------------------------------------------------------------------------


def bind_path(entity_set: str, row_id: str) -> str:
    """``/<entity_set>(<id>)``: the value of an ``@odata.bind``."""
    return f"/{entity_set}({checked_guid(row_id)})"


def bind(navigation_property: str, entity_set: str, row_id: str) -> dict[str, str]:
    """A lookup to write: ``bind("parentcustomerid_account", "accounts", id)`` gives
    ``{"parentcustomerid_account@odata.bind": "/accounts(<id>)"}``. The navigation property is
    the lookup's name for a single-table lookup (``defaultuomid``), or ``<lookup>_<table>`` for a
    polymorphic one (customer, regarding, owner)."""
    return {f"{navigation_property}@odata.bind": bind_path(entity_set, row_id)}


# Lookups whose navigation property is not the column's name. None of the tables the jobs write
# has one: their navigation properties are the lookup's logical name (``defaultuomid``, ``uomid``,
# ``pricelevelid``, ``transactioncurrencyid`` — lower case, as the tables' metadata has them; the
# schema names like ``DefaultUoMId`` are refused). Kept as the place to add one.
NAVIGATION_PROPERTIES: dict[tuple[str, str], str] = {}
# Lookups into more than one table: the navigation property names the target's table.
_POLYMORPHIC = {
    ("contacts", "parentcustomerid"),
    ("salesorders", "customerid"),
    ("quotes", "customerid"),
    ("annotations", "objectid"),
    ("posts", "regardingobjectid"),
}


def navigation_property(entity_set: str, column: str, target_set: str) -> str:
    """The navigation property that sets ``column`` of a row in ``entity_set`` to a row of
    ``target_set``: ``parentcustomerid_account`` for a contact's parent account, ``objectid_product``
    for a note on a product, else the column's name (``defaultuomid``)."""
    known = NAVIGATION_PROPERTIES.get((entity_set, column))
    if known is not None:
        return known
    if (entity_set, column) in _POLYMORPHIC:
        return f"{column}_{logical_name(target_set)}"
    return column


def logical_name(entity_set: str) -> str:
    """A table's logical name from its entity set (``accounts`` → ``account``)."""
    key = entity_set_key(entity_set)
    if key is None:
        raise ValueError(f"the logical name of {entity_set!r} is not known")
    return key.removesuffix("id")


def bind_lookup(entity_set: str, column: str, target_set: str, row_id: str) -> dict[str, str]:
    """``bind`` by column: ``bind_lookup("contacts", "parentcustomerid", "accounts", id)`` gives
    ``{"parentcustomerid_account@odata.bind": "/accounts(<id>)"}``."""
    return bind(navigation_property(entity_set, column, target_set), target_set, row_id)


def unbind(navigation_property: str) -> dict[str, None]:
    """Empty a lookup in a PATCH: ``{"<navigation property>@odata.bind": null}``."""
    return {f"{navigation_property}@odata.bind": None}


def entity_id(header: str | None) -> str | None:
    """The row id at the end of an ``OData-EntityId`` (or ``Location``) header, lower-case."""
    match = _ENTITY_ID.search(header or "")
    return match.group(1).lower() if match else None


def etag_of(row: Mapping[str, Any]) -> str | None:
    """The row's version as read (``@odata.etag``, e.g. ``W/"1234"``): the value for ``If-Match``."""
    value = row.get("@odata.etag")
    return value if isinstance(value, str) and value else None


def odata_datetime(moment: datetime) -> str:
    """A DateTimeOffset literal for ``$filter``, in UTC: ``2024-05-30T12:00:00Z``, with
    milliseconds when there are any (``…T11:59:59.001Z``). A naive datetime is refused: a mark
    without a zone would be read in the server's."""
    if moment.tzinfo is None:
        raise ValueError("a $filter time needs a time zone (aware datetime)")
    utc = moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond // 1000:03d}"
    return text + "Z"


def all_of(*clauses: str | None) -> str | None:
    """Clauses joined by ``and`` (each in parentheses when it has an ``or``); None when none."""
    parts = [c.strip() for c in clauses if c and c.strip()]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return " and ".join(f"({p})" if " or " in p else p for p in parts)


@dataclass(frozen=True, slots=True)
class Query:
    """A collection query. ``filter`` is OData ``$filter`` text (use :func:`odata_string`,
    :func:`odata_datetime` and plain GUIDs for literals); ``orderby`` items like
    ``"modifiedon asc"``; ``top`` caps the rows (``1``: the probe)."""

    entity_set: str
    select: tuple[str, ...] = ()
    filter: str | None = None
    orderby: tuple[str, ...] = ()
    top: int | None = None

    def path(self) -> str:
        """The request path relative to ``/api/data/v9.2/``, percent-encoded."""
        options = []
        if self.select:
            options.append("$select=" + ",".join(self.select))
        if self.filter:
            options.append("$filter=" + urlquote(self.filter, safe=_FILTER_SAFE))
        if self.orderby:
            options.append("$orderby=" + urlquote(",".join(self.orderby), safe=_FILTER_SAFE))
        if self.top is not None:
            if self.top < 1:
                raise ValueError("$top must be at least 1")
            options.append(f"$top={self.top}")
        return self.entity_set + ("?" + "&".join(options) if options else "")


def changes_query(
    entity_set: str,
    since: datetime | None,
    *,
    filter: str | None = None,
    not_modified_by: str | None = None,
    select: Iterable[str] = (),
    top: int | None = None,
) -> Query:
    """Rows changed after ``since`` (``modifiedon gt <since>``; every row when None), within
    ``filter``, leaving out those last modified by ``not_modified_by`` (a systemuserid: the
    integration user), oldest change first (then by key, so pages are stable)."""
    clauses = [filter]
    if since is not None:
        clauses.append(f"modifiedon gt {odata_datetime(since)}")
    if not_modified_by is not None:
        clauses.append(f"_modifiedby_value ne {checked_guid(not_modified_by)}")
    return Query(entity_set, tuple(select), all_of(*clauses), ("modifiedon asc",), top)


# -- results ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Written:
    """What a create or update gave back: the row's id, and the row itself when it was asked for
    (``return_row=True``)."""

    id: str
    row: dict[str, Any] | None = None

    @property
    def etag(self) -> str | None:
        return etag_of(self.row) if self.row is not None else None


def entity_set_key(entity_set: str) -> str | None:
    """The key column of a set this module knows (``products`` → ``productid``), else None."""
    special = {
        "transactioncurrencies": "transactioncurrencyid",
        "opportunities": "opportunityid",
        "nav_accountstatisticses": "nav_accountstatisticsid",
    }
    if entity_set in special:
        return special[entity_set]
    return entity_set[:-1] + "id" if entity_set.endswith("s") else None
