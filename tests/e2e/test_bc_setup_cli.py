"""`bc-gateway setup --bc-mode api ...` and `bc-gateway setup test`, as processes, against the BC
simulator on loopback: secrets from standard input, never printed; every failure named."""

from __future__ import annotations

import json
from typing import Any

from orders.change_setup import SetupService
from tests.support.bc_simulator import BcSimulator
from tests.support.bc_simulator.client import Factory
from tests.support.helpers import run_cli

pytest_plugins = ["tests.support.bc_simulator.fixtures"]


def _oauth_flags(sim: BcSimulator, company: str = "CRONUS") -> list[str]:
    who = sim.identity("DEMO")
    assert who.client_id
    return [
        "--bc-mode",
        "api",
        "--bc-api-url",
        sim.base_url,
        "--bc-company",
        company,
        "--bc-auth",
        "oauth",
        "--bc-token-url",
        sim.token_url,
        "--bc-client-id",
        who.client_id,
        "--bc-client-secret",
        "-",
    ]


async def test_api_mode_by_flags_then_setup_test_passes(settings: Any, engine: Any, bc_simulator: BcSimulator) -> None:
    secret = bc_simulator.identity("DEMO").client_secret
    bc_simulator.publish("ItemLedgerEntries")
    code, out, err = await run_cli(
        settings,
        "setup",
        "--json",
        *_oauth_flags(bc_simulator),
        "--bc-ledger-entries-service",
        "ItemLedgerEntries",
        "--bc-item-units-service",
        "ItemUnitsOfMeasure",
        stdin=f"{secret}\n",
    )
    assert code == 0, err
    values = json.loads(out)
    assert values["bc"] == {"mode": "api", "api_url": bc_simulator.base_url, "company": "CRONUS"}
    assert secret not in out and secret not in err
    setup = await SetupService(engine, settings).get()
    assert setup.bc_client_secret == secret and setup.bc_api_mode

    code, out, err = await run_cli(settings, "setup", "test")
    assert code == 0, out + err
    lines = out.splitlines()
    assert lines[0] == "Business Central:"
    for step in ("dns", "connect", "token", "api", "company", "read:items", "page:ItemLedgerEntries"):
        assert any(line.split()[:2] == ["ok", step] for line in lines), (step, out)
    # Named but not published: a warning that says what to publish, not a failure.
    (warn,) = [line for line in lines if line.split()[:2] == ["warn", "page:ItemUnitsOfMeasure"]]
    assert "publish page 5404 as ItemUnitsOfMeasure" in warn
    assert "Every configured connection works." in out and secret not in out

    code, out, _err = await run_cli(settings, "setup", "test", "--json")
    assert code == 0 and json.loads(out)["ok"] is True

    code, shown, _err = await run_cli(settings, "setup", "show")
    assert code == 0 and secret not in shown and "bc_client_secret" in shown


async def test_setup_test_says_exactly_what_failed(settings: Any, bc_simulator: BcSimulator) -> None:
    code, _out, err = await run_cli(settings, "setup", *_oauth_flags(bc_simulator), stdin="wrong-secret\n")
    assert code == 0, err
    code, out, _err = await run_cli(settings, "setup", "test")
    assert code == 1
    (fail,) = [line for line in out.splitlines() if line.split()[:1] == ["FAILED"]]
    assert fail.split()[1] == "token" and "AADSTS" in fail and "wrong-secret" not in out
    assert "Fix the first one first" in out

    secret = bc_simulator.identity("DEMO").client_secret
    code, _out, err = await run_cli(
        settings, "setup", *_oauth_flags(bc_simulator, company="NOWHERE"), stdin=f"{secret}\n"
    )
    assert code == 0, err
    code, out, _err = await run_cli(settings, "setup", "test")
    assert code == 1
    (fail,) = [line for line in out.splitlines() if line.split()[:1] == ["FAILED"]]
    assert fail.split()[1] == "company" and "CRONUS" in fail


async def test_basic_on_premises_and_the_rules_in_the_cli(settings: Any, bc_simulator_factory: Factory) -> None:
    sim = await bc_simulator_factory(deployment="onprem")
    who = sim.identity("DEMO")
    assert who.user_name and who.access_key
    base = ["setup", "--bc-mode", "api", "--bc-api-url", sim.base_url, "--bc-company", "CRONUS", "--bc-auth", "basic"]
    code, _out, err = await run_cli(settings, *base, "--bc-user", who.user_name)
    assert code == 1
    assert "Business Central Web Service Access Key must have a value in Dynamics 365 Connection Setup" in err
    code, _out, err = await run_cli(
        settings, *base, "--bc-user", who.user_name, "--bc-access-key", "-", stdin=f"{who.access_key}\n"
    )
    assert code == 0, err
    code, out, err = await run_cli(settings, "setup", "test")
    assert code == 0, out + err
    assert "token" not in out  # Basic has no token step
    assert who.access_key not in out


async def test_setup_test_without_connections_says_what_to_do(settings: Any) -> None:
    code, out, _err = await run_cli(settings, "setup", "test")
    # Nothing set up: Sales' connection is reported as not set up (order processing needs it), and
    # what to set up is said.
    assert code == 1 and "No connection is configured" in out and "--bc-mode api" in out
