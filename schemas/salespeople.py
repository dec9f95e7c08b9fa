"""BC's Salesperson/Purchaser (table 13): the people who own customers, opportunities and
documents. Through the SALESPEOPLE mapping each is coupled to a Sales user (``systemuser``); the
Salesperson Code of an opportunity then decides its owner in Sales (docs/sync.md, Opportunities)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas import change_log as changes
from schemas import tables as t
from schemas.master_data import MasterDataError

CAPTION = "Salesperson/Purchaser"
CODE_LENGTH = 20
LENGTHS = {"name": 50, "e_mail": 80, "phone_no": 30, "job_title": 30}


@dataclass(frozen=True, slots=True)
class Salesperson:
    code: str
    name: str
    e_mail: str
    phone_no: str
    job_title: str
    system_id: str


def not_found(code: str) -> str:
    return f"The {CAPTION} does not exist. Identification fields and values: Code='{code}'"


def checked_code(code: str) -> str:
    """A Code field as BC keeps it: trimmed, upper case, at most 20 characters."""
    value = code.strip().upper()
    if not value:
        raise MasterDataError(f"Code must have a value in {CAPTION}: Code=. It cannot be zero or empty.")
    if len(value) > CODE_LENGTH:
        raise MasterDataError(
            f"The length of the string is {len(value)}, but it must be less than or equal to {CODE_LENGTH} "
            f"characters. Value: {value}"
        )
    return value


def checked_fields(**fields: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in fields.items():
        if value is None:
            continue
        limit = LENGTHS[name]
        if len(value) > limit:
            raise MasterDataError(
                f"The length of the string is {len(value)}, but it must be less than or equal to {limit} "
                f"characters. Value: {value}"
            )
        out[name] = value
    return out


async def save_salesperson(conn: AsyncConnection, company: str, code: str, **fields: str | None) -> bool:
    """Create the salesperson, or change the fields given; True when it was created."""
    key = checked_code(code)
    values = checked_fields(**fields)
    sp = t.salesperson_purchaser
    found = (await conn.execute(select(sp.c.code).where(sp.c.company == company, sp.c.code == key))).first()
    if found is None:
        await conn.execute(sp.insert().values(company=company, code=key, system_id=str(uuid.uuid4()), **values))
    elif values:
        await conn.execute(update(sp).where(sp.c.company == company, sp.c.code == key).values(**values))
    await changes.record(conn, changes.MASTER, company=company)
    return found is None


async def salespeople(conn: AsyncConnection, company: str) -> list[Salesperson]:
    sp = t.salesperson_purchaser
    rows = await conn.execute(select(sp).where(sp.c.company == company).order_by(sp.c.code))
    return [Salesperson(r.code, r.name, r.e_mail, r.phone_no, r.job_title, str(r.system_id)) for r in rows.all()]


async def exists(conn: AsyncConnection, company: str, code: str) -> bool:
    sp = t.salesperson_purchaser
    row = (await conn.execute(select(sp.c.code).where(sp.c.company == company, sp.c.code == code))).first()
    return row is not None
