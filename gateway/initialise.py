"""Setting up a database for this program: the schema, the company and, for a demo, the CRONUS-like
company with a DEMO user and the item availability web service published.

`bc-gateway init [--demo]`, `serve --demo`, the tests and the benchmarks set up through
:func:`initialise`; every other command first calls :func:`ensure_schema`.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.config import Settings
from orders.change_setup import SetupService, load_connection_setup
from orders.setup import SetupChange
from schemas import demo_company, master_data
from schemas.db import write_transaction
from schemas.migrate import current_revision, head_revision, schema_lock, upgrade
from schemas.roles import ROLES
from schemas.users import UserService

DEMO_USER = "DEMO"


class SchemaOutdated(Exception):
    """The database's schema is older than this program's: `bc-gateway db upgrade` first."""


async def initialise(engine: AsyncEngine, settings: Settings, *, demo: bool = False) -> list[str]:
    """Bring the schema up to date and create the company; with `demo`, the demo company, its
    user and setup too. Safe to repeat. Returns what it did, one line each, for people."""
    # Under the schema lock: several processes on one empty PostgreSQL database take turns
    # (the schema, the company and the demo user each made once) instead of racing (issue 9, item 16).
    async with schema_lock(engine):
        await upgrade(engine, lock=False)
        notes = []
        async with write_transaction(engine) as conn:
            if await master_data.ensure_company(conn, settings.company):
                notes.append(f"Created company {settings.company}.")
            # api mode: a real BC is the system of record; its mirror, not the demo, fills the tables.
            api_mode = (await load_connection_setup(conn)).bc_api_mode
            if demo and api_mode:
                notes.append("Business Central is in api mode: the demo data is not loaded (the mirror brings BC's).")
            elif demo and await demo_company.load_demo(conn, settings.company):
                notes.append(f"Loaded the demo data into {settings.company}.")
        if demo:
            notes += await _demo_user_and_setup(engine, settings)
        return notes


async def _demo_user_and_setup(engine: AsyncEngine, settings: Settings) -> list[str]:
    """The DEMO user with every role, as the OData user of a published availability service."""
    users = UserService(engine)
    notes = []
    # Checked and added in one transaction: two `init --demo` at once on an empty SQLite file
    # (which has no schema lock) both found no user, and the second add failed.
    if await users.add_if_missing(DEMO_USER, "Demo user (all roles)", set(ROLES)):
        notes.append(f"Created the user {DEMO_USER} with the roles {', '.join(ROLES)}.")
    service = SetupService(engine, settings)
    current = await service.get()
    change = SetupChange(
        item_availability_enabled=None if current.item_availability_enabled else True,
        odata_username=None if current.odata_username else DEMO_USER,
        # CRONUS US: orders in US dollars get a blank Currency Code; EUR, CAD, GBP exist as currencies.
        local_currency_code=None if (await service.sales()).local_currency_code else "USD",
    )
    if change.given():
        await service.change(change, changed_by="demo")
        notes.append("Published the item availability web service.")
    return notes


async def ensure_schema(engine: AsyncEngine, settings: Settings) -> list[str]:
    """Make sure the database has this program's schema before a command uses it.

    An empty database is set up as `init` does (the embedded database needs no set-up step); an
    older schema is refused with SchemaOutdated, since upgrading is done once, before several
    processes start (deploy/README.md). Returns the notes of setting up, if it did.
    """
    current = await current_revision(engine)
    if current is None:
        notes = [f"The database was empty: created its schema ({head_revision()})."]
        return notes + await initialise(engine, settings)
    if current != head_revision():
        raise SchemaOutdated(
            f"The database schema is at {current}, this version needs {head_revision()}: run 'bc-gateway db upgrade'."
        )
    return []
