"""BC's Opportunity (table 5092): a possible sale to a contact, owned by a salesperson.

The rules are pure functions (``checked_change``, ``closing``); ``create_opportunity`` and
``edit_opportunity`` apply them in one transaction and record a ``master`` change, which wakes the
OPPORTUNITY synchronisation job. Numbers come from BC's series OPP (OP000001, OP000002, ...).

What BC does that we keep: the Contact Company No. follows the contact (a person's company, or the
company itself); the Salesperson Code must exist; Won or Lost closes the opportunity and sets Date
Closed; a closed opportunity is not changed. BC calculates the values (Estimated Value, Current
Value, Probability %, Chances of Success %, Estimated Closing Date) from the opportunity's sales
cycle entries; here they are entered as fields.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas import change_log as changes
from schemas import salespeople
from schemas import tables as t
from schemas.master_data import MasterDataError
from schemas.sales_document_store import next_number

SERIES = ("OPP", "OP000001")
CLOSED_STATUSES = ("Won", "Lost")
PRIORITIES = ("Low", "Normal", "High")
DESCRIPTION_LENGTH = 100
_PERCENT_FIELDS = {"probability_pct": "Probability %", "chances_of_success_pct": "Chances of Success %"}
_AMOUNT_FIELDS = {
    "estimated_value_lcy": "Estimated Value (LCY)",
    "calcd_current_value_lcy": "Calcd. Current Value (LCY)",
}


@dataclass(frozen=True, slots=True)
class OpportunityChange:
    """The fields a person sets; None leaves a field as it is."""

    description: str | None = None
    contact_no: str | None = None
    salesperson_code: str | None = None
    status: str | None = None
    priority: str | None = None
    estimated_value_lcy: Decimal | None = None
    calcd_current_value_lcy: Decimal | None = None
    probability_pct: Decimal | None = None
    chances_of_success_pct: Decimal | None = None
    estimated_closing_date: dt.date | None = None

    def given(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


@dataclass(frozen=True, slots=True)
class Opportunity:
    no: str
    description: str
    contact_no: str
    contact_company_no: str
    salesperson_code: str
    status: str
    closed: bool
    priority: str
    creation_date: dt.date | None
    date_closed: dt.date | None
    estimated_closing_date: dt.date | None
    estimated_value_lcy: Decimal
    calcd_current_value_lcy: Decimal
    probability_pct: Decimal
    chances_of_success_pct: Decimal
    system_id: str


def _key(no: str) -> str:
    return f"Opportunity: No.={no}"


def checked_change(no: str, change: OpportunityChange) -> dict[str, Any]:
    """The change's fields as BC stores them, or MasterDataError in BC's words."""
    values = change.given()
    if "description" in values:
        text = values["description"].strip()
        if not text:
            raise MasterDataError(f"Description must have a value in {_key(no)}. It cannot be zero or empty.")
        if len(text) > DESCRIPTION_LENGTH:
            raise MasterDataError(
                f"The length of the string is {len(text)}, but it must be less than or equal to "
                f"{DESCRIPTION_LENGTH} characters. Value: {text}"
            )
        values["description"] = text
    for name in ("contact_no", "salesperson_code"):
        if name in values:
            values[name] = values[name].strip().upper()
    if "contact_no" in values and not values["contact_no"]:
        raise MasterDataError(f"Contact No. must have a value in {_key(no)}. It cannot be zero or empty.")
    if "status" in values and values["status"] not in t.OPPORTUNITY_STATUSES:
        raise MasterDataError(f"'{values['status']}' is not a valid Status: use {', '.join(t.OPPORTUNITY_STATUSES)}.")
    if "priority" in values and values["priority"] not in PRIORITIES:
        raise MasterDataError(f"'{values['priority']}' is not a valid Priority: use {', '.join(PRIORITIES)}.")
    for name, caption in _PERCENT_FIELDS.items():
        if name in values and not Decimal(0) <= values[name] <= Decimal(100):
            raise MasterDataError(f"The value in the {caption} field must be between 0 and 100.")
    for name, caption in _AMOUNT_FIELDS.items():
        if name in values and values[name] < 0:
            raise MasterDataError(f"{caption} must not be negative.")
    return values


def closing(no: str, closed: bool, values: dict[str, Any], today: dt.date) -> dict[str, Any]:
    """What a change does to an opportunity's closure: none to a closed one (BC's TestField on
    Closed), and Won or Lost closes it on ``today``."""
    if closed:
        raise MasterDataError(f"Closed must be equal to 'No'  in {_key(no)}. Current value is 'Yes'.")
    out = dict(values)
    if out.get("status") in CLOSED_STATUSES:
        out["closed"] = True
        out["date_closed"] = today
    return out


async def _contact_company(conn: AsyncConnection, company: str, contact_no: str) -> str:
    """The Contact Company No. of a contact: the person's company, or the company itself."""
    c = t.contact
    row = (
        await conn.execute(select(c.c.type, c.c.company_no).where(c.c.company == company, c.c.no == contact_no))
    ).first()
    if row is None:
        raise MasterDataError(f"The Contact does not exist. Identification fields and values: No.='{contact_no}'")
    return contact_no if row.type == "Company" else row.company_no


async def _related(conn: AsyncConnection, company: str, values: dict[str, Any]) -> dict[str, Any]:
    out = dict(values)
    if "contact_no" in out:
        out["contact_company_no"] = await _contact_company(conn, company, out["contact_no"])
    code = out.get("salesperson_code")
    if code and not await salespeople.exists(conn, company, code):
        raise MasterDataError(salespeople.not_found(code))
    return out


async def create_opportunity(conn: AsyncConnection, company: str, change: OpportunityChange, today: dt.date) -> str:
    """A new opportunity (Not Started unless told otherwise); its number."""
    if change.description is None:
        raise MasterDataError("Description must have a value in Opportunity: No.=. It cannot be zero or empty.")
    if change.contact_no is None:
        raise MasterDataError("Contact No. must have a value in Opportunity: No.=. It cannot be zero or empty.")
    values = await _related(conn, company, checked_change("", change))
    values = closing("", False, values, today)
    no = await next_number(conn, company, SERIES)
    await conn.execute(
        t.opportunity.insert().values(
            company=company, no=no, system_id=str(uuid.uuid4()), creation_date=today, **values
        )
    )
    await changes.record(conn, changes.MASTER, company=company)
    return no


async def edit_opportunity(
    conn: AsyncConnection, company: str, no: str, change: OpportunityChange, today: dt.date
) -> None:
    o = t.opportunity
    row = (await conn.execute(select(o.c.closed).where(o.c.company == company, o.c.no == no))).first()
    if row is None:
        raise MasterDataError(f"The Opportunity does not exist. Identification fields and values: No.='{no}'")
    values = closing(no, bool(row.closed), await _related(conn, company, checked_change(no, change)), today)
    if not values:
        return
    await conn.execute(update(o).where(o.c.company == company, o.c.no == no).values(**values))
    await changes.record(conn, changes.MASTER, company=company)


def _opportunity(r: Any) -> Opportunity:
    return Opportunity(
        no=r.no,
        description=r.description,
        contact_no=r.contact_no,
        contact_company_no=r.contact_company_no,
        salesperson_code=r.salesperson_code,
        status=r.status,
        closed=bool(r.closed),
        priority=r.priority,
        creation_date=r.creation_date,
        date_closed=r.date_closed,
        estimated_closing_date=r.estimated_closing_date,
        estimated_value_lcy=Decimal(r.estimated_value_lcy),
        calcd_current_value_lcy=Decimal(r.calcd_current_value_lcy),
        probability_pct=Decimal(r.probability_pct),
        chances_of_success_pct=Decimal(r.chances_of_success_pct),
        system_id=str(r.system_id),
    )


async def opportunities(conn: AsyncConnection, company: str, *, open_only: bool = False) -> list[Opportunity]:
    o = t.opportunity
    query = select(o).where(o.c.company == company)
    if open_only:
        query = query.where(o.c.closed.is_(False))
    return [_opportunity(r) for r in (await conn.execute(query.order_by(o.c.no))).all()]


async def opportunity(conn: AsyncConnection, company: str, no: str) -> Opportunity | None:
    o = t.opportunity
    row = (await conn.execute(select(o).where(o.c.company == company, o.c.no == no))).first()
    return _opportunity(row) if row else None


async def sales_ids(conn: AsyncConnection, company: str, table_id: int, table: Any, key: str) -> dict[str, str]:
    """BC key -> the coupled Sales row's id, for one BC table (what `list` commands show)."""
    cir = t.crm_integration_record
    rows = await conn.execute(
        select(table.c[key], cir.c.crm_id)
        .select_from(cir.join(table, (table.c.company == cir.c.company) & (table.c.system_id == cir.c.integration_id)))
        .where(cir.c.company == company, cir.c.table_id == table_id)
    )
    return {str(k): str(crm_id) for k, crm_id in rows.all()}
