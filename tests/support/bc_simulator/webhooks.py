"""Webhook notifications, the way BC's "API Webhook Notification Send" job builds and sends them.

Changes wait for the merge window (30 s by default) after the first one; a later ``updated`` of an
entity whose last pending notification is ``updated`` merges into it; past the threshold (1,000)
everything pending for a subscription becomes one ``collection`` notification whose resource is
the set filtered on ``lastModifiedDateTime gt`` (first change − 50 ms; the bare set when a deletion
is among them or the set has no such field). All subscriptions sharing a notification URL get one
POST. A 408, 429, 5xx or an unreachable receiver is retried after 1, 1, 10, 100 and 1,000 minutes
(times ``webhook_retry_scale``) and the subscription is deleted after more than 5 failed
attempts; any other status deletes it at once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import orjson

from orders.wake import woken

from .clock import SimClock
from .config import SimConfig
from .fields import format_datetime
from .store import Change, Rec

_ORDER = {"created": 0, "updated": 1, "deleted": 2, "collection": 3}
MAX_ATTEMPTS = 5


def delay_minutes(attempt: int) -> int:
    """GetDelayTimeForAttempt of the AL job, by attempt number after a failure."""
    return {0: 1, 1: 1, 2: 1, 3: 10, 4: 100}.get(attempt, 1000)


@dataclass
class Notification:
    entity_id: str | None
    change_type: str
    at: datetime
    # For a collection: the first change it covers (None when a deletion is among them).
    first: datetime | None = None


@dataclass
class Subscription:
    rec: Rec
    company_id: str
    set_name: str
    has_last_modified: bool
    pending: list[Notification] = field(default_factory=list)
    inflight: list[Notification] = field(default_factory=list)
    attempt: int = 0
    due: datetime | None = None

    @property
    def id(self) -> str:
        return str(self.rec["subscriptionId"])

    @property
    def url(self) -> str:
        return str(self.rec["notificationUrl"])


@dataclass
class Delivery:
    url: str
    body: dict[str, Any]
    headers: dict[str, str]
    subscription_ids: list[str]
    status: int | None
    error: str | None
    at: datetime


class Notifier:
    def __init__(self, config: SimConfig, clock: SimClock) -> None:
        self.config = config
        self.clock = clock
        self.subscriptions: dict[str, Subscription] = {}
        self.deliveries: list[Delivery] = []
        self.session: aiohttp.ClientSession | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sending = asyncio.Lock()
        self.on_deleted: list[Callable[[Subscription, str], None]] = []
        clock.on_advance(self._wake.set)

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        self.session = aiohttp.ClientSession()
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.session is not None:
            await self.session.close()

    async def _run(self) -> None:
        while True:
            await woken(self._wake, self.config.tick)
            self._wake.clear()
            try:
                self.expire()
                await self.deliver(force=False)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the loop must outlive a bad receiver; the failure stays visible
                self.deliveries.append(Delivery("", {}, {}, [], None, f"loop error: {exc!r}", self.clock.now()))

    # -- subscriptions ------------------------------------------------------------------------

    def add(self, sub: Subscription) -> None:
        self.subscriptions[sub.id] = sub

    def delete(self, sub_id: str, reason: str = "deleted") -> None:
        sub = self.subscriptions.pop(sub_id, None)
        if sub is not None:
            for callback in self.on_deleted:
                callback(sub, reason)

    def expire(self) -> None:
        now = self.clock.now()
        for sub in list(self.subscriptions.values()):
            if sub.rec["expirationDateTime"] < now:
                self.delete(sub.id, "expired")

    # -- collecting changes -------------------------------------------------------------------

    def on_changes(self, events: list[Change]) -> None:
        if not self.subscriptions:
            return
        now = self.clock.now()
        for event in events:
            for sub in self.subscriptions.values():
                if sub.company_id == event.company_id and sub.set_name == event.set_name:
                    self._merge(sub, Notification(event.entity_id, event.change_type, event.at))
                    if sub.due is None:
                        sub.due = now + timedelta(seconds=self.config.webhook_delay)
        self._wake.set()

    def _merge(self, sub: Subscription, note: Notification) -> None:
        pending = sub.pending
        if pending and pending[-1].change_type == "collection":
            pending[-1].at = note.at
            if note.change_type == "deleted":
                pending[-1].first = None
            return
        if note.change_type == "updated":
            for earlier in reversed(pending):
                if earlier.entity_id == note.entity_id:
                    if earlier.change_type == "updated":
                        earlier.at = note.at
                        return
                    break
        if len(pending) >= self.config.webhook_max_notifications:
            has_delete = note.change_type == "deleted" or any(n.change_type == "deleted" for n in pending)
            first = None if has_delete else min(n.at for n in pending)
            sub.pending = [Notification(None, "collection", note.at, first)]
            return
        pending.append(note)

    # -- sending ------------------------------------------------------------------------------

    def _entry(self, sub: Subscription, note: Notification) -> dict[str, Any]:
        resource = str(sub.rec["resource"])
        if note.change_type != "collection":
            resource = f"{resource}({note.entity_id})"
        elif note.first is not None and sub.has_last_modified:
            since = format_datetime(note.first - timedelta(milliseconds=50))
            resource = f"{resource}?$filter=lastModifiedDateTime%20gt%20{since}"
        return {
            "subscriptionId": sub.id,
            "clientState": sub.rec["clientState"],
            "expirationDateTime": format_datetime(sub.rec["expirationDateTime"]),
            "resource": resource,
            "changeType": note.change_type,
            "lastModifiedDateTime": format_datetime(note.at),
        }

    async def deliver(self, force: bool) -> None:
        """Send what is due (everything pending when force), one POST per notification URL."""
        async with self._sending:
            await self._deliver(force)

    async def _deliver(self, force: bool) -> None:
        now = self.clock.now()
        groups: dict[str, list[Subscription]] = {}
        for sub in self.subscriptions.values():
            if sub.pending:
                groups.setdefault(sub.url, []).append(sub)
        due = [subs for subs in groups.values() if force or any(s.due is not None and s.due <= now for s in subs)]
        if due:
            await asyncio.gather(*(self._send(subs) for subs in due))

    async def _send(self, subs: list[Subscription]) -> None:
        entries: list[dict[str, Any]] = []
        for sub in subs:
            sub.inflight, sub.pending, sub.due = sub.pending, [], None
            notes = sorted(sub.inflight, key=lambda n: (n.at, _ORDER[n.change_type]))
            entries.extend(self._entry(sub, n) for n in notes)
        body = {"value": entries}
        correlation = str(uuid.uuid4())
        headers = {
            "Content-Type": "application/json",
            "clientRequestId": correlation,
            "x-ms-correlation-id": correlation,
        }
        url = subs[0].url
        status: int | None = None
        error: str | None = None
        assert self.session is not None
        try:
            timeout = aiohttp.ClientTimeout(total=self.config.webhook_send_timeout)
            async with self.session.post(url, data=orjson.dumps(body), headers=headers, timeout=timeout) as resp:
                status = resp.status
                await resp.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            error = repr(exc)
        self.deliveries.append(Delivery(url, body, headers, [s.id for s in subs], status, error, self.clock.now()))
        if status is not None and 200 <= status < 300:
            for sub in subs:
                sub.inflight, sub.attempt = [], 0
            return
        retry = status is None or status in (408, 429) or 500 <= status <= 599
        for sub in subs:
            if not retry:
                self.delete(sub.id, f"rejected with {status}")
                continue
            sub.attempt += 1
            if sub.attempt > MAX_ATTEMPTS:
                self.delete(sub.id, "too many failures")
                continue
            later, sub.pending = sub.pending, sub.inflight
            sub.inflight = []
            for note in later:
                self._merge(sub, note)
            minutes = delay_minutes(sub.attempt) * self.config.webhook_retry_scale
            sub.due = self.clock.now() + timedelta(minutes=minutes)
