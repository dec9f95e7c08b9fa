"""Why the database cannot be reached, in one line that names the cause and the next step, never
a password: unknown host, refused, authentication failed, no such database, a SQLite file that
cannot be opened or written. The CLI and `serve` print these instead of a driver's traceback."""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
from pathlib import Path

import asyncpg
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

__all__ = ["database_problem", "mask_database_url"]


def mask_database_url(url: str) -> str:
    """The URL fit to print: the password replaced by ***."""
    with contextlib.suppress(ArgumentError, ValueError):
        return make_url(url).render_as_string(hide_password=True)
    # Not even a URL: still never show what may be a password between ':' and '@'.
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    if "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user, colon, _password = credentials.partition(":")
    return f"{scheme}{sep}{user}{':***' if colon else ''}@{host}"


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception, what SQLAlchemy wrapped (`orig`) and what caused each."""
    found: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or any(current is seen for seen in found):
            continue
        found.append(current)
        todo += [getattr(current, "orig", None), current.__cause__, current.__context__]
    return found


def database_problem(exc: BaseException, url: str) -> str | None:
    """One line for a failure to connect to (or open) the database at `url`; None when `exc` is
    not one (the caller then reports it as it would)."""
    try:
        parsed: URL | None = make_url(url)
    except (ArgumentError, ValueError):
        parsed = None
    shown = mask_database_url(url)
    if parsed is not None and parsed.get_backend_name() == "sqlite":
        return _sqlite_problem(exc, parsed)
    host = (parsed.host if parsed is not None else None) or "localhost"
    port = (parsed.port if parsed is not None else None) or 5432
    user = (parsed.username if parsed is not None else None) or os.environ.get("USER", "")
    database = (parsed.database if parsed is not None else None) or user
    causes = _causes(exc)
    head = f"Cannot connect to the database {shown}:"
    for cause in causes:
        if isinstance(cause, socket.gaierror):
            return f"{head} the host name '{host}' is not known (DNS). Check the host in BCGW_DATABASE_URL."
        if isinstance(cause, ConnectionRefusedError):
            return (
                f"{head} nothing accepts connections at {host}:{port} (refused). Is PostgreSQL running there, "
                "on that port? Check the host and port in BCGW_DATABASE_URL."
            )
        if isinstance(cause, asyncpg.InvalidCatalogNameError):
            return (
                f"{head} the database '{database}' does not exist on {host}. Create it "
                f"(createdb -h {host} -p {port} -U {user} {database}), then run 'bc-gateway init'."
            )
        if isinstance(cause, asyncpg.InvalidPasswordError):
            return (
                f"{head} PostgreSQL refused the password of the user '{user}'. Check the user and the password "
                "in BCGW_DATABASE_URL."
            )
        if isinstance(cause, asyncpg.InvalidAuthorizationSpecificationError):
            return (
                f"{head} PostgreSQL refused the user '{user}' ({cause}). Check the user in BCGW_DATABASE_URL, "
                "or create the role (createuser)."
            )
        if isinstance(cause, TimeoutError):
            return f"{head} no answer from {host}:{port} in time. Check the host, the port and any firewall between."
        if isinstance(cause, asyncpg.PostgresError) and not isinstance(cause, asyncpg.InterfaceError):
            message = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
            if getattr(cause, "sqlstate", "") in ("53300", "57P03"):  # too many connections, starting up
                return f"{head} the server refused for now ({message}). Try again in a moment."
    for cause in causes:
        if isinstance(cause, OSError) and not isinstance(cause, socket.gaierror):
            return f"{head} {cause.strerror or cause} (at {host}:{port}). Check the host and port in BCGW_DATABASE_URL."
    return None


def _sqlite_problem(exc: BaseException, url: URL) -> str | None:
    errors = [c for c in _causes(exc) if isinstance(c, sqlite3.Error)]
    if not errors:
        return None
    text = " ".join(str(e) for e in errors).lower()
    path = Path(url.database or "")
    directory = path.parent if str(path.parent) else Path(".")
    head = f"Cannot open the SQLite database {path}:"
    if "unable to open" in text:
        if not directory.exists():
            return (
                f"{head} the directory {directory} does not exist. Create it (mkdir -p {directory}) "
                "or change BCGW_DATABASE_URL."
            )
        if not os.access(directory, os.W_OK):
            return (
                f"{head} this user may not write in {directory} (SQLite keeps its journal beside the file). "
                "Change BCGW_DATABASE_URL or the directory's permissions."
            )
        if path.exists() and not os.access(path, os.R_OK | os.W_OK):
            return f"{head} this user may not read and write it. Check the file's permissions."
        return f"{head} {errors[0]}. Check the path in BCGW_DATABASE_URL."
    if "readonly" in text or "read-only" in text:
        return f"{head} it is read-only for this user. Check the file's and its directory's permissions."
    if "not a database" in text or "malformed" in text:
        return f"{head} the file is not a SQLite database (or is damaged). Check the path in BCGW_DATABASE_URL."
    if "locked" in text:
        return f"{head} another process holds it locked. Try again; on one host, SQLite serves one writer at a time."
    return None
