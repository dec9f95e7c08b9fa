"""What BC does for particular tables around the field transfer (bc-sync.md §2–§5): matching an
uncoupled unit group or currency, the product's unit, currency, price list and state. The rules
are in orders/sync/sales_rules.py; here is the reading and writing of Sales they need."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from orders.dataverse.writes import odata_string
from orders.sync import sales_rules
from orders.sync.context import HookError, PassContext
from orders.sync.defaults import CURRENCY, ITEM_PRODUCT, OPPORTUNITY, RESOURCE_PRODUCT, UNIT_OF_MEASURE
from orders.sync.ports import FollowingWrite, SalesRefused
from orders.sync.transfer import Bind, lookup_column

DEFAULT_PRICE_LIST = "Business Central Default Price List"


class Hooks:
    """No table-specific behaviour."""

    # Whether a coupled record outside the mapping's table filter is left alone too (else it is
    # still sent: a blocked item retires its product).
    keeps_table_filter = False

    async def match(self, ctx: PassContext, record: dict[str, Any]) -> dict[str, Any] | None:
        """An uncoupled Sales row this BC record is to be coupled with instead of inserting one."""
        return None

    async def complete(
        self, ctx: PassContext, record: dict[str, Any], values: dict[str, Any], current: dict[str, Any] | None
    ) -> None:
        """Add the columns the table needs to a BC -> Sales write (``current`` None: an insert)."""

    async def after_write(
        self, ctx: PassContext, record: dict[str, Any], row: dict[str, Any], inserted: bool
    ) -> dict[str, Any]:
        """After the row was written; returns the row as it now is."""
        return row

    def needs_after_write(self, values: dict[str, Any]) -> bool:
        """Whether an update with these values needs ``after_write`` (else it may go in a batch)."""
        return False

    async def follow_insert(
        self, ctx: PassContext, record: dict[str, Any], values: dict[str, Any], created: str
    ) -> list[FollowingWrite] | None:
        """The writes that follow the insert of ``values`` in its change set (``created``, the new
        row's ``$<content id>``, stands for it): what ``after_write`` does for a new row. None when
        they cannot be told before the row exists: the insert goes alone, then ``after_write``."""
        return [] if type(self).after_write is Hooks.after_write else None

    async def after_pass(self, ctx: PassContext, records: list[dict[str, Any]]) -> None:
        """After a BC -> Sales pass over ``records`` (whatever became of each)."""


async def unit_of_measure(ctx: PassContext, code: str) -> tuple[str, str]:
    """(group id, unit id) of the "NAV <code>" unit group in Sales, checked as BC checks it (§3)."""
    cached = ctx.cache.setdefault("units", {})
    if code in cached:
        return cached[code]
    name = sales_rules.unit_group_name(code)
    groups = await ctx.sales.find_rows("uomschedules", f"name eq {odata_string(name)}")
    units = (
        await ctx.sales.find_rows("uoms", f"_uomscheduleid_value eq {groups[0]['uomscheduleid']}")
        if len(groups) == 1
        else []
    )
    try:
        unit = sales_rules.unit_of_group(name, code, len(groups), units)
    except sales_rules.UnitGroupError as exc:
        raise HookError(str(exc)) from None
    found = (str(groups[0]["uomscheduleid"]).lower(), str(unit["uomid"]).lower())
    cached[code] = found
    return found


async def lcy_currency_id(ctx: PassContext) -> str | None:
    """The Sales currency of BC's LCY (isocurrencycode = the LCY code), created when missing."""
    if "lcy" in ctx.cache:
        return ctx.cache["lcy"]
    code = ctx.lcy_code
    found: str | None = None
    if code:
        rows = await ctx.sales.find_rows("transactioncurrencies", f"isocurrencycode eq {odata_string(code)}")
        if rows:
            found = str(rows[0]["transactioncurrencyid"]).lower()
        else:
            row = await ctx.sales.create_row(
                "transactioncurrencies",
                {
                    "isocurrencycode": code,
                    "currencyname": code,
                    "currencysymbol": code,
                    "currencyprecision": 2,
                    "exchangerate": Decimal(1),
                },
            )
            found = str(row["transactioncurrencyid"]).lower()
    ctx.cache["lcy"] = found
    return found


class UnitOfMeasureHooks(Hooks):
    def needs_after_write(self, values: dict[str, Any]) -> bool:
        return True

    async def _units(self, ctx: PassContext, group_id: str) -> list[dict[str, Any]]:
        return await ctx.sales.find_rows("uoms", f"_uomscheduleid_value eq {group_id}")

    async def match(self, ctx: PassContext, record: dict[str, Any]) -> dict[str, Any] | None:
        name = sales_rules.unit_group_name(record["code"])
        rows = await ctx.sales.find_rows("uomschedules", f"name eq {odata_string(name)}")
        if not rows:
            return None
        group = rows[0]
        try:
            sales_rules.check_matched_group(group, await self._units(ctx, str(group["uomscheduleid"])))
        except sales_rules.UnitGroupError as exc:
            raise HookError(str(exc)) from None
        return group

    async def after_write(
        self, ctx: PassContext, record: dict[str, Any], row: dict[str, Any], inserted: bool
    ) -> dict[str, Any]:
        group_id = str(row["uomscheduleid"])
        units = await self._units(ctx, group_id)
        try:
            sales_rules.check_matched_group(row, units)
        except sales_rules.UnitGroupError as exc:
            raise HookError(str(exc)) from None
        code = record["code"]
        if units and units[0].get("name") != code:
            await ctx.sales.update_row("uoms", str(units[0]["uomid"]), {"name": code})  # BC renames the unit
        return row


class ProductHooks(Hooks):
    """ITEM-PRODUCT and RESOURCE-PRODUCT."""

    def __init__(self, type_code: int) -> None:
        self.type_code = type_code

    async def match(self, ctx: PassContext, record: dict[str, Any]) -> dict[str, Any] | None:
        # Not BC's: a product with this number and type that nobody coupled is taken rather than a
        # second one refused by Sales (the number is unique) — also after a crash between the
        # create and the coupling.
        if "by_number" not in ctx.cache:  # one read per pass, not one per record
            found: dict[str, list[dict[str, Any]]] = {}
            for row in await ctx.sales.find_rows("products", f"producttypecode eq {self.type_code}"):
                found.setdefault(str(row.get("productnumber") or "").upper(), []).append(row)
            ctx.cache["by_number"] = found
        rows = ctx.cache["by_number"].get(str(record["no"]).upper(), [])
        return rows[0] if len(rows) == 1 else None

    async def _unit(self, ctx: PassContext, code: str) -> tuple[str, str]:
        return await unit_of_measure(ctx, code)

    async def complete(
        self, ctx: PassContext, record: dict[str, Any], values: dict[str, Any], current: dict[str, Any] | None
    ) -> None:
        code = record.get("base_unit_of_measure") or ""
        if code:
            group_id, unit_id = await self._unit(ctx, code)
            if current is None or str(current.get(lookup_column("defaultuomid")) or "").lower() != unit_id:
                values["defaultuomid"] = Bind("uoms", unit_id)
                values.setdefault("defaultuomscheduleid", Bind("uomschedules", group_id))
        lcy = await lcy_currency_id(ctx)
        if lcy and (current is None or str(current.get(lookup_column("transactioncurrencyid")) or "").lower() != lcy):
            values["transactioncurrencyid"] = Bind("transactioncurrencies", lcy)
        if current is None:
            values["quantitydecimal"] = 2
            price_list = await self._price_list(ctx)
            if price_list:
                values["pricelevelid"] = Bind("pricelevels", price_list)
        else:
            values.update(sales_rules.state_change(current, sales_rules.product_state(bool(record.get("blocked")))))

    async def _price_list(self, ctx: PassContext) -> str | None:
        """The default price list (in the LCY), created when missing."""
        if "price_list" in ctx.cache:
            return ctx.cache["price_list"]
        rows = await ctx.sales.find_rows("pricelevels", f"name eq {odata_string(DEFAULT_PRICE_LIST)}")
        found: str | None
        if rows:
            found = str(rows[0]["pricelevelid"]).lower()
        else:
            lcy = await lcy_currency_id(ctx)
            if lcy is None:
                found = None
            else:
                row = await ctx.sales.create_row(
                    "pricelevels",
                    {"name": DEFAULT_PRICE_LIST, "transactioncurrencyid": Bind("transactioncurrencies", lcy)},
                )
                found = str(row["pricelevelid"]).lower()
        ctx.cache["price_list"] = found
        return found

    def needs_after_write(self, values: dict[str, Any]) -> bool:
        # The price list line follows the price and the unit.
        return bool({"price", "defaultuomid", "defaultuomscheduleid"} & set(values))

    async def after_write(
        self, ctx: PassContext, record: dict[str, Any], row: dict[str, Any], inserted: bool
    ) -> dict[str, Any]:
        product_id = str(row["productid"]).lower()
        await self._price_list_line(ctx, record, row, product_id)
        if inserted:
            change = sales_rules.state_change(row, sales_rules.product_state(bool(record.get("blocked"))))
            if change:
                row = await ctx.sales.update_row("products", product_id, change)
        return row

    async def follow_insert(
        self, ctx: PassContext, record: dict[str, Any], values: dict[str, Any], created: str
    ) -> list[FollowingWrite] | None:
        """A new product's price list line and state, as ``after_write`` makes them (a new product
        has no line yet, and Sales makes it Draft)."""
        then: list[FollowingWrite] = []
        price_list = await self._price_list(ctx)
        code = record.get("base_unit_of_measure") or ""
        if price_list is not None and code:
            group_id, unit_id = await self._unit(ctx, code)
            amount = _amount(values.get("price"))
            then.append(FollowingWrite("productpricelevels", _line(price_list, created, group_id, unit_id, amount)))
        draft = dict(zip(("statecode", "statuscode"), sales_rules.PRODUCT_DRAFT, strict=True))
        change = sales_rules.state_change(draft, sales_rules.product_state(bool(record.get("blocked"))))
        if change:
            then.append(FollowingWrite("products", change, created))
        return then

    async def _price_list_line(
        self, ctx: PassContext, record: dict[str, Any], row: dict[str, Any], product_id: str
    ) -> None:
        """One price list line per product on the default list: its unit and price (§5)."""
        price_list = await self._price_list(ctx)
        code = record.get("base_unit_of_measure") or ""
        if price_list is None or not code:
            return
        group_id, unit_id = await self._unit(ctx, code)
        amount = _amount(row.get("price"))
        if "lines" not in ctx.cache:  # the default list's lines, read once per pass
            by_product: dict[str, list[dict[str, Any]]] = {}
            for line in await ctx.sales.find_rows("productpricelevels", f"_pricelevelid_value eq {price_list}"):
                by_product.setdefault(str(line.get("_productid_value") or "").lower(), []).append(line)
            ctx.cache["lines"] = by_product
        lines = ctx.cache["lines"].get(product_id, [])
        if not lines:
            try:
                new_line = _line(price_list, product_id, group_id, unit_id, amount)
                await ctx.sales.create_row("productpricelevels", new_line)
            except SalesRefused as exc:
                raise HookError(str(exc)) from None
            return
        line = lines[0]
        change: dict[str, Any] = {}
        if Decimal(str(line.get("amount") or 0)) != amount:
            change["amount"] = amount
        if str(line.get(lookup_column("uomid")) or "").lower() != unit_id:
            change["uomid"] = Bind("uoms", unit_id)
            change["uomscheduleid"] = Bind("uomschedules", group_id)
        if change:
            await ctx.sales.update_row("productpricelevels", str(line["productpricelevelid"]), change)


def _amount(price: Any) -> Decimal:
    return Decimal(str(price)) if price is not None else Decimal(0)


def _line(price_list: str, product_id: str, group_id: str, unit_id: str, amount: Decimal) -> dict[str, Any]:
    """A product's line on the default price list: its unit and price, "Currency Amount" (§5)."""
    return {
        "pricelevelid": Bind("pricelevels", price_list),
        "productid": Bind("products", product_id),
        "uomid": Bind("uoms", unit_id),
        "uomscheduleid": Bind("uomschedules", group_id),
        "amount": amount,
        "pricingmethodcode": 1,
    }


class CurrencyHooks(Hooks):
    async def match(self, ctx: PassContext, record: dict[str, Any]) -> dict[str, Any] | None:
        rows = await ctx.sales.find_rows("transactioncurrencies", f"isocurrencycode eq {odata_string(record['code'])}")
        return rows[0] if rows else None

    async def complete(
        self, ctx: PassContext, record: dict[str, Any], values: dict[str, Any], current: dict[str, Any] | None
    ) -> None:
        if current is None:
            # We keep no exchange rates: a new currency starts at 1 (Sales requires a rate).
            values.setdefault("exchangerate", Decimal(1))
            values.setdefault("currencyprecision", 2)
            values["currencysymbol"] = values.get("currencysymbol") or record["code"]
            values["currencyname"] = values.get("currencyname") or record["code"]


class OpportunityHooks(Hooks):
    """OPPORTUNITY (bc-sync.md §12): a won or lost BC opportunity is outside BC's filter (Status
    Not Started | In Progress) and is not sent again, coupled or not; its amounts are in the LCY."""

    keeps_table_filter = True

    async def complete(
        self, ctx: PassContext, record: dict[str, Any], values: dict[str, Any], current: dict[str, Any] | None
    ) -> None:
        lcy = await lcy_currency_id(ctx)
        if lcy and (current is None or str(current.get(lookup_column("transactioncurrencyid")) or "").lower() != lcy):
            values["transactioncurrencyid"] = Bind("transactioncurrencies", lcy)


HOOKS: dict[str, Hooks] = {
    UNIT_OF_MEASURE: UnitOfMeasureHooks(),
    ITEM_PRODUCT: ProductHooks(1),
    RESOURCE_PRODUCT: ProductHooks(3),
    CURRENCY: CurrencyHooks(),
    OPPORTUNITY: OpportunityHooks(),
}
