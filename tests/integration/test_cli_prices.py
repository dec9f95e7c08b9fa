"""`bc-gateway prices ...` on a real database: customer price groups and sales prices as BC keeps
and checks them (the demo company's items, units, customers and currencies)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from schemas import tables as t
from tests.support.helpers import cli


async def test_groups_and_prices_through_the_command_line(settings: Any, engine: Any, demo: dict[str, Any]) -> None:
    code, out, _err = await cli(settings, "prices", "groups")
    assert code == 0 and out.startswith("No customer price groups. Create one: bc-gateway prices group")
    code, out, err = await cli(
        settings, "prices", "group", "retail", "--description", "Retail", "--price-includes-vat", "yes"
    )
    assert (code, out) == (0, "Created customer price group RETAIL.\n"), err
    code, out, _err = await cli(settings, "prices", "group", "RETAIL", "--allow-line-disc", "no")
    assert out == "Changed customer price group RETAIL.\n"

    code, out, err = await cli(settings, "prices", "set", "1896-S", "950", "--group", "RETAIL")
    assert code == 0, err
    assert out.startswith(
        "Created the sales price: Item No.=1896-S, Sales Type=Customer Price Group, Sales Code=RETAIL"
    )
    code, out, _err = await cli(settings, "prices", "set", "1896-S", "940", "--group", "retail")
    assert out.startswith("Changed the sales price: Item No.=1896-S")
    await cli(
        settings, "prices", "set", "1900-S", "1100", "--group", "RETAIL", "--unit", "BOX", "--minimum-quantity", "2"
    )
    await cli(settings, "prices", "set", "1928-S", "50", "--all-customers", "--starting-date", "2027-01-01")
    await cli(settings, "prices", "set", "1928-S", "45", "--customer", "10000", "--currency", "CAD")

    async with engine.connect() as conn:
        rows = (await conn.execute(select(t.sales_price).order_by(t.sales_price.c.item_no))).all()
        group = (await conn.execute(select(t.customer_price_group))).one()
    assert (group.price_includes_vat, group.allow_invoice_disc, group.allow_line_disc) == (True, True, False)
    desk = next(r for r in rows if r.item_no == "1896-S")
    # A new group price takes the group's VAT and discount settings (BC's Sales Code validation).
    assert (desk.unit_price, desk.price_includes_vat, desk.allow_line_disc) == (940, True, False)
    assert len(rows) == 4

    code, out, _err = await cli(settings, "prices", "list", "--group", "RETAIL")
    assert [line.split()[:4] for line in out.splitlines()] == [
        ["ITEM", "SALES", "TYPE", "CODE"],
        ["1896-S", "Customer", "Price", "Group"],
        ["1900-S", "Customer", "Price", "Group"],
    ]
    code, out, _err = await cli(settings, "prices", "list", "--item", "1928-S", "--json")
    listed = json.loads(out)
    assert [(p["sales_type"], p["sales_code"], p["starting_date"]) for p in listed] == [
        ("All Customers", "", "2027-01-01"),
        ("Customer", "10000", None),
    ]

    for args, message in [
        (("set", "1896-S", "1", "--group", "NOPE"), "Code='NOPE'"),
        (
            ("set", "NOPE", "1", "--group", "RETAIL"),
            "The Item does not exist. Identification fields and values: No.='NOPE'",
        ),
        (("set", "1896-S", "1", "--customer", "99999"), "The Customer does not exist."),
        (("set", "1896-S", "1", "--group", "RETAIL", "--unit", "CRATE"), "The Item Unit of Measure does not exist."),
        (("set", "1896-S", "1", "--group", "RETAIL", "--currency", "XYZ"), "The Currency does not exist."),
        (
            ("set", "1896-S", "1", "--group", "RETAIL", "--starting-date", "2027-02-01", "--ending-date", "2027-01-01"),
            "Starting Date cannot be after Ending Date",
        ),
        (("set", "1896-S", "-1", "--group", "RETAIL"), "Unit Price must not be negative."),
        (("delete", "1896-S", "--group", "RETAIL", "--unit", "PCS"), "The Sales Price does not exist."),
        (("assign", "10000", "NOPE"), "The Customer Price Group does not exist."),
    ]:
        code, _out, err = await cli(settings, "prices", *args)
        assert code == 1 and message in err, (args, err)
    code, _out, err = await cli(settings, "prices", "set", "1896-S", "1")
    assert code == 2 and "one of the arguments --group --customer --all-customers is required" in err

    code, out, err = await cli(settings, "prices", "delete", "1896-S", "--group", "RETAIL")
    assert code == 0 and out.startswith("Deleted the sales price: Item No.=1896-S"), err
    async with engine.connect() as conn:
        assert len((await conn.execute(select(t.sales_price))).all()) == 3
