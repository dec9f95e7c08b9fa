"""The gateway behind a real nginx, which runs deploy/nginx/bc-gateway-proxy.conf as shipped.

nginx terminates TLS (a throwaway self-signed certificate) on a free 127.0.0.1 port and proxies to
the gateway on another; clients send `Host: bc.example.com`. Other loopback addresses (127.0.0.2,
127.0.0.3) play clients that nginx sees, so "the real client" is an address nginx writes into
X-Forwarded-For, not one the test makes up.

Also here: the gateway's trust in forwarded headers without nginx, and `nginx -t` of the shipped
deploy/nginx/bc-gateway.conf. The gate's decisions on their own: tests/unit/test_proxy_gate.py;
nginx itself: tests/support/nginx.py.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import re
import socket
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from multidict import CIMultiDict

from gateway.app import create_app
from gateway.auth import ADDRESS_FAILURES
from gateway.config import Settings
from schemas.demo_company import ITEMS, product_id
from tests.support.helpers import Api, basic, q
from tests.support.nginx import (
    EXTERNAL,
    EXTERNAL_HOST,
    NGINX_DIR,
    Nginx,
    ViaNginx,
    nginx_binary,
    self_signed_certificate,
    temp_paths,
)

PIA = "/ODataV4/Company('CRONUS')/ProductItemAvailability"
ATHENS = product_id("1896-S")
TRUST_NGINX = ("127.0.0.1",)
# Clients nginx sees on loopback (Linux routes all of 127.0.0.0/8 to lo).
CLIENT_A, CLIENT_B = "127.0.0.2", "127.0.0.3"


@pytest.fixture
def nginx_factory(tmp_path: Path) -> Iterator[Callable[[int], Awaitable[Nginx]]]:
    """Start nginx in front of a gateway port; every nginx started is stopped, pass or fail."""
    binary = nginx_binary()
    cert, key = self_signed_certificate(tmp_path)
    started: list[Nginx] = []

    async def start(upstream_port: int) -> Nginx:
        prefix = tmp_path / f"nginx{len(started)}"
        prefix.mkdir()
        nginx = Nginx(binary, prefix, upstream_port, cert, key)
        started.append(nginx)
        await nginx.start()
        return nginx

    try:
        yield start
    finally:
        for nginx in started:
            nginx.stop()


@pytest.fixture
def serve_gateway(settings: Settings, engine: Any, demo: dict[str, Any], aiohttp_server: Any) -> Any:
    """`gateway_server` (tests/support/server_fixtures.py) with a chosen BCGW_TRUSTED_PROXIES."""

    async def start(trusted: tuple[str, ...]) -> Any:
        # The Host nginx passes on is the external name: the operator allows it (BCGW_ALLOWED_HOSTS).
        changed = dataclasses.replace(settings, trusted_proxies=trusted, allowed_hosts=(EXTERNAL_HOST, "127.0.0.1"))
        app = create_app(changed, engine=engine, worker=False)
        return await aiohttp_server(app)

    return start


@pytest.fixture
def stack(serve_gateway: Any, nginx_factory: Callable[[int], Awaitable[Nginx]]) -> Any:
    """Start a gateway with the given trusted proxies, and nginx in front of it."""

    async def start(trusted: tuple[str, ...] = TRUST_NGINX) -> tuple[Any, Nginx]:
        server = await serve_gateway(trusted)
        return server, await nginx_factory(server.port)

    return start


def needs_loopback_alias() -> None:
    try:
        with socket.socket() as sock:
            sock.bind((CLIENT_A, 0))
    except OSError:
        pytest.skip(f"this system cannot use {CLIENT_A} as a client address")


def failed_sign_in_addresses(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The client addresses the gateway logged for failed sign-ins: what request.remote was."""
    found = []
    for record in caplog.records:
        m = re.search(r"authentication failed: .* address=(\S+)", record.getMessage())
        if m:
            found.append(m.group(1))
    return found


async def fail_sign_ins(client: Api, n: int, headers: dict[str, str] | None = None) -> None:
    """n failed sign-ins, each under another user name (so only the address can be locked out)."""
    for i in range(n):
        status, _h, _b = await client.get(PIA, auth=basic(f"NOBODY{i}", "wrong"), headers=headers or {})
        assert status == 401


# --- through nginx -------------------------------------------------------------------------


@pytest.mark.nginx
async def test_answers_identical_except_urls(stack: Any, demo: dict[str, Any]) -> None:
    server, nginx = await stack()
    paths: list[tuple[str, Any]] = [
        (f"{PIA}?$filter={q(f'CRM_ID eq {ATHENS}')}", "default"),
        ("/ODataV4/ItemAvailability?$select=No,Inventory&$orderby=No&$count=true", "default"),
        ("/ODataV4/ItemAvailability('1896-S')", "default"),
        ("/ODataV4/ItemAvailability('NOPE')", "default"),
        ("/ODataV4/", "default"),
        ("/ODataV4/$metadata", "default"),
        ("/OData/Company('CRONUS')/ProductItemAvailability", "default"),
        (PIA, None),
        ("/health", None),
        ("/health/ready", None),
    ]
    async with Api(server, demo["user"], demo["key"]) as direct, ViaNginx(nginx, demo["user"], demo["key"]) as via:
        for path, auth in paths:
            d_status, d_headers, d_body = await direct.get(path, auth=auth)
            n_status, n_headers, n_body = await via.get(path, auth=auth)
            assert n_status == d_status, path
            for name in ("Content-Type", "OData-Version", "DataServiceVersion", "WWW-Authenticate"):
                assert n_headers.get(name) == d_headers.get(name), (path, name)
            expected = json.loads(json.dumps(d_body).replace(direct.base, EXTERNAL))
            assert n_body == expected, path
        # The URLs did differ: the comparison above was not vacuous.
        _s, _h, body = await via.get(PIA)
    assert body["@odata.context"] == EXTERNAL + "/ODataV4/$metadata#Company('CRONUS')/ProductItemAvailability"


@pytest.mark.nginx
async def test_next_link_carries_external_url_and_works_through_nginx(stack: Any, demo: dict[str, Any]) -> None:
    _server, nginx = await stack()
    url = "/ODataV4/ItemAvailability?$select=No&$orderby=No"
    seen: list[str] = []
    pages = 0
    async with ViaNginx(nginx, demo["user"], demo["key"]) as via:
        while url:
            status, headers, body = await via.get(url, headers={"Prefer": "odata.maxpagesize=5"})
            assert status == 200, body
            assert headers["Preference-Applied"] == "odata.maxpagesize=5"
            assert body["@odata.context"] == EXTERNAL + "/ODataV4/$metadata#ItemAvailability(No)"
            seen += [r["No"] for r in body["value"]]
            url = body.get("@odata.nextLink")
            if url:
                assert url.startswith(EXTERNAL + "/ODataV4/ItemAvailability?") and "$skiptoken=" in url
            pages += 1
    assert pages == math.ceil(len(ITEMS) / 5)
    assert seen == sorted(no for no, *_ in ITEMS)


@pytest.mark.nginx
async def test_links_keep_a_port_other_than_443(stack: Any, demo: dict[str, Any]) -> None:
    """Clients reach nginx on its (random, not 443) port and say so in Host: the links keep it."""
    _server, nginx = await stack()
    external = f"https://{EXTERNAL_HOST}:{nginx.port}"
    url = "/ODataV4/ItemAvailability?$select=No&$orderby=No"
    seen: list[str] = []
    async with ViaNginx(nginx, demo["user"], demo["key"]) as via:
        host = {"Host": f"{EXTERNAL_HOST}:{nginx.port}"}
        while url:
            status, _h, body = await via.get(url, headers={"Prefer": "odata.maxpagesize=7", **host})
            assert status == 200, body
            assert body["@odata.context"] == external + "/ODataV4/$metadata#ItemAvailability(No)"
            seen += [r["No"] for r in body["value"]]
            url = body.get("@odata.nextLink")
            if url:
                assert url.startswith(external + "/ODataV4/ItemAvailability?"), url
                url = url[len(external) :]  # where DNS would send it: this nginx
        # A Host nobody configured is refused, with an OData error, not used for links.
        status, _h, body = await via.get("/ODataV4/ItemAvailability", headers={"Host": "evil.example:8443"})
        assert status == 400 and body["error"]["code"] == "BadRequest_InvalidHost"
    assert seen == sorted(no for no, *_ in ITEMS)


@pytest.mark.nginx
async def test_body_over_one_mib_is_refused_by_nginx(stack: Any, demo: dict[str, Any]) -> None:
    server, nginx = await stack()
    path = "/ODataV4/ItemAvailability"
    async with Api(server, demo["user"], demo["key"]) as direct, ViaNginx(nginx, demo["user"], demo["key"]) as via:
        # Exactly 1 MiB passes nginx and gets the gateway's own answer (no POST on an entity set).
        d_status, _h, d_body = await direct.request("POST", path, data=b"x" * 1024 * 1024)
        status, _h, body = await via.request("POST", path, data=b"x" * 1024 * 1024)
        assert (status, body) == (d_status, d_body) and status == 405
        status, headers, body = await via.request("POST", path, data=b"x" * (1024 * 1024 + 1))
    assert status == 413
    assert headers.get("Server") == "nginx" and "nginx" in body  # nginx's page, not the gateway's
    assert "client intended to send too large body" in nginx.error_log.read_text()


@pytest.mark.nginx
async def test_lockout_counts_the_client_nginx_saw(
    stack: Any, demo: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    needs_loopback_alias()
    caplog.set_level(logging.INFO, logger="bcgw.auth")
    _server, nginx = await stack(TRUST_NGINX)
    user, key = demo["user"], demo["key"]
    async with ViaNginx(nginx, user, key, CLIENT_A) as a, ViaNginx(nginx, user, key, CLIENT_B) as b:
        # What client A writes into X-Forwarded-For itself is not believed: it is not a trusted proxy.
        await fail_sign_ins(a, ADDRESS_FAILURES, headers={"X-Forwarded-For": "203.0.113.5"})
        assert failed_sign_in_addresses(caplog) == [CLIENT_A] * ADDRESS_FAILURES
        status, headers, _body = await a.get(PIA)
        assert status == 429 and int(headers["Retry-After"]) > 0
        status, _h, _body = await b.get(PIA)
        assert status == 200
        status, _h, _body = await b.get(PIA, headers={"X-Forwarded-For": CLIENT_A})
        assert status == 200


@pytest.mark.nginx
async def test_a_trusted_proxy_in_front_of_nginx_is_believed(
    stack: Any, demo: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """The test client at 127.0.0.1 is itself a trusted proxy (a CDN in front of nginx)."""
    caplog.set_level(logging.INFO, logger="bcgw.auth")
    _server, nginx = await stack(TRUST_NGINX)
    async with ViaNginx(nginx, demo["user"], demo["key"]) as cdn:
        await fail_sign_ins(cdn, 1, headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.7"})
        await fail_sign_ins(cdn, 1)  # no client in front: the proxy itself is the client
    assert failed_sign_in_addresses(caplog) == ["203.0.113.7", "127.0.0.1"]


@pytest.mark.nginx
async def test_without_trust_forwarded_headers_are_ignored(
    stack: Any, demo: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    needs_loopback_alias()
    caplog.set_level(logging.INFO, logger="bcgw.auth")
    _server, nginx = await stack(())
    user, key = demo["user"], demo["key"]
    async with ViaNginx(nginx, user, key, CLIENT_A) as a, ViaNginx(nginx, user, key, CLIENT_B) as b:
        status, _h, body = await a.get(PIA)
        assert status == 200
        # X-Forwarded-Proto https is not believed; the Host nginx passes on is the request's own.
        assert body["@odata.context"].startswith("http://bc.example.com/ODataV4/$metadata#")
        await fail_sign_ins(a, ADDRESS_FAILURES)
        assert set(failed_sign_in_addresses(caplog)) == {"127.0.0.1"}
        # Every client is nginx to the gateway: B is locked out with A. Hence BCGW_TRUSTED_PROXIES.
        status, _h, _body = await b.get(PIA)
        assert status == 429


# --- the gate without nginx ----------------------------------------------------------------

SPOOF = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"}


@pytest.mark.parametrize("trusted", [(), ("10.9.9.9", "192.0.2.0/24")], ids=["none", "others"])
async def test_untrusted_peer_is_not_believed_and_not_refused(
    serve_gateway: Any, demo: dict[str, Any], caplog: pytest.LogCaptureFixture, trusted: tuple[str, ...]
) -> None:
    caplog.set_level(logging.INFO, logger="bcgw.auth")
    server = await serve_gateway(trusted)
    async with Api(server, demo["user"], demo["key"]) as direct:
        for path in ("/health", "/health/ready"):
            status, _h, _b = await direct.get(path, headers=SPOOF, auth=None)
            assert status == 200
        status, _h, body = await direct.get(PIA, headers=SPOOF)
        assert status == 200
        assert body["@odata.context"].startswith(direct.base + "/ODataV4/")
        await fail_sign_ins(direct, 1, headers=SPOOF)
    assert failed_sign_in_addresses(caplog) == ["127.0.0.1"]


async def test_trusted_peer_without_or_with_odd_headers_is_not_refused(
    serve_gateway: Any, demo: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """aiohttp_remotes.XForwardedStrict alone answers 400 to all of these."""
    caplog.set_level(logging.INFO, logger="bcgw.auth")
    server = await serve_gateway(TRUST_NGINX)
    async with Api(server, demo["user"], demo["key"]) as direct:
        status, _h, _b = await direct.get("/health", auth=None)
        assert status == 200
        status, _h, body = await direct.get(PIA, headers={"X-Forwarded-Proto": "https"})
        assert status == 200 and body["@odata.context"].startswith(direct.base)  # no X-Forwarded-For
        odd = {"X-Forwarded-For": "junk", "X-Forwarded-Proto": "https"}
        status, _h, body = await direct.get(PIA, headers=odd)
        assert status == 200 and body["@odata.context"].startswith(direct.base)
        odd = {"X-Forwarded-For": "203.0.113.1", "X-Forwarded-Proto": "gopher", "X-Forwarded-Host": "a b/c"}
        status, _h, body = await direct.get(PIA, headers=odd)
        assert status == 200 and body["@odata.context"].startswith(direct.base)
        # Two header lines are one list (Api keeps headers in a dict: send these as they are).
        two_lines = CIMultiDict([("X-Forwarded-For", "203.0.113.1"), ("X-Forwarded-For", "203.0.113.2")])
        two_lines["Authorization"] = basic("NOBODY", "wrong")
        async with direct.session.get(direct.url(PIA), headers=two_lines) as resp:
            assert resp.status == 401
        await fail_sign_ins(direct, 1, headers={"X-Forwarded-For": "203.0.113.3:5555"})
    assert failed_sign_in_addresses(caplog) == ["203.0.113.2", "203.0.113.3"]


# --- the shipped files ---------------------------------------------------------------------


@pytest.mark.nginx
def test_shipped_nginx_config_passes_nginx_t(tmp_path: Path) -> None:
    """deploy/nginx/bc-gateway.conf as installed (certificate, log and snippet paths moved here)."""
    binary = nginx_binary()
    cert, key = self_signed_certificate(tmp_path)
    text = (NGINX_DIR / "bc-gateway.conf").read_text()
    moves = {
        "/etc/ssl/certs/bc.example.com.fullchain.pem": str(cert),
        "/etc/ssl/private/bc.example.com.key": str(key),
        "/var/log/nginx/": f"{tmp_path}/",
        "/etc/nginx/snippets/bc-gateway-proxy.conf": str(NGINX_DIR / "bc-gateway-proxy.conf"),
    }
    for old, new in moves.items():
        assert old in text, f"deploy/nginx/bc-gateway.conf no longer mentions {old}: update this test"
        text = text.replace(old, new)
    (tmp_path / "bc-gateway.conf").write_text(text)
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"pid {tmp_path / 'nginx.pid'};\nerror_log {tmp_path / 'error.log'};\nevents {{}}\n"
        f"http {{\n{temp_paths(tmp_path)}\n    include {tmp_path / 'bc-gateway.conf'};\n}}\n"
    )
    result = subprocess.run(
        [binary, "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr
