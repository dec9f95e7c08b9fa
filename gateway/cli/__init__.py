"""`bc-gateway`: the command line. Thin: each command parses, calls a service, prints.

One module per command group, each with ``add_parsers``; they share only
:mod:`gateway.cli.common` and never import each other. This module assembles the parser and runs
the command (the console script ``bc-gateway = "gateway.cli:main"``).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from gateway.cli import (
    customers,
    database,
    master_data,
    mirror,
    order_notes,
    prices,
    relationship_management,
    serve,
    setup,
    sync,
    users,
)
from gateway.cli import orders as order_commands
from gateway.cli.common import CliError, fail
from gateway.config import ConfigError, load_settings
from gateway.database_errors import database_problem


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bc-gateway",
        description="Business Central side of the Business Central - Dynamics 365 Sales integration.",
    )
    p.add_argument("--config", help="TOML settings file (default: $BCGW_CONFIG)")
    p.add_argument("--company", help="company to work in (default: $BCGW_COMPANY or CRONUS)")
    p.add_argument("--log-level", help="DEBUG, INFO, WARNING, ERROR")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in (
        database,
        serve,
        master_data,
        prices,
        users,
        setup,
        order_commands,
        order_notes,
        customers,
        mirror,
        sync,
        relationship_management,
    ):
        group.add_parsers(sub)
    return p


def main(argv: list[str] | None = None, environ: dict[str, str] | None = None) -> int:
    """Run a command; `environ` replaces os.environ for the settings (tests)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        overrides: dict[str, Any] = {"company": args.company, "log_level": args.log_level}
        for name in ("host", "port"):
            overrides[name] = getattr(args, name, None)
        settings = load_settings(environ, config_file=args.config, **overrides)
    except ConfigError as exc:
        fail(str(exc), 2)
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Alembic narrates every migration step at INFO: noise on a command line.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))
    try:
        status = int(args.func(args, settings) or 0)
        sys.stdout.flush()  # here, where a closed pipe is handled, not at the interpreter's exit
        return status
    except CliError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _closed_pipe()
    except SQLAlchemyError as exc:
        # Reaching the database failed midway, or a statement did: one line, never a traceback
        # (the statement's values are never in it: engines hide them).
        problem = database_problem(exc, settings.database_url)
        fail(problem or f"database error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    except OSError as exc:
        fail(f"{exc.strerror or exc}")


def _closed_pipe() -> int:
    """The reader went away (`bc-gateway orders list | head`): stop quietly, as other tools do.
    Standard output is pointed at /dev/null so the interpreter's last flush raises nothing."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 0
