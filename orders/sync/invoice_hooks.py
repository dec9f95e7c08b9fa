"""What BC does around POSTEDSALESINV-INV's field transfer (bc-sync.md §8): before an insert, the
Sales order the invoice came from (its account, owner, price list, name) or the account coupled to
the Sell-to Customer; after it, the lines (POSTEDSALESLINE-INV), the totals and the payment
status. The values are decided in orders/sync/posted_invoice.py (pure); here is the reading and
writing they need.

- Exactly once: an invoice line's ``invoicedetail`` id is fixed by the line (``detail_id``), and an
  uncoupled Sales invoice with the invoice's number is coupled rather than a second one made, so a
  run repeated after a crash completes what is there and duplicates nothing.
- An invoice that is no longer Active in Sales (paid, cancelled) is not written to again, as BC.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from orders.dataverse.writes import odata_string
from orders.sync import posted_invoice as rules
from orders.sync import store
from orders.sync.context import HookError, PassContext
from orders.sync.hooks import DEFAULT_PRICE_LIST, Hooks, lcy_currency_id
from orders.sync.ports import SalesChangedMeanwhile, SalesPort, SalesRefused
from orders.sync.transfer import Bind, lookup_column, not_coupled_message
from schemas import tables as t
from schemas.db import insert_ignore, write_transaction

TABLE_SALES_INVOICE_LINE = 113
INVOICES, DETAILS = "invoices", "invoicedetails"


async def invoice_lines(conn: AsyncConnection, company: str, invoice_no: str) -> list[dict[str, Any]]:
    il = t.sales_invoice_line
    rows = await conn.execute(
        select(il).where(il.c.company == company, il.c.document_no == invoice_no).order_by(il.c.line_no)
    )
    return [dict(r._mapping) for r in rows.all()]


async def ledger_status(conn: AsyncConnection, company: str, invoice_no: str) -> rules.PaymentStatus | None:
    """The payment status of a posted invoice from its Cust. Ledger Entry (None: it has none)."""
    cle, dle = t.cust_ledger_entry, t.detailed_cust_ledg_entry
    entry = (
        await conn.execute(
            select(cle.c.entry_no, cle.c.amount).where(
                cle.c.company == company, cle.c.document_type == "Invoice", cle.c.document_no == invoice_no
            )
        )
    ).first()
    if entry is None:
        return None
    amounts = (
        await conn.execute(select(dle.c.entry_type, dle.c.amount).where(dle.c.cust_ledger_entry_no == entry.entry_no))
    ).all()
    initial = sum((Decimal(a.amount) for a in amounts if a.entry_type == "Initial Entry"), Decimal(0))
    remaining = sum((Decimal(a.amount) for a in amounts), Decimal(0))
    return rules.payment_status(initial, remaining)


async def write_payment_status(
    sales: SalesPort, invoice_id: str, current: dict[str, Any], wanted: rules.PaymentStatus
) -> dict[str, Any] | None:
    """Bring the Sales invoice to ``wanted`` (first back to Active when it is not); the row after,
    or None when it was there already."""
    row = None
    for change in rules.status_writes(current, wanted):
        row = await sales.update_row(INVOICES, invoice_id, change)
    return row


class PostedInvoiceHooks(Hooks):
    def needs_after_write(self, values: dict[str, Any]) -> bool:
        return True  # the lines and the payment status follow every write

    async def match(self, ctx: PassContext, record: dict[str, Any]) -> dict[str, Any] | None:
        # A Sales invoice with this number that nobody coupled (a crash between its create and
        # its coupling) is taken rather than a second one made.
        rows = await ctx.sales.find_rows(INVOICES, f"invoicenumber eq {odata_string(record['no'])}")
        return rows[0] if len(rows) == 1 else None

    async def complete(
        self, ctx: PassContext, record: dict[str, Any], values: dict[str, Any], current: dict[str, Any] | None
    ) -> None:
        if current is not None:
            if current.get("statecode") not in (None, rules.ACTIVE):
                values.clear()  # BC writes no more to an invoice that is not Active
                return
            # A coupled invoice whose last write failed part-way: its missing lines now, and its
            # totals and payment status with this write (a write that changes nothing is none).
            async with ctx.engine.connect() as conn:
                lines = rules.synchronized_lines(await invoice_lines(conn, ctx.company, record["no"]))
                status = await ledger_status(conn, ctx.company, record["no"])
            await self._lines(ctx, record, current, lines)
            values.update(rules.totals_to_write(rules.header_totals(lines, record), current))
            if status is not None and rules.status_writes(current, status):
                values.update(statecode=status.statecode, statuscode=status.statuscode)
            return
        async with ctx.engine.connect() as conn:
            lines = rules.synchronized_lines(await invoice_lines(conn, ctx.company, record["no"]))
            await self._check_blocked(conn, ctx.company, lines)
            account = await _coupled_account(conn, ctx.company, record["sell_to_customer_no"])
        order = await self._sales_order(ctx, record)
        if order is not None:
            if not account or str(order.get(lookup_column("customerid")) or "").lower() != account:
                raise HookError(rules.CUSTOMER_CHANGED.format(order=order.get("ordernumber")))
            values["salesorderid"] = Bind("salesorders", str(order["salesorderid"]).lower())
            for column, entity_set in (("opportunityid", "opportunities"), ("pricelevelid", "pricelevels")):
                found = order.get(lookup_column(column))
                if found:
                    values[column] = Bind(entity_set, str(found).lower())
            owner = order.get(lookup_column("ownerid"))
            if owner:
                values["ownerid"] = Bind("systemusers", str(owner).lower())
            values["name"] = order.get("name") or record["no"]
        else:
            if not account:
                raise HookError(not_coupled_message("Sell-to Customer No.", record["sell_to_customer_no"]))
            values["name"] = record["no"]
        values["customerid"] = Bind("accounts", account)
        if "pricelevelid" not in values:
            price_list = await _price_list(ctx, record.get("currency_code") or "")
            if price_list:
                values["pricelevelid"] = Bind("pricelevels", price_list)

    @staticmethod
    async def _check_blocked(conn: AsyncConnection, company: str, lines: list[dict[str, Any]]) -> None:
        """No blocked item or resource on a new invoice (BC checks it before the insert)."""
        for line in lines:
            table = t.item if line["type"] == "Item" else t.resource if line["type"] == "Resource" else None
            if table is None:
                continue
            blocked = (
                await conn.execute(select(table.c.blocked).where(table.c.company == company, table.c.no == line["no"]))
            ).scalar_one_or_none()
            if blocked:
                raise HookError(
                    f"Blocked must be equal to 'No'  in {line['type']}: No.={line['no']}. Current value is 'Yes'."
                )

    @staticmethod
    async def _sales_order(ctx: PassContext, record: dict[str, Any]) -> dict[str, Any] | None:
        """The Sales order whose ``ordernumber`` is the invoice's Your Reference (BC's search)."""
        reference = record.get("your_reference") or ""
        if not reference:
            return None
        rows = await ctx.sales.find_rows("salesorders", f"ordernumber eq {odata_string(reference)}")
        return rows[0] if rows else None

    async def after_write(
        self, ctx: PassContext, record: dict[str, Any], row: dict[str, Any], inserted: bool
    ) -> dict[str, Any]:
        if not inserted:
            return row  # completed with the write (``complete``)
        invoice_id = str(row["invoiceid"]).lower()
        async with ctx.engine.connect() as conn:
            lines = rules.synchronized_lines(await invoice_lines(conn, ctx.company, record["no"]))
            status = await ledger_status(conn, ctx.company, record["no"])
        await self._lines(ctx, record, row, lines)
        totals = rules.totals_to_write(rules.header_totals(lines, record), row)
        if totals:
            row = await ctx.sales.update_row(INVOICES, invoice_id, totals)
        if status is not None:
            row = await write_payment_status(ctx.sales, invoice_id, row, status) or row
        return row

    async def _lines(
        self, ctx: PassContext, record: dict[str, Any], invoice: dict[str, Any], lines: list[dict[str, Any]]
    ) -> None:
        """POSTEDSALESLINE-INV: each line that Sales does not have yet, and its coupling."""
        system_id = str(record["system_id"])
        wanted = {rules.detail_id(system_id, int(line["line_no"])): line for line in lines}
        have = await ctx.sales.rows_by_id(DETAILS, list(wanted))
        missing = {i: line for i, line in wanted.items() if i not in have}
        if missing:
            products = await _products(ctx, [line for line in missing.values()])
            price_list = invoice.get(lookup_column("pricelevelid"))
            currency = invoice.get(lookup_column("transactioncurrencyid"))
            for detail_id, line in missing.items():
                product = products.get((line["type"], line["no"]))
                values = rules.detail_values(line, record, product)
                binds = values.pop("_binds", {})
                body: dict[str, Any] = {"invoicedetailid": detail_id, **values}
                body["invoiceid"] = Bind(INVOICES, str(invoice["invoiceid"]).lower())
                if currency:
                    body["transactioncurrencyid"] = Bind("transactioncurrencies", str(currency).lower())
                for column, (entity_set, target) in binds.items():
                    body[column] = Bind(entity_set, target)
                if product is not None and price_list and line.get("unit_price"):
                    await _price_list_line(ctx, str(price_list).lower(), product, Decimal(str(line["unit_price"])))
                try:
                    await ctx.sales.create_row(DETAILS, body)
                except (SalesChangedMeanwhile, SalesRefused) as exc:
                    # A line with this id made meanwhile (412, by a run beside this one) is the line.
                    if detail_id not in await ctx.sales.rows_by_id(DETAILS, [detail_id]):
                        raise HookError(str(exc)) from None
        async with write_transaction(ctx.engine) as conn:
            for detail_id, line in wanted.items():
                await conn.execute(
                    insert_ignore(conn, t.crm_integration_record, ["company", "table_id", "integration_id"]).values(
                        company=ctx.company,
                        table_id=TABLE_SALES_INVOICE_LINE,
                        crm_id=detail_id,
                        integration_id=rules.line_system_id(system_id, int(line["line_no"])),
                        coupled_at=dt.datetime.now(dt.UTC),
                    )
                )


async def _coupled_account(conn: AsyncConnection, company: str, customer_no: str) -> str | None:
    codes = await store.coupled_codes(conn, company, t.TABLE_CUSTOMER)
    found = codes.get(customer_no)
    return str(found).lower() if found else None


async def _products(ctx: PassContext, lines: list[dict[str, Any]]) -> dict[tuple[str, str], rules.ProductRef]:
    """The coupled Sales product (and its default unit) of each item and resource on the lines."""
    async with ctx.engine.connect() as conn:
        items = await store.coupled_codes(conn, ctx.company, t.TABLE_ITEM)
        resources = await store.coupled_codes(conn, ctx.company, t.TABLE_RESOURCE)
    ids: dict[tuple[str, str], str] = {}
    for line in lines:
        codes = items if line["type"] == "Item" else resources if line["type"] == "Resource" else {}
        found = codes.get(line["no"])
        if found:
            ids[(line["type"], line["no"])] = str(found).lower()
    rows = await ctx.sales.rows_by_id("products", list(set(ids.values())))
    out = {}
    for key, product_id in ids.items():
        product = rows.get(product_id)
        if product is None:
            continue  # the product is gone from Sales: a write-in line
        unit = product.get(lookup_column("defaultuomid"))
        out[key] = rules.ProductRef(product_id, str(unit).lower() if unit else None)
    return out


async def _price_list(ctx: PassContext, currency_code: str) -> str | None:
    """The default price list in the LCY, or "Price List in <CUR>" for a foreign currency
    (created when missing)."""
    lcy = ctx.lcy_code
    name = DEFAULT_PRICE_LIST if not currency_code or currency_code == lcy else f"Price List in {currency_code}"
    cache = ctx.cache.setdefault("invoice_price_lists", {})
    if name in cache:
        return cache[name]
    rows = await ctx.sales.find_rows("pricelevels", f"name eq {odata_string(name)}")
    found: str | None = str(rows[0]["pricelevelid"]).lower() if rows else None
    if found is None:
        if name == DEFAULT_PRICE_LIST:
            currency = await lcy_currency_id(ctx)
        else:
            currencies = await ctx.sales.find_rows(
                "transactioncurrencies", f"isocurrencycode eq {odata_string(currency_code)}"
            )
            currency = str(currencies[0]["transactioncurrencyid"]).lower() if currencies else None
        if currency:
            row = await ctx.sales.create_row(
                "pricelevels", {"name": name, "transactioncurrencyid": Bind("transactioncurrencies", currency)}
            )
            found = str(row["pricelevelid"]).lower()
    cache[name] = found
    return found


async def _price_list_line(ctx: PassContext, price_list: str, product: rules.ProductRef, price: Decimal) -> None:
    """BC adds the product to the invoice's price list when the list lacks it (§8.2)."""
    if price <= 0 or not product.uom_id:
        return
    cache = ctx.cache.setdefault("price_list_products", {})
    if price_list not in cache:
        rows = await ctx.sales.find_rows("productpricelevels", f"_pricelevelid_value eq {price_list}")
        cache[price_list] = {str(r.get(lookup_column("productid")) or "").lower() for r in rows}
    if product.product_id in cache[price_list]:
        return
    try:
        await ctx.sales.create_row(
            "productpricelevels",
            {
                "pricelevelid": Bind("pricelevels", price_list),
                "productid": Bind("products", product.product_id),
                "uomid": Bind("uoms", product.uom_id),
                "amount": price,
                "pricingmethodcode": 1,
            },
        )
    except (SalesChangedMeanwhile, SalesRefused) as exc:
        # 412: the list got the product in that unit meanwhile; any other refusal fails the invoice.
        rows = await ctx.sales.find_rows(
            "productpricelevels", f"_pricelevelid_value eq {price_list} and _productid_value eq {product.product_id}"
        )
        if not rows:
            raise HookError(str(exc)) from None
    cache[price_list].add(product.product_id)
