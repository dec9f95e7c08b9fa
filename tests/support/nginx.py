"""nginx in front of the gateway, for the proxy tests: a real nginx in the foreground running
deploy/nginx/bc-gateway-proxy.conf as shipped, terminating TLS with a throwaway self-signed
certificate, and a client that talks to the gateway through it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from yarl import URL

from tests.support.db_fixtures import skip_or_fail
from tests.support.helpers import Api

ROOT = Path(__file__).resolve().parents[2]
NGINX_DIR = ROOT / "deploy" / "nginx"
EXTERNAL = "https://bc.example.com"
EXTERNAL_HOST = "bc.example.com"


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
