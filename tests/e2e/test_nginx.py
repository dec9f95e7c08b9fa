"""The gateway behind a real nginx, which runs deploy/nginx/bc-gateway-proxy.conf as shipped.

nginx terminates TLS (a throwaway self-signed certificate) on a free 127.0.0.1 port and proxies to
the gateway on another; clients send `Host: bc.example.com`. Other loopback addresses (127.0.0.2,
127.0.0.3) play clients that nginx sees, so "the real client" is an address nginx writes into
X-Forwarded-For, not one the test makes up.

Also here: the gate of gateway/proxy.py on its own (no nginx), and `nginx -t` of the shipped
deploy/nginx/bc-gateway.conf.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import math
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import aiohttp
import pytest
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict
from yarl import URL

from gateway.app import create_app
from gateway.config import Settings
from gateway.proxy import MAX_HOPS, Forwarding
from schemas.demo_company import ITEMS, product_id
from tests.support.db_fixtures import skip_or_fail
from tests.support.helpers import Api, basic, q

ROOT = Path(__file__).resolve().parents[2]
NGINX_DIR = ROOT / "deploy" / "nginx"
EXTERNAL = "https://bc.example.com"
EXTERNAL_HOST = "bc.example.com"
PIA = "/ODataV4/Company('CRONUS')/ProductItemAvailability"
ATHENS = product_id("1896-S")
TRUST_NGINX = ("127.0.0.1",)
# Clients nginx sees on loopback (Linux routes all of 127.0.0.0/8 to lo).
CLIENT_A, CLIENT_B = "127.0.0.2", "127.0.0.3"
LOCKOUT_FAILURES = 10  # gateway/auth.py: an address is locked out after this many failures


# --- nginx ---------------------------------------------------------------------------------


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    if found is None:
        skip_or_fail("nginx is not installed: apt-get install nginx (CI installs it)")
    assert found is not None
    return found


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate for bc.example.com, made with the openssl command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        skip_or_fail("openssl is not installed (it makes the test's TLS certificate): apt-get install openssl")
    assert openssl is not None
    cert, key = directory / "cert.pem", directory / "key.pem"
    args = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"]
    args += ["-keyout", str(key), "-out", str(cert), "-subj", f"/CN={EXTERNAL_HOST}"]
    subprocess.run([openssl, *args], check=True, capture_output=True, timeout=60)
    return cert, key


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def temp_paths(prefix: Path) -> str:
    """nginx's temporary directories, inside the test's directory (the defaults are system paths)."""
    return "\n".join(
        f"    {name}_temp_path {prefix / name};" for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )


class Nginx:
    """A real nginx in the foreground, as a child process of the test."""

    def __init__(self, binary: str, prefix: Path, upstream_port: int, cert: Path, key: Path) -> None:
        self.binary = binary
        self.prefix = prefix
        self.upstream_port = upstream_port
        self.cert, self.key = cert, key
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def error_log(self) -> Path:
        return self.prefix / "error.log"

    def config(self) -> str:
        p = self.prefix
        # master_process off: one process, so stopping it leaves no workers behind, and it keeps
        # running as the test's user (root or not) without a `user` directive.
        return f"""
master_process off;
pid {p / "nginx.pid"};
error_log {self.error_log} info;
events {{ worker_connections 256; }}
http {{
    access_log {p / "access.log"};
{temp_paths(p)}
    upstream bc_gateway {{
        server 127.0.0.1:{self.upstream_port};
        keepalive 8;
    }}
    server {{
        listen 127.0.0.1:{self.port} ssl;
        server_name {EXTERNAL_HOST};
        ssl_certificate {self.cert};
        ssl_certificate_key {self.key};
        include {NGINX_DIR / "bc-gateway-proxy.conf"};
    }}
}}
"""

    async def start(self) -> None:
        for _attempt in range(3):  # the free port may be taken between finding and binding it
            self.port = free_port()
            self._spawn()
            if await self._wait_ready():
                return
            self.stop()
            if "Address already in use" not in self._logs():
                break
        pytest.fail("nginx did not start:\n" + self._logs())

    def _spawn(self) -> None:
        conf = self.prefix / "nginx.conf"
        conf.write_text(self.config())
        with open(self.prefix / "stderr.log", "ab") as stderr:
            self.process = subprocess.Popen(
                [self.binary, "-p", str(self.prefix), "-c", str(conf), "-g", "daemon off;"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )

    async def _wait_ready(self) -> bool:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                return False
            with contextlib.suppress(OSError):
                _reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                await writer.wait_closed()
                return True
            await asyncio.sleep(0.05)
        return False

    def _logs(self) -> str:
        text = ""
        for name in ("stderr.log", "error.log"):
            path = self.prefix / name
            if path.exists():
                text += path.read_text(errors="replace")
        return text

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()  # SIGTERM: nginx's fast shutdown
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


class ViaNginx(Api):
    """Api through nginx: TLS (not verified: a self-signed certificate), Host bc.example.com, and
    optionally from another loopback address. URLs the gateway printed (https://bc.example.com/...)
    are followed by sending them to nginx's port with that Host header, as DNS would."""

    def __init__(self, nginx: Nginx, user: str, key: str, client_address: str | None = None) -> None:
        super().__init__(SimpleNamespace(make_url=lambda _path: URL(nginx.base)), user, key)
        self.client_address = client_address

    async def __aenter__(self) -> ViaNginx:
        local = (self.client_address, 0) if self.client_address else None
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False, local_addr=local))
        return self

    def url(self, path: str) -> str:
        if path.startswith(EXTERNAL):
            path = path[len(EXTERNAL) :]
        return super().url(path)

    async def request(
        self, method: str, path: str, auth: Any = "default", **kw: Any
    ) -> tuple[int, dict[str, str], Any]:
        headers = {"Host": EXTERNAL_HOST, **(kw.pop("headers", None) or {})}
        return await super().request(method, path, auth=auth, headers=headers, **kw)


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
    """`gateway_server` (tests/conftest.py) with a chosen BCGW_TRUSTED_PROXIES."""

    async def start(trusted: tuple[str, ...]) -> Any:
        app = create_app(dataclasses.replace(settings, trusted_proxies=trusted), engine=engine, worker=False)
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
        await fail_sign_ins(a, LOCKOUT_FAILURES, headers={"X-Forwarded-For": "203.0.113.5"})
        assert failed_sign_in_addresses(caplog) == [CLIENT_A] * LOCKOUT_FAILURES
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
        await fail_sign_ins(a, LOCKOUT_FAILURES)
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


def _request(peer: Any, headers: dict[str, str]) -> Any:
    transport = mock.Mock()
    transport.get_extra_info.return_value = peer
    return make_mocked_request("GET", "/", headers=headers, transport=transport)


V4_PROXY = ("127.0.0.1", 1)


@pytest.mark.parametrize(
    ("peer", "headers", "client", "proto", "host"),
    [
        (V4_PROXY, {"X-Forwarded-For": "203.0.113.1"}, "203.0.113.1", None, None),
        # A dual-stack listener sees the IPv4 proxy as ::ffff:127.0.0.1.
        (("::ffff:127.0.0.1", 1, 0, 0), {"X-Forwarded-For": "203.0.113.1"}, "203.0.113.1", None, None),
        (V4_PROXY, {"X-Forwarded-For": "[2001:db8::1]:443"}, "2001:db8::1", None, None),
        # Entries left of the first untrusted one were written by the client.
        (V4_PROXY, {"X-Forwarded-For": "10.0.0.9, 198.51.100.2, 203.0.113.1"}, "203.0.113.1", None, None),
        # All trusted: the leftmost.
        (V4_PROXY, {"X-Forwarded-For": "10.0.0.8, 10.0.0.9"}, "10.0.0.8", None, None),
        # Scheme and host come from the outermost trusted hop; what the client put left is dropped.
        (
            V4_PROXY,
            {
                "X-Forwarded-For": "203.0.113.1, 10.0.0.9",
                "X-Forwarded-Proto": "http, HTTPS, http",
                "X-Forwarded-Host": "evil.example, bc.example.com:8443, inner",
            },
            "203.0.113.1",
            "https",
            "bc.example.com:8443",
        ),
        (
            V4_PROXY,
            {"X-Forwarded-For": "203.0.113.1", "X-Forwarded-Host": "[2001:db8::1]"},
            "203.0.113.1",
            None,
            "[2001:db8::1]",
        ),
        (V4_PROXY, {"X-Forwarded-For": "203.0.113.1", "X-Forwarded-Proto": "gopher"}, "203.0.113.1", None, None),
        (V4_PROXY, {"X-Forwarded-For": "203.0.113.1", "X-Forwarded-Host": "a/b"}, "203.0.113.1", None, None),
    ],
)
def test_gate_decisions(peer: Any, headers: dict[str, str], client: str, proto: str | None, host: str | None) -> None:
    believed = Forwarding(("127.0.0.1", "10.0.0.0/8")).believe(_request(peer, headers))
    assert believed is not None
    assert (str(believed.client), believed.proto, believed.host) == (client, proto, host)


@pytest.mark.parametrize(
    ("peer", "headers"),
    [
        (("192.0.2.1", 1), {"X-Forwarded-For": "203.0.113.1"}),  # not a trusted proxy
        ("", {"X-Forwarded-For": "203.0.113.1"}),  # a Unix socket
        (None, {"X-Forwarded-For": "203.0.113.1"}),  # the connection is gone
        (V4_PROXY, {"X-Forwarded-Proto": "https"}),  # nothing without X-Forwarded-For
        (V4_PROXY, {"X-Forwarded-For": "unknown"}),
    ],
)
def test_gate_believes_nothing(peer: Any, headers: dict[str, str]) -> None:
    assert Forwarding(("127.0.0.1",)).believe(_request(peer, headers)) is None
    assert Forwarding(()).believe(_request(V4_PROXY, {"X-Forwarded-For": "203.0.113.1"})) is None


def test_gate_bounds_the_chain() -> None:
    chain = ", ".join(f"10.0.0.{i}" for i in range(1, 3 * MAX_HOPS))
    believed = Forwarding(("127.0.0.1", "10.0.0.0/8")).believe(_request(V4_PROXY, {"X-Forwarded-For": chain}))
    assert believed is not None and len(believed.forwarded_for) == MAX_HOPS


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


def test_env_example_lists_every_setting() -> None:
    text = (ROOT / "deploy" / "bc-gateway.env.example").read_text()
    listed = set(re.findall(r"^#?(BCGW_[A-Z_]+)=", text, re.MULTILINE))
    wanted = {"BCGW_" + f.name.upper() for f in dataclasses.fields(Settings)} | {"BCGW_CONFIG"}
    assert listed == wanted
