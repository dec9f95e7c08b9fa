"""`bc-gateway setup test`: every connection the setup configures, checked step by step, each failure
said exactly (DNS, TLS, 401, 403, company not found, missing permission, unpublished page).

- Business Central (api mode): :func:`orders.bc_link.connection_check.check_bc_connection`
  (docs/bc-link.md, "Connection check"), with the pages the setup names as published;
- Dynamics 365 Sales (when its Web API is configured): a token and ``WhoAmI``, one attempt each.

Only reads are made. Secrets never appear in a message.
"""

from __future__ import annotations

import aiohttp

from orders.bc_link.config import BcConnection
from orders.bc_link.connection_check import OPTIONAL_PAGES, CheckResult, check_bc_connection
from orders.bc_link.from_setup import bc_connection, published_pages
from orders.dataverse.client import DataverseClient
from orders.dataverse.webapi import DataverseError
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


async def check_dataverse(setup: ConnectionSetup, *, time_limit: float = 10.0) -> list[CheckResult]:
    """Token and WhoAmI against the Sales organisation, one attempt each."""
    async with aiohttp.ClientSession() as session:
        client = DataverseClient(
            session,
            setup.dataverse_url,
            setup.dataverse_token_url,
            setup.dataverse_client_id,
            setup.dataverse_client_secret,
            max_attempts=1,
            timeout=time_limit,
        )
        try:
            await client.request("GET", "WhoAmI")
        except DataverseError as exc:
            return [CheckResult("dataverse", False, str(exc))]
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            return [CheckResult("dataverse", False, f"{setup.dataverse_url} cannot be reached: {type(exc).__name__}")]
    return [CheckResult("dataverse", True, f"{setup.dataverse_url} answers WhoAmI for the application user")]


async def check_connections(
    setup: ConnectionSetup, *, time_limit: float = 10.0, connection: BcConnection | None = None
) -> dict[str, list[CheckResult]]:
    """Connection name ("Business Central", "Dynamics 365 Sales") -> its checks; only those configured."""
    out: dict[str, list[CheckResult]] = {}
    bc = connection or bc_connection(setup)
    if bc is not None:
        out["Business Central"] = await check_bc_connection(bc, pages=bc_pages_to_check(setup), time_limit=time_limit)
    if setup.dataverse_url and setup.dataverse_token_url and setup.dataverse_client_id:
        out["Dynamics 365 Sales"] = await check_dataverse(setup, time_limit=time_limit)
    return out
