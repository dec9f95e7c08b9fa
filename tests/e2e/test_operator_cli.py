"""The command line as a new user meets it: every command and option explains itself, lists have a
header and say when they are empty (and what to do next), and `| head` ends a command quietly."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import subprocess
import sys
from typing import Any

from sqlalchemy import insert

from gateway.cli import build_parser
from schemas import tables as t
from tests.support.helpers import cli


def _undocumented(parser: argparse.ArgumentParser, path: str) -> list[str]:
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                if not helps.get(name):
                    missing.append(f"{path} {name}")
                missing += _undocumented(sub, f"{path} {name}")
        elif not action.help or action.help == argparse.SUPPRESS:
            missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    return missing


def test_every_command_and_option_has_a_help_text() -> None:
    assert _undocumented(build_parser(), "bc-gateway") == []


async def test_users_list_has_a_header_and_says_when_empty(settings: Any, engine: Any) -> None:
    await cli(settings, "init")
    code, out, err = await cli(settings, "users", "list")
    assert code == 0, err
    assert out.strip() == (
        "No users yet. Add one with 'bc-gateway users add NAME --role ROLE', then give it a key with "
        "'bc-gateway users change-key NAME'."
    )
    await cli(settings, "users", "add", "SALESAVAIL", "--role", "PRODUCT_AVAILABILITY")
    code, out, _e = await cli(settings, "users", "list")
    header, row = out.splitlines()
    assert header.split() == ["USER", "STATE", "ROLES", "KEY"]
    assert row.split() == ["SALESAVAIL", "enabled", "PRODUCT_AVAILABILITY", "no", "key"]


async def test_a_closed_pipe_ends_quietly(settings: Any, demo: Any, engine: Any) -> None:
    now = dt.datetime.now(dt.UTC)
    async with engine.begin() as conn:
        await conn.execute(
            insert(t.order_inbox),
            [
                {
                    "company": settings.company,
                    "table_name": "salesorder",
                    "sales_id": f"00000000-0000-4000-8000-{n:012d}",
                    "event": "submit",
                    "state": "waiting",
                    "received_at": now,
                    "last_error": "Automatically Create Sales Orders is off: waiting for a person. " * 2,
                }
                for n in range(3000)  # far more than a pipe holds
            ],
        )
    env = dict(os.environ, BCGW_DATABASE_URL=settings.database_url, BCGW_COMPANY=settings.company)

    def head_one() -> tuple[int, str, str]:
        with subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "orders", "list"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        ) as proc:
            assert proc.stdout is not None and proc.stderr is not None
            first = proc.stdout.readline().decode()
            proc.stdout.close()  # as `head -1` does
            err = proc.stderr.read().decode()
            return proc.wait(timeout=60), first, err

    code, first, err = await asyncio.to_thread(head_one)
    assert first.startswith("ID")
    assert err == "" and code == 0
