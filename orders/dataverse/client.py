"""The Dataverse Web API calls the integration makes: reads of orders, quotes and what they refer
to, and the writes BC makes (notes, the write-back of lastbackofficesubmit).

Rows come back as Dataverse returns them (JSON objects; lookups as ``_<name>_value`` with the
``@Microsoft.Dynamics.CRM.lookuplogicalname`` annotation), except that JSON numbers with a fraction
are read as ``Decimal`` so money never passes through a float.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

from orders.dataverse.codes import SalesOrderState, SalesOrderStatus
from orders.dataverse.webapi import (
    API_PATH,
    DataverseError,
    DataverseNotFound,
    DataverseUnavailable,
    WebApiSession,
    checked_guid,
    odata_string,
)

__all__ = [
    "API_PATH",
    "DataverseClient",
    "DataverseError",
    "DataverseNotFound",
    "DataverseUnavailable",
]

_NOTE_TARGETS = {"salesorders": "salesorder", "quotes": "quote", "accounts": "account", "contacts": "contact"}


class DataverseClient(WebApiSession):
    async def get_sales_order(self, order_id: str) -> dict[str, Any]:
        return await self.get_row("salesorders", order_id)

    async def get_sales_order_lines(self, order_id: str) -> list[dict[str, Any]]:
        return await self.list_rows("salesorderdetails", f"_salesorderid_value eq {checked_guid(order_id)}")

    async def get_notes(self, object_id: str) -> list[dict[str, Any]]:
        """The notes (not attachments) of an order or quote."""
        return await self.list_rows(
            "annotations", f"_objectid_value eq {checked_guid(object_id)} and isdocument eq false"
        )

    async def get_account(self, account_id: str) -> dict[str, Any]:
        return await self.get_row("accounts", account_id)

    async def get_contact(self, contact_id: str) -> dict[str, Any]:
        return await self.get_row("contacts", contact_id)

    async def get_product(self, product_id: str) -> dict[str, Any]:
        return await self.get_row("products", product_id)

    async def get_currency(self, currency_id: str) -> dict[str, Any]:
        return await self.get_row("transactioncurrencies", currency_id)

    async def get_uom(self, uom_id: str) -> dict[str, Any]:
        return await self.get_row("uoms", uom_id)

    async def get_quote(self, quote_id: str) -> dict[str, Any]:
        return await self.get_row("quotes", quote_id)

    async def get_quote_lines(self, quote_id: str) -> list[dict[str, Any]]:
        return await self.list_rows("quotedetails", f"_quoteid_value eq {checked_guid(quote_id)}")

    async def find_quotes_by_number(self, quotenumber: str) -> list[dict[str, Any]]:
        """Every revision of a quote number."""
        return await self.list_rows("quotes", f"quotenumber eq {odata_string(quotenumber)}")

    async def find_orders_for_quote(self, quote_id: str) -> list[dict[str, Any]]:
        return await self.list_rows("salesorders", f"_quoteid_value eq {checked_guid(quote_id)}")

    def submitted_orders_without_backoffice(self) -> AsyncIterator[dict[str, Any]]:
        """Submitted orders BC has not taken yet (reconciliation), page by page."""
        return self.iter_rows("salesorders", "statecode eq 1 and lastbackofficesubmit eq null")

    # -- writes -------------------------------------------------------------------------------

    async def patch(self, entity_set: str, row_id: str, body: dict[str, Any]) -> None:
        """PATCH columns of an existing row. ``If-Match: *`` stops Dataverse's upsert from creating
        a row that is not there (it answers 404: DataverseNotFound)."""
        await self.request("PATCH", f"{entity_set}({checked_guid(row_id)})", body=body, headers={"If-Match": "*"})

    async def create_note(
        self, entity_set: str, row_id: str, subject: str, text: str, annotation_id: str | None = None
    ) -> str | None:
        """POST a note on a row's timeline; returns the new annotation id. A POST is not repeated
        after a timeout or a dropped connection (it may have been carried out): that raises
        DataverseUnavailable and the caller decides. ``entity_set``: salesorders, quotes, accounts
        or contacts (the note's navigation property is named after the table).

        ``annotation_id``: the note's id, chosen by the caller. Dataverse refuses a second row with
        that id (412, 0x80040237, DuplicateRecord), so such a
        POST may be repeated: it makes one note at most."""
        logical = _NOTE_TARGETS.get(entity_set)
        if logical is None:
            raise ValueError(f"notes on {entity_set!r} are not supported")
        body = {
            "subject": subject,
            "notetext": text,
            f"objectid_{logical}@odata.bind": f"/{entity_set}({checked_guid(row_id)})",
        }
        if annotation_id is not None:
            body["annotationid"] = checked_guid(annotation_id)
        _status, headers, _data = await self.request(
            "POST", "annotations", body=body, idempotent=annotation_id is not None
        )
        match = re.search(r"\(([0-9a-fA-F-]{36})\)", headers.get("OData-EntityId", ""))
        return match.group(1).lower() if match else None

    async def write_back_submitted_order(self, order_id: str, day: date) -> bool:
        """Set ``lastbackofficesubmit`` on a Submitted order, as BC does: Sales refuses edits of a
        Submitted order, so Active → write the date → Submitted. Safe to repeat after a crash at
        any step. Returns False when there was nothing to do (already Submitted with that date).

        Raises DataverseError (409) when the order is neither Active nor Submitted (Canceled,
        Fulfilled, Invoiced): reopening it would change what Sales users see.
        """
        wanted = day.isoformat()
        order = await self.get_row("salesorders", order_id, ["statecode", "statuscode", "lastbackofficesubmit"])
        state, written = order.get("statecode"), order.get("lastbackofficesubmit")
        if state == SalesOrderState.SUBMITTED and written == wanted:
            return False
        if state not in (SalesOrderState.ACTIVE, SalesOrderState.SUBMITTED):
            raise DataverseError(
                409, "write_back_refused", f"sales order {order_id} has statecode {state}: not Active or Submitted"
            )
        if state == SalesOrderState.SUBMITTED:
            await self.patch(
                "salesorders", order_id, {"statecode": SalesOrderState.ACTIVE, "statuscode": SalesOrderStatus.PENDING}
            )
        if written != wanted:
            await self.patch("salesorders", order_id, {"lastbackofficesubmit": wanted})
        await self.patch(
            "salesorders",
            order_id,
            {"statecode": SalesOrderState.SUBMITTED, "statuscode": SalesOrderStatus.IN_PROGRESS},
        )
        return True
