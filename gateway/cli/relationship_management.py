"""`bc-gateway salespeople|contacts|opportunities ...`: BC's Relationship Management in the
embedded BC — salespeople (owners in Sales once coupled to a user), contacts and opportunities,
which the SALESPEOPLE and OPPORTUNITY jobs synchronise (docs/sync.md, Opportunities)."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

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
from schemas import contacts as contact_records
from schemas import opportunities as opps
from schemas import salespeople
from schemas import tables as t
from schemas.db import write_transaction
from schemas.master_data import MasterDataError

SYNC_NEXT = "bc-gateway sync now {mapping} (or wait for its job: bc-gateway sync status)"


def add_parsers(sub: Subcommands) -> None:
    s = sub.add_parser("salespeople", help="BC's salespeople: owners of opportunities in Sales once coupled to a user")
    sp = s.add_subparsers(dest="salespeople_command", required=True, metavar="COMMAND")
    a = sp.add_parser("list", help="every salesperson and the Sales user it is coupled to")
    a.add_argument("--json", action="store_true", help="machine-readable output")
    a = sp.add_parser("add", help="add a salesperson, or change one's fields")
    a.add_argument("code", help="Code (up to 20 characters, upper case)")
    a.add_argument("--name", help="Name")
    a.add_argument("--email", dest="e_mail", help="E-Mail (the Sales user's primary e-mail couples them)")
    a.add_argument("--phone", dest="phone_no", help="Phone No.")
    a.add_argument("--job-title", dest="job_title", help="Job Title")
    s.set_defaults(func=cmd_salespeople)

    s = sub.add_parser("contacts", help="BC's contacts: companies and their persons")
    cs = s.add_subparsers(dest="contacts_command", required=True, metavar="COMMAND")
    a = cs.add_parser("list", help="every contact")
    a.add_argument("--json", action="store_true", help="machine-readable output")
    a = cs.add_parser("add", help="add a contact, or change one's fields")
    a.add_argument("no", help="No.")
    a.add_argument("--type", choices=t.CONTACT_TYPES, help="Company or Person (default for a new one: Person)")
    a.add_argument("--name", help="Name (a person's is First Name and Surname when not given)")
    a.add_argument("--company", dest="company_no", help="a person's Company No. (a company contact)")
    a.add_argument("--customer", dest="customer_no", help="a company's customer (its business relation)")
    for flag, dest, caption in (
        ("--first-name", "first_name", "First Name"),
        ("--surname", "surname", "Surname"),
        ("--email", "e_mail", "E-Mail"),
        ("--phone", "phone_no", "Phone No."),
        ("--job-title", "job_title", "Job Title"),
    ):
        a.add_argument(flag, dest=dest, help=caption)
    s.set_defaults(func=cmd_contacts)

    s = sub.add_parser("opportunities", help="BC's opportunities: synchronised with Sales by OPPORTUNITY")
    os_ = s.add_subparsers(dest="opportunities_command", required=True, metavar="COMMAND")
    a = os_.add_parser("list", help="every opportunity (--open: not won or lost) and its Sales opportunity")
    a.add_argument("--open", action="store_true", help="only those not closed")
    a.add_argument("--json", action="store_true", help="machine-readable output")
    a = os_.add_parser("add", help="a new opportunity for a contact (numbered OP000001, ...)")
    a.add_argument("--description", required=True, help="Description")
    a.add_argument("--contact", dest="contact_no", required=True, help="Contact No. (a person or a company)")
    _opportunity_options(a)
    a = os_.add_parser("edit", help="change an opportunity (--status Won or Lost closes it)")
    a.add_argument("no", help="the opportunity's No.")
    a.add_argument("--description", help="Description")
    a.add_argument("--contact", dest="contact_no", help="Contact No.")
    _opportunity_options(a)
    s.set_defaults(func=cmd_opportunities)


def _opportunity_options(a: argparse.ArgumentParser) -> None:
    a.add_argument("--salesperson", dest="salesperson_code", help="Salesperson Code (the owner in Sales)")
    a.add_argument("--status", choices=t.OPPORTUNITY_STATUSES, help="Status")
    a.add_argument("--priority", choices=opps.PRIORITIES, help="Priority")
    a.add_argument("--value", dest="estimated_value_lcy", type=decimal_arg, help="Estimated Value (LCY)")
    a.add_argument(
        "--current-value", dest="calcd_current_value_lcy", type=decimal_arg, help="Calcd. Current Value (LCY)"
    )
    a.add_argument("--probability", dest="probability_pct", type=decimal_arg, help="Probability % (0-100)")
    a.add_argument("--chances", dest="chances_of_success_pct", type=decimal_arg, help="Chances of Success % (0-100)")
    a.add_argument("--closing-date", dest="estimated_closing_date", type=date_arg, help="Estimated Closing Date")


async def _refuse_in_api_mode(engine: AsyncEngine, what: str) -> None:
    """BC's records are written in BC when it is the system of record (docs/bc-link.md)."""
    async with engine.connect() as conn:
        message = local_write_refusal(await load_connection_setup(conn), what)
    if message:
        raise CliError(message)


def _given(args: argparse.Namespace, names: tuple[str, ...]) -> dict[str, Any]:
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def cmd_salespeople(args: argparse.Namespace, settings: Settings) -> int:
    company = settings.company
    if args.salespeople_command == "add":

        async def save(engine: AsyncEngine) -> bool:
            await _refuse_in_api_mode(engine, "Create and change salespeople")
            async with write_transaction(engine) as conn:
                fields = _given(args, ("name", "e_mail", "phone_no", "job_title"))
                return await salespeople.save_salesperson(conn, company, args.code, **fields)

        try:
            created = run_with_engine(settings, save)
        except MasterDataError as exc:
            fail(str(exc))
        code = args.code.strip().upper()
        print(f"{'Created' if created else 'Changed'} salesperson {code}.")
        print(
            f"Next: couple it to its Sales user: bc-gateway couple --match salesperson (by e-mail), or "
            f"bc-gateway couple salesperson {code} SYSTEMUSER_ID."
        )
        return 0

    async def read(engine: AsyncEngine) -> tuple[list[salespeople.Salesperson], dict[str, str]]:
        async with engine.connect() as conn:
            people = await salespeople.salespeople(conn, company)
            users = await opps.sales_ids(conn, company, t.TABLE_SALESPERSON_PURCHASER, t.salesperson_purchaser, "code")
            return people, users

    people, users = run_with_engine(settings, read)
    if args.json:
        print_json([{**dataclasses.asdict(p), "sales_user_id": users.get(p.code)} for p in people])
        return 0
    print_table(
        ("CODE", "NAME", "E-MAIL", "SALES USER"),
        [(p.code, p.name, p.e_mail, users.get(p.code, "- (not coupled)")) for p in people],
        "No salespeople. Next: bc-gateway salespeople add CODE --name NAME --email E-MAIL.",
    )
    return 0


def cmd_contacts(args: argparse.Namespace, settings: Settings) -> int:
    company = settings.company
    if args.contacts_command == "add":

        async def save(engine: AsyncEngine) -> bool:
            await _refuse_in_api_mode(engine, "Create and change contacts")
            names = ("name", "first_name", "surname", "e_mail", "phone_no", "job_title")
            async with write_transaction(engine) as conn:
                return await contact_records.save_contact(
                    conn,
                    company,
                    args.no,
                    type=args.type,
                    company_no=args.company_no,
                    customer_no=args.customer_no,
                    **_given(args, names),
                )

        try:
            created = run_with_engine(settings, save)
        except MasterDataError as exc:
            fail(str(exc))
        no = args.no.strip().upper()
        print(f"{'Created' if created else 'Changed'} contact {no}.")
        print(f"Next: bc-gateway opportunities add --contact {no} --description TEXT --salesperson CODE.")
        return 0

    async def read(engine: AsyncEngine) -> list[contact_records.Contact]:
        async with engine.connect() as conn:
            return await contact_records.contacts(conn, company)

    found = run_with_engine(settings, read)
    if args.json:
        print_json([dataclasses.asdict(c) for c in found])
        return 0
    print_table(
        ("NO.", "TYPE", "NAME", "COMPANY NO.", "CUSTOMER NO.", "E-MAIL"),
        [(c.no, c.type, c.name, c.company_no or "-", c.customer_no or "-", c.e_mail) for c in found],
        "No contacts. Next: bc-gateway contacts add CT000001 --type Company --name NAME --customer CUSTOMER_NO.",
    )
    return 0


_CHANGE_FIELDS = tuple(f.name for f in dataclasses.fields(opps.OpportunityChange))


def cmd_opportunities(args: argparse.Namespace, settings: Settings) -> int:
    company = settings.company
    sub = args.opportunities_command
    if sub in ("add", "edit"):
        change = opps.OpportunityChange(**_given(args, _CHANGE_FIELDS))
        today = dt.datetime.now(ZoneInfo(settings.time_zone)).date()

        async def save(engine: AsyncEngine) -> str:
            await _refuse_in_api_mode(engine, "Create and change opportunities")
            async with write_transaction(engine) as conn:
                if sub == "add":
                    return await opps.create_opportunity(conn, company, change, today)
                await opps.edit_opportunity(conn, company, args.no, change, today)
                return str(args.no)

        try:
            no = run_with_engine(settings, save)
        except MasterDataError as exc:
            fail(str(exc))
        print(f"{'Created' if sub == 'add' else 'Changed'} opportunity {no}.")
        if change.status in opps.CLOSED_STATUSES:
            print(f"It is closed ({change.status}): OPPORTUNITY no longer sends it to Sales, as in BC.")
        else:
            print("Next: it goes to Sales with the OPPORTUNITY job; now: " + SYNC_NEXT.format(mapping="OPPORTUNITY"))
        return 0

    async def read(engine: AsyncEngine) -> tuple[list[opps.Opportunity], dict[str, str]]:
        async with engine.connect() as conn:
            found = await opps.opportunities(conn, company, open_only=args.open)
            ids = await opps.sales_ids(conn, company, t.TABLE_OPPORTUNITY, t.opportunity, "no")
            return found, ids

    found, ids = run_with_engine(settings, read)
    if args.json:
        print_json([{**dataclasses.asdict(o), "sales_id": ids.get(o.no)} for o in found])
        return 0
    print_table(
        ("NO.", "DESCRIPTION", "CONTACT", "SALESPERSON", "STATUS", "EST. VALUE (LCY)", "CLOSING", "SALES ID"),
        [
            (
                o.no,
                o.description,
                o.contact_no,
                o.salesperson_code or "-",
                o.status,
                f"{o.estimated_value_lcy:.2f}",
                o.estimated_closing_date or "-",
                ids.get(o.no, "- (not in Sales yet)"),
            )
            for o in found
        ],
        ("No open opportunities." if args.open else "No opportunities.")
        + " Next: bc-gateway opportunities add --contact NO --description TEXT --salesperson CODE.",
    )
    return 0
