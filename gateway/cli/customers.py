"""`bc-gateway customers pay | credit-limit | salesperson | statistics`: payments received, a
customer's credit limit and salesperson, and its statistics as the Customer Statistics job sends them to Sales."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.cli.common import Subcommands, date_arg, decimal_arg, fail, print_json, run_with_engine
from gateway.config import Settings
from orders import customer_payments as payments
from orders.sync.api import dataverse_sales
from orders.sync.jobs import JobBusy
from orders.sync.ports import SalesRefused, SalesUnavailable
from orders.sync.sales_connection import SalesNotConnected, sales_client


def add_parsers(sub: Subcommands) -> None:
    s = sub.add_parser("customers", help="payments, credit limits and statistics of BC customers")
    c = s.add_subparsers(dest="customers_command", required=True)
    p = c.add_parser(
        "pay",
        help="post a payment received from a customer (BC's cash receipt journal), applied to an invoice if named",
    )
    p.add_argument("customer_no", help="the customer's No.")
    p.add_argument("amount", type=decimal_arg, help="the amount received (positive)")
    p.add_argument("--applies-to", metavar="INVOICE_NO", help="the posted invoice the payment settles (or part of)")
    p.add_argument("--posting-date", type=date_arg, help="YYYY-MM-DD (default: today)")
    p.set_defaults(func=cmd_customers)
    p = c.add_parser("credit-limit", help="set a customer's Credit Limit (LCY)")
    p.add_argument("customer_no", help="the customer's No.")
    p.add_argument("amount", type=decimal_arg, help="the limit (0: none)")
    p.set_defaults(func=cmd_customers)
    p = c.add_parser(
        "salesperson",
        help="set a customer's Salesperson Code (its new orders and quotes take it; their posted invoices go to "
        "Sales owned by the salesperson's Sales user)",
    )
    p.add_argument("customer_no", help="the customer's No.")
    p.add_argument("code", nargs="?", default="", help="a Salesperson/Purchaser code (leave out to clear)")
    p.set_defaults(func=cmd_customers)
    p = c.add_parser("statistics", help="a customer's figures, as the Customer Statistics job sends them to Sales")
    p.add_argument("customer_no", help="the customer's No.")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--send",
        action="store_true",
        help="send them to the customer's Sales account now (BC's manual update of the account statistics)",
    )
    p.set_defaults(func=cmd_customers)


LABELS = {
    "balance_lcy": "Balance (LCY)",
    "outstanding_orders_lcy": "Outstanding Orders (LCY)",
    "shipped_not_invoiced_lcy": "Shipped Not Invoiced (LCY)",
    "outstanding_invoices_lcy": "Outstanding Invoices (LCY)",
    "total_lcy": "Total (LCY)",
    "credit_limit_lcy": "Credit Limit (LCY)",
    "overdue_amounts_lcy": "Overdue Amounts (LCY)",
    "overdue_amounts_as_of": "Overdue Amounts as of",
    "total_sales_lcy": "Sales (LCY) this fiscal year",
    "invoiced_prepayment_amount_lcy": "Invoiced Prepayment Amount (LCY)",
}


def cmd_customers(args: argparse.Namespace, settings: Settings) -> int:
    sub, company = args.customers_command, settings.company
    today = dt.datetime.now(ZoneInfo(settings.time_zone)).date()

    async def run(engine: AsyncEngine) -> object:
        if sub == "pay":
            return await payments.pay(
                engine,
                company,
                args.customer_no,
                args.amount,
                applies_to=args.applies_to or "",
                posting_date=args.posting_date or today,
            )
        if sub == "credit-limit":
            await payments.set_credit_limit(engine, company, args.customer_no, args.amount)
            return None
        if sub == "salesperson":
            await payments.set_salesperson(engine, company, args.customer_no, args.code)
            return None
        if args.send:
            async with sales_client(engine, timeout=settings.sales_timeout) as client:
                sent = await payments.send_statistics(engine, company, args.customer_no, dataverse_sales(client))
            return sent, await payments.statistics(engine, company, args.customer_no, today)
        return "", await payments.statistics(engine, company, args.customer_no, today)

    try:
        result = run_with_engine(settings, run)
    except (
        payments.LedgerError,
        payments.NotAllowedHere,
        SalesNotConnected,
        JobBusy,
        SalesUnavailable,
        SalesRefused,
    ) as exc:
        fail(str(exc))
    if sub == "pay":
        assert isinstance(result, payments.PostedPayment)
        print(f"Posted payment {result.document_no} of {-result.amount:.2f} from customer {result.customer_no}.")
        if result.applied_to:
            left = result.invoice_remaining or 0
            state = "paid in full" if left == 0 else f"{left:.2f} still open"
            print(f"Applied {result.applied_amount:.2f} to invoice {result.applied_to}: {state}.")
        else:
            print("Not applied to an invoice: it stays open on the customer's account.")
        return 0
    if sub == "credit-limit":
        print(f"Credit Limit (LCY) of customer {args.customer_no.upper()} is now {args.amount:.2f}.")
        return 0
    if sub == "salesperson":
        code = args.code.strip().upper()
        who = f"is now {code}" if code else "is now blank"
        print(f"Salesperson Code of customer {args.customer_no.upper()} {who}.")
        return 0
    assert isinstance(result, tuple)
    sent, (name, figures) = result
    values = dataclasses.asdict(figures)
    if args.json:
        print_json({"customer_no": args.customer_no.upper(), "name": name, **values, "sent": bool(sent)})
        return 0
    if sent:
        print(sent)
    print(f"Customer {args.customer_no.upper()} {name}")
    for key, label in LABELS.items():
        value = values[key]
        print(f"  {label:<34} {value:.2f}" if isinstance(value, Decimal) else f"  {label:<34} {value}")
    return 0
