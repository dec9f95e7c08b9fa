"""The one settings object: environment variables `BCGW_*`, optionally a TOML file.

Precedence: built-in defaults < TOML file (`--config` or `BCGW_CONFIG`) < environment.
A bad value stops start-up with a message naming the variable.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from gateway.database_errors import mask_database_url

PREFIX = "BCGW_"


class ConfigError(ValueError):
    """A setting has a value we cannot use; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = "sqlite+aiosqlite:///./bcgw.db"
    company: str = "CRONUS"
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str | None = None
    cache_ttl: float = 30.0
    max_page_size: int = 20000
    log_level: str = "INFO"
    # Addresses of reverse proxies whose X-Forwarded-* headers we believe.
    trusted_proxies: tuple[str, ...] = ()
    # How often a gateway process reads the change feed (other processes' writes).
    change_poll_interval: float = 0.25
    auth_cache_ttl: float = 10.0
    # The lockout (gateway/auth.py): failed sign-ins allowed per user at one address, and per
    # address across user names, and wrong webhook secrets per address, in lockout_window seconds.
    lockout_failures: int = 10
    lockout_address_failures: int = 30
    webhook_failures: int = 10
    lockout_window: float = 300.0
    # Host names (with :port where not 80/443) that absolute URLs may be built from when there is
    # no public URL; empty: the loopback names, or the public URL's host when it is set.
    allowed_hosts: tuple[str, ...] = ()
    # Order processing (issue: sales order processing).
    reconcile_interval: int = 1800
    worker_poll_interval: float = 1.0
    max_attempts: int = 5
    retry_base_delay: float = 30.0
    lease_seconds: int = 120
    # Inbox rows one worker processes at once: a slow Sales call holds one slot, not the others.
    worker_concurrency: int = 8
    # Seconds one attempt of a Sales call may take; all of one row's Sales calls together (with
    # retries); the longest Retry-After waited inside a call (a longer one reschedules the row).
    sales_timeout: float = 30.0
    sales_deadline: float = 120.0
    sales_max_wait: float = 30.0
    # The company's calendar: order dates and lastbackofficesubmit are its dates, not UTC's.
    time_zone: str = "UTC"
    # Days the delivery log and finished inbox rows are kept; 0 keeps them forever.
    retention_days: int = 30
    # The mirror of a real BC (api mode; orders/bc_link/mirror/): how often new item ledger entries
    # (and queued webhook notifications) are read, master data deltas, the full reconciliation
    # (0: never on its own), and whether BC webhooks are subscribed to (needs BCGW_PUBLIC_URL).
    bc_poll_interval: float = 5.0
    bc_delta_interval: float = 60.0
    bc_reconcile_interval: float = 21600.0
    bc_webhooks: bool = True
    # api mode: after a POST to BC whose answer was lost and whose document is not found by our
    # key, how long BC may still be at it (its longest request, bc-api.md §5) before a new POST.
    bc_settle_seconds: float = 600.0
    # The synchronisation jobs with Sales (docs/sync.md): run inside the worker; how often the
    # worker looks for due jobs and BC changes; how soon after a BC change its mapping runs.
    sync_jobs: bool = True
    sync_poll_interval: float = 1.0
    sync_wake_seconds: float = 1.0
    # How often the Sales Order Notes job asks Sales (one $top=1 request) for new or changed notes.
    sync_notes_probe_seconds: float = 10.0

    def public_base(self) -> str | None:
        return self.public_url.rstrip("/") if self.public_url else None

    def external_base(self) -> str:
        """The address Sales reaches us at: the public URL, else where `serve` listens."""
        return self.public_base() or f"http://{self.host}:{self.port}"

    def bc_notification_url(self) -> str | None:
        """Where BC sends webhooks: only with a public URL (BC must be able to reach it)."""
        base = self.public_base()
        return f"{base}/webhooks/business-central" if base and self.bc_webhooks else None


def _parse_bool(text: str) -> bool:
    low = text.strip().lower()
    if low in {"1", "true", "yes", "on"}:
        return True
    if low in {"0", "false", "no", "off"}:
        return False
    raise ValueError("must be true or false")


def _non_empty(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be empty")
    return text.strip()


def _company(text: str) -> str:
    name = _non_empty(text)
    if len(name) > 30:
        raise ValueError("a company name has at most 30 characters")
    return name


# The URL forms people have (libpq's, Heroku's, SQLAlchemy's) -> the async driver we run on.
_DATABASE_SCHEMES = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}


def _database_url(text: str) -> str:
    """postgres://, postgresql:// and sqlite:// are taken as our drivers' forms (asyncpg,
    aiosqlite); libpq's sslmode= becomes asyncpg's ssl=. Errors never show the password."""
    url = _non_empty(text)
    scheme, sep, rest = url.partition("://")
    driver = _DATABASE_SCHEMES.get(scheme.lower()) if sep else None
    if driver is None:
        raise ValueError(
            "must start with postgresql://, postgres:// or sqlite://, e.g. postgresql://user:password@host/db "
            "or sqlite:///./bcgw.db (the gateway uses its own drivers, asyncpg and aiosqlite)"
        )
    url = f"{driver}://{rest}"
    if driver == "postgresql+asyncpg" and "sslmode=" in rest:
        parsed = make_url(url)
        query = dict(parsed.query)
        query["ssl"] = query.pop("sslmode")
        url = parsed.set(query=query).render_as_string(hide_password=False)
    try:
        make_url(url)
    except (ArgumentError, ValueError):
        raise ValueError("is not a database URL such as postgresql://user:password@host:5432/db") from None
    return url


def _port(text: str) -> int:
    port = int(text)
    if not 1 <= port <= 65535:
        raise ValueError("must be between 1 and 65535")
    return port


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("must be at least 1")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("must be 0 or more")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0 or value == float("inf"):
        raise ValueError("must be a number of seconds, 0 or more")
    return value


def _positive_float(text: str) -> float:
    value = _non_negative_float(text)
    if value == 0:
        raise ValueError("must be more than 0")
    return value


def _public_url(text: str) -> str | None:
    if not text.strip():
        return None
    parts = urlsplit(text.strip())
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError("must be an absolute http:// or https:// URL")
    if parts.query or parts.fragment:
        raise ValueError("must not have a query or fragment")
    return text.strip().rstrip("/")


def _log_level(text: str) -> str:
    level = text.strip().upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return level


def _time_zone(text: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = text.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("not a time zone name such as Europe/Copenhagen or UTC") from None
    return name


def _proxies(text: str) -> tuple[str, ...]:
    out = []
    for part in text.split(","):
        if part.strip():
            ipaddress.ip_network(part.strip(), strict=False)  # raises ValueError
            out.append(part.strip())
    return tuple(out)


_HOST_ENTRY = re.compile(
    r"(?:(?:\*\.)?[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?|\[[0-9a-f:.]{2,45}\])(?::(?P<port>[0-9]{1,5}))?"
)


def _hosts(text: str) -> tuple[str, ...]:
    """Host names, each optionally with :port ('bc.example.com', 'bc.example.com:8443', '*.example.com')."""
    out = []
    for part in text.split(","):
        host = part.strip().lower()
        if not host:
            continue
        m = _HOST_ENTRY.fullmatch(host)
        if m is None or (m.group("port") and not 1 <= int(m.group("port")) <= 65535):
            raise ValueError(f"'{part.strip()}' is not a host name with an optional :port")
        out.append(host)
    return tuple(out)


_PARSERS: dict[str, Callable[[str], Any]] = {
    "database_url": _database_url,
    "company": _company,
    "host": _non_empty,
    "port": _port,
    "public_url": _public_url,
    "cache_ttl": _non_negative_float,
    "max_page_size": _positive_int,
    "log_level": _log_level,
    "trusted_proxies": _proxies,
    "change_poll_interval": _positive_float,
    "auth_cache_ttl": _non_negative_float,
    "lockout_failures": _positive_int,
    "lockout_address_failures": _positive_int,
    "webhook_failures": _positive_int,
    "lockout_window": _positive_float,
    "allowed_hosts": _hosts,
    "reconcile_interval": _non_negative_int,
    "worker_poll_interval": _positive_float,
    "max_attempts": _positive_int,
    "retry_base_delay": _non_negative_float,
    "lease_seconds": _positive_int,
    "worker_concurrency": _positive_int,
    "sales_timeout": _positive_float,
    "sales_deadline": _positive_float,
    "sales_max_wait": _non_negative_float,
    "time_zone": _time_zone,
    "retention_days": _non_negative_int,
    "bc_poll_interval": _positive_float,
    "bc_delta_interval": _positive_float,
    "bc_reconcile_interval": _non_negative_float,
    "bc_webhooks": _parse_bool,
    "bc_settle_seconds": _non_negative_float,
    "sync_jobs": _parse_bool,
    "sync_poll_interval": _positive_float,
    "sync_wake_seconds": _non_negative_float,
    "sync_notes_probe_seconds": _positive_float,
}


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def load_settings(
    environ: Mapping[str, str] | None = None,
    config_file: str | Path | None = None,
    **overrides: Any,
) -> Settings:
    """Build the settings; raise ConfigError naming the variable on a bad value."""
    env = os.environ if environ is None else environ
    raw: dict[str, tuple[str, str]] = {}  # field -> (where it came from, text)

    path = config_file or env.get(PREFIX + "CONFIG")
    if path:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except OSError as exc:
            raise ConfigError(f"{PREFIX}CONFIG: cannot read {path}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{PREFIX}CONFIG: {path} is not valid TOML: {exc}") from exc
        known = {f.name for f in fields(Settings)}
        for key, value in data.items():
            if key.lower() not in known:
                raise ConfigError(f"{path}: unknown setting {key!r}")
            raw[key.lower()] = (f"{key} in {path}", _as_text(value))

    for f in fields(Settings):
        name = PREFIX + f.name.upper()
        if name in env:
            raw[f.name] = (name, env[name])

    for key, value in overrides.items():
        if value is not None:
            raw[key] = (f"--{key.replace('_', '-')}", _as_text(value))

    values: dict[str, Any] = {}
    for key, (where, text) in raw.items():
        try:
            values[key] = _PARSERS[key](text)
        except ValueError as exc:
            reason = str(exc) if not str(exc).startswith("invalid literal") else "not a number"
            if "could not convert" in reason:
                reason = "not a number"
            # A database URL may carry a password: the message shows it masked.
            shown = mask_database_url(text) if key == "database_url" else text
            raise ConfigError(f"{where}: {reason} (got {shown!r})") from None
    return Settings(**values)
