"""``check_dataverse_connection``: can the gateway read orders from this Dynamics 365 Sales
(Dataverse Web API) with this setup? Each step says exactly what failed, in the order a connection
is built, so that a person fixes the first problem first (``bc-gateway setup test`` prints them).

1. ``setup``: the Dataverse URL, token URL, client id and secret are all set;
2. ``dns``: the token endpoint's and the organisation's hosts resolve;
3. ``connect``: a TCP connection opens and, for https, TLS succeeds with a trusted certificate
   (refused, certificate, timeout are told apart);
4. ``token``: the token endpoint grants a token for the organisation (on refusal, Entra's AADSTS
   text and which setting to look at);
5. ``whoami``: the Web API answers ``WhoAmI`` with that token (401: no application user for it in
   this environment; 403: no security role; 404: no Web API at that address);
6. ``organisation``: the Dataverse URL is the organisation of the Sales URL (the one whose
   webhooks the gateway accepts).

Steps 1–5 stop at the first failure (each needs the one before); 6 is told whatever happened.
Only a token request and one GET are made. The results have the shape of
``orders.bc_link.connection_check`` (name, ok, message, required), so one command prints both.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import socket
import ssl
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

from orders.checks import CheckResult
from orders.dataverse.webapi import API_PATH, connection_failure, dataverse_error_text, oauth_error_text
from orders.setup import ConnectionSetup

__all__ = ["CheckResult", "check_dataverse_connection", "same_organisation"]


# What an Entra refusal usually means, by its OAuth error code: the setting to look at.
_TOKEN_HINTS = {
    "invalid_client": "check the client secret (bc-gateway setup --dataverse-client-secret -)",
    "unauthorized_client": "check the client id: the application (client) id of the app registration",
    "invalid_scope": "the Dataverse URL is not an organisation this tenant knows: check --dataverse-url",
    "invalid_request": "check the token URL: https://login.microsoftonline.com/<tenant id>/oauth2/v2.0/token",
}


async def check_dataverse_connection(
    setup: ConnectionSetup,
    *,
    session: aiohttp.ClientSession | None = None,
    time_limit: float = 10.0,
    ssl_context: ssl.SSLContext | None = None,
) -> list[CheckResult]:
    """Run the checks against the stored setup; see the module's docstring for the steps."""
    results: list[CheckResult] = []
    missing = [
        flag
        for flag, value in (
            ("--dataverse-url", setup.dataverse_url),
            ("--dataverse-token-url", setup.dataverse_token_url),
            ("--dataverse-client-id", setup.dataverse_client_id),
            ("--dataverse-client-secret", setup.dataverse_client_secret),
        )
        if not value
    ]
    if missing:
        results.append(
            CheckResult("setup", False, f"not set up: bc-gateway setup {' ... '.join(missing)} ... (see README)")
        )
        results.append(_organisation(setup))
        return results
    results.append(CheckResult("setup", True, "the Dataverse URL, token URL, client id and secret are set"))
    await _network_steps(setup, results, session, time_limit, ssl_context)
    results.append(_organisation(setup))
    return results


async def _network_steps(
    setup: ConnectionSetup,
    results: list[CheckResult],
    session: aiohttp.ClientSession | None,
    time_limit: float,
    ssl_context: ssl.SSLContext | None,
) -> None:
    seen: set[tuple[str, str, int]] = set()
    for url in (URL(setup.dataverse_token_url), URL(setup.dataverse_url)):
        host, port = url.host or "", url.port or (443 if url.scheme == "https" else 80)
        if (url.scheme, host, port) in seen:
            continue
        seen.add((url.scheme, host, port))
        result = await _dns(host, port, time_limit)
        results.append(result)
        if not result.ok:
            return
        result = await _connect(host, port, url.scheme == "https", time_limit, ssl_context)
        results.append(result)
        if not result.ok:
            return
    own = session is None
    if session is None:
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ssl_context or True))
    try:
        token = await _token(setup, session, time_limit, results)
        if token is not None:
            await _who_am_i(setup, session, token, time_limit, results)
    finally:
        if own:
            await session.close()


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
        return CheckResult("connect", False, f"TLS with {target} failed: {exc.reason or exc} (is it https?)")
    except ConnectionRefusedError:
        return CheckResult("connect", False, f"connection to {target} refused: nothing listens there (check the port)")
    except OSError as exc:
        return CheckResult("connect", False, f"cannot connect to {target}: {exc.strerror or exc}")
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError):  # how the other side closes does not matter here
        await writer.wait_closed()
    if tls:
        return CheckResult("connect", True, f"TLS connection to {target}, certificate trusted")
    note = "" if _loopback(host) else " (plain HTTP: the secret and the orders cross the network unencrypted)"
    return CheckResult("connect", True, f"TCP connection to {target}{note}")


async def _token(
    setup: ConnectionSetup, session: aiohttp.ClientSession, time_limit: float, results: list[CheckResult]
) -> str | None:
    org = setup.dataverse_url.rstrip("/")
    form = {
        "grant_type": "client_credentials",
        "client_id": setup.dataverse_client_id,
        "client_secret": setup.dataverse_client_secret,
        "scope": org + "/.default",
    }
    try:
        async with session.post(
            setup.dataverse_token_url,
            data=form,
            headers={"Accept": "application/json"},
            timeout=aiohttp.ClientTimeout(total=time_limit),
            allow_redirects=False,
        ) as resp:
            status, text = resp.status, await resp.text()
    except (TimeoutError, aiohttp.ServerTimeoutError):
        results.append(CheckResult("token", False, f"the token endpoint did not answer within {time_limit:g} s"))
        return None
    except aiohttp.ClientError as exc:
        results.append(
            CheckResult("token", False, f"the token endpoint could not be reached: {connection_failure(exc)}")
        )
        return None
    if status >= 300:
        code, message = oauth_error_text(text)
        if not code and status == 404:
            message = "no such address: check --dataverse-token-url (…/<tenant id>/oauth2/v2.0/token)"
        hint = _TOKEN_HINTS.get(code, "")
        detail = f"HTTP {status}{' ' + code if code else ''}: {message}"
        results.append(CheckResult("token", False, f"no token for client {setup.dataverse_client_id} ({detail})"))
        if hint:
            results[-1] = CheckResult("token", False, f"{results[-1].message}; {hint}")
        return None
    try:
        body = json.loads(text) if text else {}
    except ValueError:
        body = {}
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        results.append(CheckResult("token", False, f"HTTP {status} from the token URL, but no access_token in it"))
        return None
    lifetime = body.get("expires_in")
    valid = f", valid {lifetime} s" if isinstance(lifetime, int | str) and str(lifetime).isdigit() else ""
    results.append(CheckResult("token", True, f"token granted to client {setup.dataverse_client_id}{valid}"))
    return token


async def _who_am_i(
    setup: ConnectionSetup, session: aiohttp.ClientSession, token: str, time_limit: float, results: list[CheckResult]
) -> None:
    url = setup.dataverse_url.rstrip("/") + API_PATH + "WhoAmI"
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json",
        "OData-Version": "4.0",
        "OData-MaxVersion": "4.0",
    }
    try:
        async with session.get(
            url, headers=headers, timeout=aiohttp.ClientTimeout(total=time_limit), allow_redirects=False
        ) as resp:
            status, text = resp.status, await resp.text()
    except (TimeoutError, aiohttp.ServerTimeoutError):
        results.append(CheckResult("whoami", False, f"the Web API did not answer WhoAmI within {time_limit:g} s"))
        return
    except aiohttp.ClientError as exc:
        results.append(CheckResult("whoami", False, f"the Web API could not be reached: {connection_failure(exc)}"))
        return
    if status >= 300:
        code, message = dataverse_error_text(text, status)
        detail = f"HTTP {status}{' ' + code if code else ''}: {message}"
        if status == 401:
            text_ = (
                f"the Web API refused the token ({detail}): create an application user for client "
                f"{setup.dataverse_client_id} in this environment (Power Platform admin center)"
            )
        elif status == 403:
            text_ = (
                f"the application user may not use the Web API ({detail}): give it the security role "
                "Dynamics 365 Business Central Integration User"
            )
        elif status == 404:
            text_ = f"no Dataverse Web API at {setup.dataverse_url} ({detail}): check --dataverse-url"
        else:
            text_ = f"WhoAmI failed ({detail})"
        results.append(CheckResult("whoami", False, text_))
        return
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if not isinstance(body, dict) or "UserId" not in body:
        results.append(
            CheckResult(
                "whoami", False, f"{url} answered, but not as the Dataverse Web API does: check --dataverse-url"
            )
        )
        return
    results.append(
        CheckResult(
            "whoami",
            True,
            f"the Web API answers as user {body.get('UserId')} in organisation {body.get('OrganizationId')}",
        )
    )


def same_organisation(dataverse_url: str, sales_url: str) -> bool:
    """Whether two addresses are one organisation's: contoso.api.crm4.dynamics.com (the Web API's
    own host) and contoso.crm4.dynamics.com are."""
    return _org_host(dataverse_url) == _org_host(sales_url)


def _org_host(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    labels = host.split(".")
    if len(labels) > 2 and labels[1] == "api":
        labels.pop(1)
    return ".".join(labels)


def _organisation(setup: ConnectionSetup) -> CheckResult:
    if not setup.sales_url:
        return CheckResult(
            "organisation",
            False,
            "the Sales URL is not set, so webhooks from any organisation are taken: "
            "bc-gateway setup --sales-url https://<org>.crm.dynamics.com",
        )
    if not setup.dataverse_url:
        return CheckResult("organisation", False, "the Dataverse URL is not set (bc-gateway setup --dataverse-url ...)")
    if not same_organisation(setup.dataverse_url, setup.sales_url):
        return CheckResult(
            "organisation",
            False,
            f"the Dataverse URL ({_org_host(setup.dataverse_url)}) is another organisation than the Sales URL "
            f"({_org_host(setup.sales_url)}): orders would be read from one and webhooks taken from the other",
        )
    return CheckResult(
        "organisation", True, f"the Dataverse URL is the Sales URL's organisation ({_org_host(setup.sales_url)})"
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
