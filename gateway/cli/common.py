"""What every command shares: running its coroutine, an engine with the schema checked first,
errors as one line and an exit status, who runs the command, and output helpers.

Command modules import this module and the services, never each other.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import getpass
import json
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn, TypeAlias, TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.config import Settings
from gateway.database_errors import database_problem, mask_database_url
from gateway.initialise import SchemaOutdated, ensure_schema
from schemas.db import create_engine

T = TypeVar("T")
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
Command: TypeAlias = Callable[[argparse.Namespace, Settings], int]


def subcommands_of(parser: argparse.ArgumentParser) -> Subcommands:
    """The sub-commands of a command another module made (``orders``), to add to them."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise ValueError(f"{parser.prog} has no sub-commands")


def decimal_arg(text: str) -> Decimal:
    """An argparse type: a finite decimal number (an amount, a quantity, a price)."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not value.is_finite():
        raise argparse.ArgumentTypeError(f"'{text}' is not a number")
    return value


def date_arg(text: str) -> dt.date:
    """An argparse type: a date as YYYY-MM-DD."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date (YYYY-MM-DD)") from None


class CliError(Exception):
    """A command that cannot be carried out; printed without a traceback, exit status 1."""


def fail(message: str, status: int = 1) -> NoReturn:
    print(f"bc-gateway: {message}", file=sys.stderr)
    raise SystemExit(status)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def with_engine(settings: Settings, body: Callable[[AsyncEngine], Awaitable[T]], *, schema: bool = True) -> T:
    """Run `body` with an engine. `schema`: the database must be current first (an empty one is
    set up as `init` does, an older one is refused; gateway/initialise.py)."""
    engine = create_engine(settings.database_url)
    try:
        threads = set(threading.enumerate())
        try:  # reach the database first: a failure is one line with its cause, not a traceback
            async with engine.connect():
                pass
        except (SQLAlchemyError, OSError) as exc:
            problem = database_problem(exc, settings.database_url)
            if problem is None:
                raise
            await _let_aiosqlite_stop(threads)
            raise CliError(problem) from None
        if schema:
            try:
                notes = await ensure_schema(engine, settings)
            except SchemaOutdated as exc:
                raise CliError(str(exc)) from None
            for note in notes:
                print(note, file=sys.stderr)
        return await body(engine)
    finally:
        await engine.dispose()


async def _let_aiosqlite_stop(before: set[threading.Thread], limit: float = 1.0) -> None:
    """After a failed SQLite connect, aiosqlite's thread still answers the loop that it stopped;
    were the loop closed first, that thread would print a traceback over our one-line message.
    `before`: the threads there were before connecting (only the new ones are waited for)."""
    new = [t for t in threading.enumerate() if t not in before and "_connection_worker_thread" in t.name]

    def join() -> None:
        for thread in new:
            thread.join(limit)

    if new:
        await asyncio.to_thread(join)


def run_with_engine(settings: Settings, body: Callable[[AsyncEngine], Awaitable[T]], *, schema: bool = True) -> T:
    return run(with_engine(settings, body, schema=schema))


def who() -> str:
    """Who changes things from this command line, for the setup's change log."""
    try:
        return "cli:" + getpass.getuser()
    except Exception:
        return "cli"


def safe_url(url: str) -> str:
    """A database URL fit to print: without its password."""
    return mask_database_url(url)


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]], empty: str) -> None:
    """Rows under a header line, columns as wide as their widest value (the last one is left
    free); `empty`, which should say what to do next, when there are no rows."""
    if not rows:
        print(empty)
        return
    cells = [[str(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        padded = [v.ljust(w) for v, w in zip(values[:-1], widths[:-1], strict=True)]
        return "  ".join([*padded, values[-1]]).rstrip()

    print(line(list(headers)))
    for row in cells:
        print(line(row))


def shorten(text: str, limit: int = 100) -> str:
    """One line of at most `limit` characters (`show` has the whole text)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
