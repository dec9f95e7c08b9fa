"""What every part of the mirror shares: its options, the context of one cycle (engine, client,
company, published pages, clock), progress reporting, and the small transactions on state rows."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from orders.bc_link.client import BcApiClient
from orders.bc_link.from_setup import PublishedPages
from schemas import mirror_state as state
from schemas.db import write_transaction

log = logging.getLogger("bcgw.mirror")

SOURCE = "_source"  # the state row of the whole mirror: its source, the couplings to remap, reconciliation


@dataclass(frozen=True, slots=True)
class MirrorOptions:
    """How the mirror keeps fresh (README, "The mirror"; the BCGW_BC_* settings)."""

    poll_interval: float = 5.0  # new item ledger entries, and queued notifications
    delta_interval: float = 60.0  # master data by lastModifiedDateTime
    reconcile_interval: float = 21600.0  # the full comparison; 0: never on its own
    notification_url: str | None = None  # where BC sends webhooks; None: no subscriptions
    subscription_check_interval: float = 600.0
    renew_before: float = 86400.0  # renew a subscription this long before it expires (3 days: bc-api §6.3)
    retry_failed_subscription: float = 3600.0
    lease_seconds: float = 60.0  # another process takes over a mirror silent this long
    page_size: int | None = None  # Prefer: odata.maxpagesize (None: BC's cap, 20,000)
    overlap: float = 5.0  # seconds re-read behind a lastModifiedDateTime watermark (late commits)
    max_backoff: float = 300.0  # the longest wait after failures in a row


class Progress(Protocol):
    """A progress bar (tqdm's fits) or log lines: rows done, and the end."""

    def update(self, n: int) -> object: ...

    def close(self) -> object: ...


ProgressFactory = Callable[[str, int | None], Progress]


class LogProgress:
    """Progress as log lines (inside `serve`): every `every` seconds, with the rate."""

    def __init__(self, what: str, total: int | None, every: float = 10.0) -> None:
        self.what, self.total, self.every = what, total, every
        self.done = 0
        self.started = self.last = time.monotonic()

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            self._log("loading")

    def close(self) -> None:
        self._log("loaded")

    def _log(self, verb: str) -> None:
        seconds = max(time.monotonic() - self.started, 1e-9)
        of = f" of {self.total}" if self.total is not None else ""
        log.info("mirror: %s %s: %d%s rows (%.0f rows/s)", verb, self.what, self.done, of, self.done / seconds)


def log_progress(what: str, total: int | None) -> Progress:
    return LogProgress(what, total)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Context:
    """One cycle's view: ``company`` is ours (BCGW_COMPANY), ``company_id`` BC's."""

    engine: AsyncEngine
    bc: BcApiClient
    company: str
    company_id: str
    pages: PublishedPages
    options: MirrorOptions
    progress: ProgressFactory = log_progress
    clock: Callable[[], dt.datetime] = utc_now
    # Item numbers known to be stored, during a bulk ledger load (saves a lookup per page).
    known_items: set[str] | None = None
    notes: list[str] = field(default_factory=list)

    def now(self) -> dt.datetime:
        return self.clock()

    @property
    def source(self) -> str:
        """Which BC this is: the API root and the company's id."""
        return f"{self.bc.connection.api_url}|{self.company_id}"

    def page_source(self, service: str) -> str:
        return f"{self.source}|page:{service}" if service else f"{self.source}|api"

    async def save(self, entity: str, **values: Any) -> None:
        async with write_transaction(self.engine) as conn:
            await state.save_state(conn, self.company, entity, **values)

    async def read(self, entity: str) -> state.EntityState:
        async with self.engine.connect() as conn:
            return await state.read_state(conn, self.company, entity)

    async def failed(self, entity: str, error: BaseException) -> None:
        message = describe(error)
        log.warning("mirror: %s failed: %s", entity, message)
        try:
            async with write_transaction(self.engine) as conn:
                await state.record_failure(conn, self.company, entity, message, self.now())
        except Exception as exc:  # the database may be what failed
            log.warning("mirror: could not record the failure of %s: %s", entity, type(exc).__name__)


def describe(error: BaseException) -> str:
    """A failure in one line for people: BC's message (never a secret), or the exception's kind."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}"[:2000] if text else type(error).__name__
