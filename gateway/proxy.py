"""X-Forwarded-For/-Proto/-Host, believed only from the reverse proxies in BCGW_TRUSTED_PROXIES.

Behind nginx, `request.remote` must be the real client (the sign-in lockout counts per client
address) and `@odata.context`/`@odata.nextLink` must carry the external scheme and host when
BCGW_PUBLIC_URL is not set.

aiohttp_remotes.XForwardedStrict rewrites `request.remote`, `.scheme` and `.host`, but it answers
400 to every request that does not match its hop list exactly: a request without
X-Forwarded-For (a health check, a local `curl`), one from a peer not in the list, one with an
X-Forwarded-For the client sent itself in front of the address nginx appends, or two
X-Forwarded-For lines. A gate in front of it decides what to believe instead, and never refuses:

* the peer (the TCP connection's address) is not a trusted proxy, or sent no X-Forwarded-For:
  the request is used as it came; its X-Forwarded-* headers are ignored, not refused;
* the peer is a trusted proxy: X-Forwarded-For is read from the right while its addresses are
  trusted proxies too (a chain of proxies); the first address that is not one is the client (all
  trusted: the leftmost). Addresses further left were written by the client and are ignored, so a
  client cannot choose its address. X-Forwarded-Proto (http/https) and X-Forwarded-Host (a host
  name) are believed from the same trusted hops; a value of another shape is ignored.

XForwardedStrict then checks those hops against the trusted networks once more and makes the
rewritten request. With BCGW_TRUSTED_PROXIES empty nothing is believed.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiohttp import hdrs, web
from aiohttp_remotes import XForwardedStrict
from multidict import MultiMapping

from gateway.config import Settings

log = logging.getLogger("bcgw.proxy")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# A bound on the proxy chain: the walk costs nothing, but hop lists are built per request.
MAX_HOPS = 8
_SCHEMES = frozenset({"http", "https"})
# A host name or an IPv4/[IPv6] literal, with an optional port: what may go into a URL we print.
_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?")
_MAPPED_V4 = int(ipaddress.IPv6Address("::ffff:0:0"))

# The client address as the gate decided it, on the request aiohttp logs (the access log sees the
# request as it came, not the rewritten one that the handlers get).
FORWARDED_CLIENT = web.RequestKey("forwarded_client", str)


def trusted_networks(proxies: Sequence[str]) -> list[IPNetwork]:
    """The networks of BCGW_TRUSTED_PROXIES, with the IPv4-mapped IPv6 form of each IPv4 one.

    A dual-stack listener sees an IPv4 peer as ::ffff:a.b.c.d; it is still that proxy.
    """
    networks: list[IPNetwork] = []
    for text in proxies:
        net = ipaddress.ip_network(text, strict=False)
        networks.append(net)
        if isinstance(net, ipaddress.IPv4Network):
            mapped = ipaddress.IPv6Address(_MAPPED_V4 + int(net.network_address))
            networks.append(ipaddress.IPv6Network((mapped, 96 + net.prefixlen)))
    return networks


def _address(text: str) -> IPAddress | None:
    """An address from X-Forwarded-For: a bare IP, or with a port ("a.b.c.d:p", "[v6]:p")."""
    text = text.strip()
    with contextlib.suppress(ValueError):  # not bare: perhaps with a port
        return ipaddress.ip_address(text)
    if text.startswith("["):
        host, _, _rest = text[1:].partition("]")
    elif text.count(":") == 1:
        host = text.split(":", 1)[0]
    else:
        return None
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _values(headers: MultiMapping[str], name: str) -> list[str]:
    """A list header's values, several header lines read as one comma-separated list."""
    return [v.strip() for line in headers.getall(name, ()) for v in line.split(",") if v.strip()]


@dataclass(frozen=True, slots=True)
class Believed:
    """What the trusted hops say: the X-Forwarded-For entries they wrote, scheme and host."""

    forwarded_for: list[IPAddress]  # left to right, as in the header; the first is the client
    proto: str | None
    host: str | None

    @property
    def client(self) -> IPAddress:
        return self.forwarded_for[0]


class _Strict(XForwardedStrict):
    """XForwardedStrict over the hops the gate believes rather than over the raw headers.

    Per request: its hop list is as long as that request's chain of trusted proxies.
    """

    def __init__(self, networks: list[IPNetwork], believed: Believed) -> None:
        super().__init__([networks] * len(believed.forwarded_for))
        self._believed = believed

    def get_forwarded_for(self, headers: MultiMapping[str]) -> list[IPAddress]:
        return list(self._believed.forwarded_for)

    def get_forwarded_proto(self, headers: MultiMapping[str]) -> list[str]:
        return [self._believed.proto] if self._believed.proto else []

    def get_forwarded_host(self, headers: MultiMapping[str]) -> list[str]:
        return [self._believed.host] if self._believed.host else []


class Forwarding:
    """The gate: which X-Forwarded-* headers of a request to believe (see the module text)."""

    def __init__(self, proxies: Sequence[str]) -> None:
        self.networks = trusted_networks(proxies)
        self._warned_untrusted = False

    def is_trusted(self, address: IPAddress) -> bool:
        return any(address in net for net in self.networks)

    def _peer(self, request: web.Request) -> IPAddress | None:
        transport = request.transport
        peer = transport.get_extra_info("peername") if transport is not None else None
        if not isinstance(peer, tuple) or not peer:
            return None  # a Unix socket, or the connection is already gone
        try:
            return ipaddress.ip_address(peer[0])
        except ValueError:
            return None

    def believe(self, request: web.Request) -> Believed | None:
        """What to believe of the request's forwarded headers; None: nothing, use it as it came."""
        headers = request.headers
        if hdrs.X_FORWARDED_FOR not in headers:
            return None
        peer = self._peer(request)
        if peer is None or not self.is_trusted(peer):
            if not self._warned_untrusted:
                # Once: behind a proxy that is not in the list, every client looks like the proxy.
                self._warned_untrusted = True
                log.warning(
                    "ignoring X-Forwarded-* headers from %s: not in BCGW_TRUSTED_PROXIES "
                    "(if that is your reverse proxy, add it there); logged once",
                    peer or "an unknown peer",
                )
            return None
        chain: list[IPAddress] = []  # right to left: each hop's view of the one before it
        for text in reversed(_values(headers, hdrs.X_FORWARDED_FOR)):
            address = _address(text)
            if address is None:
                break
            chain.append(address)
            if not self.is_trusted(address) or len(chain) >= MAX_HOPS:
                break
        if not chain:
            log.warning("ignoring X-Forwarded-For %r from %s: not an address", headers[hdrs.X_FORWARDED_FOR], peer)
            return None
        hops = len(chain)
        # The outermost trusted proxy saw the client's scheme and Host; entries left of the hops
        # that trusted proxies wrote came from the client.
        protos = _values(headers, hdrs.X_FORWARDED_PROTO)[-hops:]
        hosts = _values(headers, hdrs.X_FORWARDED_HOST)[-hops:]
        proto = protos[0].lower() if protos else None
        host = hosts[0] if hosts else None
        if proto is not None and proto not in _SCHEMES:
            log.warning("ignoring X-Forwarded-Proto %r from %s", proto, peer)
            proto = None
        if host is not None and not _HOST.fullmatch(host):
            log.warning("ignoring X-Forwarded-Host %r from %s", host, peer)
            host = None
        return Believed(list(reversed(chain)), proto, host)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        believed = self.believe(request)
        if believed is None:
            return await handler(request)
        request[FORWARDED_CLIENT] = str(believed.client)
        # _Strict re-checks the hops and calls the handler with the rewritten request.
        return await _Strict(self.networks, believed).middleware(request, handler)


def setup_forwarding(app: web.Application, settings: Settings) -> None:
    """Install the gate as the outermost middleware.

    Outermost, so that the error handler, the metrics and the authentication (its lockout) all see
    the real client. aiohttp_remotes' own `setup()` appends, which would put it after them.
    """
    forwarding = Forwarding(settings.trusted_proxies)
    app.middlewares.insert(0, forwarding.middleware)
