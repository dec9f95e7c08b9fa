"""The Dataverse client for the environment the connection setup names, kept between uses so its
token is reused, and made again when the setup (or the client's options) change. The worker and
the gateway's Sales reads each hold one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from orders.dataverse.client import DataverseClient
from orders.setup import ConnectionSetup

NOT_SET_UP = (
    "The Dataverse connection is not set up: bc-gateway setup --dataverse-url ... "
    "--dataverse-token-url ... --dataverse-client-id ... --dataverse-client-secret -"
)


def is_set_up(setup: ConnectionSetup) -> bool:
    return bool(setup.dataverse_url and setup.dataverse_token_url and setup.dataverse_client_id)


class SetupClient:
    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._client: DataverseClient | None = None
        self._key: tuple[Any, ...] | None = None

    def client(self, setup: ConnectionSetup, options: Mapping[str, Any]) -> DataverseClient | None:
        """The client for the setup's environment; None when the setup names none."""
        if not is_set_up(setup):
            return None
        key = (
            setup.dataverse_url,
            setup.dataverse_token_url,
            setup.dataverse_client_id,
            setup.dataverse_client_secret,
            tuple(sorted(options.items())),
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
                **options,
            )
            self._key = key
        return self._client

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        self._session = self._client = None
        self._key = None
