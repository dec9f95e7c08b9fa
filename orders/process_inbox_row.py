"""What the worker does with one claimed inbox row: the lease kept while it works, the handler for
the row's table and event, and the outcome recorded — done, waiting for a person (BC's rule), or
retried with backoff (Sales or the database away). orders/worker.py claims the rows and runs this."""

from __future__ import annotations

import abc
import asyncio
import dataclasses
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from orders import inbox
from orders.bc_writer import BcDeferred, BcRefused, BcWriter
from orders.conversion_rules import SERVICE_NAME as SALES
from orders.create_bc_sales_order import LeaseLost, Outcome, WaitsForSales
from orders.dataverse.client import DataverseClient, DataverseError, DataverseNotFound, DataverseUnavailable
from orders.dataverse.webapi import deadline
from orders.inbox import SALESORDER, InboxRow
from orders.inbox.notes import owed_on_failure
from orders.inbox.states import FailureKind, InboxState
from orders.retry import ROW_RETRY_CAP, Backoff
from orders.sales_order_to_bc_order import ConversionError
from orders.settings import ProcessingSettings
from orders.setup import ConnectionSetup
from schemas.db import write_transaction

log = logging.getLogger("bcgw.worker")


class RuleFailure(Exception):
    """A BC rule refused part of the work (the message is BC's); waits for a person."""


class NotConfigured(Exception):
    """The Dataverse connection is not set up, so Sales cannot be read."""


@dataclass(frozen=True, slots=True)
class Result:
    row_id: int
    state: str
    message: str
    document_no: str = ""
    will_retry: bool = False  # a failure the worker tries again by itself


# The first argument is the worker (OrderWorker), which the handlers use whole.
Handler = Callable[[Any, InboxRow, DataverseClient, BcWriter], Awaitable[Outcome]]


class InboxRowProcessing(abc.ABC):
    """The one-row half of OrderWorker (which sets these attributes and defines the methods below)."""

    engine: AsyncEngine
    settings: ProcessingSettings
    owner: str
    sales_numbers: dict[int, str]
    handlers: dict[tuple[str, str], Handler]

    @abc.abstractmethod
    def wake(self) -> None:
        """Look for due rows now (a retry is due sooner than the next poll)."""

    @abc.abstractmethod
    async def _setup(self) -> ConnectionSetup:
        """The connection setup in force."""

    @abc.abstractmethod
    def client(self, setup: ConnectionSetup) -> DataverseClient:
        """The Dataverse client for this setup."""

    @abc.abstractmethod
    async def writer(self, setup: ConnectionSetup) -> BcWriter:
        """Where BC documents go for this setup."""

    # -- one row ------------------------------------------------------------------------------
    async def process(self, row: InboxRow, setup: ConnectionSetup | None = None, force: bool = False) -> Result:
        """Act on one claimed row; `force` is a person's command (auto-processing may be off)."""
        setup = setup or await self._setup()
        keeper = asyncio.create_task(self._keep_lease(row))
        try:
            return await self._process(row, setup, force)
        finally:
            self.sales_numbers.pop(row.id, None)
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)  # the keeper's cancellation, not ours

    async def _keep_lease(self, row: InboxRow) -> None:
        """Renew the row's lease while it is worked on: Sales may be slow (throttling asks for
        minutes), and another worker must not take the row meanwhile."""
        lease = self.settings.lease_seconds
        while True:
            await asyncio.sleep(max(1.0, lease / 3))
            try:
                if not await inbox.renew_lease(self.engine, row.id, self.owner, lease):
                    return
            except SQLAlchemyError as exc:
                log.warning("could not renew the lease of inbox row %s: %s", row.id, type(exc).__name__)

    async def _process(self, row: InboxRow, setup: ConnectionSetup, force: bool) -> Result:
        try:
            if not setup.sales_order_integration_enabled:
                return await self._wait(row, "Sales order integration is not enabled in the connection setup.")
            auto = setup.auto_create_sales_orders if row.table_name == SALESORDER else setup.auto_process_sales_quotes
            if not auto and not force:
                command = "orders create" if row.table_name == SALESORDER else "quotes process"
                flag = (
                    "Automatically Create Sales Orders"
                    if row.table_name == SALESORDER
                    else ("Automatically Process Sales Quotes")
                )
                return await self._wait(
                    row, f"{flag} is off: waiting for a person (bc-gateway {command} {row.sales_id})."
                )
            handler = self.handlers.get((row.table_name, row.event))
            if handler is None:
                return await self._done(row, InboxState.IGNORED, f"Nothing to do for {row.table_name} {row.event}.")
            client = self.client(setup)
            writer = await self.writer(setup)
            with deadline(self.settings.sales_deadline):
                outcome = await handler(self, row, client, writer)
            log.info("%s %s %s: %s", row.table_name, row.sales_id, row.event, outcome.message)
            if outcome.state == InboxState.CREATED:
                self.wake()  # its write-back is due at once
            return Result(row.id, outcome.state, outcome.message, outcome.document_no)
        except LeaseLost:
            log.warning("inbox row %s was taken over by another worker; left to it", row.id)
            return Result(row.id, InboxState.PROCESSING, "taken over by another worker")
        except (ConversionError, RuleFailure, BcRefused) as exc:
            # BC's rules refused it: it waits for a person, and Sales hears why (orders/error_notes.py).
            message = str(exc)
            return await self._failed(
                row, message, transient=False, note=owed_on_failure(setup.error_notes, message, row.note_error)
            )
        except BcDeferred as exc:
            # BC away or throttled, or an outcome still unknown: back when BC (or the writer) says.
            return await self._failed(row, exc.message, transient=True, retry_after=exc.retry_after)
        except DataverseNotFound as exc:
            return await self._failed(row, f"{SALES} says: {exc.message}", transient=False)
        except WaitsForSales as exc:
            # BC's own message (e.g. no Sales order for a won quote yet): Sales may catch up.
            return await self._failed(row, exc.message, transient=True, retry_after=exc.retry_after)
        except DataverseUnavailable as exc:
            # Sales may say when to come back (Retry-After): the row is rescheduled for then.
            return await self._failed(
                row, f"{SALES} is not available: {exc.describe()}", transient=True, retry_after=exc.retry_after
            )
        except DataverseError as exc:
            return await self._failed(row, f"{SALES} refused a request: {exc.describe()}", transient=False)
        except NotConfigured as exc:
            return await self._failed(row, str(exc), transient=True)
        except (SQLAlchemyError, OSError, aiohttp.ClientError, TimeoutError) as exc:
            return await self._failed(row, f"{type(exc).__name__}: {exc}".strip(), transient=True)
        except Exception as exc:
            log.exception("unexpected error processing inbox row %s", row.id)
            return await self._failed(row, f"Unexpected error: {type(exc).__name__}: {exc}", transient=True)

    async def _finish(self, row: InboxRow, state: str, message: str, **values: Any) -> Result:
        if row.id in self.sales_numbers:
            values.setdefault("sales_number", self.sales_numbers[row.id])
        async with write_transaction(self.engine) as conn:
            if not await inbox.finish(conn, row.id, self.owner, state, error=message, **values):
                raise LeaseLost
        return Result(row.id, state, message)

    async def _wait(self, row: InboxRow, message: str) -> Result:
        return await self._finish(row, InboxState.WAITING, message)

    async def _done(self, row: InboxRow, state: str, message: str) -> Result:
        return await self._finish(row, state, message)

    async def _failed(
        self,
        row: InboxRow,
        message: str,
        transient: bool,
        retry_after: float | None = None,
        note: dict[str, Any] | None = None,
    ) -> Result:
        """Rule failures wait for a person; passing ones are retried with backoff, up to the limit.

        When Sales said when to come back (Retry-After), the row comes back then, and the attempt
        does not count: being throttled says nothing about the order.
        """
        now = inbox.utcnow()
        retry_at = None
        values: dict[str, Any] = dict(note or {})
        if transient and retry_after is not None:
            retry_at = now + dt.timedelta(seconds=min(max(retry_after, 1.0), ROW_RETRY_CAP))
            values["attempts"] = max(0, row.attempts - 1)
        elif transient and row.attempts < self.settings.max_attempts:
            retry_at = Backoff(self.settings.retry_base_delay, ROW_RETRY_CAP).next_attempt_at(row.attempts, now)
        log.warning(
            "%s %s %s failed (attempt %s of %s%s): %s",
            row.table_name,
            row.sales_id,
            row.event,
            row.attempts,
            self.settings.max_attempts,
            f", retry at {retry_at:%H:%M:%S} UTC" if retry_at else ", waits for a person",
            message,
        )
        try:
            result = await self._finish(
                row,
                InboxState.FAILED,
                message,
                next_attempt_at=retry_at,
                failure=FailureKind.TRANSIENT if transient else FailureKind.RULE,
                **values,
            )
            return dataclasses.replace(result, will_retry=retry_at is not None)
        except LeaseLost:
            return Result(row.id, InboxState.PROCESSING, "taken over by another worker")
        except SQLAlchemyError:
            # Cannot even record it: the lease runs out and another pass takes the row again.
            return Result(row.id, InboxState.PROCESSING, message)
