"""The unit layer is pure: a test here that opens a database or a network connection fails (in its
fixtures too, whatever their scope), so such a test moves to tests/integration instead."""

from __future__ import annotations

import socket
import sqlite3
import sqlite3.dbapi2
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest


def _refuse(what: str) -> Any:
    def refused(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError(f"tests/unit must not use {what}: move this test to tests/integration")

    return refused


def _guarded() -> pytest.MonkeyPatch:
    patch = pytest.MonkeyPatch()
    # The database drivers' own entry points, which every engine ends up calling.
    patch.setattr(sqlite3, "connect", _refuse("a database (sqlite3)"))
    patch.setattr(sqlite3.dbapi2, "connect", _refuse("a database (sqlite3)"))  # what SQLAlchemy calls
    patch.setattr(asyncpg, "connect", _refuse("a database (asyncpg)"))
    # Sockets may exist (an event loop's self-pipe), but never reach or serve an address.
    for name in ("connect", "connect_ex", "bind"):
        patch.setattr(socket.socket, name, _refuse("the network"))
    return patch


# Around setup, call and teardown of each test in this directory: a fixture could not guard the
# wider-scoped fixtures that are set up before it.
@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    patch = _guarded()
    try:
        return (yield)
    finally:
        patch.undo()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    patch = _guarded()
    try:
        return (yield)
    finally:
        patch.undo()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    patch = _guarded()
    try:
        return (yield)
    finally:
        patch.undo()
