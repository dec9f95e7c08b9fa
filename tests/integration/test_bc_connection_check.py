"""check_bc_connection against the BC simulator and against what is not a BC: every failure mode
says what failed, in order, and the checks only read."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from orders.bc_link import BcConnection, OAuthClientCredentials
from orders.bc_link.connection_check import CheckResult, check_bc_connection
from tests.support.bc_link import connection_for
from tests.support.bc_simulator import BcSimulator, Identity
from tests.support.bc_simulator.client import Factory

pytest_plugins = ["tests.support.bc_simulator.fixtures"]

LIMIT = 2.0  # seconds per step: the failures below are all quick


def _names(results: list[CheckResult]) -> list[str]:
    return [r.name for r in results]


def _failed(results: list[CheckResult]) -> list[CheckResult]:
    return [r for r in results if not r.ok]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_healthy_connection_passes_every_step(bc_simulator: BcSimulator) -> None:
    for page in ("ItemLedgerEntries", "ItemUnitsOfMeasure", "Resources"):
        bc_simulator.publish(page)
    results = await check_bc_connection(connection_for(bc_simulator), time_limit=LIMIT)
    assert _failed(results) == []
    assert _names(results)[:5] == ["dns", "connect", "token", "api", "company"]
    assert "read:salesOrders" in _names(results) and "page:ItemLedgerEntries" in _names(results)
    assert results[4].message == f"company 'CRONUS' (id {bc_simulator.company_id})"
    # Read-only: the token request and GETs, nothing else.
    assert {(e.method, e.path.endswith("/token")) for e in bc_simulator.request_log} == {
        ("POST", True),
        ("GET", False),
    }


async def test_a_host_that_does_not_resolve() -> None:
    config = BcConnection(
        "https://bc.example.invalid/BC/api/v2.0",
        "CRONUS",
        OAuthClientCredentials("https://login.example.invalid/t/oauth2/v2.0/token", "app", "secret"),
    )
    results = await check_bc_connection(config, time_limit=LIMIT)
    assert _names(results) == ["dns"]
    assert not results[0].ok
    assert results[0].message.startswith("bc.example.invalid does not resolve (DNS)")


async def test_a_refused_port() -> None:
    port = _free_port()
    sim = BcSimulator(seed_demo=True, deployment="onprem", port=port)  # never started
    results = await check_bc_connection(connection_for(sim), time_limit=LIMIT)
    assert _names(results) == ["dns", "connect"]
    assert results[1].message == f"connection to 127.0.0.1:{port} refused: nothing listens there (check the port)"


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """Accepts TCP connections and never says anything (a TLS handshake waits forever)."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    yield int(server.sockets[0].getsockname()[1])
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_a_tls_handshake_that_times_out(silent_server: int) -> None:
    config = BcConnection(
        f"https://127.0.0.1:{silent_server}/BC/api/v2.0",
        "CRONUS",
        OAuthClientCredentials(f"https://127.0.0.1:{silent_server}/t/oauth2/v2.0/token", "app", "secret"),
    )
    results = await check_bc_connection(config, time_limit=0.3)
    assert _names(results) == ["dns", "connect"]
    assert results[1].message == f"TCP/TLS connection to 127.0.0.1:{silent_server} timed out after 0.3 s (a firewall?)"


@pytest.fixture
def self_signed_cert(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a self-signed certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subject = ["-subj", "/CN=127.0.0.1", "-days", "1", "-keyout", str(key), "-out", str(cert)]
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", *subject], check=True, capture_output=True
    )
    return key, cert


@pytest.fixture
async def self_signed_server(self_signed_cert: tuple[Path, Path]) -> AsyncIterator[int]:
    key, cert = self_signed_cert
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0, ssl=context)
    yield int(server.sockets[0].getsockname()[1])
    server.close()
    await server.wait_closed()


async def test_an_untrusted_certificate(self_signed_server: int) -> None:
    config = BcConnection(
        f"https://127.0.0.1:{self_signed_server}/BC/api/v2.0",
        "CRONUS",
        OAuthClientCredentials(f"https://127.0.0.1:{self_signed_server}/t/oauth2/v2.0/token", "app", "secret"),
    )
    results = await check_bc_connection(config, time_limit=LIMIT)
    assert _names(results) == ["dns", "connect"]
    assert results[1].message.startswith(f"the TLS certificate of 127.0.0.1:{self_signed_server} is not trusted")
    assert "self-signed" in results[1].message or "self signed" in results[1].message


async def test_a_wrong_client_secret_gives_entra_s_text(bc_simulator: BcSimulator) -> None:
    results = await check_bc_connection(connection_for(bc_simulator, secret="not-it"), time_limit=LIMIT)
    assert _names(results) == ["dns", "connect", "token"]
    assert "AADSTS7000215: Invalid client secret provided." in results[2].message
    assert "not-it" not in results[2].message


async def test_credentials_bc_rejects(bc_simulator: BcSimulator, bc_simulator_factory: Factory) -> None:
    bc_simulator.identity().enabled = False  # a token from Entra, but the app is not enabled in BC
    results = await check_bc_connection(connection_for(bc_simulator), time_limit=LIMIT)
    assert _names(results) == ["dns", "connect", "token", "api"]
    message = results[3].message
    assert "401 Authentication_InvalidCredentials" in message and "Microsoft Entra Applications" in message

    onprem = await bc_simulator_factory(deployment="onprem")
    basic = await check_bc_connection(connection_for(onprem, secret="wrong-key"), time_limit=LIMIT)
    assert _names(basic) == ["dns", "connect", "api"]
    assert "check the user name 'DEMO' and its access key" in basic[2].message
    assert "wrong-key" not in basic[2].message


async def test_an_api_switched_off_on_premises(bc_simulator_factory: Factory) -> None:
    sim = await bc_simulator_factory(deployment="onprem")
    sim.add_fault("status", path="*/api/v2.0/companies", status=405, times=None)
    results = await check_bc_connection(connection_for(sim), time_limit=LIMIT)
    assert _names(results) == ["dns", "connect", "api"]
    assert results[2].message.startswith(f"the API is disabled at {sim.base_url} (405")
    assert "enable API services" in results[2].message


async def test_a_wrong_environment(bc_simulator: BcSimulator) -> None:
    good = connection_for(bc_simulator)
    wrong = BcConnection(good.api_url.replace("/production/", "/sandbox/"), good.company, good.auth)
    results = await check_bc_connection(wrong, time_limit=LIMIT)
    assert results[-1].name == "api" and results[-1].message.startswith(f"no BC API at {wrong.api_url} (404")


async def test_an_unknown_company_lists_the_companies(bc_simulator: BcSimulator) -> None:
    bc_simulator.add_company("FABRIKAM")
    results = await check_bc_connection(connection_for(bc_simulator, company="CONTOSO"), time_limit=LIMIT)
    assert _names(results) == ["dns", "connect", "token", "api", "company"]
    assert results[4].message == "company 'CONTOSO' not found; the companies are: 'CRONUS', 'FABRIKAM'"


async def test_an_identity_without_a_permission_names_the_set(bc_simulator: BcSimulator) -> None:
    bc_simulator.add_identity(
        Identity(
            name="LIMITED",
            client_id="11111111-2222-4333-8444-555555555555",
            client_secret="limited-secret",
            permissions={"*": "read", "salesQuotes": "none", "itemLedgerEntries": "none"},
        )
    )
    results = await check_bc_connection(connection_for(bc_simulator, "LIMITED"), time_limit=LIMIT)
    failed = _failed(results)
    assert [r.name for r in failed if r.required] == ["read:itemLedgerEntries", "read:salesQuotes"]
    assert failed[0].message.startswith("cannot read itemLedgerEntries: missing permission (Sorry, the current")
    assert "read:items" in _names(results) and all(r.ok for r in results if r.name == "read:items")


async def test_unpublished_pages_are_named_with_their_page_number(bc_simulator: BcSimulator) -> None:
    bc_simulator.publish("ItemUnitsOfMeasure")
    results = await check_bc_connection(connection_for(bc_simulator), time_limit=LIMIT)
    pages = {r.name: r for r in results if r.name.startswith("page:")}
    assert pages["page:ItemUnitsOfMeasure"].ok
    missing = pages["page:ItemLedgerEntries"]
    assert not missing.ok and not missing.required
    assert (
        missing.message
        == "ItemLedgerEntries is not published: publish page 38 as ItemLedgerEntries (page Web Services)"
    )
    assert not pages["page:Resources"].ok and "publish page 77 as Resources" in pages["page:Resources"].message
    assert [r for r in results if r.required and not r.ok] == []


async def test_a_session_can_be_given(bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession) -> None:
    results = await check_bc_connection(
        connection_for(bc_simulator), session=bc_session, pages={}, entity_sets=["items"]
    )
    assert _names(results) == ["dns", "connect", "token", "api", "company", "read:items"]
    assert not bc_session.closed
