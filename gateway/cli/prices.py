"""`bc-gateway prices ...`: BC's Customer Price Groups and Sales Prices (without extended pricing).

The CUSTPRCGRP-PRICE and SALESPRC-PRODPRICE jobs carry them to Sales price lists (docs/sync.md).
"""

from __future__ import annotations

import argparse
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.cli.common import (
    CliError,
    Subcommands,
    date_arg,
    decimal_arg,
    fail,
    print_json,
    print_table,
    run_with_engine,
)
from gateway.config import Settings
from orders.bc_link.from_setup import local_write_refusal
from orders.change_setup import load_connection_setup
from schemas import sales_prices as sp
from schemas.db import write_transaction
from schemas.master_data import MasterDataError


def _yes_no(text: str) -> bool:
    low = text.strip().lower()
    if low in ("yes", "true", "1"):
        return True
    if low in ("no", "false", "0"):
        return False
    raise argparse.ArgumentTypeError(f"'{text}' is not yes or no")


def _key_arguments(p: argparse.ArgumentParser) -> None:
    """BC's key of a Sales Price, after ITEM_NO."""
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--group", metavar="CODE", help="Sales Type Customer Price Group, Sales Code CODE")
    who.add_argument("--customer", metavar="NO", help="Sales Type Customer, Sales Code NO")
    who.add_argument("--all-customers", action="store_true", help="Sales Type All Customers")
    p.add_argument("--unit", default="", metavar="CODE", help="Unit of Measure Code (blank: the item's base unit)")
    p.add_argument("--currency", default="", metavar="CODE", help="Currency Code (blank: the LCY)")
    p.add_argument("--variant", default="", metavar="CODE", help="Variant Code")
    p.add_argument("--starting-date", type=date_arg, metavar="YYYY-MM-DD", help="Starting Date (blank: always)")
    p.add_argument("--minimum-quantity", type=decimal_arg, default=Decimal(0), metavar="Q", help="Minimum Quantity")


def add_parsers(sub: Subcommands) -> None:
    s = sub.add_parser("prices", help="customer price groups and sales prices (Sales price lists)")
    cmd = s.add_subparsers(dest="prices_command", required=True, metavar="COMMAND")

    g = cmd.add_parser("groups", help="list the customer price groups")
    g.add_argument("--json", action="store_true", help="machine-readable output")

    g = cmd.add_parser("group", help="create or change a customer price group")
    g.add_argument("code", help="the group's Code (10 characters)")
    g.add_argument("--description", help="its Description (the price list's description in Sales)")
    g.add_argument("--price-includes-vat", type=_yes_no, metavar="yes|no", help="its prices include VAT")
    g.add_argument("--allow-invoice-disc", type=_yes_no, metavar="yes|no", help="its prices allow invoice discounts")
    g.add_argument("--allow-line-disc", type=_yes_no, metavar="yes|no", help="its prices allow line discounts")

    g = cmd.add_parser("assign", help="give a customer a customer price group ('' clears it)")
    g.add_argument("customer_no", help="the customer's No.")
    g.add_argument("group_code", help="the Customer Price Group's Code ('' for none)")

    g = cmd.add_parser("list", help="list sales prices")
    g.add_argument("--group", metavar="CODE", help="only this customer price group's prices")
    g.add_argument("--item", metavar="NO", help="only this item's prices")
    g.add_argument("--json", action="store_true", help="machine-readable output")

    g = cmd.add_parser("set", help="create or change a sales price")
    g.add_argument("item_no", help="the item's No.")
    g.add_argument("unit_price", type=decimal_arg, help="the Unit Price")
    _key_arguments(g)
    g.add_argument("--ending-date", type=date_arg, metavar="YYYY-MM-DD", help="Ending Date")

    g = cmd.add_parser("delete", help="delete a sales price (its Sales price list item stays, as in BC)")
    g.add_argument("item_no", help="the item's No.")
    _key_arguments(g)
    s.set_defaults(func=cmd_prices)


def _key(args: argparse.Namespace) -> sp.PriceKey:
    if args.group is not None:
        sales_type, code = sp.CUSTOMER_PRICE_GROUP, args.group
    elif args.customer is not None:
        sales_type, code = sp.CUSTOMER, args.customer
    else:
        sales_type, code = sp.ALL_CUSTOMERS, ""
    return sp.PriceKey(
        item_no=args.item_no,
        sales_type=sales_type,
        sales_code=code,
        starting_date=args.starting_date,
        currency_code=args.currency,
        variant_code=args.variant,
        unit_of_measure_code=args.unit,
        minimum_quantity=args.minimum_quantity,
    )


async def _refuse_in_api_mode(engine: AsyncEngine, what: str) -> None:
    async with engine.connect() as conn:
        message = local_write_refusal(await load_connection_setup(conn), what)
    if message:
        raise CliError(message)


def _flags(args: argparse.Namespace) -> dict[str, Any]:
    names = ("price_includes_vat", "allow_invoice_disc", "allow_line_disc")
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def cmd_prices(args: argparse.Namespace, settings: Settings) -> int:
    company = settings.company
    command = args.prices_command

    async def run(engine: AsyncEngine) -> Any:
        if command in ("groups", "list"):
            async with engine.connect() as conn:
                if command == "groups":
                    return await sp.customer_price_groups(conn, company)
                return await sp.sales_prices(
                    conn,
                    company,
                    sales_type=sp.CUSTOMER_PRICE_GROUP if args.group else None,
                    sales_code=args.group,
                    item_no=args.item,
                )
        await _refuse_in_api_mode(engine, "Create and change sales prices")
        async with write_transaction(engine) as conn:
            if command == "group":
                values = _flags(args)
                if args.description is not None:
                    values["description"] = args.description
                return await sp.upsert_customer_price_group(conn, company, args.code, **values)
            if command == "assign":
                await sp.set_customer_price_group(conn, company, args.customer_no, args.group_code)
                return None
            if command == "set":
                price: dict[str, Any] = {"unit_price": args.unit_price}
                if args.ending_date is not None:
                    price["ending_date"] = args.ending_date
                return await sp.upsert_sales_price(conn, company, _key(args), **price)
            await sp.delete_sales_price(conn, company, _key(args))
            return None

    try:
        result = run_with_engine(settings, run)
    except MasterDataError as exc:
        fail(str(exc))
    if command == "groups":
        return _print_groups(result, args.json)
    if command == "list":
        return _print_prices(result, args.json)
    if command == "group":
        print(f"{'Created' if result else 'Changed'} customer price group {args.code.strip().upper()}.")
    elif command == "assign":
        group = args.group_code.strip().upper()
        print(
            f"Customer {args.customer_no} "
            + (f"has customer price group {group}." if group else "has no customer price group.")
        )
    elif command == "set":
        described = _key(args).normalised().describe()
        print(f"{'Created' if result else 'Changed'} the sales price: {described}, Unit Price={args.unit_price}.")
    else:
        print(f"Deleted the sales price: {_key(args).normalised().describe()}.")
    return 0


def _print_groups(groups: list[dict[str, Any]], as_json: bool) -> int:
    if as_json:
        print_json([{k: v for k, v in g.items() if k != "company"} for g in groups])
        return 0
    print_table(
        ("CODE", "PRICE INCL. VAT", "DESCRIPTION"),
        [[g["code"], "yes" if g["price_includes_vat"] else "no", g["description"]] for g in groups],
        "No customer price groups. Create one: bc-gateway prices group CODE --description TEXT",
    )
    return 0


def _print_prices(prices: list[dict[str, Any]], as_json: bool) -> int:
    if as_json:
        print_json([{k: v for k, v in p.items() if k != "company"} for p in prices])
        return 0
    print_table(
        ("ITEM", "SALES TYPE", "CODE", "UNIT", "CURRENCY", "MIN. QTY", "FROM", "TO", "UNIT PRICE"),
        [
            [
                p["item_no"],
                p["sales_type"],
                p["sales_code"],
                p["unit_of_measure_code"],
                p["currency_code"],
                f"{p['minimum_quantity'].normalize():f}",
                p["starting_date"] or "",
                p["ending_date"] or "",
                f"{p['unit_price']:.2f}",
            ]
            for p in prices
        ],
        "No sales prices. Add one: bc-gateway prices set ITEM_NO UNIT_PRICE --group CODE",
    )
    return 0
