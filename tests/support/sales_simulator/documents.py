"""Orders and quotes as a salesperson makes them in Sales: a document with its lines (and the
amounts Sales computes for them) and notes, submitting an order, and a quote's life — activate,
revise, win (with the order made from it), lose (docs/reference/dataverse.md §2.1–§2.4).

Each action saves through the row store, so it delivers what Sales would.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tests.support.dataverse_payloads import EntityReference
from tests.support.sales_simulator.errors import Refused, SimulatorError
from tests.support.sales_simulator.store import Rows
from tests.support.sales_simulator.tables import LINE_SETS, STATE_LABELS, TABLES
from tests.support.sales_simulator.values import coerce_python, reference

if TYPE_CHECKING:
    from tests.support.sales_simulator.app import SalesSimulator

# A quote's columns not carried to its next revision or to the order made from it.
_NOT_COPIED = (
    "quoteid",
    "statecode",
    "statuscode",
    "createdon",
    "modifiedon",
    "createdby",
    "modifiedby",
    "versionnumber",
)


class Documents:
    def __init__(self, sim: SalesSimulator) -> None:
        self.sim = sim
        self.store = sim.store
        self._order_counter = 1000
        self._quote_counter = 1000

    async def create_order(
        self,
        customer: Any,
        lines: Iterable[Mapping[str, Any]],
        notes: Iterable[Mapping[str, Any] | str],
        **columns: Any,
    ) -> str:
        self._order_counter += 1
        values: dict[str, Any] = {
            "name": f"Order {self._order_counter}",
            "ordernumber": f"ORD-{self._order_counter:05d}-{_suffix()}",
            "statecode": 0,
            "statuscode": 1,
            "transactioncurrencyid": EntityReference("transactioncurrency", self.sim.base_currency_id),
            **columns,
        }
        if customer is not None:
            values["customerid"] = reference(customer, ("account", "contact"))
        return await self._create_document("salesorders", values, lines, notes)

    async def add_order_line(self, order_id: str, line: Mapping[str, Any]) -> str:
        order = self.store.rows["salesorders"][order_id.lower()]
        if order["statecode"] != 0:
            raise SimulatorError("only Active orders can be edited")
        number = len(self.store.lines("salesorderdetails", "salesorderid", order_id)) + 1
        line_id = await self._create_line("salesorderdetails", "salesorderid", order_id, number, line)
        self.store.recalculate("salesorders", order_id)
        return line_id

    async def add_note(self, object_id: str, subject: str, notetext: str, entity: str, **columns: Any) -> str:
        return await self.store.create(
            "annotations",
            {
                "subject": subject,
                "notetext": notetext,
                "objectid": EntityReference(entity, object_id.lower()),
                "objecttypecode": entity,
                "isdocument": False,
                **columns,
            },
        )

    async def submit_order(self, order_id: str, also_change: Mapping[str, Any] | None) -> None:
        order = self.store.rows["salesorders"][order_id.lower()]
        if order["statecode"] != 0:
            raise SimulatorError(f"order {order_id} is not Active (statecode {order['statecode']})")
        table = TABLES["salesorders"]
        await self.store.update(
            table,
            order_id,
            coerce_python(table, dict(also_change or {})),
            state={"statecode": 1, "statuscode": 3, "submitdate": self.sim.now()},
            user_id=self.sim.user_id,
        )

    async def set_state(self, entity_set: str, row_id: str, statecode: int, statuscode: int | None) -> None:
        table = TABLES[entity_set]
        status = statuscode if statuscode is not None else table.states[statecode][0]
        try:
            await self.store.update(
                table, row_id, {}, state={"statecode": statecode, "statuscode": status}, user_id=self.sim.user_id
            )
        except Refused as refused:
            raise SimulatorError(refused.message) from None

    async def update(self, entity_set: str, row_id: str, changes: Mapping[str, Any]) -> None:
        table = TABLES[entity_set]
        values = coerce_python(table, changes)
        state: dict[str, Any] = {k: values.pop(k) for k in ("statecode", "statuscode") if k in values}
        try:
            await self.store.update(table, row_id, values, state=state, user_id=self.sim.user_id)
        except Refused as refused:
            raise SimulatorError(refused.message) from None

    async def create_quote(
        self,
        customer: Any,
        lines: Iterable[Mapping[str, Any]],
        notes: Iterable[Mapping[str, Any] | str],
        **columns: Any,
    ) -> str:
        self._quote_counter += 1
        values: dict[str, Any] = {
            "name": f"Quote {self._quote_counter}",
            "quotenumber": f"QUO-{self._quote_counter:05d}-{_suffix()}",
            "revisionnumber": 0,
            "statecode": 0,
            "statuscode": 1,
            "transactioncurrencyid": EntityReference("transactioncurrency", self.sim.base_currency_id),
            **columns,
        }
        if customer is not None:
            values["customerid"] = reference(customer, ("account", "contact"))
        return await self._create_document("quotes", values, lines, notes)

    async def activate_quote(self, quote_id: str, statuscode: int) -> None:
        self._require_quote(quote_id, 0, "activated")
        await self.set_state("quotes", quote_id, 1, statuscode)

    async def revise_quote(self, quote_id: str) -> str:
        old = self._require_quote(quote_id, 1, "revised")
        await self.set_state("quotes", quote_id, 3, 7)
        values = {k: v for k, v in old.items() if k not in _NOT_COPIED and not k.startswith("_")}
        values.update(revisionnumber=old["revisionnumber"] + 1, statecode=0, statuscode=1)
        lines = [_line_copy(line) for line in self.store.lines("quotedetails", "quoteid", quote_id)]
        return await self._create_document("quotes", values, lines, ())

    async def win_quote(self, quote_id: str, create_order: bool, submit_order: bool) -> str | None:
        quote = self._require_quote(quote_id, 1, "won")
        await self.set_state("quotes", quote_id, 2, 4)
        if not create_order:
            return None
        order_table = TABLES["salesorders"]
        copied = {
            k: v
            for k, v in quote.items()
            if k in order_table.columns or k in order_table.lookups
            if k not in (*_NOT_COPIED, "name")
        }
        lines = []
        for line in self.store.lines("quotedetails", "quoteid", quote_id):
            copy_ = _line_copy(line)
            copy_["quotedetailid"] = EntityReference("quotedetail", line["quotedetailid"])
            lines.append(copy_)
        order_id = await self.create_order(
            None, lines, (), **copied, quoteid=EntityReference("quote", quote_id.lower()), name=quote["name"]
        )
        if submit_order:
            await self.submit_order(order_id, None)
        return order_id

    async def lose_quote(self, quote_id: str, statuscode: int) -> None:
        self._require_quote(quote_id, 1, "closed")
        await self.set_state("quotes", quote_id, 3, statuscode)

    # -- internals -----------------------------------------------------------------------------

    def _require_quote(self, quote_id: str, state: int, action: str) -> dict[str, Any]:
        quote = self.store.rows["quotes"][quote_id.lower()]
        if quote["statecode"] != state:
            label = STATE_LABELS["quote"][state]
            raise SimulatorError(f"only a {label} quote can be {action} (quote is statecode {quote['statecode']})")
        return quote

    async def _create_document(
        self,
        entity_set: str,
        values: dict[str, Any],
        lines: Iterable[Mapping[str, Any]],
        notes: Iterable[Mapping[str, Any] | str],
    ) -> str:
        table = TABLES[entity_set]
        # One snapshot for the document: a failed synchronous step rolls back lines and notes too.
        snapshot = self.store.snapshot()
        row_id = await self.store.create(entity_set, coerce_python(table, values), snapshot=snapshot)
        line_set, parent = LINE_SETS[entity_set]
        for number, line in enumerate(lines, start=1):
            await self._create_line(line_set, parent, row_id, number, line, snapshot=snapshot)
        for note in notes:
            fields = {"notetext": note} if isinstance(note, str) else dict(note)
            await self.store.create(
                "annotations",
                {
                    "subject": fields.pop("subject", None),
                    "notetext": fields.pop("notetext", None),
                    "objectid": EntityReference(table.logical_name, row_id),
                    "objecttypecode": table.logical_name,
                    "isdocument": fields.pop("isdocument", False),
                    **fields,
                },
                snapshot=snapshot,
            )
        self.store.recalculate(entity_set, row_id)
        return row_id

    async def _create_line(
        self,
        entity_set: str,
        parent_column: str,
        parent_id: str,
        number: int,
        line: Mapping[str, Any],
        snapshot: Rows | None = None,
    ) -> str:
        """A line with the amounts Sales derives (base, extended), and the product's unit and
        type unless the line says otherwise."""
        table = TABLES[entity_set]
        data = dict(line)
        product_id = data.pop("product", None) or data.pop("productid", None)
        product = None
        if product_id is not None:
            product_ref = reference(product_id, ("product",))
            product = self.store.rows["products"].get(product_ref.id)
            data["productid"] = product_ref
        uom = data.pop("uom", None)
        if uom is not None:
            data["uomid"] = uom
        elif "uomid" not in data and product is not None and product["defaultuomid"] is not None:
            data["uomid"] = product["defaultuomid"]
        values = coerce_python(table, data)
        quantity: Decimal = values["quantity"] if values.get("quantity") is not None else Decimal(1)
        price: Decimal = values["priceperunit"] if values.get("priceperunit") is not None else Decimal(0)
        manual = values.get("manualdiscountamount") or Decimal(0)
        volume = values.get("volumediscountamount") or Decimal(0)
        tax = values.get("tax") or Decimal(0)
        base = price * quantity
        values = {
            "sequencenumber": number,
            "lineitemnumber": number,
            "isproductoverridden": product_id is None,
            "ispriceoverridden": False,
            "producttypecode": product["producttypecode"] if product else None,
            "baseamount": base,
            "extendedamount": base - volume * quantity - manual + tax,
            "manualdiscountamount": manual,
            "volumediscountamount": volume,
            "tax": tax,
            **values,
            "quantity": quantity,
            "priceperunit": price,
            parent_column: EntityReference(parent_column[:-2], parent_id.lower()),
        }
        parent_set = "salesorders" if parent_column == "salesorderid" else "quotes"
        parent_row = self.store.rows[parent_set][parent_id.lower()]
        values.setdefault("transactioncurrencyid", parent_row["transactioncurrencyid"])
        return await self.store.create(entity_set, values, snapshot=snapshot)


def _suffix() -> str:
    return "".join(random.choices(string.ascii_uppercase + string.digits, k=6))


def _line_copy(line: Mapping[str, Any]) -> dict[str, Any]:
    """What a revision or a won quote's order takes over from a quote line."""
    keep = {
        "productid",
        "uomid",
        "productdescription",
        "quantity",
        "priceperunit",
        "manualdiscountamount",
        "volumediscountamount",
        "tax",
        "description",
        "ispriceoverridden",
    }
    result = {k: line[k] for k in keep if line.get(k) is not None}
    result["product"] = result.pop("productid", None)
    return result
