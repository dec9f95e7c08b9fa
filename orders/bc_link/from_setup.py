"""The BC link as the setup describes it: the connection, the published pages, and one shared client
per process.

- :func:`bc_connection`: the :class:`BcConnection` of the connection setup, None in embedded mode;
- :func:`published_pages`: the service names of the BC pages the administrator published
  (bc-api.md §9), "" for those not published;
- :class:`BcLink`: the holder every user of BC in a process shares (the mirror, the order/quote
  writer, the commands). It makes one :class:`BcApiClient` on first use and keeps it while the
  connection stays the same; BC counts its limits per identity, so one client per identity is what
  keeps us under them (docs/bc-link.md, "One client per identity").

    link = BcLink(setup)
    bc = await link.client()          # BcNotConfigured in embedded mode
    link.update(new_setup)            # the next client() is a new client if the connection changed
    await link.aclose()
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from orders.bc_link.client import BcApiClient
from orders.bc_link.config import (
    BC_SCOPE,
    BasicAccessKey,
    BcConnection,
    BcCredentials,
    BcLimits,
    OAuthClientCredentials,
)
from orders.setup import ConnectionSetup

__all__ = ["BcLink", "BcNotConfigured", "PublishedPages", "bc_connection", "local_write_refusal", "published_pages"]


class BcNotConfigured(RuntimeError):
    """The setup is in embedded mode (or incomplete): there is no BC to talk to."""


def bc_connection(setup: ConnectionSetup) -> BcConnection | None:
    """The connection to the BC of the setup; None in embedded mode.

    The setup's rules (orders/setup_rules.py ``check_bc_link``) make an api-mode setup complete, so a
    ValueError here means a row changed behind the rules' back."""
    if not setup.bc_api_mode:
        return None
    auth: BcCredentials
    if setup.bc_auth == "basic":
        auth = BasicAccessKey(setup.bc_user, setup.bc_access_key)
    else:
        auth = OAuthClientCredentials(
            setup.bc_token_url, setup.bc_client_id, setup.bc_client_secret, setup.bc_scope or BC_SCOPE
        )
    return BcConnection(setup.bc_api_url, setup.bc_company, auth, odata_url=setup.bc_odata_url or None)


@dataclass(frozen=True, slots=True)
class PublishedPages:
    """Service names of the published BC pages that fill the API's gaps (bc-api.md §9); "" = not
    published."""

    ledger_entries: str = ""  # page 38 "Item Ledger Entries": Location_Code, Variant_Code
    item_units: str = ""  # page 5404 "Item Units of Measure"
    resources: str = ""  # page 77 "Resources" (or 76 "Resource Card")


def published_pages(setup: ConnectionSetup) -> PublishedPages:
    return PublishedPages(setup.bc_ledger_entries_service, setup.bc_item_units_service, setup.bc_resources_service)


def local_write_refusal(setup: ConnectionSetup, what: str) -> str | None:
    """In api mode BC's records are written in BC, never here (our tables are its mirror): the
    message saying so, or None in embedded mode. ``what`` is e.g. "Post inventory"."""
    if not setup.bc_api_mode:
        return None
    return (
        f"Business Central is the system of record (the setup's Business Central Mode is api): {what} in "
        "Business Central, and the mirror brings it here. Couplings stay the gateway's (bc-gateway couple ...)."
    )


class BcLink:
    """The process's one client of the configured BC (see the module docstring).

    ``limits``, ``session`` and ``client_options`` (``sleep``, ``clock``, ``observer``, ... of
    :class:`BcApiClient`) are handed to each client made. A client replaced because the connection
    changed is closed at :meth:`aclose` (calls still running on it may finish first)."""

    def __init__(
        self,
        setup: ConnectionSetup | None = None,
        *,
        limits: BcLimits | None = None,
        session: aiohttp.ClientSession | None = None,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        self._limits = limits
        self._session = session
        self._options = dict(client_options or {})
        self._connection: BcConnection | None = None
        self._pages = PublishedPages()
        self._client: BcApiClient | None = None
        self._retired: list[BcApiClient] = []
        if setup is not None:
            self.update(setup)

    @property
    def connection(self) -> BcConnection | None:
        """The configured connection; None in embedded mode."""
        return self._connection

    @property
    def pages(self) -> PublishedPages:
        return self._pages

    @property
    def configured(self) -> bool:
        return self._connection is not None

    def update(self, setup: ConnectionSetup) -> bool:
        """Follow a changed setup; True when the connection changed (the next client is a new one)."""
        self._pages = published_pages(setup)
        connection = bc_connection(setup)
        if connection == self._connection:
            return False
        self._connection = connection
        if self._client is not None:
            self._retired.append(self._client)
            self._client = None
        return True

    async def client(self) -> BcApiClient:
        """The shared client; BcNotConfigured in embedded mode."""
        if self._connection is None:
            raise BcNotConfigured(
                "Business Central is not linked: the setup is in embedded mode (bc-gateway setup --bc-mode api ...)."
            )
        if self._client is None:
            self._client = BcApiClient(self._connection, self._session, limits=self._limits, **self._options)
        return self._client

    async def aclose(self) -> None:
        clients = [*self._retired, *([self._client] if self._client is not None else [])]
        self._retired, self._client = [], None
        for client in clients:
            with contextlib.suppress(Exception):
                await client.aclose()
