"""`bc-gateway users ...`: web service users, their roles and access keys (bc-rules.md §2, §7)."""

from __future__ import annotations

import argparse
import datetime as dt

from gateway.cli.common import Subcommands, fail, print_json, print_table, run_with_engine
from gateway.config import Settings
from schemas.roles import ROLES
from schemas.users import User, UserError, UserService


def add_parsers(sub: Subcommands) -> None:
    s = sub.add_parser("users", help="web service users and access keys")
    us = s.add_subparsers(dest="users_command", required=True, metavar="COMMAND")
    roles = ", ".join(ROLES)
    a = us.add_parser("add", help="add a web service user (no key yet: 'users change-key' makes one)")
    a.add_argument("name", help="user name (compared without regard to case, as in BC)")
    a.add_argument("--full-name", help="the user's full name")
    a.add_argument("--role", action="append", help=f"a role to give (repeat for more): {roles}")
    a = us.add_parser("list", help="every user: state, roles, key expiry")
    a.add_argument("--json", action="store_true", help="machine-readable output")
    a = us.add_parser("show", help="one user in full (never the key)")
    a.add_argument("name", help="user name")
    a.add_argument("--json", action="store_true", help="machine-readable output")
    for name, what in (("disable", "refuse the user's key from now on"), ("enable", "accept the user's key again")):
        us.add_parser(name, help=what).add_argument("name", help="user name")
    a = us.add_parser("roles", help="show or change a user's roles")
    a.add_argument("name", help="user name")
    a.add_argument("--add", action="append", help=f"a role to give (repeat for more): {roles}")
    a.add_argument("--remove", action="append", help="a role to take away (repeat for more)")
    a = us.add_parser("change-key", help="make a new access key (the old one stops working)")
    a.add_argument("name", help="user name")
    g = a.add_mutually_exclusive_group()
    g.add_argument("--expires", help="YYYY-MM-DD (works through that day, UTC) or an ISO date and time")
    g.add_argument("--never-expires", action="store_true", help="the key does not expire (the default)")
    a.add_argument("--grace", type=int, help="minutes the old key keeps working")
    a.add_argument("--quiet", action="store_true", help="print only the key")
    s.set_defaults(func=cmd_users)


def _user_row(user: User) -> tuple[str, str, str, str]:
    expiry = (
        "no key"
        if not user.has_key
        else ("never expires" if user.key_expires_at is None else f"expires {user.key_expires_at:%Y-%m-%d %H:%M} UTC")
    )
    state = "enabled" if user.enabled else "disabled"
    return user.user_name, state, ",".join(sorted(user.roles)) or "-", expiry


def _user_line(user: User) -> str:
    name, state, roles, expiry = _user_row(user)
    return f"{name:<20} {state:<9} {roles:<50} {expiry}"


def _expiry(args: argparse.Namespace) -> dt.datetime | None:
    if args.never_expires or args.expires is None:
        return None
    text = args.expires
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            # A date means the key works through that whole day (UTC).
            return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC)
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    except ValueError:
        fail(f"--expires: '{text}' is not a date (YYYY-MM-DD) or date and time", 2)


def cmd_users(args: argparse.Namespace, settings: Settings) -> int:
    sub = args.users_command
    try:
        if sub == "list":
            users = run_with_engine(settings, lambda engine: UserService(engine).list())
            if args.json:
                print_json([u.as_dict() for u in users])
            else:
                print_table(
                    ("USER", "STATE", "ROLES", "KEY"),
                    [_user_row(user) for user in users],
                    "No users yet. Add one with 'bc-gateway users add NAME --role ROLE', then give it a key "
                    "with 'bc-gateway users change-key NAME'.",
                )
        elif sub == "change-key":
            expires = _expiry(args)
            user, key = run_with_engine(
                settings, lambda engine: UserService(engine).change_key(args.name, expires, args.grace or 0)
            )
            _print_key(user, key, args.quiet)
        elif sub == "show":
            user = run_with_engine(settings, lambda engine: UserService(engine).get(args.name))
            if args.json:
                print_json(user.as_dict())
            else:
                for k, v in user.as_dict().items():
                    print(f"{k:<26} {', '.join(v) if isinstance(v, list) else v}")
        else:
            print(_user_line(run_with_engine(settings, lambda engine: _change(UserService(engine), args))))
    except UserError as exc:
        fail(str(exc))
    return 0


async def _change(users: UserService, args: argparse.Namespace) -> User:
    sub = args.users_command
    if sub == "add":
        return await users.add(args.name, args.full_name or "", set(args.role or ()))
    if sub in ("disable", "enable"):
        return await users.set_enabled(args.name, sub == "enable")
    if sub == "roles":
        return await users.change_roles(args.name, set(args.add or ()), set(args.remove or ()))
    raise AssertionError(sub)


def _print_key(user: User, key: str, quiet: bool) -> None:
    if quiet:
        print(key)
        return
    print(f"New web service access key for {user.user_name} (shown once, store it now):")
    print(key)
    when = "never expires" if user.key_expires_at is None else f"expires {user.key_expires_at.isoformat()}"
    print(f"The key {when}.", end=" ")
    if user.previous_key_valid_until:
        print(f"The previous key keeps working until {user.previous_key_valid_until.isoformat()}.")
    else:
        print("The previous key, if any, no longer works: update every client that used it.")
