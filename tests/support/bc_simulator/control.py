"""The test control API under ``/_sim/`` (JSON, no authentication): what a test or the demo needs to
arrange BC's state and behaviour from outside the process. Each route calls the BcSimulator method
of the same purpose; README.md lists them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from .config import Identity
from .errors import ApiError
from .fields import format_datetime, number_out

if TYPE_CHECKING:
    from .simulator import BcSimulator

Handler = Callable[[web.Request, dict[str, Any]], Awaitable[Any]]
_CONFIGURABLE = {
    "max_page_size",
    "rate_limit",
    "rate_window",
    "max_concurrent",
    "max_queue",
    "queue_timeout",
    "operation_timeout",
    "webhook_delay",
    "webhook_max_notifications",
    "webhook_retry_scale",
    "webhook_send_timeout",
    "handshake_timeout",
    "handshake_method",
    "subscription_lifetime",
    "max_subscriptions",
    "published_pages",
    "token_lifetime",
    "lcy_code",
    "default_company",
    "batch_max_operations",
    "correlation_ids",
    "auth_mode",
}

# Routes whose path continues with arguments: records/{set}[/{key}], faults/{id}, publish/{page}.
_TAKES_ARGUMENTS = {"records", "faults", "publish"}


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return number_out(value)
    return str(value)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data, default=_default), content_type="application/json")


class Control:
    def __init__(self, sim: BcSimulator) -> None:
        self.sim = sim
        self.routes: dict[tuple[str, str], Handler] = {
            ("GET", ""): self.info,
            ("POST", "reset"): self.reset,
            ("POST", "seed/demo"): self.seed_demo,
            ("POST", "seed/bulk"): self.seed_bulk,
            ("POST", "companies"): self.add_company,
            ("POST", "ledger"): self.post_ledger,
            ("PATCH", "records"): self.change_record,
            ("POST", "records"): self.add_record,
            ("GET", "records"): self.list_records,
            ("GET", "config"): self.get_config,
            ("PATCH", "config"): self.set_config,
            ("POST", "publish"): self.publish,
            ("GET", "faults"): self.list_faults,
            ("POST", "faults"): self.add_fault,
            ("DELETE", "faults"): self.clear_faults,
            ("GET", "clock"): self.get_clock,
            ("POST", "clock/advance"): self.advance,
            ("GET", "stats"): self.stats,
            ("POST", "stats/reset"): self.reset_stats,
            ("GET", "requests"): self.requests,
            ("GET", "webhooks/subscriptions"): self.subscriptions,
            ("GET", "webhooks/deliveries"): self.deliveries,
            ("POST", "webhooks/flush"): self.flush,
            ("POST", "identities"): self.add_identity,
            ("POST", "tokens"): self.issue_token,
        }

    async def handle(self, request: web.Request) -> web.StreamResponse:
        rest = request.path[len("/_sim") :].strip("/")
        parts = rest.split("/")
        handler = None
        args: list[str] = []
        for cut in range(len(parts), -1, -1):
            prefix = "/".join(parts[:cut])
            if cut < len(parts) and prefix not in _TAKES_ARGUMENTS:
                continue
            handler = self.routes.get((request.method, prefix))
            if handler is not None:
                args = parts[cut:]
                break
        if handler is None:
            return _json({"error": f"no control route {request.method} /_sim/{rest}"}, 404)
        try:
            body = await request.json() if request.can_read_body else {}
        except ValueError:
            return _json({"error": "the body is not JSON"}, 400)
        if not isinstance(body, dict):
            return _json({"error": "the body must be a JSON object"}, 400)
        body["_args"] = args
        try:
            result = await handler(request, body)
        except ApiError as err:
            return _json(err.body(False), err.status)
        except (LookupError, ValueError, TypeError, AttributeError) as exc:
            return _json({"error": str(exc)}, 400)
        return _json(result)

    async def info(self, request: web.Request, body: dict[str, Any]) -> Any:
        sim = self.sim
        return {
            "base_url": sim.base_url,
            "odata_url": sim.odata_url,
            "token_url": sim.token_url,
            "tenant_id": sim.config.tenant_id,
            "auth_mode": sim.config.effective_auth_mode,
            "identities": [
                {k: getattr(i, k) for k in ("name", "client_id", "client_secret", "user_name", "access_key")}
                for i in sim.config.identities
            ],
            "companies": [{"id": c.id, "name": c.name} for c in sim.store.by_id.values()],
        }

    async def reset(self, request: web.Request, body: dict[str, Any]) -> Any:
        self.sim.reset(demo=bool(body.get("seed_demo", False)))
        return await self.info(request, body)

    async def seed_demo(self, request: web.Request, body: dict[str, Any]) -> Any:
        company = self.sim.seed_demo(body.get("name", "CRONUS"), body.get("displayName", "CRONUS USA, Inc."))
        return {"id": company.id, "name": company.name}

    async def seed_bulk(self, request: web.Request, body: dict[str, Any]) -> Any:
        self.sim.bulk_seed(
            body.get("company"), int(body.get("items", 100_000)), int(body.get("ledgerEntries", 1_000_000))
        )
        company = self.sim.company(body.get("company"))
        return {"items": len(company.table("items")), "ledgerEntries": len(company.table("itemLedgerEntries"))}

    async def add_company(self, request: web.Request, body: dict[str, Any]) -> Any:
        company = self.sim.add_company(body["name"], body.get("displayName", ""))
        return {"id": company.id, "name": company.name}

    async def post_ledger(self, request: web.Request, body: dict[str, Any]) -> Any:
        posting = body.get("postingDate")
        rec = self.sim.post_stock(
            body["itemNumber"],
            body["quantity"],
            location=body.get("locationCode", ""),
            variant=body.get("variantCode", ""),
            company=body.get("company"),
            entry_type=body.get("entryType"),
            posting_date=date.fromisoformat(posting) if posting else None,
            document_no=body.get("documentNumber", ""),
        )
        return {"id": rec["id"], "entryNumber": rec["entryNumber"], "remainingQuantity": rec["_remaining"]}

    async def change_record(self, request: web.Request, body: dict[str, Any]) -> Any:
        set_name, key = body["_args"][0], body["_args"][1]
        changes = {k: v for k, v in body.items() if not k.startswith("_") and k != "company"}
        rec = self.sim.change(set_name, key, body.get("company"), **changes)
        return {"id": rec.get("id"), "version": rec["_v"]}

    async def add_record(self, request: web.Request, body: dict[str, Any]) -> Any:
        set_name = body["_args"][0]
        values = {k: v for k, v in body.items() if not k.startswith("_") and k != "company"}
        rec = self.sim.add_record(set_name, body.get("company"), **values)
        return {"id": rec.get("id")}

    async def list_records(self, request: web.Request, body: dict[str, Any]) -> Any:
        return {"value": self.sim.records(body["_args"][0], request.query.get("company"))}

    async def get_config(self, request: web.Request, body: dict[str, Any]) -> Any:
        config = self.sim.config
        values = {k: getattr(config, k) for k in sorted(_CONFIGURABLE)}
        return {k: sorted(v) if isinstance(v, set) else v for k, v in values.items()}

    async def set_config(self, request: web.Request, body: dict[str, Any]) -> Any:
        settings = {k: v for k, v in body.items() if not k.startswith("_")}
        unknown = set(settings) - _CONFIGURABLE
        if unknown:
            raise ValueError(f"not configurable: {sorted(unknown)}")
        self.sim.configure(**settings)
        return await self.get_config(request, body)

    async def publish(self, request: web.Request, body: dict[str, Any]) -> Any:
        self.sim.publish(body["_args"][0], bool(body.get("published", True)))
        return {"published": sorted(self.sim.config.published_pages)}

    async def list_faults(self, request: web.Request, body: dict[str, Any]) -> Any:
        return {"value": [f.to_dict() for f in self.sim.faults.rules]}

    async def add_fault(self, request: web.Request, body: dict[str, Any]) -> Any:
        options = {k: v for k, v in body.items() if not k.startswith("_")}
        return self.sim.add_fault(**options).to_dict()

    async def clear_faults(self, request: web.Request, body: dict[str, Any]) -> Any:
        if body["_args"]:
            return {"removed": self.sim.faults.remove(int(body["_args"][0]))}
        self.sim.faults.clear()
        return {"removed": "all"}

    async def get_clock(self, request: web.Request, body: dict[str, Any]) -> Any:
        return {"now": format_datetime(self.sim.clock.now())}

    async def advance(self, request: web.Request, body: dict[str, Any]) -> Any:
        self.sim.advance(float(body.get("seconds", 0)))
        return await self.get_clock(request, body)

    async def stats(self, request: web.Request, body: dict[str, Any]) -> Any:
        return self.sim.stats()

    async def reset_stats(self, request: web.Request, body: dict[str, Any]) -> Any:
        self.sim.limiter.reset_stats()
        self.sim.request_log.clear()
        return self.sim.stats()

    async def requests(self, request: web.Request, body: dict[str, Any]) -> Any:
        return {"value": [dataclasses.asdict(r) for r in self.sim.request_log]}

    async def subscriptions(self, request: web.Request, body: dict[str, Any]) -> Any:
        return {
            "value": [
                {
                    "subscriptionId": s.id,
                    "notificationUrl": s.url,
                    "resource": s.rec["resource"],
                    "expirationDateTime": format_datetime(s.rec["expirationDateTime"]),
                    "pending": len(s.pending),
                    "attempt": s.attempt,
                }
                for s in self.sim.notifier.subscriptions.values()
            ]
        }

    async def deliveries(self, request: web.Request, body: dict[str, Any]) -> Any:
        return {"value": [dataclasses.asdict(d) for d in self.sim.deliveries]}

    async def flush(self, request: web.Request, body: dict[str, Any]) -> Any:
        before = len(self.sim.deliveries)
        await self.sim.flush_webhooks()
        return {"sent": len(self.sim.deliveries) - before}

    async def add_identity(self, request: web.Request, body: dict[str, Any]) -> Any:
        fields = {f.name for f in dataclasses.fields(Identity)}
        values = {k: v for k, v in body.items() if k in fields}
        if "companies" in values and values["companies"] is not None:
            values["companies"] = set(values["companies"])
        identity = self.sim.add_identity(Identity(**values))
        return {"name": identity.name, "user_id": identity.user_id}

    async def issue_token(self, request: web.Request, body: dict[str, Any]) -> Any:
        return {"access_token": self.sim.token(body.get("name", "DEMO"), body.get("lifetime"))}
