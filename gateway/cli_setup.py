"""`bc-gateway setup`: BC's assisted setup guide for the connection, interactive or by flags."""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import sys
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.config import Settings
from orders.change_setup import SetupService
from orders.setup import ConnectionSetup, SetupChange, SetupError
from orders.setup_rules import check_header_name, check_url, default_odata_url, webhook_url
from schemas.roles import PRODUCT_AVAILABILITY


def add_setup_parser(sub: Any) -> None:
    s = sub.add_parser("setup", help="the Dynamics 365 Sales connection setup (assisted, or by flags)")
    s.add_argument("action", nargs="?", choices=["show", "history"], help="show the setup, or its change log")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.add_argument("--interactive", action="store_true", help="ask for each field even without a terminal")
    s.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    s.add_argument("--sales-url")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--enable-item-availability", dest="item_availability", action="store_const", const=True)
    g.add_argument("--disable-item-availability", dest="item_availability", action="store_const", const=False)
    s.add_argument("--odata-url")
    s.add_argument("--reset-odata-url", action="store_true", help="back to this gateway's V3 address")
    s.add_argument("--odata-user", help="the user Sales queries availability as (role PRODUCT_AVAILABILITY)")
    s.add_argument(
        "--new-key",
        action="store_true",
        help="make a new access key for the OData user and print it",
    )
    s.add_argument(
        "--create-odata-user",
        action="store_true",
        help="create the --odata-user (role PRODUCT_AVAILABILITY) if it does not exist",
    )
    g = s.add_mutually_exclusive_group()
    g.add_argument("--enable-sales-order-integration", dest="so_integration", action="store_const", const=True)
    g.add_argument(
        "--disable-sales-order-integration",
        dest="so_integration",
        action="store_const",
        const=False,
    )
    s.add_argument("--auto-create-sales-orders", action=argparse.BooleanOptionalAction)
    s.add_argument("--auto-process-sales-quotes", action=argparse.BooleanOptionalAction)
    s.add_argument("--sdk-version")
    s.add_argument("--webhook-auth", metavar="header:NAME|code")
    s.add_argument("--new-webhook-secret", action="store_true", help="make a new webhook secret and print it")
    s.add_argument("--dataverse-url")
    s.add_argument("--dataverse-token-url")
    s.add_argument("--dataverse-client-id")
    s.add_argument("--dataverse-client-secret", help="the secret, or - to read it from standard input")
    # BC's Sales & Receivables Setup, for order processing.
    s.add_argument("--write-in-product", metavar="item|resource:NO", help="the Write-in Product for write-in lines")
    s.add_argument("--local-currency", metavar="CODE", help="ISO code of the local currency (blank on documents)")
    s.add_argument("--freight-gl-account", metavar="NO", help="G/L account for freight lines")
    s.add_argument(
        "--option-mapping",
        action="append",
        metavar="KIND:VALUE=CODE",
        help="map a Sales option value to a BC code; KIND is payment-terms, shipping-agent or shipment-method",
    )
    s.set_defaults(func=cmd_setup)


_MAPPING_KINDS = {
    "payment-terms": "payment_terms",
    "shipping-agent": "shipping_agents",
    "shipment-method": "shipment_methods",
}


def _sales_setup_values(args: argparse.Namespace) -> dict[str, Any]:
    v: dict[str, Any] = {}
    if args.write_in_product is not None:
        v["write_in_product"] = args.write_in_product
    if args.local_currency is not None:
        v["local_currency_code"] = args.local_currency
    if args.freight_gl_account is not None:
        v["freight_gl_account"] = args.freight_gl_account
    for text in args.option_mapping or ():
        kind, _, rest = text.partition(":")
        value, eq, code = rest.partition("=")
        if kind not in _MAPPING_KINDS or not eq or not value.strip().isdigit():
            raise SetupError(f"--option-mapping takes KIND:VALUE=CODE with KIND one of {', '.join(_MAPPING_KINDS)}.")
        v.setdefault(_MAPPING_KINDS[kind], {})[value.strip()] = code
    return v


def _flag_values(args: argparse.Namespace) -> dict[str, Any]:
    v: dict[str, Any] = {}
    if args.sales_url is not None:
        v["sales_url"] = args.sales_url
    if args.item_availability is not None:
        v["item_availability_enabled"] = args.item_availability
    if args.odata_url is not None:
        v["odata_url"] = args.odata_url
    if args.reset_odata_url:
        v["reset_odata_url"] = True
    if args.odata_user is not None:
        v["odata_username"] = args.odata_user
    if args.so_integration is not None:
        v["sales_order_integration_enabled"] = args.so_integration
    if args.auto_create_sales_orders is not None:
        v["auto_create_sales_orders"] = args.auto_create_sales_orders
    if args.auto_process_sales_quotes is not None:
        v["auto_process_sales_quotes"] = args.auto_process_sales_quotes
    if args.sdk_version is not None:
        v["sdk_version"] = args.sdk_version
    if args.webhook_auth is not None:
        mode, _, header = args.webhook_auth.partition(":")
        if mode == "code" and not header:
            v["webhook_auth_mode"] = "code"
        elif mode == "header" and header:
            v["webhook_auth_mode"] = "header"
            v["webhook_header_name"] = header
        else:
            raise SetupError("--webhook-auth takes header:NAME or code.")
    if args.new_webhook_secret:
        v["rotate_webhook_secret"] = True
    for name in ("dataverse_url", "dataverse_token_url", "dataverse_client_id"):
        if getattr(args, name) is not None:
            v[name] = getattr(args, name)
    if args.dataverse_client_secret is not None:
        given = args.dataverse_client_secret
        # '-' reads it from standard input, so that it does not show in the process list.
        v["dataverse_client_secret"] = sys.stdin.readline().strip() if given == "-" else given
    return v


# --- interactive guide ------------------------------------------------------------------------


def _ask(prompt: str, default: str, read: Callable[[str], str]) -> str:
    shown = f" [{default}]" if default else ""
    answer = read(f"{prompt}{shown}: ").strip()
    return answer or default


def _ask_bool(prompt: str, default: bool, read: Callable[[str], str]) -> bool:
    while True:
        answer = read(f"{prompt} [{'Y/n' if default else 'y/N'}]: ").strip().lower()
        if not answer:
            return default
        if answer in ("y", "yes"):
            return True
        if answer in ("n", "no"):
            return False
        print("  Please answer y or n.")


def _ask_checked(prompt: str, default: str, read: Callable[[str], str], check: Callable[[str], str]) -> str:
    """Ask until the answer passes `check` (the setup service's own check of that field)."""
    while True:
        answer = _ask(prompt, default, read)
        try:
            return check(answer)
        except SetupError as exc:
            print(f"  {exc}")


def guide(
    current: ConnectionSetup,
    default_odata_url: str,
    read: Callable[[str], str] = input,
    secret: Callable[[str], str] = getpass.getpass,
) -> tuple[dict[str, Any], bool]:
    """Ask for each field like BC's assisted setup guide; returns the values and 'new key?'."""
    print("Set up the Dynamics 365 Sales connection. Press Enter to keep the value in brackets.")
    v: dict[str, Any] = {}
    v["sales_url"] = _ask_checked(
        "Dynamics 365 Sales URL", current.sales_url, read, lambda a: check_url("sales_url", a)
    )
    # The first time through, the guide suggests publishing the service, as BC's does.
    first_time = not (current.sales_url or current.odata_url or current.odata_username)
    v["item_availability_enabled"] = _ask_bool(
        "Do you want to enable the Item Availability web service?",
        current.item_availability_enabled or first_time,
        read,
    )
    new_key = False
    if v["item_availability_enabled"]:
        v["odata_url"] = _ask_checked(
            "Business Central OData Web Service URL (the one Sales calls)",
            current.odata_url or default_odata_url,
            read,
            lambda a: check_url("odata_url", a),
        )
        v["odata_username"] = _ask(
            "Business Central OData Web Service Username (role PRODUCT_AVAILABILITY)",
            current.odata_username,
            read,
        )
        new_key = _ask_bool("Make a new access key for that user now (the old one stops working)?", False, read)
    v["sales_order_integration_enabled"] = _ask_bool(
        "Enable sales order integration?", current.sales_order_integration_enabled, read
    )
    if v["sales_order_integration_enabled"]:
        v["auto_create_sales_orders"] = _ask_bool(
            "Automatically create sales orders?", current.auto_create_sales_orders, read
        )
        v["auto_process_sales_quotes"] = _ask_bool(
            "Automatically process sales quotes?", current.auto_process_sales_quotes, read
        )
        mode = ""
        while mode not in ("header", "code"):
            mode = _ask("Webhook authentication: header or code", current.webhook_auth_mode, read).lower()
        v["webhook_auth_mode"] = mode
        if mode == "header":
            v["webhook_header_name"] = _ask_checked(
                "Webhook header name", current.webhook_header_name, read, check_header_name
            )
        v["dataverse_url"] = _ask_checked(
            "Dataverse organisation URL (https://org.crm.dynamics.com)",
            current.dataverse_url,
            read,
            lambda a: check_url("dataverse_url", a),
        )
        v["dataverse_token_url"] = _ask_checked(
            "OAuth token URL", current.dataverse_token_url, read, lambda a: check_url("dataverse_token_url", a)
        )
        v["dataverse_client_id"] = _ask("Application (client) id", current.dataverse_client_id, read)
        typed = secret("Client secret (Enter keeps the current one): ").strip()
        if typed:
            v["dataverse_client_secret"] = typed
    v["sdk_version"] = _ask(
        "Dynamics 365 SDK version (on-premises Sales only; Enter to skip)", current.sdk_version, read
    )
    return v, new_key


# --- command ------------------------------------------------------------------------------------


def _print_view(view: dict[str, Any]) -> None:
    for key, value in view.items():
        if isinstance(value, dict):
            for k2, v2 in value.items():
                print(f"{key + '.' + k2:<40} {v2}")
        else:
            print(f"{key:<40} {value}")


def cmd_setup(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.cli import _fail, _run, _who, _with_engine

    async def show(engine: AsyncEngine) -> Any:
        service = SetupService(engine, settings)
        if args.action == "history":
            return await service.history()
        return await service.view()

    if args.action:
        result = _run(_with_engine(settings, show))
        if args.json:
            print(json.dumps(result, indent=2, default=str))
        elif args.action == "history":
            for change in result:
                print(
                    f"{change['changed_at']}  {change['changed_by']:<16} {change['field']}: "
                    f"{change['old']!r} -> {change['new']!r}"
                )
        else:
            _print_view(result)
        return 0

    try:
        values = _flag_values(args)
        sales_values = _sales_setup_values(args)
    except SetupError as exc:
        _fail(str(exc), 2)
    new_key = args.new_key

    async def run(engine: AsyncEngine) -> dict[str, Any]:
        from schemas.users import UserService

        service = SetupService(engine, settings)
        current = await service.get()
        nonlocal values, new_key
        interactive = args.interactive or (not values and not sales_values and not new_key and sys.stdin.isatty())
        users = UserService(engine)
        typed_secret: dict[str, Any] = {}
        while interactive:
            values, new_key = guide(current, default_odata_url(settings))
            # A secret typed in an earlier round (not saved then) is kept unless typed again.
            values = {**typed_secret, **values}
            summary = {k: ("********" if "secret" in k else v) for k, v in values.items()}
            print("\nSummary:")
            _print_view(summary)
            if not args.yes and not _ask_bool("Save this setup?", True, input):
                raise SetupError("Nothing was saved.")
            try:
                result = await service.change(SetupChange.parse(values), changed_by=_who())
                break
            except SetupError as exc:
                # A rule the fields alone cannot show (an unknown user, say): say so, ask again.
                print(f"\n{exc}")
                if not _ask_bool("Go through the fields again?", True, input):
                    raise
                typed_secret = {k: v for k, v in values.items() if k == "dataverse_client_secret"}
                known = {
                    k: v
                    for k, v in values.items()
                    if k in {f.name for f in dataclasses.fields(ConnectionSetup)} and k not in typed_secret
                }
                current = dataclasses.replace(current, **known)
        if args.create_odata_user:
            name = values.get("odata_username")
            if not name:
                raise SetupError("--create-odata-user needs --odata-user NAME.")
            if await users.find(name) is None:
                await users.add(name, "Dynamics 365 Sales availability", {PRODUCT_AVAILABILITY})
        if not interactive:
            result = await service.change(SetupChange.parse({**values, **sales_values}), changed_by=_who())
        setup = result.setup
        key = None
        if new_key:
            if not setup.odata_username:
                raise SetupError("--new-key needs an OData web service user (--odata-user).")
            _user, key = await users.change_key(setup.odata_username)
        return {
            "odata_url": setup.odata_url,
            "odata_username": setup.odata_username,
            "odata_accesskey": key,
            "webhook_url": webhook_url(settings),
            "webhook_auth": {
                "mode": setup.webhook_auth_mode,
                "header": setup.webhook_header_name if setup.webhook_auth_mode == "header" else None,
            },
            "webhook_secret": result.webhook_secret,
            "changed": sorted(result.changed),
        }

    try:
        out = _run(_with_engine(settings, run))
    except SetupError as exc:
        _fail(str(exc))
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(
        "Connection setup saved."
        + (f" Changed: {', '.join(out['changed'])}." if out["changed"] else " Nothing changed.")
    )
    print("\nEnter these values in Sales' nav_connection row:")
    print(f"  nav_dynamicsnavodataurl        {out['odata_url'] or '(item availability is not enabled)'}")
    print(f"  nav_dynamicsnavodatausername   {out['odata_username'] or '(no user chosen)'}")
    if out["odata_accesskey"]:
        print(f"  nav_dynamicsnavodataaccesskey  {out['odata_accesskey']}   (shown once; the old key no longer works)")
    else:
        print("  nav_dynamicsnavodataaccesskey  (unchanged: the user's current key; --new-key makes a new one)")
    print("\nRegister this webhook in Sales (Plug-in Registration Tool, step on Update of salesorder/quote):")
    print(f"  endpoint URL  {out['webhook_url']}")
    auth = out["webhook_auth"]
    secret = out["webhook_secret"] or "(unchanged; --new-webhook-secret makes a new one)"
    if auth["mode"] == "header":
        print(f"  authentication HttpHeader: {auth['header']} = {secret}")
    else:
        print(f"  authentication WebhookKey: {secret}")
    return 0
