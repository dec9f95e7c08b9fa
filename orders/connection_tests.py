"""`bc-gateway setup test`: every connection the setup configures, checked step by step, each failure
said exactly (DNS, TLS, 401, 403, company not found, missing permission, unpublished page).

- Business Central (api mode): :func:`orders.bc_link.connection_check.check_bc_connection`
  (docs/bc-link.md, "Connection check"), with the pages the setup names as published;
- Dynamics 365 Sales (when its Web API is configured):
  :func:`orders.dataverse.connection_check.check_dataverse_connection` (DNS, connect, token,
  ``WhoAmI``, the organisation against the Sales URL).

Only reads are made. Secrets never appear in a message.
"""

from __future__ import annotations

from orders.bc_link.config import BcConnection
from orders.bc_link.connection_check import OPTIONAL_PAGES, check_bc_connection
from orders.bc_link.from_setup import bc_connection, published_pages
from orders.checks import CheckResult
from orders.dataverse.connection_check import check_dataverse_connection
from orders.setup import ConnectionSetup

__all__ = ["CheckResult", "bc_pages_to_check", "check_connections"]


def bc_pages_to_check(setup: ConnectionSetup) -> dict[str, int]:
    """The published pages to look for: those the setup names, with their page numbers (bc-api.md §9)."""
    pages = published_pages(setup)
    named = {
        pages.ledger_entries: OPTIONAL_PAGES["ItemLedgerEntries"],
        pages.item_units: OPTIONAL_PAGES["ItemUnitsOfMeasure"],
        pages.resources: OPTIONAL_PAGES["Resources"],
    }
    return {name: number for name, number in named.items() if name}


async def check_connections(
    setup: ConnectionSetup, *, time_limit: float = 10.0, connection: BcConnection | None = None
) -> dict[str, list[CheckResult]]:
    """Connection name ("Business Central", "Dynamics 365 Sales") -> its checks: Business Central in
    api mode, Sales when any of it is set up or nothing else is."""
    out: dict[str, list[CheckResult]] = {}
    bc = connection or bc_connection(setup)
    if bc is not None:
        out["Business Central"] = await check_bc_connection(bc, pages=bc_pages_to_check(setup), time_limit=time_limit)
    # Sales is checked when any of its connection is set up, or when nothing else would be: order
    # processing cannot work without it, so "not set up" is then the first thing to hear.
    if setup.dataverse_url or setup.dataverse_token_url or setup.dataverse_client_id or not out:
        out["Dynamics 365 Sales"] = await check_dataverse_connection(setup, time_limit=time_limit)
    return out
