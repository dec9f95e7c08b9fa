"""The gateway's own Dataverse client, for the Sales reads an OData request makes (the
SalesOrderDifferences set): one client per connection setup, kept between requests so the token
is reused, and with few retries — a person or a report waits on the answer, so Sales away is a
503 within seconds, not after the worker's minute of backoff."""

from __future__ import annotations

from typing import Any

from orders.dataverse.client import DataverseClient
from orders.dataverse.setup_client import NOT_SET_UP, SetupClient
from orders.process_inbox_row import NotConfigured
from orders.setup import ConnectionSetup


class SalesReads:
    def __init__(self, timeout: float, attempts: int = 2) -> None:
        # Tests may shorten the backoff (base_delay, max_delay) as they do the worker's.
        self.client_options: dict[str, Any] = {"timeout": timeout, "max_attempts": attempts, "max_retry_after": 5.0}
        self._clients = SetupClient()

    def client(self, setup: ConnectionSetup) -> DataverseClient:
        """The client for the setup's Dataverse environment (NotConfigured when there is none)."""
        client = self._clients.client(setup, self.client_options)
        if client is None:
            raise NotConfigured(NOT_SET_UP)
        return client

    async def close(self) -> None:
        await self._clients.close()
