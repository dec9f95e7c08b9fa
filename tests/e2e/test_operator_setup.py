"""The setup as an operator meets it: the OData URL handed to Sales follows BCGW_PUBLIC_URL unless
one was set; values a real Sales cannot use are warned about (CLI, admin API); `setup test` says
exactly what is wrong with the Dataverse connection."""

from __future__ import annotations

import dataclasses
import json
import socket
from typing import Any

from gateway.config import Settings
from orders.change_setup import SetupService
from orders.setup import SetupChange
from tests.support.helpers import cli
from tests.support.sales_simulator import SalesSimulator

V3 = "/OData/Company('CRONUS')/ProductItemAvailability"


def _public(settings: Settings, url: str | None) -> Settings:
    return dataclasses.replace(settings, public_url=url)


async def test_the_odata_url_follows_the_public_url_unless_set(settings: Any, demo: Any, engine: Any) -> None:
    code, out, err = await cli(settings, "setup", "--enable-item-availability", "--json")
    assert code == 0, err
    assert json.loads(out)["odata_url"] == f"http://127.0.0.1:8080{V3}"
    # BCGW_PUBLIC_URL set after init: what Sales is told follows it.
    moved = _public(settings, "https://bc.example.com")
    code, out, _e = await cli_env(moved, "setup", "show")
    assert f"https://bc.example.com{V3}   (derived from BCGW_PUBLIC_URL" in out
    assert "127.0.0.1:8080/OData" not in out
    code, out, _e = await cli_env(moved, "setup", "--sdk-version", "9.1", "--json")
    assert json.loads(out)["odata_url"] == f"https://bc.example.com{V3}"
    # One set on purpose stays, whatever the public URL; --reset-odata-url derives it again.
    code, out, _e = await cli_env(moved, "setup", "--odata-url", "https://proxy.example.com/bc" + V3, "--json")
    assert json.loads(out)["odata_url"] == "https://proxy.example.com/bc" + V3
    code, out, _e = await cli_env(_public(settings, "https://other.example.com"), "setup", "show", "--json")
    assert json.loads(out)["odata_url"] == "https://proxy.example.com/bc" + V3
    code, out, _e = await cli_env(moved, "setup", "--reset-odata-url", "--json")
    assert json.loads(out)["odata_url"] == f"https://bc.example.com{V3}"
    # Typing the derived address keeps it derived.
    await cli_env(moved, "setup", "--odata-url", f"https://bc.example.com{V3}")
    assert (await SetupService(engine, moved).get()).odata_url == ""


async def cli_env(settings: Settings, *args: str) -> tuple[int, str, str]:
    """`cli`, with BCGW_PUBLIC_URL as `settings` has it (cli passes the database and company only)."""
    import asyncio
    import contextlib
    import io
    import os

    from gateway.cli import main

    env = dict(os.environ)
    env.update(BCGW_DATABASE_URL=settings.database_url, BCGW_COMPANY=settings.company, BCGW_LOG_LEVEL="WARNING")
    env.pop("BCGW_PUBLIC_URL", None)
    if settings.public_url:
        env["BCGW_PUBLIC_URL"] = settings.public_url
    out, err = io.StringIO(), io.StringIO()

    def run() -> int:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                return main(list(args), environ=env)
            except SystemExit as exc:
                return int(exc.code or 0)

    code = await asyncio.to_thread(run)
    return code, out.getvalue(), err.getvalue()


async def test_the_admin_api_hands_out_the_derived_url_and_warnings(settings: Any, demo: Any, api: Any) -> None:
    status, _h, body = await api.get("/api/setup")
    assert status == 200
    assert body["odata_url"].endswith(V3) and body["warnings"] == []  # the demo: nothing to warn of
    status, _h, body = await api.request(
        "PATCH", "/api/setup", json={"sales_url": "http://localhost:5555", "sales_order_integration_enabled": True}
    )
    assert status == 200
    warnings = body["warnings"]
    assert any("The Sales URL http://localhost:5555 is a loopback address" in w for w in warnings)
    assert any(
        w.startswith("Sales cannot deliver webhooks to http://127.0.0.1:8080/webhooks/dataverse") for w in warnings
    )
    assert any("the Dataverse connection is not set up" in w for w in warnings)
    status, _h, body = await api.get("/api/setup")
    assert body["warnings"] == warnings


async def test_setup_and_setup_show_print_the_warnings(settings: Any, demo: Any) -> None:
    code, out, err = await cli(settings, "setup", "show")
    assert code == 0 and "Warnings" not in out  # the demo
    code, out, err = await cli(
        settings,
        "setup",
        "--sales-url",
        "http://contoso.crm4.dynamics.com",
        "--enable-sales-order-integration",
        "--dataverse-url",
        "https://contoso.api.crm4.dynamics.com",
        "--dataverse-token-url",
        "https://login.microsoftonline.com/t/oauth2/v2.0/token",
        "--dataverse-client-id",
        "app",
    )
    assert code == 0, err
    assert "Warnings (the setup is saved, but a real Dynamics 365 Sales cannot work with this):" in out
    assert "The Sales URL http://contoso.crm4.dynamics.com uses plain http" in out
    assert "Sales cannot deliver webhooks to http://127.0.0.1:8080/webhooks/dataverse: it is a loopback address" in out
    assert "Sales cannot call the item availability service at http://127.0.0.1:8080/OData/" in out
    assert "'bc-gateway setup test' checks the connection to Sales now." in out
    code, out, _e = await cli(settings, "setup", "show")
    assert "uses plain http" in out and "BCGW_PUBLIC_URL" in out
    code, out, _e = await cli_env(_public(settings, "https://bc.example.com"), "setup", "show", "--json")
    warnings = json.loads(out)["warnings"]
    assert len(warnings) == 1 and "The Sales URL http://contoso" in warnings[0]


async def test_setup_history_has_a_header_and_says_when_empty(settings: Any, engine: Any) -> None:
    code, out, err = await cli(settings, "setup", "history")
    assert code == 0, err
    assert out.strip() == "No changes to the setup yet. 'bc-gateway setup' sets it up (it asks for each value)."
    await cli(settings, "setup", "--sdk-version", "9.1")
    code, out, _e = await cli(settings, "setup", "history")
    header, first = out.splitlines()[:2]
    assert header.split() == ["CHANGED", "AT", "BY", "FIELD", "OLD", "NEW"]
    assert "sdk_version" in first and "'9.1'" in first


# --- setup test ------------------------------------------------------------------------------------


async def _connect(settings: Any, engine: Any, sim: SalesSimulator, **values: Any) -> None:
    base = {
        "sales_url": sim.org_url,
        "dataverse_url": sim.org_url,
        "dataverse_token_url": sim.token_url,
        "dataverse_client_id": sim.client_id,
        "dataverse_client_secret": sim.client_secret,
    }
    await SetupService(engine, settings).change(SetupChange.parse({**base, **values}), "test")


def _lines(out: str) -> dict[str, str]:
    """check name -> 'RESULT details' from the table `setup test` prints."""
    found = {}
    for line in out.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[0] in ("ok", "FAILED"):
            found[parts[1]] = f"{parts[0]} {parts[2]}"
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_setup_test_passes_against_a_working_sales(settings: Any, engine: Any, sales_sim: SalesSimulator) -> None:
    await _connect(settings, engine, sales_sim)
    code, out, err = await cli(settings, "setup", "test")
    assert code == 0, out + err
    assert out.startswith(f"Dynamics 365 Sales (Dataverse Web API) at {sales_sim.org_url}\nRESULT  CHECK")
    checks = _lines(out)
    assert list(checks) == ["setup", "dns", "connect", "token", "whoami", "organisation"]
    assert all(v.startswith("ok ") for v in checks.values())
    assert f"as user {sales_sim.integration_user_id} in organisation {sales_sim.organization_id}" in checks["whoami"]
    assert "All 6 checks passed." in out
    assert sales_sim.client_secret not in out
    code, out, _e = await cli(settings, "setup", "test", "--json")
    data = json.loads(out)
    assert [r["name"] for r in data["dataverse"]] == list(checks) and all(r["ok"] for r in data["dataverse"])


async def test_setup_test_says_what_failed(settings: Any, engine: Any, sales_sim: SalesSimulator) -> None:
    async def run(**values: Any) -> tuple[int, dict[str, str], str]:
        await _connect(settings, engine, sales_sim, **values)
        code, out, err = await cli(settings, "setup", "test")
        assert sales_sim.client_secret not in out + err
        return code, _lines(out), out

    code, checks, out = await run(dataverse_client_secret="wrong-secret")
    assert code == 1 and "1 of 5 checks failed" in out
    assert checks["token"].startswith("FAILED no token for client")
    assert "AADSTS7000215: Invalid client secret provided." in checks["token"]
    assert "check the client secret" in checks["token"] and "whoami" not in checks

    code, checks, _o = await run(dataverse_client_id="not-the-app")
    assert "unauthorized_client" in checks["token"] and "check the client id" in checks["token"]

    code, checks, _o = await run(dataverse_url="https://nonexistent.invalid")
    assert checks["dns"].startswith("FAILED nonexistent.invalid does not resolve (DNS)")
    assert "FAILED the Dataverse URL (nonexistent.invalid) is another organisation" in checks["organisation"]

    port = _free_port()
    code, checks, _o = await run(dataverse_token_url=f"http://127.0.0.1:{port}/t/oauth2/v2.0/token")
    assert checks["connect"] == f"FAILED connection to 127.0.0.1:{port} refused: nothing listens there (check the port)"

    tls = sales_sim.org_url.replace("http://", "https://")
    code, checks, _o = await run(dataverse_url=tls, sales_url=tls)
    assert checks["connect"].startswith(f"FAILED TLS with {tls.removeprefix('https://')} failed")

    sales_sim.fail_next("GET", "WhoAmI", status=401)
    code, checks, _o = await run()
    assert checks["token"].startswith("ok") and checks["whoami"].startswith("FAILED the Web API refused the token")
    assert "create an application user" in checks["whoami"]

    sales_sim.fail_next("GET", "WhoAmI", status=403)
    code, checks, _o = await run()
    assert "security role Dynamics 365 Business Central Integration User" in checks["whoami"]

    code, checks, _o = await run(sales_url="https://fabrikam.crm.dynamics.com")
    assert code == 1 and checks["whoami"].startswith("ok")
    assert checks["organisation"].startswith("FAILED the Dataverse URL (127.0.0.1) is another organisation")


async def test_setup_test_without_a_dataverse_setup(settings: Any, engine: Any) -> None:
    code, out, _e = await cli(settings, "setup", "test")
    assert code == 1
    checks = _lines(out)
    assert checks["setup"].startswith("FAILED not set up: bc-gateway setup --dataverse-url")
    assert checks["organisation"].startswith("FAILED the Sales URL is not set")


def test_same_organisation() -> None:
    from orders.dataverse.connection_check import same_organisation

    assert same_organisation("https://contoso.api.crm4.dynamics.com", "https://contoso.crm4.dynamics.com/")
    assert same_organisation("https://CONTOSO.crm.dynamics.com", "https://contoso.crm.dynamics.com")
    assert not same_organisation("https://fabrikam.crm.dynamics.com", "https://contoso.crm.dynamics.com")
