"""Web service users and their access keys (BC's User card, "Change Web Service Key").

A key is 32 random bytes in base64: 44 characters. It is shown once and stored only as a salted
SHA-256 hash (a 256-bit random key needs no slow hash); verification compares in constant time
and costs the same whether or not the user exists.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from schemas import change_log as changes
from schemas.db import write_transaction
from schemas.roles import ROLES
from schemas.tables import web_service_user as users

KEY_BYTES = 32
KEY_LENGTH = 44


class UserError(ValueError):
    """A request about users that cannot be carried out; the message says why."""


@dataclass(frozen=True, slots=True)
class User:
    id: int
    user_name: str
    full_name: str
    enabled: bool
    roles: frozenset[str]
    has_key: bool
    key_created_at: dt.datetime | None
    key_expires_at: dt.datetime | None
    previous_key_valid_until: dt.datetime | None
    last_used_at: dt.datetime | None
    created_at: dt.datetime

    def as_dict(self) -> dict[str, Any]:
        def iso(v: dt.datetime | None) -> str | None:
            return v.isoformat() if v else None

        return {
            "user_name": self.user_name,
            "full_name": self.full_name,
            "enabled": self.enabled,
            "roles": sorted(self.roles),
            "has_key": self.has_key,
            "key_created_at": iso(self.key_created_at),
            "key_expires_at": iso(self.key_expires_at),
            "key_never_expires": self.has_key and self.key_expires_at is None,
            "previous_key_valid_until": iso(self.previous_key_valid_until),
            "last_used_at": iso(self.last_used_at),
            "created_at": iso(self.created_at),
        }


def generate_key() -> str:
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def new_salt() -> str:
    return secrets.token_hex(16)


def hash_secret(secret: str, salt: str) -> str:
    return hashlib.sha256(salt.encode("ascii") + secret.encode("utf-8")).hexdigest()


def secret_matches(secret: str, salt: str | None, expected: str | None) -> bool:
    """Constant-time comparison; a missing hash still costs one hash and one compare."""
    actual = hash_secret(secret, salt or _DUMMY_SALT)
    return hmac.compare_digest(actual, expected or _DUMMY_HASH) and expected is not None


_DUMMY_SALT = new_salt()
_DUMMY_HASH = hash_secret(generate_key(), _DUMMY_SALT)


def name_key(user_name: str) -> str:
    """BC compares user names without regard to case."""
    return user_name.strip().upper()


def _parse_roles(roles: str) -> frozenset[str]:
    return frozenset(r for r in roles.split(",") if r)


def _check_roles(roles: set[str] | frozenset[str]) -> None:
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise UserError(f"Unknown role {', '.join(unknown)}; the roles are {', '.join(ROLES)}.")


def _user(row: Any) -> User:
    return User(
        id=row.id,
        user_name=row.user_name,
        full_name=row.full_name,
        enabled=row.enabled,
        roles=_parse_roles(row.roles),
        has_key=row.key_hash is not None,
        key_created_at=row.key_created_at,
        key_expires_at=row.key_expires_at,
        previous_key_valid_until=row.previous_key_valid_until,
        last_used_at=row.last_used_at,
        created_at=row.created_at,
    )


def _valid_name(user_name: str) -> str:
    name = user_name.strip()
    if not name:
        raise UserError("The user name must not be empty.")
    if len(name) > 50:
        raise UserError("The user name can have at most 50 characters.")
    if ":" in name:
        # HTTP Basic separates the user name from the key with the first ':'.
        raise UserError("The user name cannot contain ':'.")
    if any(ord(c) < 32 for c in name):
        raise UserError("The user name cannot contain control characters.")
    return name


def _plausible_name(user_name: str) -> bool:
    name = user_name.strip()
    return 0 < len(name) <= 50 and not any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF for c in name)


async def find_user(conn: AsyncConnection, user_name: str) -> User | None:
    """The user of that name (compared without regard to case), in the caller's transaction."""
    row = (await conn.execute(select(users).where(users.c.user_name_key == name_key(user_name)))).first()
    return None if row is None else _user(row)


@dataclass(frozen=True, slots=True)
class Verification:
    user: User | None
    reason: str  # "ok" or why not, for the log (never the key)
    valid_until: dt.datetime | None = None  # when the key that matched stops working (None: never)


class UserService:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def _row(self, conn: AsyncConnection, user_name: str, for_update: bool = False) -> Any:
        stmt = select(users).where(users.c.user_name_key == name_key(user_name))
        if for_update and conn.dialect.name != "sqlite":  # SQLite: the writer holds the lock already
            stmt = stmt.with_for_update()
        return (await conn.execute(stmt)).first()

    async def _require(self, conn: AsyncConnection, user_name: str, for_update: bool = False) -> Any:
        row = await self._row(conn, user_name, for_update)
        if row is None:
            raise UserError(f"The user {user_name.strip()} does not exist.")
        return row

    async def add(self, user_name: str, full_name: str = "", roles: set[str] | None = None) -> User:
        user, _created = await self._add(user_name, full_name, roles, exists_ok=False)
        return user

    async def add_if_missing(self, user_name: str, full_name: str = "", roles: set[str] | None = None) -> bool:
        """Add the user unless one of that name exists (checked in the same write transaction, so
        two processes setting up at once make it once); True when it was added."""
        _found, created = await self._add(user_name, full_name, roles, exists_ok=True)
        return created

    async def _add(
        self, user_name: str, full_name: str, roles: set[str] | None, *, exists_ok: bool
    ) -> tuple[User, bool]:
        name = _valid_name(user_name)
        wanted = set(roles or ())
        _check_roles(wanted)
        async with write_transaction(self.engine) as conn:
            found = await self._row(conn, name)
            if found is not None:
                if exists_ok:
                    return _user(found), False
                raise UserError(f"The user name {name} already exists.")
            await conn.execute(
                insert(users).values(
                    user_name=name,
                    user_name_key=name_key(name),
                    full_name=full_name.strip()[:80],
                    enabled=True,
                    roles=",".join(sorted(wanted)),
                    created_at=dt.datetime.now(dt.UTC),
                )
            )
            await changes.record(conn, changes.USERS, key=name)
            return _user(await self._require(conn, name)), True

    async def get(self, user_name: str) -> User:
        async with self.engine.connect() as conn:
            return _user(await self._require(conn, user_name))

    async def find(self, user_name: str) -> User | None:
        async with self.engine.connect() as conn:
            row = await self._row(conn, user_name)
            return _user(row) if row else None

    async def list(self) -> list[User]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(users).order_by(users.c.user_name_key))).all()
        return [_user(r) for r in rows]

    async def _change(self, user_name: str, **values: Any) -> User:
        async with write_transaction(self.engine) as conn:
            row = await self._require(conn, user_name)
            await conn.execute(update(users).where(users.c.id == row.id).values(**values))
            await changes.record(conn, changes.USERS, key=row.user_name)
            return _user(await self._require(conn, user_name))

    async def set_enabled(self, user_name: str, enabled: bool) -> User:
        return await self._change(user_name, enabled=enabled)

    async def change_roles(self, user_name: str, add: set[str] | None = None, remove: set[str] | None = None) -> User:
        _check_roles(set(add or ()) | set(remove or ()))
        async with write_transaction(self.engine) as conn:
            row = await self._require(conn, user_name, for_update=True)
            roles = (_parse_roles(row.roles) | set(add or ())) - set(remove or ())
            await conn.execute(update(users).where(users.c.id == row.id).values(roles=",".join(sorted(roles))))
            await changes.record(conn, changes.USERS, key=row.user_name)
            return _user(await self._require(conn, user_name))

    async def change_key(
        self,
        user_name: str,
        expires_at: dt.datetime | None = None,
        grace_minutes: int = 0,
        now: dt.datetime | None = None,
    ) -> tuple[User, str]:
        """A new key; the old one stops working at once unless `grace_minutes` keeps it."""
        now = now or dt.datetime.now(dt.UTC)
        if expires_at is not None and expires_at <= now:
            raise UserError("The key expiration date must be in the future.")
        if grace_minutes < 0:
            raise UserError("The grace period cannot be negative.")
        key = generate_key()
        salt = new_salt()
        async with write_transaction(self.engine) as conn:
            row = await self._require(conn, user_name, for_update=True)
            values: dict[str, Any] = {
                "key_hash": hash_secret(key, salt),
                "key_salt": salt,
                "key_created_at": now,
                "key_expires_at": expires_at,
                "previous_key_hash": None,
                "previous_key_salt": None,
                "previous_key_valid_until": None,
            }
            if grace_minutes and row.key_hash is not None:
                until = now + dt.timedelta(minutes=grace_minutes)
                if row.key_expires_at is not None:
                    until = min(until, row.key_expires_at)
                values.update(
                    previous_key_hash=row.key_hash,
                    previous_key_salt=row.key_salt,
                    previous_key_valid_until=until,
                )
            await conn.execute(update(users).where(users.c.id == row.id).values(**values))
            await changes.record(conn, changes.USERS, key=row.user_name)
            return _user(await self._require(conn, user_name)), key

    async def verify(self, user_name: str, key: str, now: dt.datetime | None = None) -> Verification:
        """Check a user name and key; every path hashes and compares the same number of times."""
        now = now or dt.datetime.now(dt.UTC)
        row = None
        if _plausible_name(user_name):  # anything else cannot be a user: no query, same work
            async with self.engine.connect() as conn:
                row = await self._row(conn, user_name)
        current = secret_matches(key, row.key_salt if row else None, row.key_hash if row else None)
        previous = secret_matches(key, row.previous_key_salt if row else None, row.previous_key_hash if row else None)
        if row is None:
            return Verification(None, "unknown user")
        if not row.enabled:
            return Verification(None, "user disabled")
        if current:
            if row.key_expires_at is not None and row.key_expires_at <= now:
                return Verification(None, "key expired")
            return Verification(_user(row), "ok", row.key_expires_at)
        if previous:
            until = row.previous_key_valid_until
            if until is not None and until > now:
                return Verification(_user(row), "ok (previous key, in its grace period)", until)
            return Verification(None, "previous key, grace period over")
        if row.key_hash is None:
            return Verification(None, "user has no key")
        return Verification(None, "wrong key")

    async def touch(self, user_ids: Sequence[int], at: dt.datetime) -> None:
        """Record 'last used' for users (batched; not in the request's path)."""
        if not user_ids:
            return
        async with write_transaction(self.engine) as conn:
            await conn.execute(update(users).where(users.c.id.in_(user_ids)).values(last_used_at=at))
