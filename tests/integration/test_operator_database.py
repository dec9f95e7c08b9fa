"""Database URLs as people write them, and failures to reach the database: postgres:// and
postgresql:// (and sqlite://) are taken, every message is one line naming the cause and the next
step, and a password is never shown."""

from __future__ import annotations

import dataclasses
import os
import socket
from pathlib import Path

import pytest

from gateway.config import ConfigError, Settings, load_settings
from tests.conftest import PG_URL
from tests.support.helpers import run_cli

SECRET = "s3cr3t-pa55word"


def _settings(url: str) -> Settings:
    return dataclasses.replace(Settings(), database_url=url)


@pytest.mark.parametrize(
    ("given", "taken"),
    [
        ("postgres://bcgw:pw@db.example.com/bcgw", "postgresql+asyncpg://bcgw:pw@db.example.com/bcgw"),
        ("postgresql://bcgw:pw@db.example.com:5433/bcgw", "postgresql+asyncpg://bcgw:pw@db.example.com:5433/bcgw"),
        ("postgresql+asyncpg://bcgw@db/bcgw", "postgresql+asyncpg://bcgw@db/bcgw"),
        ("sqlite:///./bcgw.db", "sqlite+aiosqlite:///./bcgw.db"),
        ("sqlite+aiosqlite:////var/lib/bcgw/bcgw.db", "sqlite+aiosqlite:////var/lib/bcgw/bcgw.db"),
        ("postgres://u:pw@h/db?sslmode=require", "postgresql+asyncpg://u:pw@h/db?ssl=require"),
    ],
)
def test_the_usual_url_forms_are_taken(given: str, taken: str) -> None:
    assert load_settings({"BCGW_DATABASE_URL": given}).database_url == taken


@pytest.mark.parametrize(
    "given",
    [f"mysql://root:{SECRET}@db/bcgw", f"postgresql+psycopg2://bcgw:{SECRET}@db/bcgw", f"bcgw:{SECRET}@db/bcgw"],
)
def test_other_urls_are_refused_without_showing_the_password(given: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"BCGW_DATABASE_URL": given})
    message = str(caught.value)
    assert message.startswith("BCGW_DATABASE_URL: must start with postgresql://, postgres:// or sqlite://")
    assert SECRET not in message and "***" in message


async def _fails(url: str, *args: str) -> str:
    code, out, err = await run_cli(_settings(url), *(args or ("db", "current")))
    assert code == 1, out + err
    assert SECRET not in out + err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


async def test_a_bad_url_is_one_line_without_the_password() -> None:
    code, _o, err = await run_cli(_settings(f"mysql://root:{SECRET}@db/bcgw"), "db", "current")
    assert code == 2 and SECRET not in err and len(err.strip().splitlines()) == 1


async def test_an_unknown_host() -> None:
    line = await _fails(f"postgresql://bcgw:{SECRET}@no-such-host.invalid:5432/bcgw")
    assert line == (
        "bc-gateway: Cannot connect to the database postgresql+asyncpg://bcgw:***@no-such-host.invalid:5432/bcgw: "
        "the host name 'no-such-host.invalid' is not known (DNS). Check the host in BCGW_DATABASE_URL."
    )


async def test_nothing_listening() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    line = await _fails(f"postgres://bcgw:{SECRET}@127.0.0.1:{port}/bcgw", "orders", "list")
    assert f"nothing accepts connections at 127.0.0.1:{port} (refused). Is PostgreSQL running there" in line


async def test_a_sqlite_file_in_a_missing_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "bcgw.db"
    line = await _fails(f"sqlite:///{missing}", "init")
    assert line == (
        f"bc-gateway: Cannot open the SQLite database {missing}: the directory {missing.parent} does not exist. "
        f"Create it (mkdir -p {missing.parent}) or change BCGW_DATABASE_URL."
    )


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere")
async def test_a_sqlite_directory_that_is_not_writable(tmp_path: Path) -> None:
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        line = await _fails(f"sqlite:///{locked / 'bcgw.db'}", "init")
        assert f"this user may not write in {locked}" in line
    finally:
        locked.chmod(0o700)


def _pg(**parts: str) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(PG_URL)
    return url.set(drivername="postgresql", **parts).render_as_string(hide_password=False)  # type: ignore[arg-type]


@pytest.mark.postgres
async def test_postgres_urls_work_and_a_missing_database_is_named() -> None:
    if not PG_URL:
        pytest.skip("PostgreSQL runs skipped: BCGW_TEST_DATABASE_URL is not set (CI sets it)")
    code, _out, err = await run_cli(_settings(_pg()), "db", "current")
    assert code == 0, err
    code, _out, err = await run_cli(_settings(_pg().replace("postgresql://", "postgres://", 1)), "db", "current")
    assert code == 0, err
    line = await _fails(_pg(database="bcgw_no_such_db", password=SECRET))
    assert "the database 'bcgw_no_such_db' does not exist on" in line
    assert "Create it (createdb -h" in line and "then run 'bc-gateway init'" in line
    line = await _fails(_pg(username="bcgw_no_such_role", password=SECRET))
    assert "PostgreSQL refused the user 'bcgw_no_such_role'" in line or "refused the password" in line


def test_a_sqlite_directory_that_is_not_writable_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As root (CI containers) permissions cannot be taken away, so the check is told it cannot write."""
    import sqlite3

    from gateway import database_errors

    monkeypatch.setattr(database_errors.os, "access", lambda _path, _mode: False)
    line = database_errors.database_problem(
        sqlite3.OperationalError("unable to open database file"), f"sqlite+aiosqlite:///{tmp_path / 'bcgw.db'}"
    )
    assert line == (
        f"Cannot open the SQLite database {tmp_path / 'bcgw.db'}: this user may not write in {tmp_path} (SQLite "
        "keeps its journal beside the file). Change BCGW_DATABASE_URL or the directory's permissions."
    )
    readonly = database_errors.database_problem(
        sqlite3.OperationalError("attempt to write a readonly database"), "sqlite+aiosqlite:///./x.db"
    )
    assert readonly == "Cannot open the SQLite database x.db: it is read-only for this user. " + (
        "Check the file's and its directory's permissions."
    )
