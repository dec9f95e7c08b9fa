"""The connection setup's rules through the service, the admin API and the CLI."""

from __future__ import annotations

import json
from typing import Any

import pytest

from orders.change_setup import SetupService
from orders.setup import SetupChange, SetupError
from orders.setup_rules import MSG_AUTO_CREATE_NEEDS_INTEGRATION, default_odata_url, effective_odata_url
from schemas.users import UserService
from tests.support.helpers import basic, cli, run_cli


@pytest.fixture
def service(engine: Any, settings: Any) -> SetupService:
    return SetupService(engine, settings)


async def _users(engine: Any) -> UserService:
    users = UserService(engine)
    await users.add("SALES", roles={"PRODUCT_AVAILABILITY"})
    await users.add("OPS", roles={"INTEGRATION"})
    await users.add("GONE", roles={"PRODUCT_AVAILABILITY"})
    await users.set_enabled("GONE", False)
    return users


async def test_enabling_availability_fills_the_v3_url_and_disabling_clears_it(
    service: SetupService, settings: Any
) -> None:
    result = await service.change(SetupChange.parse({"item_availability_enabled": True}), "t")
    assert result.setup.odata_url == ""  # derived (test_operator_setup: it follows BCGW_PUBLIC_URL)
    assert effective_odata_url(result.setup, settings) == default_odata_url(settings)
    assert default_odata_url(settings).endswith("/OData/Company('CRONUS')/ProductItemAvailability")
    result = await service.change(
        SetupChange.parse({"odata_url": "https://bc.example.com/OData/Company('CRONUS')/ProductItemAvailability"}), "t"
    )
    assert result.setup.odata_url.startswith("https://bc.example.com/")
    result = await service.change(SetupChange.parse({"reset_odata_url": True}), "t")
    assert effective_odata_url(result.setup, settings) == default_odata_url(settings)
    result = await service.change(SetupChange.parse({"item_availability_enabled": False}), "t")
    assert result.setup.odata_url == ""


@pytest.mark.parametrize(
    ("user", "message"),
    [
        ("NOBODY", "The user NOBODY does not exist."),
        ("OPS", "does not have the role PRODUCT_AVAILABILITY"),
        ("gone", "The user GONE is disabled"),
    ],
)
async def test_odata_user_must_be_an_enabled_availability_user(
    service: SetupService, engine: Any, user: str, message: str
) -> None:
    await _users(engine)
    with pytest.raises(SetupError, match=message):
        await service.change(SetupChange.parse({"odata_username": user}), "t")
    result = await service.change(SetupChange.parse({"odata_username": "sales"}), "t")
    assert result.setup.odata_username == "SALES"


async def test_auto_create_needs_sales_order_integration(service: SetupService) -> None:
    with pytest.raises(SetupError) as exc:
        await service.change(SetupChange.parse({"auto_create_sales_orders": True}), "t")
    assert str(exc.value) == MSG_AUTO_CREATE_NEEDS_INTEGRATION
    result = await service.change(
        SetupChange.parse({"sales_order_integration_enabled": True, "auto_create_sales_orders": True}), "t"
    )
    assert result.setup.auto_create_sales_orders
    result = await service.change(SetupChange.parse({"sales_order_integration_enabled": False}), "t")
    assert not result.setup.auto_create_sales_orders and not result.setup.sales_order_integration_enabled


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"sales_url": "contoso"}, "not an absolute http"),
        ({"dataverse_url": "ftp://x"}, "not an absolute http"),
        ({"webhook_auth_mode": "basic"}, "must be 'header'"),
        ({"webhook_header_name": "bad header"}, "cannot be used as the webhook header name"),
        ({"webhook_header_name": "Host"}, "cannot be used"),
        ({"nonsense": 1}, "Unknown setup field"),
        ({"item_availability_enabled": "yes"}, "must be true or false"),
        ({"sdk_version": "9" * 31}, "at most 30"),
    ],
)
async def test_invalid_values(service: SetupService, values: dict[str, Any], message: str) -> None:
    with pytest.raises(SetupError, match=message):
        await service.change(SetupChange.parse(values), "t")


async def test_every_change_is_recorded_with_secrets_masked(service: SetupService) -> None:
    await service.change(SetupChange.parse({"sales_url": "https://contoso.crm4.dynamics.com/"}), "alice")
    result = await service.change(
        SetupChange.parse({"dataverse_client_secret": "super-secret-value-1234", "webhook_auth_mode": "code"}), "bob"
    )
    assert result.webhook_secret  # the first webhook setup makes a secret, shown once
    history = await service.history()
    text = json.dumps(history)
    assert "super-secret-value-1234" not in text and result.webhook_secret not in text
    by_field = {h["field"]: h for h in history}
    assert by_field["sales_url"]["changed_by"] == "alice"
    assert by_field["sales_url"]["old"] == "" and by_field["sales_url"]["new"] == "https://contoso.crm4.dynamics.com"
    assert by_field["dataverse_client_secret"]["new"] == "********1234"
    assert by_field["webhook_secret"]["new"] == "(new secret)"
    assert await service.webhook_secret_matches(result.webhook_secret)
    assert not await service.webhook_secret_matches("nope")


async def test_admin_api_same_rules_and_messages(api: Any, engine: Any) -> None:
    status, _h, body = await api.get("/api/setup")
    assert status == 200 and body["item_availability_enabled"] is True
    assert body["webhook_secret"] in ("set", "not set")
    status, _h, body = await api.request("PATCH", "/api/setup", json={"auto_create_sales_orders": True})
    assert status == 422
    assert body["error"]["message"] == MSG_AUTO_CREATE_NEEDS_INTEGRATION
    status, _h, body = await api.request(
        "PATCH",
        "/api/setup",
        json={
            "sales_order_integration_enabled": True,
            "auto_create_sales_orders": True,
            "dataverse_client_secret": "abcdefghijklmnop-9876",
        },
    )
    assert status == 200, body
    assert body["setup"]["auto_create_sales_orders"] is True
    assert body["setup"]["dataverse_client_secret"] == "********9876"
    assert "auto_create_sales_orders" in body["changed"]
    status, _h, body = await api.request("PATCH", "/api/setup", data=b"{not json")
    assert status == 400
    status, _h, body = await api.request("PATCH", "/api/setup", json=[1, 2])
    assert status == 400
    status, _h, history = await api.get("/api/setup/history")
    assert status == 200 and any(h["changed_by"] == "DEMO" for h in history)
    status, _h, users = await api.get("/api/users")
    assert status == 200 and [u["user_name"] for u in users] == ["DEMO"]
    assert "key_hash" not in users[0]
    await UserService(engine).add("OPS", roles={"INTEGRATION"})
    _u, key = await UserService(engine).change_key("OPS")
    status, _h, body = await api.request("PATCH", "/api/setup", auth=basic("OPS", key), json={})
    assert status == 403


async def test_cli_same_rules_and_messages(settings: Any, engine: Any) -> None:
    await _users(engine)
    code, _out, err = await cli(settings, "setup", "--auto-create-sales-orders")
    assert code == 1 and MSG_AUTO_CREATE_NEEDS_INTEGRATION in err
    code, _out, err = await cli(settings, "setup", "--odata-user", "OPS")
    assert code == 1 and "does not have the role PRODUCT_AVAILABILITY" in err
    code, _out, err = await cli(settings, "setup", "--webhook-auth", "basic")
    assert code == 2 and "--webhook-auth takes header:NAME or code" in err


async def test_setup_on_a_fresh_database_gives_working_nav_connection_values(
    settings: Any, engine: Any, gateway_server: Any
) -> None:
    """Non-interactive setup prints the nav_connection values; the printed key then works."""
    from tests.support.helpers import Api

    await UserService(engine).add("SALESAVAIL", roles={"PRODUCT_AVAILABILITY"})
    code, out, err = await run_cli(
        settings,
        "setup",
        "--json",
        "--sales-url",
        "https://contoso.crm4.dynamics.com",
        "--enable-item-availability",
        "--odata-user",
        "SALESAVAIL",
        "--new-key",
        "--enable-sales-order-integration",
        "--auto-create-sales-orders",
        "--webhook-auth",
        "header:x-bc-secret",
        "--dataverse-url",
        "https://contoso.crm4.dynamics.com",
        "--dataverse-token-url",
        "https://login.microsoftonline.com/tenant/oauth2/v2.0/token",
        "--dataverse-client-id",
        "app-id",
        "--dataverse-client-secret",
        "-",
        stdin="client-secret-from-stdin\n",
    )
    assert code == 0, err
    values = json.loads(out)
    assert set(values) >= {"odata_url", "odata_username", "odata_accesskey", "webhook_url", "webhook_secret"}
    assert values["odata_username"] == "SALESAVAIL"
    assert len(values["odata_accesskey"]) == 44
    assert values["webhook_url"].endswith("/webhooks/dataverse")
    assert values["webhook_secret"]
    setup = await SetupService(engine, settings).get()
    assert setup.dataverse_client_secret == "client-secret-from-stdin"
    # The printed URL's path, user and key answer as Sales would ask.
    path = values["odata_url"].split("8080", 1)[1]
    async with Api(gateway_server, "SALESAVAIL", values["odata_accesskey"]) as sales:
        status, _h, body = await sales.get(path + "?$filter=ItemNo%20eq%20'1896-S'")
        assert status == 200 and body["value"][0]["ItemNo"] == "1896-S"
    code, shown, _e = await run_cli(settings, "setup", "show")
    assert code == 0 and "client-secret-from-stdin" not in shown and values["webhook_secret"] not in shown


async def test_interactive_guide(settings: Any, engine: Any) -> None:
    await _users(engine)
    first_round = [
        "contoso",  # not an address: asked again
        "https://contoso.crm4.dynamics.com",  # Sales URL
        "",  # enable item availability: the default on a first setup is yes
        "",  # the OData URL: keep the default this gateway computes
        "NOBODY",  # an unknown user: the service refuses it after the summary
        "n",  # no new key
        "y",  # sales order integration
        "y",  # auto create
        "n",  # auto process quotes
        "code",  # webhook auth
        "https://contoso.crm4.dynamics.com",
        "https://login.example.com/token",
        "client-id",
        "the-secret",
        "",  # SDK version: none
        "",  # Business Central: embedded, the default
        "y",  # save
    ]
    second_round = [
        "",  # Sales URL kept from the first round
        "",
        "",
        "SALES",  # a real availability user this time
        "n",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",  # the secret: keep it
        "",
        "",  # Business Central: embedded
        "y",
    ]
    answers = "\n".join([*first_round, "y", *second_round]) + "\n"
    code, out, err = await run_cli(settings, "setup", "--interactive", stdin=answers)
    assert code == 0, err + out
    assert "'contoso' is not an absolute http:// or https:// address" in out
    assert "The user NOBODY does not exist." in out and "Go through the fields again?" in out
    assert "Summary:" in out and "the-secret" not in out
    assert "nav_dynamicsnavodatausername   SALES" in out
    assert "authentication WebhookKey:" in out
    setup = await SetupService(engine, settings).get()
    assert setup.auto_create_sales_orders and setup.webhook_auth_mode == "code"
    assert setup.odata_username == "SALES" and setup.dataverse_client_id == "client-id"
    assert effective_odata_url(setup, settings).endswith("/OData/Company('CRONUS')/ProductItemAvailability")
    assert setup.dataverse_client_secret == "the-secret"  # typed in the first round, kept


async def test_sales_and_receivables_setup_through_cli_and_api(settings: Any, engine: Any, api: Any) -> None:
    code, out, err = await cli(
        settings,
        "setup",
        "--write-in-product",
        "resource:LINA",
        "--local-currency",
        "usd",
        "--freight-gl-account",
        "6710",
        "--option-mapping",
        "payment-terms:1=N30",
        "--option-mapping",
        "shipping-agent:4=UPS-GROUND",
    )
    assert code == 0, err
    code, out, _e = await cli(settings, "setup", "show", "--json")
    view = json.loads(out)
    assert view["write_in_product"] == "resource:LINA"
    assert view["local_currency_code"] == "USD" and view["freight_gl_account"] == "6710"
    assert view["payment_terms"]["1"] == "N30" and view["payment_terms"]["2"] == "2%10NET30"
    assert view["shipping_agents"]["4"] == "UPS-GROUND"
    code, _o, err = await cli(settings, "setup", "--write-in-product", "item:NOPE")
    assert code == 1 and "The Item does not exist. Identification fields and values: No.='NOPE'" in err
    code, _o, err = await cli(settings, "setup", "--option-mapping", "colour:1=RED")
    assert code == 2 and "--option-mapping takes KIND:VALUE=CODE" in err
    status, _h, body = await api.request("PATCH", "/api/setup", json={"payment_terms": {"3": "TOO-LONG-CODE"}})
    assert status == 422 and "at most 10 characters" in body["error"]["message"]
    status, _h, body = await api.request("PATCH", "/api/setup", json={"write_in_product": "item:1896-S"})
    assert status == 200 and body["setup"]["write_in_product"] == "item:1896-S"
    history = await SetupService(engine, settings).history()
    assert any(h["field"] == "write_in_product_no" and h["new"] == "1896-S" for h in history)


async def test_setup_on_an_empty_database_makes_a_working_availability_user(tmp_path: Any, aiohttp_server: Any) -> None:
    """No init first: the command sets the database up, creates the user, prints the values."""
    import dataclasses

    from gateway.app import create_app
    from gateway.config import Settings
    from tests.support.helpers import Api

    settings = dataclasses.replace(Settings(), database_url=f"sqlite+aiosqlite:///{tmp_path}/empty.db")
    code, out, err = await run_cli(
        settings,
        "setup",
        "--json",
        "--enable-item-availability",
        "--odata-user",
        "SALESAVAIL",
        "--create-odata-user",
        "--new-key",
    )
    assert code == 0, err
    assert "created its schema" in err
    values = json.loads(out)
    assert values["odata_username"] == "SALESAVAIL" and len(values["odata_accesskey"]) == 44
    server = await aiohttp_server(create_app(settings, worker=False))
    path = values["odata_url"].split("8080", 1)[1]
    async with Api(server, "SALESAVAIL", values["odata_accesskey"]) as sales:
        status, _h, body = await sales.get(path)
        assert status == 200 and body["value"] == []  # no items yet, but the service answers
        status, _h, _b = await sales.get("/ODataV4/Customers")
        assert status == 403  # the availability role only
    code, _o, err = await run_cli(settings, "setup", "--create-odata-user")
    assert code == 1 and "--create-odata-user needs --odata-user NAME." in err


async def test_first_webhook_secret_through_the_api(api: Any) -> None:
    """Switching sales order integration on makes the webhook's first secret, whoever asks."""
    status, _h, body = await api.request("PATCH", "/api/setup", json={"sales_order_integration_enabled": True})
    assert status == 200
    assert body["webhook_secret"] and body["setup"]["webhook_secret"] == "set"
    status, _h, body = await api.request("PATCH", "/api/setup", json={"sdk_version": "9.1"})
    assert status == 200 and body["webhook_secret"] is None  # shown once, not again
    status, _h, body = await api.request("PATCH", "/api/setup", json={"odata_username": "NOBODY"})
    assert status == 422 and body["error"]["message"] == "The user NOBODY does not exist."
    status, _h, body = await api.request("PATCH", "/api/setup", json={"auto_process_sales_quotes": True})
    assert status == 200 and body["setup"]["auto_process_sales_quotes"] is True
    status, _h, body = await api.request("PATCH", "/api/setup", json={"sales_order_integration_enabled": False})
    assert status == 200 and body["setup"]["auto_process_sales_quotes"] is False
