"""Webhooks as Sales runs them (docs/reference/dataverse.md §1): registered steps, a ``RemoteExecutionContext``
per operation with Sales' headers and authentication, synchronous (Mode 0) and asynchronous
(Mode 1) execution, and Sales' retry rule.

- A step's filtering attributes are matched against the columns of the whole request, so a step
  filtered on statecode fires for both halves of a combined change (the double Update).
- Asynchronous jobs exist only once the save commits, i.e. after every synchronous step passed,
  and run one after the other in queue order.
- A synchronous step whose delivery fails rolls the save back (DeliveryFailed).
- On 502/503/504 Sales tries once more; any other failure is final.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
from yarl import URL

from tests.support.dataverse_payloads import EntityReference, Money, OptionSetValue, build_context
from tests.support.sales_simulator.errors import DeliveryFailed
from tests.support.sales_simulator.store import Operation
from tests.support.sales_simulator.tables import STATE_LABELS, STATUS_LABELS, Table

if TYPE_CHECKING:
    from tests.support.sales_simulator.app import SalesSimulator

MAX_BODY = 256 * 1024  # above this Sales sends the size-exceeded form (docs/reference/dataverse.md §1.6)
RETRIED_STATUSES = frozenset({502, 503, 504})


@dataclass(frozen=True)
class Step:
    """A registered step: a message on a table, optionally filtered on columns, with images."""

    entity: str
    message: str
    filtering_attributes: tuple[str, ...] = ()
    images: bool = True

    def fires(self, table: Table, message: str, request_columns: set[str]) -> bool:
        if self.entity != table.logical_name:
            return False
        if self.message != message and not (message == "SetState" and self.message == "Update"):
            return False
        # Filtering attributes are matched against the whole request's columns.
        return not (
            self.filtering_attributes and message == "Update" and not request_columns & set(self.filtering_attributes)
        )


@dataclass
class Webhook:
    url: str
    auth: tuple[Any, ...]
    mode: int
    steps: list[Step]

    def target_url(self) -> str:
        url = URL(self.url)
        if self.auth[0] == "code":
            url = url.update_query(code=self.auth[1])
        elif self.auth[0] == "query":
            url = url.update_query(dict(self.auth[1]))
        return str(url)

    def auth_headers(self) -> dict[str, str]:
        return {self.auth[1]: self.auth[2]} if self.auth[0] == "header" else {}


@dataclass
class Delivery:
    """One System Job of a webhook: the request Sales sent and every status it got back.

    ``statuses`` holds one code per HTTP attempt (0 = no answer: connection failed or timed out).
    """

    webhook: Webhook
    entity: str
    message: str
    row_id: str
    mode: int
    headers: dict[str, str]
    body: bytes
    statuses: list[int] = field(default_factory=list)
    dropped: bool = False
    size_exceeded: bool = False

    @property
    def succeeded(self) -> bool:
        return bool(self.statuses) and 200 <= self.statuses[-1] < 300

    @property
    def failed(self) -> bool:
        """A failed System Job (statuscode 31 in Sales): sent, and the last answer was not 2xx."""
        return not self.dropped and not self.succeeded

    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


class Webhooks:
    """The registered webhooks, the System Jobs they made, and Sales' asynchronous service."""

    def __init__(self, sim: SalesSimulator) -> None:
        self.sim = sim
        self.webhooks: list[Webhook] = []
        self.deliveries: list[Delivery] = []
        self.drop = 0
        self.force_size_exceeded = 0
        self.held: list[Delivery] | None = None
        # Asynchronous jobs of an open transaction (a $batch change set): queued at its commit,
        # dropped at its rollback, as Sales queues System Jobs only for saved changes.
        self._transaction: list[Delivery] | None = None
        self._queue: asyncio.Queue[Delivery] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self._session = aiohttp.ClientSession()
        self._queue = asyncio.Queue()
        self._worker = asyncio.create_task(self._async_jobs())

    async def close(self) -> None:
        worker, session = self._worker, self._session
        self._worker = self._session = None
        if worker is not None:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)
        if session is not None:
            await session.close()

    # -- registrations and controls ------------------------------------------------------------

    def register(
        self, url: str, auth: tuple[Any, ...], mode: int, steps: Iterable[Step | tuple[Any, ...]] | None
    ) -> Webhook:
        if auth[0] not in ("header", "code", "query"):
            raise ValueError(f"unknown webhook authentication {auth[0]!r}")
        if steps is None:
            steps = [Step("salesorder", "Update", ("statecode",)), Step("quote", "Update", ("statecode",))]
        parsed = [s if isinstance(s, Step) else Step(s[0], s[1], tuple(s[2]) if len(s) > 2 else ()) for s in steps]
        hook = Webhook(url, tuple(auth), mode, parsed)
        self.webhooks.append(hook)
        return hook

    def set_mode(self, mode: int | str) -> None:
        value = {"sync": 0, "async": 1}.get(mode, mode) if isinstance(mode, str) else mode
        if value not in (0, 1):
            raise ValueError(f"mode must be sync/0 or async/1, not {mode!r}")
        for hook in self.webhooks:
            hook.mode = value

    def any_synchronous(self) -> bool:
        return any(hook.mode == 0 for hook in self.webhooks)

    def begin(self) -> None:
        self._transaction = []

    def commit(self) -> None:
        jobs, self._transaction = self._transaction or [], None
        for job in jobs:
            self._enqueue(job)

    def rollback(self) -> None:
        jobs, self._transaction = self._transaction or [], None
        for job in jobs:
            if job in self.deliveries:
                self.deliveries.remove(job)

    def hold(self) -> None:
        if self.held is None:
            self.held = []

    def release(self, reverse: bool) -> None:
        held, self.held = self.held or [], None
        for delivery in reversed(held) if reverse else held:
            self._enqueue(delivery)

    async def flush(self) -> None:
        if self._queue is not None:
            await self._queue.join()

    # -- a save's operations into System Jobs --------------------------------------------------

    async def dispatch(
        self,
        table: Table,
        row_id: str,
        operations: list[Operation],
        request_columns: set[str],
        user_id: str,
        rollback: Callable[[], None],
    ) -> None:
        """Run every step the save's operations fire; ``rollback`` undoes the save when a
        synchronous step fails."""
        if user_id == self.sim.integration_user_id and not self.sim.deliver_api_changes:
            return
        correlation_id = str(uuid.uuid4())
        pending: list[Delivery] = []
        for message, target_values, pre, post in operations:
            for hook in self.webhooks:
                for step in hook.steps:
                    if not step.fires(table, message, request_columns):
                        continue
                    delivery = self._delivery(
                        hook, step, table, row_id, message, target_values, pre, post, user_id, correlation_id
                    )
                    self.deliveries.append(delivery)
                    if hook.mode == 1:
                        pending.append(delivery)
                        continue
                    await self.send(delivery)
                    if delivery.failed:
                        rollback()  # Sales rolls the save back
                        for job in pending:
                            self.deliveries.remove(job)
                        raise DeliveryFailed(f"Endpoint unavailable: the webhook answered {delivery.statuses}")
        for job in pending:
            self._enqueue(job)

    def _delivery(
        self,
        hook: Webhook,
        step: Step,
        table: Table,
        row_id: str,
        message: str,
        target_values: dict[str, Any],
        pre: dict[str, Any] | None,
        post: dict[str, Any],
        user_id: str,
        correlation_id: str,
    ) -> Delivery:
        sim = self.sim
        now = sim.now()
        if message in ("SetState", "SetStateDynamicEntity"):
            target = None
            params: dict[str, Any] = {
                "EntityMoniker": EntityReference(table.logical_name, row_id),
                "State": OptionSetValue(target_values["statecode"]),
                "Status": OptionSetValue(target_values["statuscode"]),
            }
        else:
            target = _typed(table, target_values, drop_null=False)
            target.pop(table.key, None)
            if message == "Update":
                target.update(modifiedon=now, modifiedby=EntityReference("systemuser", user_id))
            params = {}
        common: dict[str, Any] = {
            "organization_name": sim.organization_name,
            "organization_id": sim.organization_id,
            "correlation_id": correlation_id,
            "user_id": user_id,
            "operation_created_on": now,
            "mode": hook.mode,
        }
        parent = build_context(message, table.logical_name, row_id, target=target, stage=30, **common)
        body = build_context(
            message,
            table.logical_name,
            row_id,
            target=target,
            input_parameters=params,
            post_image=_typed(table, post, drop_null=True) if step.images else None,
            pre_image=_typed(table, pre, drop_null=True) if step.images and pre is not None else None,
            formatted_values=_formatted(table, post),
            parent=parent,
            **common,
        )
        data = json.dumps(body).encode()
        exceeded = len(data) > MAX_BODY or self.force_size_exceeded > 0
        if exceeded:
            self.force_size_exceeded = max(0, self.force_size_exceeded - 1)
            body.update(ParentContext=None, InputParameters=[], PreEntityImages=[], PostEntityImages=[])
            data = json.dumps(body).encode()
        headers = {
            "Content-Type": "application/json",
            "x-ms-dynamics-organization": sim.org_host,
            "x-ms-dynamics-entity-name": table.logical_name,
            "x-ms-dynamics-request-name": message,
            "x-ms-correlation-request-id": correlation_id,
        }
        if exceeded:
            headers["x-ms-dynamics-msg-size-exceeded"] = "true"
        return Delivery(hook, table.logical_name, message, row_id, hook.mode, headers, data, size_exceeded=exceeded)

    # -- sending -------------------------------------------------------------------------------

    async def deliver_raw(
        self, body: bytes | str | Mapping[str, Any], headers: Mapping[str, str], webhook: Webhook | None
    ) -> Delivery:
        hook = webhook or self.webhooks[0]
        raw = json.dumps(body).encode() if isinstance(body, Mapping) else body
        data = raw.encode() if isinstance(raw, str) else raw
        delivery = Delivery(
            hook,
            headers.get("x-ms-dynamics-entity-name", ""),
            headers.get("x-ms-dynamics-request-name", ""),
            "",
            hook.mode,
            dict(headers),
            data,
        )
        self.deliveries.append(delivery)
        await self.send(delivery)
        return delivery

    def _enqueue(self, delivery: Delivery) -> None:
        if self._transaction is not None:
            self._transaction.append(delivery)
        elif self.held is not None:
            self.held.append(delivery)
        elif self._queue is not None:
            self._queue.put_nowait(delivery)

    async def _async_jobs(self) -> None:
        """Sales' asynchronous service: one System Job after the other, in queue order."""
        assert self._queue is not None
        while True:
            delivery = await self._queue.get()
            try:
                await self.send(delivery)
            except Exception:  # a job failing oddly must not stop the service
                delivery.statuses.append(0)
            finally:
                self._queue.task_done()

    async def send(self, delivery: Delivery) -> None:
        if self.drop > 0:
            self.drop -= 1
            delivery.dropped = True
            return
        assert self._session is not None, "start() the simulator first"
        headers = {**delivery.headers, **delivery.webhook.auth_headers()}
        url = delivery.webhook.target_url()
        timeout = aiohttp.ClientTimeout(total=self.sim.webhook_timeout)
        for _attempt in range(2):  # on 502/503/504 Sales tries once more; any other failure is final
            try:
                async with self._session.post(url, data=delivery.body, headers=headers, timeout=timeout) as resp:
                    await resp.read()
                    delivery.statuses.append(resp.status)
            except (aiohttp.ClientError, TimeoutError):
                delivery.statuses.append(0)
                return
            if delivery.statuses[-1] not in RETRIED_STATUSES:
                return


def _typed(table: Table, values: Mapping[str, Any], drop_null: bool) -> dict[str, Any]:
    """Stored values as a RemoteExecutionContext carries them (OptionSetValue, Money, ...)."""
    result: dict[str, Any] = {}
    for name, value in values.items():
        if name == "_seq" or (value is None and drop_null):
            continue
        if value is not None and name in table.options:
            value = OptionSetValue(value)
        elif value is not None and name in table.money:
            value = Money(value)
        result[name] = value
    return result


def _formatted(table: Table, row: Mapping[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = {}
    states = STATE_LABELS.get(table.logical_name)
    if states is not None:
        labels["statecode"] = states.get(row["statecode"], str(row["statecode"]))
        labels["statuscode"] = STATUS_LABELS[table.logical_name].get(row["statuscode"], str(row["statuscode"]))
    return labels
