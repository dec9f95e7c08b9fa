"""``check_bc_connection``: can the gateway reach and use this Business Central? Each step says
exactly what failed, in the order a connection is built, so a person fixes the first problem
first (``bc-gateway setup test`` prints the results).

1. ``dns``: the API host (and the token endpoint's host) resolves;
2. ``connect``: a TCP connection opens and, for https, TLS succeeds with a trusted certificate
   (refused, certificate, timeout are told apart);
3. ``token`` (OAuth): the token endpoint grants a token; on refusal, Entra's AADSTS text;
4. ``api``: ``GET companies`` is accepted: 401 means BC rejected the credentials (an app not
   enabled on *Microsoft Entra Applications*, a wrong access key), 405 an on-premises server with
   the API switched off (bc-api §1.1), 404 a wrong tenant, environment or instance;
5. ``company``: the configured company exists (else the companies that do are listed);
6. ``read:<set>``: each entity set the integration reads answers (403 names the set: a missing
   permission set, bc-api §4);
7. ``page:<name>``: each optional published web-service page is there (404: publish it, e.g. page
   38 as ``ItemLedgerEntries``; bc-api §9). A missing page is not fatal: ``required`` is False.

Steps 1–5 stop at the first failure (what follows depends on them); 6 and 7 report every set and
page. Only reads are made: the token request and GETs with ``$top=1``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import ssl
from collections.abc import Mapping, Sequence

import aiohttp
from yarl import URL

from orders.bc_link.client import BcApiClient
from orders.bc_link.config import BcConnection, BcLimits, OAuthClientCredentials
from orders.bc_link.errors import (
    BcAuthenticationError,
    BcCompanyNotFound,
    BcError,
    BcNotFound,
    BcPermissionError,
)
from orders.bc_link.odata import query
from orders.bc_link.shapes import pick_company
from orders.checks import CheckResult

__all__ = ["DEFAULT_ENTITY_SETS", "OPTIONAL_PAGES", "CheckResult", "check_bc_connection"]

# What the mirror and the order writer read (bc-api §3).
DEFAULT_ENTITY_SETS: tuple[str, ...] = (
    "items",
    "itemLedgerEntries",
    "unitsOfMeasure",
    "locations",
    "customers",
    "currencies",
    "salesOrders",
    "salesQuotes",
)
# Published pages that fill the API's gaps (bc-api §9): service name -> page number.
OPTIONAL_PAGES: Mapping[str, int] = {"ItemLedgerEntries": 38, "ItemUnitsOfMeasure": 5404, "Resources": 77}


async def check_bc_connection(
    config: BcConnection,
    *,
    session: aiohttp.ClientSession | None = None,
    entity_sets: Sequence[str] = DEFAULT_ENTITY_SETS,
    pages: Mapping[str, int] = OPTIONAL_PAGES,
    time_limit: float = 10.0,
    ssl_context: ssl.SSLContext | None = None,
) -> list[CheckResult]:
    """Run the checks against ``config``; see the module's docstring for the steps."""
    results: list[CheckResult] = []
    endpoints = [URL(config.api_url)]
    if isinstance(config.auth, OAuthClientCredentials):
        endpoints.append(URL(config.auth.token_url))
    seen: set[tuple[str, int]] = set()
    for url in endpoints:
        host, port = url.host or "", url.port or (443 if url.scheme == "https" else 80)
        if (host, port) in seen:
            continue
        seen.add((host, port))
        step = await _dns(host, port, time_limit)
        results.append(step)
        if not step.ok:
            return results
        step = await _connect(host, port, url.scheme == "https", time_limit, ssl_context)
        results.append(step)
        if not step.ok:
            return results

    limits = BcLimits(max_attempts=1, timeout=time_limit, connect_timeout=time_limit)
    own = session is None
    if session is None:
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ssl_context or True))
    try:
        client = BcApiClient(config, session, limits=limits)
        if not await _token_and_api(client, config, results):
            return results
        await _reads(client, entity_sets, pages, results)
    finally:
        if own:
            await session.close()
    return results


async def _dns(host: str, port: int, time_limit: float) -> CheckResult:
    try:
        infos = await asyncio.wait_for(
            asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM), time_limit
        )
    except TimeoutError:
        return CheckResult("dns", False, f"{host} did not resolve within {time_limit:g} s (DNS)")
    except OSError as exc:
        return CheckResult("dns", False, f"{host} does not resolve (DNS): {exc.strerror or exc}")
    addresses = sorted({str(info[4][0]) for info in infos})
    return CheckResult("dns", True, f"{host} resolves to {', '.join(addresses[:4])}")


async def _connect(
    host: str, port: int, tls: bool, time_limit: float, ssl_context: ssl.SSLContext | None
) -> CheckResult:
    target = f"{host}:{port}"
    context = (ssl_context or ssl.create_default_context()) if tls else None
    try:
        _reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=context, server_hostname=host if tls else None), time_limit
        )
    except TimeoutError:
        what = "TCP/TLS connection" if tls else "TCP connection"
        return CheckResult("connect", False, f"{what} to {target} timed out after {time_limit:g} s (a firewall?)")
    except ssl.SSLCertVerificationError as exc:
        return CheckResult(
            "connect", False, f"the TLS certificate of {target} is not trusted: {exc.verify_message or exc.reason}"
        )
    except ssl.SSLError as exc:
        return CheckResult("connect", False, f"TLS with {target} failed: {exc.reason or exc}")
    except ConnectionRefusedError:
        return CheckResult("connect", False, f"connection to {target} refused: nothing listens there (check the port)")
    except OSError as exc:
        return CheckResult("connect", False, f"cannot connect to {target}: {exc.strerror or exc}")
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError):  # the check is done; how the other side closes does not matter
        await writer.wait_closed()
    if tls:
        return CheckResult("connect", True, f"TLS connection to {target}, certificate trusted")
    note = "" if _loopback(host) else " (plain HTTP: credentials cross the network unencrypted)"
    return CheckResult("connect", True, f"TCP connection to {target}{note}")


async def _token_and_api(client: BcApiClient, config: BcConnection, results: list[CheckResult]) -> bool:
    auth = config.auth
    if isinstance(auth, OAuthClientCredentials):
        try:
            await client.authorizer.header()
        except BcError as exc:
            results.append(CheckResult("token", False, f"no token from {auth.token_url}: {exc.message}"))
            return False
        results.append(CheckResult("token", True, f"token granted to client {auth.client_id}"))
    try:
        companies = await client.companies()
    except BcError as exc:
        results.append(CheckResult("api", False, _api_failure(exc, config)))
        return False
    results.append(CheckResult("api", True, f"{config.api_url} accepts the credentials"))
    try:
        company = pick_company(config.company, companies)
    except BcCompanyNotFound as exc:
        listed = ", ".join(repr(name) for name in exc.available) or "none this identity may see"
        results.append(CheckResult("company", False, f"company {exc.company!r} not found; the companies are: {listed}"))
        return False
    results.append(CheckResult("company", True, f"company {company.name!r} (id {company.id})"))
    return True


def _api_failure(exc: BcError, config: BcConnection) -> str:
    detail = f"{exc.status or ''} {exc.code}: {exc.message}".strip()
    if isinstance(exc, BcAuthenticationError):
        auth = config.auth
        if isinstance(auth, OAuthClientCredentials):
            return (
                f"BC rejected the credentials ({detail}); register the app {auth.client_id} on BC's "
                "Microsoft Entra Applications page, set State to Enabled and grant consent"
            )
        return f"BC rejected the credentials ({detail}): check the user name {auth.user_name!r} and its access key"
    if exc.status == 405:
        return (
            f"the API is disabled at {config.api_url} ({detail}); on-premises, enable API services on the "
            "server instance"
        )
    if isinstance(exc, BcNotFound):
        return f"no BC API at {config.api_url} ({detail}): check the tenant, environment or server instance"
    if isinstance(exc, BcPermissionError):
        return f"the identity may not list the companies ({detail})"
    return f"GET companies failed: {exc}"


async def _reads(
    client: BcApiClient, entity_sets: Sequence[str], pages: Mapping[str, int], results: list[CheckResult]
) -> None:
    for entity_set in entity_sets:
        try:
            await client.first(entity_set)
        except BcPermissionError as exc:
            results.append(
                CheckResult(
                    f"read:{entity_set}", False, f"cannot read {entity_set}: missing permission ({exc.message})"
                )
            )
        except BcError as exc:
            results.append(CheckResult(f"read:{entity_set}", False, f"cannot read {entity_set}: {exc}"))
        else:
            results.append(CheckResult(f"read:{entity_set}", True, f"{entity_set} can be read"))
    for service, page_no in pages.items():
        name = f"page:{service}"
        try:
            await client.get_web_service(service, query(top=1))
        except BcNotFound:
            results.append(
                CheckResult(
                    name,
                    False,
                    f"{service} is not published: publish page {page_no} as {service} (page Web Services)",
                    required=False,
                )
            )
        except BcPermissionError as exc:
            message = f"cannot read the published page {service}: missing permission ({exc.message})"
            results.append(CheckResult(name, False, message, required=False))
        except BcError as exc:
            results.append(CheckResult(name, False, f"cannot read the published page {service}: {exc}", required=False))
        else:
            results.append(CheckResult(name, True, f"page {page_no} is published as {service}", required=False))


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
