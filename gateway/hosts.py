"""Which Host names the gateway answers (BCGW_ALLOWED_HOSTS).

Without BCGW_PUBLIC_URL, absolute URLs in answers (`@odata.context`, `@odata.nextLink`) are built
from the request's Host, and Sales follows a next link with its credentials: a Host the operator
did not configure could send them elsewhere. So requests naming another host get 400.

Accepted: the names in BCGW_ALLOWED_HOSTS (default: the loopback names, localhost, 127.0.0.1 and
[::1]), plus the public URL's host when BCGW_PUBLIC_URL is set. An entry without a port accepts any
port; `*.example.com` accepts its subdomains. Health checks and webhooks (which print no URLs, and
whose callers cannot be told to change their Host) are not checked.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from aiohttp import web

from gateway.config import Settings
from gateway.odata.errors import ODataError, bad_request

LOOPBACK = ("localhost", "127.0.0.1", "[::1]")
UNCHECKED = ("/health", "/webhooks/")


def allowed_hosts(settings: Settings) -> tuple[str, ...]:
    hosts = list(settings.allowed_hosts or LOOPBACK)
    public = settings.public_base()
    if public:
        parts = urlsplit(public)
        default = {"http": 80, "https": 443}[parts.scheme]
        name = (parts.hostname or "").lower()
        name = f"[{name}]" if ":" in name else name
        hosts.append(name if parts.port in (None, default) else f"{name}:{parts.port}")
    return tuple(dict.fromkeys(hosts))


def _split(host: str) -> tuple[str, str | None]:
    host = host.strip().lower()
    if host.startswith("["):
        name, _, rest = host.partition("]")
        return name + "]", rest[1:] if rest.startswith(":") else None
    name, sep, port = host.rpartition(":")
    return (name, port) if sep else (host, None)


def host_allowed(host: str | None, allowed: tuple[str, ...]) -> bool:
    """Is the Host header's value (name[:port]) one of the allowed entries?"""
    if not host:
        return False
    name, port = _split(host)
    name = name.rstrip(".")
    for entry in allowed:
        want_name, want_port = _split(entry)
        if want_port is not None and want_port != (port or ""):
            continue
        if want_name == name or (want_name.startswith("*.") and name.endswith(want_name[1:])):
            return True
    return False


def host_refusal(settings: Settings) -> Callable[[web.Request], ODataError | None]:
    """The check every request passes (gateway/edge.py): None when its Host is accepted, else the
    400 to answer (edge.py renders it in the request's OData version)."""
    allowed = allowed_hosts(settings)
    seen: dict[str, bool] = {}  # Host values -> allowed: the same few come on every request

    def ok(host: str) -> bool:
        found = seen.get(host)
        if found is None:
            found = host_allowed(host, allowed)
            if len(seen) < 1000:
                seen[host] = found
        return found

    def refusal(request: web.Request) -> ODataError | None:
        if request.path.startswith(UNCHECKED) or ok(request.host):
            return None
        return bad_request(
            f"The host '{request.host}' is not one this gateway answers for; the accepted hosts are "
            f"{', '.join(allowed)} (BCGW_ALLOWED_HOSTS, BCGW_PUBLIC_URL).",
            "BadRequest_InvalidHost",
        )

    return refusal
