"""SalesOrderDifferences: the reconciliation report of `bc-gateway orders diff` as an OData set
(issue 12, item 9; no BC version has one). One row per difference between a Sales order and its
BC order, in the report's order, for the Sales order that `$filter=Sales_Order_ID eq <guid>` names.

The rows are computed per request (the Sales order is read through Dataverse), so the set is an
`EntitySet.computed` one: the generic OData layer asks for the filter, then filters, orders,
counts and pages the rows as it does a table's. When BC's rules refuse the Sales order as it is
now, the first row says so (`Kind` `refused`, BC's message in `Why`).

The read's failures are OData errors here, never a 500: no BC order to compare with → 404 with the
CLI's message; Sales not set up or not answering → 503 (with Retry-After); Sales has no such order
→ 404; Sales refusing the read otherwise → 502.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from gateway.entity_sets.common import READ_INTEGRATION
from gateway.odata.edm import GUID, INT32, STRING, ComputedRows, EntitySet, Property
from gateway.odata.errors import ODataError, not_found, service_unavailable
from orders.dataverse.client import DataverseError, DataverseNotFound, DataverseUnavailable
from orders.diff_sales_order import NoBcOrder, OrderDiff
from orders.process_inbox_row import NotConfigured

log = logging.getLogger("bcgw.odata")

# (company, Sales order id) -> the report; what `bc-gateway orders diff` prints.
DiffReader = Callable[[str, str], Awaitable[OrderDiff]]

REFUSED = "refused"  # the Kind of the row that carries BC's refusal
EXAMPLE_ID = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"


def difference_rows(diff: OrderDiff) -> list[dict[str, Any]]:
    """The report as rows: BC's refusal first (when its rules refuse the order now), then every
    difference in the report's order, numbered from 1 (`Entry_No`)."""
    head = {
        "Sales_Order_ID": diff.sales_id,
        "Sales_Order_Number": diff.sales_number,
        "BC_Order_No": diff.bc_order_no,
    }
    items: list[tuple[str, str, str, str, str, str]] = []
    if diff.refusal:
        why = f"BC's rules refuse the Sales order as it is now: {diff.refusal}"
        items.append(("header", "BC's rules", "-", "-", why, REFUSED))
    items += [(d.line, d.field, d.sales, d.bc, d.why, d.kind) for d in diff.differences]
    return [
        {**head, "Entry_No": n, "Line": line, "Field": field, "Sales": sales, "BC": bc, "Why": why, "Kind": kind}
        for n, (line, field, sales, bc, why, kind) in enumerate(items, start=1)
    ]


def _sales_error(exc: DataverseError) -> ODataError:
    text = f"Dynamics 365 Sales: {exc.describe()}"
    if isinstance(exc, DataverseUnavailable):
        wait = round(exc.retry_after) if exc.retry_after else 5
        return service_unavailable(f"{text} The report needs Sales; try again.", max(1, wait))
    if isinstance(exc, DataverseNotFound):
        return not_found(text)
    return ODataError(502, "Internal_SalesError", text)


def sales_order_differences(diff: DiffReader) -> EntitySet:
    """The set, reading the report through `diff` (the gateway's Sales client and database)."""

    async def read(company: str, sales_id: Any) -> Sequence[Mapping[str, Any]]:
        try:
            return difference_rows(await diff(company, str(sales_id)))
        except NoBcOrder as exc:
            raise not_found(str(exc)) from None
        except NotConfigured as exc:
            raise service_unavailable(str(exc)) from None
        except DataverseError as exc:
            log.warning("SalesOrderDifferences: reading Sales failed: %s", exc.describe())
            raise _sales_error(exc) from None

    return EntitySet(
        name="SalesOrderDifferences",
        properties=(
            Property("Sales_Order_ID", GUID, nullable=False),
            Property("Entry_No", INT32, nullable=False),
            Property("Sales_Order_Number", STRING, nullable=False, max_length=100),
            Property("BC_Order_No", STRING, nullable=False, max_length=20),
            Property("Line", STRING, nullable=False, max_length=30),
            Property("Field", STRING, nullable=False, max_length=50),
            Property("Sales", STRING, nullable=False),
            Property("BC", STRING, nullable=False),
            Property("Why", STRING, nullable=False),
            Property("Kind", STRING, nullable=False, max_length=10),
        ),
        key=("Sales_Order_ID", "Entry_No"),
        computed=ComputedRows(by="Sales_Order_ID", read=read, example=EXAMPLE_ID),
        read_roles=READ_INTEGRATION,
    )


__all__ = ["REFUSED", "DiffReader", "difference_rows", "sales_order_differences"]
