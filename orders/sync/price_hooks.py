"""What BC does around the field transfer of the price mappings (bc-sync.md §6, §7).

CUSTPRCGRP-PRICE (Customer Price Group -> ``pricelevel``): before a write, the group's prices must
share one currency, their items must be coupled (BC synchronises an uncoupled item there and then)
and their units must resolve; a new list gets the group's Description and that currency (blank:
the LCY); an existing list cannot change currency. After the pass, every price of each coupled
group is synchronised (SALESPRC-PRODPRICE for those prices), so a new list gets its items at once.

SALESPRC-PRODPRICE (Sales Price -> ``productpricelevel``): the item's unit (the price's Unit of
Measure Code, or the item's base unit) as ``uomid`` / ``uomscheduleid``; an uncoupled price is
coupled to the list's existing item for the same product and unit instead of a duplicate.
The rules are in orders/sync/price_rules.py.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from orders.dataverse.writes import odata_string
from orders.sync import price_rules, store
from orders.sync.context import HookError, PassContext
from orders.sync.defaults import CUSTPRCGRP_PRICE, ITEM_PRODUCT, SALESPRC_PRODPRICE
from orders.sync.hooks import Hooks, lcy_currency_id, unit_of_measure
from orders.sync.jobs import mapping_lock
from orders.sync.model import Direction, SynchResult
from orders.sync.transfer import Bind, lookup_column, not_coupled_message
from schemas import tables as t


async def _group_prices(ctx: PassContext, codes: list[str]) -> list[dict[str, Any]]:
    """The Customer Price Group prices of these groups (the mapping's filter), from our tables."""
    if not codes:
        return []
    sp = t.sales_price
    async with ctx.engine.connect() as conn:
        rows = await conn.execute(
            select(sp).where(
                sp.c.company == ctx.company,
                sp.c.sales_type == price_rules.CUSTOMER_PRICE_GROUP,
                sp.c.sales_code.in_(codes),
            )
        )
        return [dict(r._mapping) for r in rows]


async def _coupled(ctx: PassContext, table_id: int, *, fresh: bool = False) -> dict[str, str]:
    """BC key -> coupled Sales id of a table, read once per pass (``fresh``: read again)."""
    cached: dict[int, dict[str, str]] = ctx.cache.setdefault("coupled", {})
    if fresh or table_id not in cached:
        async with ctx.engine.connect() as conn:
            cached[table_id] = await store.coupled_codes(conn, ctx.company, table_id)
    return cached[table_id]


async def _items(ctx: PassContext, numbers: list[str]) -> dict[str, dict[str, Any]]:
    cached: dict[str, dict[str, Any]] = ctx.cache.setdefault("items", {})
    missing = [no for no in numbers if no not in cached]
    if missing:
        cached.update(await ctx.bc.by_keys(t.TABLE_ITEM, missing))
    return {no: cached[no] for no in numbers if no in cached}


async def _run(ctx: PassContext, mapping: str, system_ids: list[str], *, only_coupled: bool | None = None) -> None:
    """Run another mapping for these BC records now, under its job lock (as BC's nested sync)."""
    from orders.sync.engine import run_mapping  # the engine runs these hooks: imported at run time

    async with mapping_lock(ctx.engine, ctx.company, mapping):
        await run_mapping(
            ctx.engine, ctx.company, mapping, ctx.sales, ctx.bc, system_ids=system_ids, only_coupled=only_coupled
        )


class CustomerPriceGroupHooks(Hooks):
    async def match(self, ctx: PassContext, record: dict[str, Any]) -> dict[str, Any] | None:
        # Not BC's: a price list of the group's name (Sales keeps names unique) is coupled rather
        # than refused as a duplicate — also after a crash between the create and the coupling.
        rows = await ctx.sales.find_rows("pricelevels", f"name eq {odata_string(record['code'])}")
        return rows[0] if len(rows) == 1 else None

    async def complete(
        self, ctx: PassContext, record: dict[str, Any], values: dict[str, Any], current: dict[str, Any] | None
    ) -> None:
        prices = price_rules.prices_of_group(await _group_prices(ctx, [record["code"]]), record["code"])
        try:
            code = price_rules.group_currency(prices)
        except price_rules.PriceRuleError as exc:
            raise HookError(str(exc)) from None
        await self._check_items(ctx, prices)
        currency = await self._currency_id(ctx, code)
        if current is None:
            values["description"] = record.get("description") or ""
            values["transactioncurrencyid"] = Bind("transactioncurrencies", currency)
            return
        try:
            price_rules.unchanged_currency(
                str(current.get("name") or record["code"]),
                current.get(lookup_column("transactioncurrencyid")),
                currency,
            )
        except price_rules.PriceRuleError as exc:
            raise HookError(str(exc)) from None

    async def _currency_id(self, ctx: PassContext, code: str) -> str:
        if not code:
            lcy = await lcy_currency_id(ctx)
            if lcy is None:
                raise HookError("The local currency (LCY Code) is not set up, so the price list has no currency.")
            return lcy
        found = (await _coupled(ctx, t.TABLE_CURRENCY)).get(code)
        if found is None:
            raise HookError(not_coupled_message("Currency Code", code))
        return found

    async def _check_items(self, ctx: PassContext, prices: list[Any]) -> None:
        """Every price's item coupled (an uncoupled one is synchronised now), every unit resolvable."""
        numbers = price_rules.items_to_check(prices)
        coupled = await _coupled(ctx, t.TABLE_ITEM)
        items = await _items(ctx, numbers)
        uncoupled = [no for no in numbers if no not in coupled]
        if uncoupled:
            present = [no for no in uncoupled if no in items and not items[no].get("blocked")]
            if len(present) < len(uncoupled):
                raise HookError(price_rules.not_synchronised_item(next(n for n in uncoupled if n not in present)))
            await _run(ctx, ITEM_PRODUCT, [str(items[no]["system_id"]) for no in present], only_coupled=False)
            coupled = await _coupled(ctx, t.TABLE_ITEM, fresh=True)
            for no in present:
                if no not in coupled:
                    raise HookError(price_rules.item_sync_failed(no))
        for price in prices:
            item = items.get(str(price["item_no"]))
            unit = price_rules.price_unit_code(price, str(item.get("base_unit_of_measure") or "") if item else "")
            if unit:
                await unit_of_measure(ctx, unit)

    async def after_pass(self, ctx: PassContext, records: list[dict[str, Any]]) -> None:
        """The prices of each group this pass inserted, updated or found unchanged (not of one that
        failed, or is skipped or uncoupled) go through SALESPRC-PRODPRICE now."""
        by_id = {str(r["system_id"]).lower(): str(r["code"]) for r in records}
        async with ctx.engine.connect() as conn:
            found = await store.couplings(conn, ctx.company, t.TABLE_CUSTOMER_PRICE_GROUP, integration_ids=list(by_id))
        codes = sorted(
            by_id[c.integration_id]
            for c in found
            if not c.skipped and c.result(Direction.TO) == SynchResult.SUCCESS and c.integration_id in by_id
        )
        prices = await _group_prices(ctx, codes)
        ids = [str(p["system_id"]) for p in prices if price_rules.synchronised(p)]
        async with ctx.engine.connect() as conn:
            mapping = await store.load_mapping(conn, ctx.company, SALESPRC_PRODPRICE)
        if not ids or mapping is None or not mapping.enabled:
            return
        await _run(ctx, SALESPRC_PRODPRICE, ids)


class SalesPriceHooks(Hooks):
    async def _unit(self, ctx: PassContext, record: dict[str, Any]) -> tuple[str, str]:
        items = await _items(ctx, [str(record["item_no"])])
        item = items.get(str(record["item_no"]))
        code = price_rules.price_unit_code(record, str(item.get("base_unit_of_measure") or "") if item else "")
        if not code:
            raise HookError(f"Base Unit of Measure must have a value in Item: No.={record['item_no']}.")
        return await unit_of_measure(ctx, code)

    async def match(self, ctx: PassContext, record: dict[str, Any]) -> dict[str, Any] | None:
        """BC's uncoupled-destination matching: the list's item for the same product and unit."""
        price_list = (
            ctx.lookups[CUSTPRCGRP_PRICE].code_to_id.get(record["sales_code"])
            if CUSTPRCGRP_PRICE in ctx.lookups
            else None
        )
        product = ctx.lookups[ITEM_PRODUCT].code_to_id.get(record["item_no"]) if ITEM_PRODUCT in ctx.lookups else None
        if not price_list or not product:
            return None  # the transfer says which one is not coupled
        _group, unit = await self._unit(ctx, record)
        rows = await ctx.sales.find_rows(
            "productpricelevels",
            f"_pricelevelid_value eq {price_list} and _productid_value eq {product} and _uomid_value eq {unit}",
        )
        return rows[0] if len(rows) == 1 else None

    async def complete(
        self, ctx: PassContext, record: dict[str, Any], values: dict[str, Any], current: dict[str, Any] | None
    ) -> None:
        group, unit = await self._unit(ctx, record)
        if current is None or str(current.get(lookup_column("uomid")) or "").lower() != unit:
            values["uomid"] = Bind("uoms", unit)
            values["uomscheduleid"] = Bind("uomschedules", group)


PRICE_HOOKS: dict[str, Hooks] = {
    CUSTPRCGRP_PRICE: CustomerPriceGroupHooks(),
    SALESPRC_PRODPRICE: SalesPriceHooks(),
}
