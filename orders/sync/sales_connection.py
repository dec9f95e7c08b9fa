"""A Dataverse client from the connection setup, for one command (coupling, a one-off sync)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine

from orders.change_setup import load_connection_setup
from orders.dataverse.client import DataverseClient
from orders.dataverse.setup_client import NOT_SET_UP, is_set_up


class SalesNotConnected(Exception):
    """The Dataverse connection is not set up; the message says how to set it up."""


@asynccontextmanager
async def sales_client(engine: AsyncEngine, **options: Any) -> AsyncIterator[DataverseClient]:
    """A client for the Dataverse environment the setup names, closed at the end."""
    async with engine.connect() as conn:
        setup = await load_connection_setup(conn)
    if not is_set_up(setup):
        raise SalesNotConnected(NOT_SET_UP)
    async with aiohttp.ClientSession() as session:
        yield DataverseClient(
            session,
            setup.dataverse_url,
            setup.dataverse_token_url,
            setup.dataverse_client_id,
            setup.dataverse_client_secret,
            **options,
        )
