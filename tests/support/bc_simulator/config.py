"""Configuration of a simulated Business Central: where it listens, who may call it, its limits.

Defaults are BC online's documented values (page size 20,000; 6,000 requests per 5 minutes; 5
concurrent requests; 30-second webhook delay; 3-day subscriptions). Tests shrink them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Literal

DEFAULT_TENANT_ID = "7a1c4b2e-0d3f-4c5a-9e8b-1f2a3b4c5d6e"
DEMO_CLIENT_ID = "3e7b1f0a-5c2d-4e8f-9a6b-0c1d2e3f4a5b"
DEMO_CLIENT_SECRET = "demo-client-secret"
DEMO_USER = "DEMO"
DEMO_ACCESS_KEY = "ZGVtby13ZWItc2VydmljZS1hY2Nlc3Mta2V5LTAwMDE="
BC_SCOPE = "https://api.businesscentral.dynamics.com/.default"

Access = Literal["none", "read", "write"]


@dataclass
class Identity:
    """A caller: an Entra app (client id + secret) and/or a BC user with a web service access key.

    ``companies`` limits the companies it may use (names; None = all). ``permissions`` maps an
    entity set (or "*") to "none", "read" or "write" (the default is write everywhere); a request
    beyond that answers 403 as BC does for a missing permission set.
    """

    name: str
    client_id: str | None = None
    client_secret: str | None = None
    user_name: str | None = None
    access_key: str | None = None
    # False: the app has a token from Entra but is not registered/enabled on BC's Entra Applications page.
    enabled: bool = True
    companies: set[str] | None = None
    permissions: dict[str, Access] = field(default_factory=dict)
    user_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def access(self, entity_set: str) -> Access:
        return self.permissions.get(entity_set, self.permissions.get("*", "write"))


def demo_identities() -> list[Identity]:
    return [
        Identity(
            name="DEMO",
            client_id=DEMO_CLIENT_ID,
            client_secret=DEMO_CLIENT_SECRET,
            user_name=DEMO_USER,
            access_key=DEMO_ACCESS_KEY,
            user_id="d0d0d0d0-0000-4000-8000-000000000001",
        )
    ]


@dataclass
class NumberSeries:
    """A BC number series: the next number is the last one used plus one, keeping the digits' width."""

    code: str
    start: str
    manual: bool = False


def default_series() -> dict[str, NumberSeries]:
    # Shapes as in the CRONUS demo data; which series a document uses is fixed per entity set.
    return {
        "S-ORD": NumberSeries("S-ORD", "S-ORD101001"),
        "S-QUO": NumberSeries("S-QUO", "S-QUO1001"),
        "S-INV+": NumberSeries("S-INV+", "S-INV103001"),
        "S-SHPT": NumberSeries("S-SHPT", "S-SHPT102001"),
        "ITEM": NumberSeries("ITEM", "70000", manual=True),
        "CUST": NumberSeries("CUST", "C00010", manual=True),
        "CONT": NumberSeries("CONT", "CT000001", manual=True),
    }


@dataclass
class SimConfig:
    host: str = "127.0.0.1"
    port: int = 0
    # "online": /v2.0/{tenant}/{environment}/api/v2.0; "onprem": /{server_instance}/api/v2.0.
    # Both URL forms are always served; this picks base_url and the default authentication.
    deployment: Literal["online", "onprem"] = "online"
    tenant_id: str = DEFAULT_TENANT_ID
    tenant_domain: str = "cronus.example"
    environment: str = "production"
    server_instance: str = "BC"
    # None: OAuth online, Basic (web service access key) on-premises.
    auth_mode: Literal["oauth", "basic", "both"] | None = None
    identities: list[Identity] = field(default_factory=demo_identities)
    token_lifetime: float = 3599.0
    lcy_code: str = "USD"
    default_company: str | None = None
    max_page_size: int = 20_000
    batch_max_operations: int = 100
    # Per identity: sliding-window rate limit, concurrency, queue.
    rate_limit: int = 6000
    rate_window: float = 300.0
    max_concurrent: int = 5
    max_queue: int = 95
    queue_timeout: float = 480.0
    operation_timeout: float = 480.0
    # Webhooks.
    webhook_delay: float = 30.0
    webhook_max_notifications: int = 1000
    webhook_retry_scale: float = 1.0
    webhook_send_timeout: float = 10.0
    handshake_timeout: float = 5.0
    handshake_method: Literal["POST", "GET"] = "POST"
    subscription_lifetime: float = 3 * 24 * 3600.0
    max_subscriptions: int = 200
    # Published OData V4 web-service pages: any of ItemLedgerEntries, ItemUnitsOfMeasure, Resources.
    published_pages: set[str] = field(default_factory=set)
    number_series: dict[str, NumberSeries] = field(default_factory=default_series)
    # Append BC's "  CorrelationId:  {guid}." to error messages.
    correlation_ids: bool = True
    # How often the background loop looks for due webhook work (real seconds).
    tick: float = 0.02
    request_log_size: int = 10_000

    @property
    def effective_auth_mode(self) -> Literal["oauth", "basic", "both"]:
        if self.auth_mode is not None:
            return self.auth_mode
        return "oauth" if self.deployment == "online" else "basic"
