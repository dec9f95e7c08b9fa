"""BC's Contact (table 5050): companies and the persons who work for them. A company contact is
linked to its customer (BC's Contact Business Relation, ``customer_no``); its persons share the
link. The CONTACT mapping synchronises the persons of a company; an opportunity is made for a
contact (schemas/opportunities.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas import change_log as changes
from schemas import tables as t
from schemas.master_data import MasterDataError

LENGTHS = {"name": 100, "first_name": 30, "surname": 30, "job_title": 30, "e_mail": 80, "phone_no": 30}


@dataclass(frozen=True, slots=True)
class Contact:
    no: str
    type: str
    name: str
    company_no: str
    customer_no: str
    e_mail: str


def _not_found(caption: str, no: str) -> str:
    return f"The {caption} does not exist. Identification fields and values: No.='{no}'"


def _checked(no: str, fields: dict[str, str | None]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in fields.items():
        if value is None:
            continue
        if name in LENGTHS and len(value) > LENGTHS[name]:
            raise MasterDataError(
                f"The length of the string is {len(value)}, but it must be less than or equal to {LENGTHS[name]} "
                f"characters. Value: {value}"
            )
        out[name] = value
    return out


async def save_contact(
    conn: AsyncConnection,
    company: str,
    no: str,
    *,
    type: str | None = None,
    company_no: str | None = None,
    customer_no: str | None = None,
    **fields: str | None,
) -> bool:
    """Create the contact or change the fields given; True when it was created. A person's Company
    No. must be a company contact, whose customer link the person takes; a company's customer must
    exist. A person's Name is First Name and Surname when they are given."""
    key = no.strip().upper()
    if not key or len(key) > 20:
        raise MasterDataError("No. must have a value in Contact: No.=. It cannot be zero or empty.")
    c = t.contact
    current = (await conn.execute(select(c).where(c.c.company == company, c.c.no == key))).first()
    values: dict[str, object] = dict(_checked(key, fields))
    kind = type or (current.type if current else "Person")
    if kind not in t.CONTACT_TYPES:
        raise MasterDataError(f"'{kind}' is not a valid Type: use Company or Person.")
    values["type"] = kind
    if company_no is not None:
        firm_no = company_no.strip().upper()
        if firm_no:
            firm = (
                await conn.execute(select(c.c.type, c.c.customer_no).where(c.c.company == company, c.c.no == firm_no))
            ).first()
            if firm is None or firm.type != "Company":
                raise MasterDataError(
                    _not_found("Contact", firm_no)
                    if firm is None
                    else (f"Type must be equal to 'Company'  in Contact: No.={firm_no}. Current value is 'Person'.")
                )
            values["customer_no"] = firm.customer_no
        values["company_no"] = firm_no
    if customer_no is not None:
        cust_no = customer_no.strip().upper()
        cu = t.customer
        if (
            cust_no
            and (await conn.execute(select(cu.c.no).where(cu.c.company == company, cu.c.no == cust_no))).first() is None
        ):
            raise MasterDataError(_not_found("Customer", cust_no))
        values["customer_no"] = cust_no
    if kind == "Person" and ("first_name" in values or "surname" in values):
        first = str(values.get("first_name", current.first_name if current else ""))
        last = str(values.get("surname", current.surname if current else ""))
        values.setdefault("name", " ".join(p for p in (first, last) if p))
    if current is None:
        await conn.execute(c.insert().values(company=company, no=key, system_id=str(uuid.uuid4()), **values))
    else:
        await conn.execute(update(c).where(c.c.company == company, c.c.no == key).values(**values))
    if kind == "Company" and "customer_no" in values:
        # The persons of the company share its business relation.
        await conn.execute(
            update(c)
            .where(c.c.company == company, c.c.company_no == key, c.c.type == "Person")
            .values(customer_no=values["customer_no"])
        )
    await changes.record(conn, changes.MASTER, company=company)
    return current is None


async def contacts(conn: AsyncConnection, company: str) -> list[Contact]:
    c = t.contact
    rows = await conn.execute(select(c).where(c.c.company == company).order_by(c.c.no))
    return [Contact(r.no, r.type, r.name, r.company_no, r.customer_no, r.e_mail) for r in rows.all()]
