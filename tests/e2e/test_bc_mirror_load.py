"""The mirror's initial load against the BC simulator over loopback: page by page, and resumed after
an interruption at the page it had not written (bc-api.md §1.3: BC's nextLink, kept as given).
On SQLite and PostgreSQL. (Interrupted ledger loads: tests/integration/test_mirror_load_bench.py.)"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from orders.bc_link.mirror import documents
from schemas import mirror_state as state
from schemas import tables as t
from tests.support.bc_mirror import link_to, mirror_for
from tests.support.bc_simulator import BcSimulator

pytest_plugins = ["tests.support.bc_simulator.fixtures"]

PAGE = 10


class Counting:
    """A progress factory that counts the rows each entity reads, and can act after a page."""

    def __init__(self) -> None:
        self.read: dict[str, int] = {}
        self.after_page: Any = None

    def __call__(self, what: str, _total: int | None) -> Any:
        owner, first = self, [True]

        class Bar:
            def update(self, n: int) -> None:
                if first[0]:  # what a resumed load already held
                    first[0] = False
                    return
                owner.read[what] = owner.read.get(what, 0) + n
                if owner.after_page is not None:
                    owner.after_page(what, owner.read[what])

            def close(self) -> None:
                pass

        return Bar()


async def _items(engine: Any) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(t.item).where(t.item.c.company == "CRONUS")))


async def test_an_initial_load_stopped_by_bc_going_away_resumes_at_the_page_it_had_not_written(
    settings: Any, engine: Any, demo: dict[str, Any], bc_simulator: BcSimulator
) -> None:
    sim = bc_simulator
    sim.bulk_seed("CRONUS", items=45, ledger_entries=90)
    total = len(sim.records("items"))
    await link_to(engine, settings, sim)
    bars = Counting()

    def fail_after_two_pages(what: str, read: int) -> None:
        if what == "items" and read == 2 * PAGE:
            # BC answers no more: every further request for items fails (beyond the client's retries).
            sim.add_fault("status", path="*/items", method="GET", status=503, times=None)

    bars.after_page = fail_after_two_pages
    mirror = mirror_for(engine, settings, sim, page_size=PAGE, progress=bars)
    try:
        first = await mirror.cycle()
        assert "_source" in first.failed and first.transient
        async with engine.connect() as conn:
            items_state = await state.read_state(conn, "CRONUS", "items")
        assert items_state.phase == "loading" and items_state.loaded == 2 * PAGE
        assert items_state.resume_link and "$skiptoken" in items_state.resume_link
        assert "Internal_ServiceUnavailable" in items_state.last_error or "503" in items_state.last_error
        assert await _items(engine) == 2 * PAGE

        sim.faults.clear()
        bars.read.clear()
        bars.after_page = None
        second = await mirror.cycle()
        assert not second.failed, second
        # Only the pages it had not written were read again: no item twice, none lost.
        assert bars.read["items"] == total - 2 * PAGE
        assert await _items(engine) == total
        async with engine.connect() as conn:
            items_state = await state.read_state(conn, "CRONUS", "items")
            inventory = await conn.scalar(
                select(func.sum(t.item_inventory.c.inventory)).where(t.item_inventory.c.company == "CRONUS")
            )
        assert items_state.ready and items_state.rows == total and items_state.resume_link is None
        assert int(inventory) == sum(int(e["quantity"]) for e in sim.records("itemLedgerEntries"))
    finally:
        await mirror.link.aclose()


async def test_a_next_link_bc_no_longer_accepts_starts_that_entity_again(
    settings: Any, engine: Any, demo: dict[str, Any], bc_simulator: BcSimulator
) -> None:
    sim = bc_simulator
    await link_to(engine, settings, sim)
    bars = Counting()
    mirror = mirror_for(engine, settings, sim, page_size=PAGE, progress=bars)
    try:
        assert not (await mirror.cycle()).failed
        total = await _items(engine)
        # As if stopped mid-load long ago: the kept nextLink's token is one BC refuses now.
        async with engine.begin() as conn:
            link = f"{sim.base_url}/companies({sim.company_id})/items?$skiptoken=expired-token"
            await state.save_state(conn, "CRONUS", "items", phase="loading", resume_link=link, loaded=PAGE)
        bars.read.clear()
        again = await mirror.cycle()
        assert not again.failed, again
        assert bars.read["items"] == total and await _items(engine) == total
        async with engine.connect() as conn:
            assert (await state.read_state(conn, "CRONUS", "items")).ready
    finally:
        await mirror.link.aclose()


async def _sales_order(engine: Any, no: str) -> Any:
    async with engine.connect() as conn:
        h = t.sales_header
        return (await conn.execute(select(h).where(h.c.document_type == "Order", h.c.no == no))).first()


async def _qty_on_sales_order(engine: Any, item_no: str) -> int:
    async with engine.connect() as conn:
        inv = t.item_inventory
        value = await conn.scalar(select(inv.c.qty_on_sales_order).where(inv.c.item_no == item_no))
    return int(value or 0)


async def test_sales_orders_made_or_changed_in_bc_show_in_the_mirror(
    settings: Any, engine: Any, demo: dict[str, Any], bc_simulator: BcSimulator, bc_session: Any
) -> None:
    """An order entered in BC, a line changed there, the order deleted there: our SalesOrders and
    Qty. on Sales Order follow (by the delta; a deletion by the reconciliation)."""
    from tests.support.bc_simulator.client import BcClient

    sim, bc = bc_simulator, BcClient(bc_simulator, bc_session)
    await link_to(engine, settings, sim)
    mirror = mirror_for(engine, settings, sim, delta_interval=0.0)  # a delta every cycle
    try:
        assert not (await mirror.cycle()).failed
        before = await _qty_on_sales_order(engine, "1896-S")
        yellow = sim.get("locations", "YELLOW")
        assert yellow is not None
        made = await bc.post(
            bc.company("salesOrders"),
            {
                "customerNumber": "10000",
                "salesperson": "PS",  # BC's Salesperson Code (the API's name)
                "salesOrderLines": [
                    {"lineType": "Item", "lineObjectNumber": "1896-S", "quantity": 4, "locationId": yellow["id"]}
                ],
            },
        )
        assert made.status == 201, made.body
        sim.advance(1)
        assert not (await mirror.cycle()).failed
        header = await _sales_order(engine, made.body["number"])
        assert header is not None and str(header.system_id) == made.body["id"]
        assert header.sell_to_customer_no == "10000" and header.amount == Decimal(
            str(made.body["totalAmountExcludingTax"])
        )
        assert header.sales_id is None  # not from Sales
        assert header.salesperson_code == "PS"
        assert await _qty_on_sales_order(engine, "1896-S") == before + 4
        async with engine.connect() as conn:
            loc = t.item_location_inventory
            at_yellow = await conn.scalar(
                select(loc.c.qty_on_sales_order).where(loc.c.item_no == "1896-S", loc.c.location_code == "YELLOW")
            )
        assert at_yellow == 4  # at the line's location (BC names it by id)
        # Read again (the delta's overlap), unchanged: nothing is written.
        ctx = await mirror.context()
        assert ctx is not None
        again = await documents.refresh(ctx, documents.ORDERS)
        assert again["rows"] >= 1 and again["changed"] == 0

        lines = await bc.get(bc.company(f"salesOrders({made.body['id']})/salesOrderLines"))
        (line,) = lines.value
        changed = await bc.patch(
            bc.company(f"salesOrderLines({line['id']})"), {"quantity": 7}, etag=line["@odata.etag"]
        )
        assert changed.status == 200, changed.body
        sim.advance(1)
        assert not (await mirror.cycle()).failed
        assert await _qty_on_sales_order(engine, "1896-S") == before + 7
        header = await _sales_order(engine, made.body["number"])
        assert header.amount > Decimal(str(made.body["totalAmountExcludingTax"]))

        order = await bc.get(bc.company(f"salesOrders({made.body['id']})"))
        gone = await bc.delete(bc.company(f"salesOrders({made.body['id']})"), etag=order.body["@odata.etag"])
        assert gone.status == 204, gone.body
        report = await mirror.reconcile_now()
        assert report["salesOrders"]["removed"] == 1
        assert await _sales_order(engine, made.body["number"]) is None
        assert await _qty_on_sales_order(engine, "1896-S") == before
    finally:
        await mirror.link.aclose()


async def test_deltas_and_the_periodic_reconciliation_keep_it_fresh_without_webhooks(
    settings: Any, engine: Any, demo: dict[str, Any], bc_simulator: BcSimulator
) -> None:
    sim = bc_simulator
    await link_to(engine, settings, sim)
    # No webhooks: deltas every cycle; the full reconciliation every hour of BC's clock.
    mirror = mirror_for(engine, settings, sim, delta_interval=0.0, reconcile_interval=3600.0)
    try:
        assert not (await mirror.cycle()).failed
        sim.advance(1)
        sim.change("items", "1896-S", displayName="ATHENS Desk, oak")
        assert not (await mirror.cycle()).failed
        async with engine.connect() as conn:
            name = await conn.scalar(select(t.item.c.description).where(t.item.c.no == "1896-S"))
            red = await conn.scalar(select(t.location.c.code).where(t.location.c.code == "RED"))
        assert name == "ATHENS Desk, oak" and red == "RED"
        # Deleted in BC, no webhook to say so: a delta cannot see it; the reconciliation, due an hour on, can.
        red_rec = sim.get("locations", "RED")
        assert red_rec is not None
        sim.company().table("locations").delete(red_rec)
        assert not (await mirror.cycle()).failed
        async with engine.connect() as conn:
            assert await conn.scalar(select(t.location.c.code).where(t.location.c.code == "RED")) == "RED"
        sim.advance(3601)
        assert not (await mirror.cycle()).failed
        async with engine.connect() as conn:
            assert await conn.scalar(select(t.location.c.code).where(t.location.c.code == "RED")) is None
            report = (await state.read_state(conn, "CRONUS", "locations")).drift
        assert report["removed"] == 1 and report["examples"] == ["RED"]
    finally:
        await mirror.link.aclose()
