"""`bc-gateway setup`: BC's assisted setup guide for the connection, interactive or by flags; and
`setup show` / `setup history` / `setup test` (every configured connection checked, step by step).

The flags and the guide's questions come from the field definitions (orders/setup.py); the rules
are the setup service's, the same as the admin API's.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import sys
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.cli.common import Subcommands, fail, print_json, print_table, run, run_with_engine, who
from gateway.config import Settings
from orders.change_setup import ChangeResult, SetupService
from orders.connection_tests import check_connections
from orders.setup import ACTIONS, FIELD_BY_NAME, FIELDS, ConnectionSetup, FieldKind, SetupChange, SetupError
from orders.setup_rules import check_value, default_odata_url, effective_odata_url, setup_warnings, webhook_url
from schemas.roles import PRODUCT_AVAILABILITY
from schemas.users import UserService

_MAPPINGS = {d.mapping_key: d.name for d in FIELDS if d.kind is FieldKind.MAPPING}


def add_parsers(sub: Subcommands) -> None:
    s = sub.add_parser("setup", help="the Dynamics 365 Sales connection setup (assisted, or by flags)")
    s.add_argument(
        "action",
        nargs="?",
        choices=["show", "history", "test"],
        help="show the setup, its change log, or test every configured connection (BC, Sales); warnings are shown",
    )
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.add_argument("--interactive", action="store_true", help="ask for each field even without a terminal")
    s.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    for d in (*FIELDS, *ACTIONS):
        if d.action:
            s.add_argument(d.flag, dest=d.name, action="store_true", help=d.help)
        elif d.kind is FieldKind.BOOL and d.metavar == "on|off":
            s.add_argument(d.flag, dest=d.name, type=_on_off, metavar="on|off", help=d.help)
        elif d.kind is FieldKind.BOOL:
            g = s.add_mutually_exclusive_group()
            g.add_argument(d.flag, dest=d.name, action="store_const", const=True, help=d.help)
            g.add_argument(d.off_flag, dest=d.name, action="store_const", const=False, help=f"the opposite of {d.flag}")
        elif d.flag:
            help_ = f"{d.help}; - reads it from standard input" if d.secret else d.help
            metavar = d.metavar or d.flag.removeprefix("--").replace("-", "_").upper()
            s.add_argument(d.flag, dest=d.name, metavar=metavar, help=help_)
    # What the fields' own flags do not cover: the OData user's key, and combined options.
    s.add_argument("--new-key", action="store_true", help="make a new access key for the OData user and print it")
    s.add_argument(
        "--create-odata-user",
        action="store_true",
        help="create the --odata-user (role PRODUCT_AVAILABILITY) if it does not exist",
    )
    s.add_argument("--webhook-auth", metavar="header:NAME|code", help="how Sales' webhook proves itself")
    s.add_argument(
        "--option-mapping",
        action="append",
        metavar="KIND:VALUE=CODE",
        help=f"map a Sales option value to a BC code; KIND is {', '.join(_MAPPINGS)}",
    )
    s.set_defaults(func=cmd_setup)


def _on_off(text: str) -> bool:
    if text.lower() in ("on", "yes", "true"):
        return True
    if text.lower() in ("off", "no", "false"):
        return False
    raise argparse.ArgumentTypeError(f"'{text}' is neither on nor off")


def _flag_values(args: argparse.Namespace) -> dict[str, object]:
    """Field name -> value for each flag given; SetupError for a combined option used wrongly."""
    values: dict[str, object] = {}
    for d in (*FIELDS, *ACTIONS):
        given = getattr(args, d.name, None)
        if given is None or (given is False and d.action):
            continue
        # '-' reads a secret from standard input, so that it does not show in the process list.
        values[d.name] = sys.stdin.readline().strip() if d.secret and given == "-" else given
    if args.webhook_auth is not None:
        mode, _, header = args.webhook_auth.partition(":")
        if mode == "code" and not header:
            values["webhook_auth_mode"] = "code"
        elif mode == "header" and header:
            values["webhook_auth_mode"] = "header"
            values["webhook_header_name"] = header
        else:
            raise SetupError("--webhook-auth takes header:NAME or code.")
    mappings: dict[str, dict[str, str]] = {}
    for text in args.option_mapping or ():
        kind, _, rest = text.partition(":")
        value, eq, code = rest.partition("=")
        if kind not in _MAPPINGS or not eq or not value.strip().isdigit():
            raise SetupError(f"--option-mapping takes KIND:VALUE=CODE with KIND one of {', '.join(_MAPPINGS)}.")
        mappings.setdefault(_MAPPINGS[kind], {})[value.strip()] = code
    return {**values, **mappings}


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


def _ask_field(name: str, default: str, read: Callable[[str], str]) -> str:
    """Ask for a text field until the answer passes the field's own check (the rules' check)."""
    definition = FIELD_BY_NAME[name]
    if definition.kind is FieldKind.CHOICE:
        answer = ""
        while answer not in definition.choices:
            answer = _ask(definition.question, default, read).lower()
        return answer
    while True:
        answer = _ask(definition.question, default, read)
        try:
            return str(check_value(name, answer))
        except SetupError as exc:
            print(f"  {exc}")


def _ask_switch(name: str, default: bool, read: Callable[[str], str]) -> bool:
    return _ask_bool(FIELD_BY_NAME[name].question, default, read)


def guide(
    current: ConnectionSetup,
    default_odata_url: str,
    read: Callable[[str], str] = input,
    secret: Callable[[str], str] = getpass.getpass,
) -> tuple[dict[str, object], bool]:
    """Ask for each field like BC's assisted setup guide; returns the values and 'new key?'."""
    print("Set up the Dynamics 365 Sales connection. Press Enter to keep the value in brackets.")
    v: dict[str, object] = {}
    v["sales_url"] = _ask_field("sales_url", current.sales_url, read)
    # The first time through, the guide suggests publishing the service, as BC's does.
    first_time = not (current.sales_url or current.odata_url or current.odata_username)
    availability = _ask_switch("item_availability_enabled", current.item_availability_enabled or first_time, read)
    v["item_availability_enabled"] = availability
    new_key = False
    if availability:
        # The gateway's own address is offered; kept as it is, it stays derived (setup_rules).
        v["odata_url"] = _ask_field("odata_url", current.odata_url or default_odata_url, read)
        v["odata_username"] = _ask_field("odata_username", current.odata_username, read)
        new_key = _ask_bool("Make a new access key for that user now (the old one stops working)?", False, read)
    integration = _ask_switch("sales_order_integration_enabled", current.sales_order_integration_enabled, read)
    v["sales_order_integration_enabled"] = integration
    if integration:
        v["auto_create_sales_orders"] = _ask_switch("auto_create_sales_orders", current.auto_create_sales_orders, read)
        v["auto_process_sales_quotes"] = _ask_switch(
            "auto_process_sales_quotes", current.auto_process_sales_quotes, read
        )
        mode = v["webhook_auth_mode"] = _ask_field("webhook_auth_mode", current.webhook_auth_mode, read)
        if mode == "header":
            v["webhook_header_name"] = _ask_field("webhook_header_name", current.webhook_header_name, read)
        for name in ("dataverse_url", "dataverse_token_url", "dataverse_client_id"):
            v[name] = _ask_field(name, getattr(current, name), read)
        typed = secret(f"{FIELD_BY_NAME['dataverse_client_secret'].question}: ").strip()
        if typed:
            v["dataverse_client_secret"] = typed
    v["sdk_version"] = _ask_field("sdk_version", current.sdk_version, read)
    v.update(_guide_bc(current, read, secret))
    return v, new_key


def _guide_bc(current: ConnectionSetup, read: Callable[[str], str], secret: Callable[[str], str]) -> dict[str, object]:
    """The Business Central link: embedded, or a real BC through its API v2.0 (docs/bc-link.md)."""
    v: dict[str, object] = {"bc_mode": _ask_field("bc_mode", current.bc_mode, read)}
    if v["bc_mode"] != "api":
        return v
    for name in ("bc_api_url", "bc_company", "bc_auth"):
        v[name] = _ask_field(name, getattr(current, name), read)
    names = ("bc_token_url", "bc_client_id", "bc_scope") if v["bc_auth"] == "oauth" else ("bc_user",)
    for name in names:
        v[name] = _ask_field(name, getattr(current, name), read)
    key = "bc_client_secret" if v["bc_auth"] == "oauth" else "bc_access_key"
    typed = secret(f"{FIELD_BY_NAME[key].question}: ").strip()
    if typed:
        v[key] = typed
    for name in ("bc_odata_url", "bc_ledger_entries_service", "bc_item_units_service", "bc_resources_service"):
        v[name] = _ask_field(name, getattr(current, name), read)
    return v


async def _guided_change(service: SetupService, yes: bool) -> tuple[ChangeResult, dict[str, object], bool]:
    """The guide, a summary to confirm, and the change; again while a rule refuses it and the
    person wants to go on."""
    current = await service.get()
    typed_secret: dict[str, object] = {}
    while True:
        values, new_key = guide(current, default_odata_url(service.settings))
        # A secret typed in an earlier round (not saved then) is kept unless typed again.
        values = {**typed_secret, **values}
        print("\nSummary:")
        print_view({k: ("********" if FIELD_BY_NAME[k].secret else v) for k, v in values.items()})
        if not yes and not _ask_bool("Save this setup?", True, input):
            raise SetupError("Nothing was saved.")
        try:
            return await service.change(SetupChange.parse(values), changed_by=who()), values, new_key
        except SetupError as exc:
            # A rule the fields alone cannot show (an unknown user, say): say so, ask again.
            print(f"\n{exc}")
            if not _ask_bool("Go through the fields again?", True, input):
                raise
            typed_secret = {k: v for k, v in values.items() if FIELD_BY_NAME[k].secret}
            # The next round offers this round's answers (but not the secret) as the defaults.
            stored = {f.name for f in dataclasses.fields(ConnectionSetup)}
            answers: dict[str, Any] = {k: v for k, v in values.items() if k in stored and k not in typed_secret}
            current = dataclasses.replace(current, **answers)


# --- command ------------------------------------------------------------------------------------


def print_view(view: Mapping[str, Any]) -> None:
    for key, value in view.items():
        if isinstance(value, dict):
            for k2, v2 in value.items():
                print(f"{key + '.' + k2:<40} {v2}")
        else:
            print(f"{key:<40} {value}")


def print_warnings(warnings: list[str]) -> None:
    if warnings:
        print("\nWarnings (the setup is saved, but a real Dynamics 365 Sales cannot work with this):")
        for warning in warnings:
            print(f"  - {warning}")


def _show(args: argparse.Namespace, settings: Settings) -> int:
    async def read(engine: AsyncEngine) -> Any:
        service = SetupService(engine, settings)
        if args.action == "history":
            return await service.history()
        stored = await service.get()
        return {**await service.view(), "warnings": await service.warnings()}, stored

    result = run_with_engine(settings, read)
    if args.action == "history":
        if args.json:
            print_json(result)
            return 0
        print_table(
            ("CHANGED AT", "BY", "FIELD", "OLD", "NEW"),
            [(c["changed_at"], c["changed_by"], c["field"], repr(c["old"]), repr(c["new"])) for c in result],
            "No changes to the setup yet. 'bc-gateway setup' sets it up (it asks for each value).",
        )
        return 0
    view, stored = result
    if args.json:
        print_json(view)
        return 0
    warnings = view.pop("warnings")
    if view["odata_url"] and not stored.odata_url:
        view["odata_url"] += "   (derived from BCGW_PUBLIC_URL; --odata-url sets one)"
    print_view(view)
    print_warnings(warnings)
    return 0


def _test(args: argparse.Namespace, settings: Settings) -> int:
    """`setup test`: each configured connection's checks (Business Central, Dynamics 365 Sales),
    step by step; exit status 1 when a required step failed."""

    async def read(engine: AsyncEngine) -> ConnectionSetup:
        return await SetupService(engine, settings).get()

    setup = run_with_engine(settings, read)
    groups = run(check_connections(setup))
    failed = [r for results in groups.values() for r in results if not r.ok and r.required]
    if args.json:
        print_json(
            {_JSON_KEYS.get(name, name): [dataclasses.asdict(r) for r in results] for name, results in groups.items()}
            | {"ok": not failed}
        )
        return 1 if failed else 0
    for name, results in groups.items():
        print(_group_title(name, setup))
        print_table(
            ("RESULT", "CHECK", "DETAILS"),
            [("ok" if r.ok else ("FAILED" if r.required else "warn"), r.name, r.message) for r in results],
            "  (nothing to check)",
        )
        print()
    total = sum(len(results) for results in groups.values())
    if not (setup.bc_api_mode or setup.dataverse_url or setup.dataverse_token_url or setup.dataverse_client_id):
        print("No connection is configured: Business Central is embedded and the Sales Web API is not set up.")
        print("Next: bc-gateway setup --bc-mode api ... or --dataverse-url ... (see bc-gateway setup --help).")
    if failed:
        print(
            f"{len(failed)} of {total} checks failed.",
            "Fix the first one first, then run 'bc-gateway setup test' again.",
        )
    else:
        print(f"All {total} checks passed.")
        print("Every configured connection works.")
    return 1 if failed else 0


# `setup test --json`: a key per connection.
_JSON_KEYS = {"Business Central": "business_central", "Dynamics 365 Sales": "dataverse"}


def _group_title(name: str, setup: ConnectionSetup) -> str:
    if name == "Dynamics 365 Sales":
        return f"Dynamics 365 Sales (Dataverse Web API) at {setup.dataverse_url or '(not set up)'}"
    return f"{name}:"


def cmd_setup(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "test":
        return _test(args, settings)
    if args.action:
        return _show(args, settings)
    try:
        values = _flag_values(args)
        change = SetupChange.parse(values)
    except SetupError as exc:
        fail(str(exc), 2)

    async def run(engine: AsyncEngine) -> dict[str, Any]:
        service = SetupService(engine, settings)
        users = UserService(engine)
        new_key = args.new_key
        interactive = args.interactive or (not values and not new_key and sys.stdin.isatty())
        odata_user = change.odata_username
        if interactive:
            result, asked, new_key = await _guided_change(service, args.yes)
            odata_user = str(asked.get("odata_username") or "") or None
        if args.create_odata_user:
            if not odata_user:
                raise SetupError("--create-odata-user needs --odata-user NAME.")
            if await users.find(odata_user) is None:
                await users.add(odata_user, "Dynamics 365 Sales availability", {PRODUCT_AVAILABILITY})
        if not interactive:
            result = await service.change(change, changed_by=who())
        setup = result.setup
        key = None
        if new_key:
            if not setup.odata_username:
                raise SetupError("--new-key needs an OData web service user (--odata-user).")
            _user, key = await users.change_key(setup.odata_username)
        return {
            "odata_url": effective_odata_url(setup, settings),
            "odata_username": setup.odata_username,
            "odata_accesskey": key,
            "webhook_url": webhook_url(settings),
            "webhook_auth": {
                "mode": setup.webhook_auth_mode,
                "header": setup.webhook_header_name if setup.webhook_auth_mode == "header" else None,
            },
            "webhook_secret": result.webhook_secret,
            "bc": {"mode": setup.bc_mode, "api_url": setup.bc_api_url, "company": setup.bc_company},
            "changed": sorted(result.changed),
            "warnings": setup_warnings(setup, settings),
        }

    try:
        out = run_with_engine(settings, run)
    except SetupError as exc:
        fail(str(exc))
    if args.json:
        print_json(out)
    else:
        _print_outcome(out)
    return 0


def _print_outcome(out: Mapping[str, Any]) -> None:
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
    print_warnings(out["warnings"])
    print("\n'bc-gateway setup test' checks the connection to Sales now.")
    bc = out["bc"]
    if bc["mode"] == "api":
        print(f"\nBusiness Central: {bc['api_url']}, company {bc['company']} (the system of record; mirrored here).")
        print("  Next: bc-gateway setup test, then bc-gateway mirror (or bc-gateway serve).")
    else:
        print("\nBusiness Central: embedded (records kept in the gateway's tables).")
