"""The gateway's own Dataverse client, for the Sales reads an OData request makes (the
SalesOrderDifferences set): one client per connection setup, kept between requests so the token
is reused, and with few retries — a person or a report waits on the answer, so Sales away is a
503 within seconds, not after the worker's minute of backoff."""

from __future__ import annotations

from typing import Any

import aiohttp

from orders.dataverse.client import DataverseClient
from orders.process_inbox_row import NotConfigured
from orders.setup import ConnectionSetup

NOT_SET_UP = (
    "The Dataverse connection is not set up: bc-gateway setup --dataverse-url ... "
    "--dataverse-token-url ... --dataverse-client-id ... --dataverse-client-secret -"
)


class SalesReads:
    def __init__(self, timeout: float, attempts: int = 2) -> None:
        # Tests may shorten the backoff (base_delay, max_delay) as they do the worker's.
        self.client_options: dict[str, Any] = {"timeout": timeout, "max_attempts": attempts, "max_retry_after": 5.0}
        self._session: aiohttp.ClientSession | None = None
        self._client: DataverseClient | None = None
        self._key: tuple[Any, ...] | None = None

    def client(self, setup: ConnectionSetup) -> DataverseClient:
        """The client for the setup's Dataverse environment (NotConfigured when there is none)."""
        if not (setup.dataverse_url and setup.dataverse_token_url and setup.dataverse_client_id):
            raise NotConfigured(NOT_SET_UP)
        key = (
            setup.dataverse_url,
            setup.dataverse_token_url,
            setup.dataverse_client_id,
            setup.dataverse_client_secret,
            tuple(sorted(self.client_options.items())),
        )
        if self._client is None or self._key != key:
            if self._session is None:
                self._session = aiohttp.ClientSession()
            self._client = DataverseClient(
                self._session,
                setup.dataverse_url,
                setup.dataverse_token_url,
                setup.dataverse_client_id,
                setup.dataverse_client_secret,
                **self.client_options,
            )
            self._key = key
        return self._client

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        self._session = self._client = None
